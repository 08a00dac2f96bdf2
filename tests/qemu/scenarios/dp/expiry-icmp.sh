# Connection lifetimes and ICMP, NAT over IPv4 with two real servers:
# - an ICMP port-unreachable from a real server reaches the client translated: a UDP client of a
#   service whose real server has nothing listening gets "connection refused" (the error's
#   outer source and embedded destination are rewritten to the VIP, or the client's stack would
#   not match it to its socket);
# - `ipvsadm --set` timeouts expire entries: a UDP entry lives for the UDP timeout, then leaves
#   /proc/net/ip_vs_conn;
# - a deleted destination with expire_nodest_conn=1: the next packet of an established connection
#   to it expires the entry at once (with 0 the entry stays and its packets are dropped);
# - IPv4 fragments of a real server's reply are gathered at FORWARD and rewritten (3,000-byte UDP
#   echoes through NAT).
# Balancer: RVS_DP_TARGET (rvs|ip_vs; see tests/qemu/dp-lib.sh).
# timeout: 240
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
trap dp_exit EXIT

dp_load "$RVS_DP_TARGET"
dp_setup nat 4 2

# One client program per case, in the client namespace.
client_py() { ip netns exec client python3 -c "$1"; }

# --- ICMP port unreachable, translated.
dpd ipvsadm -A -u "$DP_VIP:53" -s rr
dpd ipvsadm -a -u "$DP_VIP:53" -r "${DP_RIPS[1]}:5353" -m
got=$(client_py "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$DP_CIP', 0))
s.connect(('$DP_VIP', 53))
s.settimeout(4)
out = 'no answer'
for _ in range(3):
    try:
        s.send(b'ping')
        s.recv(100)
        out = 'an answer'
        break
    except ConnectionRefusedError:
        out = 'refused'
        break
    except socket.timeout:
        pass
print(out)
")
expect_eq "UDP to a real server port with no listener, through NAT" "$got" refused

# --- --set timeouts: UDP entries live for the UDP timeout.
dpd ipvsadm --set 0 0 4
dpd ipvsadm -A -u "$DP_VSVC" -s rr
dpd ipvsadm -a -u "$DP_VSVC" -r "${DP_RS[1]}" -m
dp_client --proto udp --to "$DP_VIP" --port "$DP_VPORT" --count 1 --bind "$DP_CIP" >/dev/null
entry=$(dpd grep "^UDP .* $(printf '%04X' "$DP_VPORT") .* $(printf '%04X' 8080) " /proc/net/ip_vs_conn || true)
echo "entry: $entry"
[ -n "$entry" ] || fail "no UDP entry in /proc/net/ip_vs_conn after the datagram"
left=$(awk '{print $NF}' <<<"$entry")
[ "$left" -le 4 ] || fail "UDP entry expires in $left s, want <= 4 (ipvsadm --set 0 0 4)"
ok "UDP entry listed with $left s to live (timeout 4 s)"
sleep 6
if dpd grep -q "^UDP .* 0050 .* 1F90 " /proc/net/ip_vs_conn; then
    dpd cat /proc/net/ip_vs_conn
    fail "the UDP entry outlived its 4 s timeout"
fi
ok "the UDP entry left /proc/net/ip_vs_conn after its timeout"

# --- IPv4 fragments: 3,000-byte UDP datagrams and their echoes through NAT (MTU 1500 both ways).
# The requests reach the director in fragments, which the stack reassembles before LOCAL_IN; the
# echoes leave the real server in fragments, which reach the director's FORWARD hook one by one
# and must be gathered (ip_vs_gather_frags) to be matched and rewritten back to the VIP.
dpd ipvsadm -A -u "$DP_VIP:84" -s rr
dpd ipvsadm -a -u "$DP_VIP:84" -r "${DP_RIPS[1]}:8080" -m
set +e
dp_client --proto udp --to "$DP_VIP" --port 84 --count 3 --payload-bytes 3000 --bind "$DP_CIP" \
    --names >"$DP_WORK/frag.names" 2>"$DP_WORK/frag.err"
rc=$?
set -e
cat "$DP_WORK/frag.err" "$DP_WORK/frag.names"
expect_eq "3,000-byte UDP datagrams echoed through NAT (fragmented both ways)" \
    "$rc $(cat "$DP_WORK/frag.names")" "0 rs1 rs1 rs1"
dpd ipvsadm -D -u "$DP_VIP:84"

# --- expire_nodest_conn: an established connection whose destination is deleted.
for mode in 0 1; do
    port=$((90 + mode))
    dpd sysctl -qw net.ipv4.vs.expire_nodest_conn=$mode
    dpd ipvsadm -A -t "$DP_VIP:$port" -s rr
    dpd ipvsadm -a -t "$DP_VIP:$port" -r "${DP_RIPS[1]}:8080" -m
    hold=$DP_WORK/hold-$mode
    rm -f "$hold"
    dp_client --proto tcp --to "$DP_VIP" --port "$port" --count 1 --bind "$DP_CIP" \
        --hold-file "$hold" --hold-max 60 --timeout 3 >"$DP_WORK/nodest-$mode.out" 2>&1 &
    cpid=$!
    for _ in $(seq 50); do
        grep -q '^hold' "$DP_WORK/nodest-$mode.out" && break
        sleep 0.2
    done
    grep -q '^hold' "$DP_WORK/nodest-$mode.out" || fail "expire_nodest_conn=$mode: no held connection"
    pat="^TCP .* $(printf '%04X' "$port") .* 1F90 ESTABLISHED"
    dpd grep -q "$pat" /proc/net/ip_vs_conn || fail "expire_nodest_conn=$mode: no ESTABLISHED entry"
    dpd ipvsadm -d -t "$DP_VIP:$port" -r "${DP_RIPS[1]}:8080"
    touch "$hold"
    set +e
    wait $cpid
    rc=$?
    set -e
    sleep 1
    if dpd grep -q "$pat" /proc/net/ip_vs_conn; then still=yes; else still=no; fi
    if [ $mode = 1 ]; then
        expect_eq "expire_nodest_conn=1: the entry after a packet to the deleted destination" "$still" no
    else
        expect_eq "expire_nodest_conn=0: the entry after a packet to the deleted destination" "$still" yes
    fi
    [ $rc != 0 ] || fail "expire_nodest_conn=$mode: the connection to a deleted destination still worked"
    ok "expire_nodest_conn=$mode: the client's connection failed (exit $rc)"
done
dp_finish
