# ICMP errors about the balancer's own tunnel packets (ip_vs_in_icmp's tunnel case), TUN over
# IPv4 with IPIP, GUE and GRE: a router between the director and the real server (played by the
# real server's namespace) answers the director's tunnel packet for a client's connection with
# "fragmentation needed", MTU 1300. Then:
# - the director has learnt the path MTU to the real server (`ip route get` shows mtu 1300);
# - the client gets "fragmentation needed" from the VIP about its own packet (its address and
#   port, the VIP and port 80), with the MTU less the tunnel's overhead: 20 bytes for IPIP, 32
#   for GUE (IPv4 + UDP + GUE), 24 for GRE (IPv4 + GRE).
# The director's cached routes are flushed between cases, so each starts from MTU 1500.
# Balancer: RVS_DP_TARGET (rvs|ip_vs; see tests/qemu/dp-lib.sh).
# timeout: 200
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
trap dp_exit EXIT

dp_load "$RVS_DP_TARGET"
DP_NO_SERVERS=1 dp_setup tun 4 1
rip=${DP_RIPS[1]}

# The client: opens a raw ICMP socket, starts a connection from CIP:PORT to VIP:80 (its SYN
# creates the balancer's entry), says "ready", then prints the MTU of the first "fragmentation
# needed" about that connection that arrives within 10 s (or "none").
client_prog='
import os, socket, struct, sys, time
cip, vip, port, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
c.bind((cip, port))
c.setblocking(False)
c.connect_ex((vip, 80))
open(ready, "w").close()
end = time.time() + 10
out = "none"
while time.time() < end:
    r.settimeout(max(0.1, end - time.time()))
    try:
        pkt, _ = r.recvfrom(2048)
    except socket.timeout:
        break
    ihl = (pkt[0] & 15) * 4
    t, code = pkt[ihl], pkt[ihl + 1]
    mtu = struct.unpack("!H", pkt[ihl + 6:ihl + 8])[0]
    inner = pkt[ihl + 8:]
    if t != 3 or code != 4 or len(inner) < 28:
        continue
    iihl = (inner[0] & 15) * 4
    src, dst = socket.inet_ntoa(inner[12:16]), socket.inet_ntoa(inner[16:20])
    sport, dport = struct.unpack("!HH", inner[iihl:iihl + 4])
    if (src, dst, sport, dport) == (cip, vip, port, 80):
        out = "from %s mtu %d" % (socket.inet_ntoa(pkt[12:16]), mtu)
        break
print(out)
'

# The router: "fragmentation needed" (MTU 1300) to the director about its tunnel packet
# DBIP -> RIP carrying the client's SYN CIP:PORT -> VIP:80, sent raw from the real server's
# namespace.
router_prog='
import socket, struct, sys
dbip, rip, cip, vip, port, kind = sys.argv[1:7]
port = int(port)
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def ip4(src, dst, proto, payload, df=True):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x1234, 0x4000 if df else 0,
                    64, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload
syn = struct.pack("!HHIIBBHHH", port, 80, 1000, 0, 0x50, 0x02, 64240, 0, 0)
inner = ip4(cip, vip, 6, syn)
if kind == "ipip":
    tun = ip4(dbip, rip, 4, inner)
elif kind == "gue":
    gue = bytes([0, 4, 0, 0])
    tun = ip4(dbip, rip, 17, struct.pack("!HHHH", 40000, 6080, 8 + 4 + len(inner), 0) + gue + inner)
else:
    tun = ip4(dbip, rip, 47, struct.pack("!HH", 0, 0x0800) + inner)
body = struct.pack("!BBHHH", 3, 4, 0, 0, 1300) + tun
body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(ip4(rip, dbip, 1, body, df=False), (dbip, 0))
'

declare -A tunopt=([ipip]="" [gue]="--tun-type gue --tun-port 6080" [gre]="--tun-type gre")
declare -A want=([ipip]=1280 [gue]=1268 [gre]=1276)
port=40000
for kind in ipip gue gre; do
    port=$((port + 1))
    dpd ip route flush cache
    dpd ipvsadm -C
    dpd ipvsadm -A -t "$DP_VSVC" -s rr
    # shellcheck disable=SC2086
    dpd ipvsadm -a -t "$DP_VSVC" -r "$rip:80" -i ${tunopt[$kind]}
    ready=$DP_WORK/ready-$kind
    rm -f "$ready"
    ip netns exec client python3 -c "$client_prog" "$DP_CIP" "$DP_VIP" $port "$ready" \
        >"$DP_WORK/client-$kind.out" 2>&1 &
    cpid=$!
    for _ in $(seq 50); do [ -e "$ready" ] && break; sleep 0.1; done
    [ -e "$ready" ] || fail "$kind: the client did not start"
    for _ in $(seq 30); do
        dpd ipvsadm -L -c -n | grep -q "$DP_CIP:$port" && break
        sleep 0.1
    done
    dpd ipvsadm -L -c -n
    ip netns exec rs1 python3 -c "$router_prog" "$DP_DBIP" "$rip" "$DP_CIP" "$DP_VIP" $port $kind
    wait $cpid || true
    got=$(cat "$DP_WORK/client-$kind.out")
    if [ "$got" = "from $DP_VIP mtu ${want[$kind]}" ]; then
        ok "$kind: the client got 'fragmentation needed' $got"
    else
        dp_fail "$kind: the client's 'fragmentation needed': got '$got', want 'from $DP_VIP mtu ${want[$kind]}'"
    fi
    route=$(dpd ip route get "$rip")
    echo "$route"
    if grep -q "mtu 1300" <<<"$route"; then
        ok "$kind: the director learnt the path MTU to the real server"
    else
        dp_fail "$kind: the director's route to $rip has no mtu 1300"
    fi
done
dp_finish
