# A client that reuses its source port at once (conn_reuse_mode=1, the default): each connection
# is reset by the client (SO_LINGER 0), so the director's entry is in CLOSE when the next SYN
# from the same address and port arrives; ip_vs then expires the old entry and schedules the SYN
# afresh (rr: the other real server), forwarding that very SYN. The client must never have to
# retransmit a SYN (TcpExtTCPSynRetrans stays 0), over 8 reuses, for DR and for NAT.
# Balancer: RVS_DP_TARGET (rvs|ip_vs; see tests/qemu/dp-lib.sh).
# timeout: 240
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
trap dp_exit EXIT

dp_load "$RVS_DP_TARGET"
for method in dr nat; do
    dp_setup $method 4 2
    dpd ipvsadm -A -t "$DP_VSVC" -s rr
    for i in 1 2; do dpd ipvsadm -a -t "$DP_VSVC" -r "${DP_RS[i]}" $DP_FLAG; done
    got=$(ip netns exec client python3 -c '
import socket, struct, sys
cip, vip = sys.argv[1], sys.argv[2]
out = []
for _ in range(9):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.bind((cip, 45000))
    s.settimeout(10)
    try:
        s.connect((vip, 80))
        out.append("ok")
    except OSError as e:
        out.append("fail")
    s.close()
print(" ".join(out))
' "$DP_CIP" "$DP_VIP")
    retrans=$(ip netns exec client nstat -az TcpExtTCPSynRetrans | awk '$1 == "TcpExtTCPSynRetrans" {print $2}')
    dpd ipvsadm -L -c -n
    expect_eq "$method: 9 connections from 10.0.0.2:45000, each reset" "$got" \
        "ok ok ok ok ok ok ok ok ok"
    expect_eq "$method: SYNs the client had to retransmit" "${retrans:-0}" 0
    dp_teardown
done
dp_finish
