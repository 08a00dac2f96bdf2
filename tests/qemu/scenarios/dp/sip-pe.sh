# The SIP persistence engine (`--pe sip`), NAT over IPv4, a UDP service on port 5060 with
# persistence and rr over two real servers, each answering "rsN CALL-ID":
# - datagrams carrying the same Call-ID go to the same real server whatever the client port;
#   another Call-ID from the same client goes to the other (rr): persistence follows the call,
#   not the client address;
# - a datagram without a Call-ID is dropped;
# - /proc/net/ip_vs_conn lists the templates with "sip CALL-ID";
# - a request a real server starts (rs2 sends from its port 5060 to the client) reaches the
#   client from the VIP, and the client's answer to it goes back to rs2 (ip_vs_new_conn_out),
#   under a template for that Call-ID.
# Balancer: RVS_DP_TARGET (rvs|ip_vs; see tests/qemu/dp-lib.sh).
# timeout: 200
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
trap dp_exit EXIT

dp_load "$RVS_DP_TARGET"
[ "$RVS_DP_TARGET" = ip_vs ] && modprobe ip_vs_pe_sip
DP_NO_SERVERS=1 dp_setup nat 4 2

server_prog='
import socket, sys
name, addr = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind((addr, 5060))
open(sys.argv[3], "w").close()
while True:
    d, peer = s.recvfrom(4096)
    cid = b"?"
    for line in d.split(b"\r\n"):
        if line.lower().startswith(b"call-id:"):
            cid = line.split(b":", 1)[1].strip()
    s.sendto(name.encode() + b" " + cid, peer)
'
for i in 1 2; do
    ip netns exec "rs$i" python3 -c "$server_prog" "rs$i" "${DP_RIPS[i]}" "$DP_WORK/up$i" \
        >"$DP_WORK/sip$i.log" 2>&1 &
    DP_PIDS+=($!)
done
for _ in $(seq 50); do [ -e "$DP_WORK/up1" ] && [ -e "$DP_WORK/up2" ] && break; sleep 0.1; done

dpd ipvsadm -A -u "$DP_VIP:5060" -s rr -p 60 --pe sip
for i in 1 2; do dpd ipvsadm -a -u "$DP_VIP:5060" -r "${DP_RIPS[i]}:5060" -m; done
dpd ipvsadm -L -n

# send PORT CALLID: one SIP OPTIONS from the client's PORT (CALLID "-": none); prints the
# answer ("rsN CALLID") or "none".
send() {
    ip netns exec client python3 -c '
import socket, sys
port, cid, cip, vip = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
msg = "OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d\r\n" % (vip, cip, port)
if cid != "-":
    msg += "Call-ID: %s\r\n" % cid
msg += "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((cip, port))
s.settimeout(2)
s.sendto(msg.encode(), (vip, 5060))
try:
    print(s.recv(100).decode())
except socket.timeout:
    print("none")
' "$1" "$2" "$DP_CIP" "$DP_VIP"
}

a1=$(send 41001 call-a)
b1=$(send 41002 call-b)
a2=$(send 41003 call-a)
b2=$(send 41004 call-b)
echo "call-a: $a1 / $a2, call-b: $b1 / $b2"
srv_a=${a1%% *} srv_b=${b1%% *}
[ "$a1" != none ] && [ "$b1" != none ] || dp_fail "no answer: call-a '$a1', call-b '$b1'"
[ "$srv_a" != "$srv_b" ] || dp_fail "call-a and call-b both on $srv_a (want rr to split them)"
expect_eq "call-a again, from another port" "$a2" "$a1"
expect_eq "call-b again, from another port" "$b2" "$b1"
ok "calls persist per Call-ID: call-a on $srv_a, call-b on $srv_b"
expect_eq "a datagram without Call-ID" "$(send 41005 -)" none

conns=$(dpd cat /proc/net/ip_vs_conn)
echo "$conns"
for cid in call-a call-b; do
    grep -Eq "^UDP .* 13C4 .* 13C4 (NONE|ASSURED) +[0-9]+ sip $cid\$" <<<"$conns" ||
        dp_fail "no template line ending 'sip $cid' in /proc/net/ip_vs_conn"
done
ok "/proc/net/ip_vs_conn lists the SIP templates"

# A request from rs2's port 5060 to the client: it must arrive from the VIP, and the client's
# answer must reach rs2 (whose server then answers "rs2 out-1" through the VIP).
ip netns exec client python3 -c '
import socket, sys
cip, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((cip, port))
open(sys.argv[3], "w").close()
s.settimeout(5)
try:
    d, peer = s.recvfrom(4096)
    s.sendto(b"SIP/2.0 200 OK\r\nCall-ID: out-1\r\n\r\n", peer)
    a, peer2 = s.recvfrom(4096)
    print("%s:%d %s" % (peer[0], peer[1], a.decode()))
except socket.timeout:
    print("none")
' "$DP_CIP" 42000 "$DP_WORK/listening" >"$DP_WORK/out.txt" 2>&1 &
cpid=$!
for _ in $(seq 50); do [ -e "$DP_WORK/listening" ] && break; sleep 0.1; done
ip netns exec rs2 python3 -c '
import socket, sys
rip, cip = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind((rip, 5060))
s.sendto(b"INVITE sip:c SIP/2.0\r\nCall-ID: out-1\r\n\r\n", (cip, 42000))
# The answer of the client may come to this socket or to the server sharing the port
# (SO_REUSEPORT): both answer it the same way.
s.settimeout(4)
try:
    d, peer = s.recvfrom(4096)
    s.sendto(b"rs2 out-1", peer)
except socket.timeout:
    pass
' "${DP_RIPS[2]}" "$DP_CIP"
wait $cpid || true
expect_eq "a request rs2 started, as the client saw it, and rs2's answer to the reply" \
    "$(cat "$DP_WORK/out.txt")" "$DP_VIP:5060 rs2 out-1"
conns=$(dpd cat /proc/net/ip_vs_conn)
echo "$conns"
rs2hex=$(printf '%02X' ${DP_RIPS[2]//./ })
grep -Eq "^UDP .* $rs2hex 13C4 (NONE|ASSURED) +[0-9]+ sip out-1\$" <<<"$conns" ||
    dp_fail "no template 'sip out-1' pointing at rs2 in /proc/net/ip_vs_conn"
ok "rs2's request made a template for its Call-ID"
dp_finish
