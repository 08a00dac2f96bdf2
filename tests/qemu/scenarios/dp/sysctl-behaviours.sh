# The net.ipv4.vs sysctls that change the data path, as an operator sees them (NAT, IPv4, two
# real servers; the defence modes are recomputed once a second, so every write of one is followed
# by 1.5 s before the traffic):
# - drop_packet=3, am_droprate=4 (ip_vs_todrop): of 12 new UDP flows (one datagram each, sent one
#   after the other, each waiting for its echo) the first packets of the 1st, 5th and 9th are
#   dropped (the counter starts at 0: the first one goes); with drop_packet=0 none is.
# - secure_tcp=3 (tcp_states_dos): a handshake through NAT to a listener that never sends leaves
#   the entry in SYNACK (the server's SYN-ACK moves SYN_RECV to SYNACK, the client's ACK keeps
#   it); with secure_tcp=0 the same handshake gives ESTABLISHED (`ipvsadm -L -c -n`).
# - cache_bypass (ip_vs_leave): a fwmark service (iptables-legacy MARK, policy routing delivering
#   marked packets locally) whose only real server has weight 0: with 1 a TCP connection to an
#   origin address that is not the director's (198.51.100.1, on rs2's lo) is forwarded to it as
#   it is and answered (rs2 sees the client's address), and the bypass entry (destination
#   0.0.0.0:0) is listed; with 0 the SYN is dropped and the client's connect times out (it is
#   neither forwarded, which rs2 would answer, nor delivered locally, which the director would
#   answer with RST): ip_vs_leave's port unreachable would leave from the packet's destination,
#   198.51.100.1, which is not the director's, so icmp_send finds no route and sends nothing.
# - drop_entry=3 (ip_vs_random_dropentry): 100 half-open entries (raw SYNs to a service whose real
#   server never answers, SYN_RECV, 60 s timeout) are at most half left 43 s later (the timer
#   scans a random 1/32 of the table every second: with drop_entry on for ~40 s each entry
#   survives with probability ~e^(-40/32) ~ 29%; failing needs over 50 of 100 survivors,
#   probability ~1e-6), while an established connection held open meanwhile stays and completes.
#   While it runs (neither creates TCP entries):
# - nat_icmp_send: a real server of a NAT service sends a UDP datagram from its service port that
#   matches no entry: with 1 it gets port unreachable (its connected socket: connection refused)
#   and the client gets nothing; with 0 the datagram reaches the client untranslated.
# - schedule_icmp: an ICMP "fragmentation needed" from the client to the VIP, quoting a datagram
#   VIP:85 -> client:P of no entry: with 1 it is scheduled (an entry client:P -> rs2 appears) and
#   forwarded to the real server, translated (quoting RIP:8080 -> client:P); with 0 it is not.
# Balancer: RVS_DP_TARGET (rvs|ip_vs; see tests/qemu/dp-lib.sh).
# timeout: 240
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
trap dp_exit EXIT

dp_load "$RVS_DP_TARGET"
dp_setup nat 4 2
CIP=$DP_CIP
RIP1=${DP_RIPS[1]}
RIP2=${DP_RIPS[2]}
VIP=$DP_VIP
ORIGIN=198.51.100.1
# A real server that never answers: an address nobody has, its neighbour entry a MAC nobody owns.
DEAD=172.16.0.99

# py NS CODE — runs CODE with python in a namespace; pyb NS OUT CODE — in the background, its
# output in OUT (killed by dp_teardown).
py() { ip netns exec "$1" "${DP_PY[@]}" -c "$2"; }
pyb() {
    ip netns exec "$1" "${DP_PY[@]}" -c "$3" >"$2" 2>&1 &
    DP_PIDS+=($!)
}
# wait_for FILE REGEX SECS — until a line of FILE matches.
wait_for() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "---- $1:" >&2
    cat "$1" >&2 || true
    return 1
}
vs_set() {
    echo "sysctl net.ipv4.vs.$1=$2"
    dpd sysctl -qw "net.ipv4.vs.$1=$2"
}
# want WHAT GOT WANT — a case's result (dp_fail, not the end of the scenario, if it differs).
want() {
    if [ "$2" = "$3" ]; then ok "$1 = '$3'"; else dp_fail "$1: got '$2', want '$3'"; fi
}
# conn_state PROTO SOURCE VIRTUAL — the state column of `ipvsadm -L -c -n` for one entry.
conn_state() {
    dpd ipvsadm -L -c -n | awk -v p="$1" -v s="$2" -v v="$3" '$1 == p && $4 == s && $5 == v { print $3 }'
}

PY_HDR='
import socket, struct, select, time, sys
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
'

# ---- drop_packet
dpd ipvsadm -A -u "$VIP:81" -s rr
dpd ipvsadm -a -u "$VIP:81" -r "$RIP1:8080" -m
# udp_flows N — N new flows to VIP:81 in turn, one datagram each; prints the ones never answered.
udp_flows() {
    py client "$PY_HDR
socks, lost = [], []
for i in range(1, $1 + 1):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('$CIP', 0))
    s.connect(('$VIP', 81))
    s.send(b'flow %d' % i)
    socks.append(s)
    if not select.select([s], [], [], 1.5)[0]:
        lost.append(i)
time.sleep(1)
late = [i for i in lost if select.select([socks[i - 1]], [], [], 0)[0]]
if late:
    print('late answers from flows', late, file=sys.stderr)
print(' '.join(str(i) for i in lost if i not in late) or 'none')
"
}
vs_set am_droprate 4
vs_set drop_packet 3
sleep 1.5
want "drop_packet=3 am_droprate=4: the flows of 12 whose first packet was dropped" "$(udp_flows 12)" "1 5 9"
vs_set drop_packet 0
sleep 1.5
want "drop_packet=0: the flows of 12 whose first packet was dropped" "$(udp_flows 12)" none

# ---- secure_tcp
dpd ipvsadm -A -t "$VIP:82" -s rr
dpd ipvsadm -a -t "$VIP:82" -r "$RIP2:7000" -m
pyb rs2 "$DP_WORK/listen7000" "
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 7000))
s.listen(16)
print('ready', flush=True)
time.sleep(3600)
"
wait_for "$DP_WORK/listen7000" '^ready' 20 || fail "the listener on rs2:7000 did not start"
# handshake TAG — a connection to VIP:82, held open, that sends nothing; its source port in
# HS_PORT.
handshake() {
    HS_PORT=
    pyb client "$DP_WORK/hs-$1" "
import socket, time
s = socket.create_connection(('$VIP', 82), timeout=5, source_address=('$CIP', 0))
print('port', s.getsockname()[1], flush=True)
time.sleep(3600)
"
    wait_for "$DP_WORK/hs-$1" '^port ' 15 || { dp_fail "secure_tcp: the connection to $VIP:82 failed"; return; }
    HS_PORT=$(awk '/^port/ { print $2 }' "$DP_WORK/hs-$1")
}
# settled_state SOURCE WANT — polls the entry's state for up to 3 s until it is WANT.
settled_state() {
    local i st
    for i in 1 2 3 4 5 6; do
        st=$(conn_state TCP "$1" "$VIP:82")
        [ "$st" = "$2" ] && break
        sleep 0.5
    done
    echo "${st:-no entry}"
}
for mode in 3 0; do
    vs_set secure_tcp $mode
    sleep 1.5
    handshake $mode
    [ $mode = 3 ] && expect=SYNACK || expect=ESTABLISHED
    st=$(settled_state "$CIP:$HS_PORT" $expect)
    want "secure_tcp=$mode: state after a NAT handshake to a silent listener" "$st" $expect
done
dpd ipvsadm -L -c -n | grep -E "^pro|:82 " || true

# ---- cache_bypass
ip -n rs2 addr add "$ORIGIN/32" dev lo
ip -n director route add "$ORIGIN/32" via "$RIP2"
ip -n client route add "$ORIGIN/32" via "$DP_DIP"
dpd iptables-legacy -t mangle -A PREROUTING -d "$ORIGIN" -p tcp --dport 80 -j MARK --set-mark 1
dpd ip rule add fwmark 1 lookup 100
dpd ip route add local 0.0.0.0/0 dev lo table 100
dpd ipvsadm -A -f 1 -s rr
dpd ipvsadm -a -f 1 -r "$RIP1:8080" -m -w 0
# origin_probe — a TCP connection to ORIGIN:80: "answer NAME SEEN" (traffic.py's header),
# "refused", "timeout" or "error ...".
origin_probe() {
    py client "
import socket
s = socket.socket()
s.bind(('$CIP', 0))
s.settimeout(4)
try:
    s.connect(('$ORIGIN', 80))
    w = s.makefile().readline().split()
    print('answer', w[0], w[1], s.getsockname()[1])
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')
except OSError as e:
    print('error', e)
"
}
vs_set cache_bypass 1
got=$(origin_probe)
want "cache_bypass=1: a connection to $ORIGIN:80 (fwmark service, weight-0 server)" \
    "$(cut -d' ' -f1-3 <<<"$got")" "answer rs2 $CIP"
bport=$(awk '{ print $4 }' <<<"$got")
dpd ipvsadm -L -c -n | grep -E "^pro|$ORIGIN" || true
want "cache_bypass=1: the bypass entry's destination" \
    "$(dpd ipvsadm -L -c -n | awk -v s="$CIP:$bport" '$4 == s { print $5, $6 }')" "$ORIGIN:80 0.0.0.0:0"
vs_set cache_bypass 0
want "cache_bypass=0: a connection to $ORIGIN:80 (fwmark service, weight-0 server)" \
    "$(origin_probe)" timeout

# ---- drop_entry: 100 half-open entries, then while it works, nat_icmp_send and schedule_icmp.
dpd ip neigh add "$DEAD" lladdr 02:00:00:00:00:99 dev br1 nud permanent
dpd ipvsadm -A -t "$VIP:83" -s rr
dpd ipvsadm -a -t "$VIP:83" -r "$DEAD:9000" -m
# The established connection that must survive (VIP:80 -> rs1:8080), held until told.
dpd ipvsadm -A -t "$DP_VSVC" -s rr
dpd ipvsadm -a -t "$DP_VSVC" -r "${DP_RS[1]}" -m
hold=$DP_WORK/hold
dp_client --proto tcp --to "$VIP" --port 80 --count 1 --bind "$CIP" --hold-file "$hold" \
    --hold-max 120 --timeout 5 >"$DP_WORK/held.out" 2>&1 &
held_pid=$!
DP_PIDS+=($held_pid)
wait_for "$DP_WORK/held.out" '^hold' 20 || fail "no held connection"
held_port=$(dpd ipvsadm -L -c -n | awk -v v="$VIP:80" '$1 == "TCP" && $5 == v { sub(/.*:/, "", $4); print $4 }')
echo "held connection from $CIP:$held_port"
py client "$PY_HDR
src, dst = socket.inet_aton('$CIP'), socket.inet_aton('$VIP')
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
r.bind(('$CIP', 0))
for p in range(20000, 20100):
    h = struct.pack('!HHIIBBHHH', p, 83, 1000 + p, 0, 5 << 4, 0x02, 64240, 0, 0)
    c = csum(src + dst + struct.pack('!BBH', 0, 6, len(h)) + h)
    r.sendto(h[:16] + struct.pack('!H', c) + h[18:], ('$VIP', 0))
"
t_syn=$EPOCHREALTIME
synrecv() {
    dpd ipvsadm -L -c -n | awk -v v="$VIP:83" '$1 == "TCP" && $3 == "SYN_RECV" && $5 == v' | wc -l
}
for _ in 1 2 3 4 5 6; do
    n=$(synrecv)
    [ "$n" = 100 ] && break
    sleep 0.5
done
expect_eq "SYN_RECV entries after 100 raw SYNs to $VIP:83" "$n" 100
vs_set drop_entry 3
# The entries as they are 43 s after the SYNs, whatever the checks below take meanwhile.
(
    w=$((43 - $(dp_since "$t_syn" | cut -d. -f1)))
    [ $w -le 0 ] || sleep $w
    dpd ipvsadm -L -c -n >"$DP_WORK/snap"
    dp_since "$t_syn" >"$DP_WORK/snap.time"
) &
snap_pid=$!
DP_PIDS+=($snap_pid)

# -- nat_icmp_send (no entries).
dpd ipvsadm -A -u "$VIP:84" -s rr
dpd ipvsadm -a -u "$VIP:84" -r "$RIP1:5353" -m
ip netns exec client sysctl net.ipv4.conf.all.rp_filter net.ipv4.conf.br0.rp_filter
for mode in 1 0; do
    vs_set nat_icmp_send $mode
    cport=$((4000 + mode))
    pyb client "$DP_WORK/nis-$mode" "
import socket, os, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$CIP', $cport))
s.settimeout(0.2)
print('ready', flush=True)
out, end = 'nothing', time.monotonic() + 60
while not os.path.exists('$DP_WORK/nis-$mode.stop') and time.monotonic() < end:
    try:
        d, a = s.recvfrom(100)
        out = 'got %s:%d' % a
        break
    except socket.timeout:
        pass
print(out)
"
    wait_for "$DP_WORK/nis-$mode" '^ready' 15 || fail "the client's listener did not start"
    rs_saw=$(py rs1 "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$RIP1', 5353))
s.connect(('$CIP', $cport))
s.settimeout(3)
s.send(b'unsolicited')
try:
    s.recv(100)
    print('an answer')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('nothing')
")
    # The real server waited 3 s after sending: the datagram, if forwarded, is there by now.
    touch "$DP_WORK/nis-$mode.stop"
    wait_for "$DP_WORK/nis-$mode" '^(got|nothing)' 10 || true
    cl_saw=$(grep -E '^(got|nothing)' "$DP_WORK/nis-$mode" || echo "no result")
    if [ $mode = 1 ]; then
        want "nat_icmp_send=1: the real server's datagram from $RIP1:5353 (no entry)" "$rs_saw" refused
        want "nat_icmp_send=1: what the client received" "$cl_saw" nothing
    else
        want "nat_icmp_send=0: the real server's datagram from $RIP1:5353 (no entry)" "$rs_saw" nothing
        want "nat_icmp_send=0: what the client received" "$cl_saw" "got $RIP1:5353"
    fi
done

# -- schedule_icmp
dpd ipvsadm -A -u "$VIP:85" -s rr
dpd ipvsadm -a -u "$VIP:85" -r "$RIP2:8080" -m
for mode in 0 1; do
    vs_set schedule_icmp $mode
    qport=$((5000 + mode))
    pyb rs2 "$DP_WORK/sic-$mode" "
import socket, time, os
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
r.settimeout(0.2)
print('ready', flush=True)
out, end = 'nothing', time.monotonic() + 60
while not os.path.exists('$DP_WORK/sic-$mode.stop') and time.monotonic() < end:
    try:
        d = r.recv(2000)
    except socket.timeout:
        continue
    h = (d[0] & 15) * 4
    q = d[h + 8:]
    if len(q) < 28 or d[h] != 3:
        continue
    qh = (q[0] & 15) * 4
    sp, dp = q[qh] << 8 | q[qh + 1], q[qh + 2] << 8 | q[qh + 3]
    if dp == $qport:
        out = 'icmp %d/%d to %s quoting %s:%d > %s:%d' % (d[h], d[h + 1], socket.inet_ntoa(d[16:20]),
            socket.inet_ntoa(q[12:16]), sp, socket.inet_ntoa(q[16:20]), dp)
        break
print(out)
"
    wait_for "$DP_WORK/sic-$mode" '^ready' 15 || fail "the real server's ICMP capture did not start"
    py client "$PY_HDR
vip, cip = socket.inet_aton('$VIP'), socket.inet_aton('$CIP')
# The quoted datagram VIP:85 -> client:$qport (100 bytes, DF) and its first 8 bytes.
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 100, 1, 0x4000, 64, 17, 0, vip, cip)
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
quote = ip + struct.pack('!HHHH', 85, $qport, 80, 0)
icmp = struct.pack('!BBHHH', 3, 4, 0, 0, 1400) + quote
icmp = icmp[:2] + struct.pack('!H', csum(icmp)) + icmp[4:]
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
r.bind(('$CIP', 0))
r.sendto(icmp, ('$VIP', 0))
"
    # Forwarded, it would be there in well under 2 s.
    wait_for "$DP_WORK/sic-$mode" '^icmp' 2 2>/dev/null || touch "$DP_WORK/sic-$mode.stop"
    wait_for "$DP_WORK/sic-$mode" '^(icmp|nothing)' 10 || true
    rs_saw=$(grep -E '^(icmp|nothing)' "$DP_WORK/sic-$mode" || echo "no result")
    entry=$(dpd ipvsadm -L -c -n | awk -v s="$CIP:$qport" -v v="$VIP:85" '$1 == "UDP" && $4 == s && $5 == v { print $6 }')
    if [ $mode = 1 ]; then
        want "schedule_icmp=1: what rs2 received of the ICMP error quoting $VIP:85 > $CIP:$qport" \
            "$rs_saw" "icmp 3/4 to $RIP2 quoting $RIP2:8080 > $CIP:$qport"
        want "schedule_icmp=1: the entry for $CIP:$qport -> $VIP:85" "$entry" "$RIP2:8080"
    else
        want "schedule_icmp=0: what rs2 received of the ICMP error quoting $VIP:85 > $CIP:$qport" \
            "$rs_saw" nothing
        want "schedule_icmp=0: the entry for $CIP:$qport -> $VIP:85" "${entry:-none}" none
    fi
done
vs_set schedule_icmp 0

# -- drop_entry's result, 43 s after the SYNs.
wait $snap_pid || true
since=$(cat "$DP_WORK/snap.time" 2>/dev/null || echo 999)
n=$(awk -v v="$VIP:83" '$1 == "TCP" && $3 == "SYN_RECV" && $5 == v' "$DP_WORK/snap" | wc -l)
echo "after $since s: $n of 100 SYN_RECV entries left"
awk -v v="$VIP:83" '$5 == v' "$DP_WORK/snap" | head -5
if [ "${since%.*}" -ge 57 ]; then
    dp_fail "drop_entry=3: read $since s after the SYNs, too close to their 60 s timeout to tell"
elif [ "$n" -le 50 ]; then
    ok "drop_entry=3: $n of 100 SYN_RECV entries left after $since s (at most 50)"
else
    dp_fail "drop_entry=3: $n of 100 SYN_RECV entries left after $since s, want at most 50"
fi
want "drop_entry=3: the held connection's entry" "$(conn_state TCP "$CIP:$held_port" "$VIP:80")" ESTABLISHED
vs_set drop_entry 0
touch "$hold"
if wait $held_pid; then
    ok "drop_entry=3: the held connection completed"
else
    dp_fail "drop_entry=3: the held connection failed: $(tail -3 "$DP_WORK/held.out")"
fi
dp_finish
