# Persistence, quiescing, fwmark services and statistics (NAT, IPv4, two real servers):
# - persistent service (-p 10): repeated connections from one client go to one real server, a
#   second client gets the other one (rr); /proc/net/ip_vs_conn shows the clients' templates;
#   with its server's weight set to 0 the client still goes there (a quiescent server keeps its
#   templates: expire_quiescent_template is 0); once the template has expired the client moves
#   to the other one. The connections close by RST (CLOSE, 10 s), but the template still
#   controls them when its own 10 s are up, and so lives another 60 s: about 70 s in all.
# - weight 0 (ipvsadm -e ... -w 0): an established connection to that server carries on, and
#   the new connections all go to the other one.
# - fwmark service (iptables-legacy MARK in mangle PREROUTING, ipvsadm -A -f 1): balances
#   connections to two ports of the VIP as one service.
# - statistics (ipvsadm -L -n --stats --exact, read once settled: ip_vs's estimator copies the
#   counters every 2 s): UDP counts exactly (one datagram each way per connection: packets, and
#   bytes with their IP and UDP headers); TCP counts the connections exactly, packets and bytes
#   at least the payload; ActiveConn/InActConn after FIN closes.
# Balancer: RVS_DP_TARGET (rvs|ip_vs; see tests/qemu/dp-lib.sh).
# timeout: 600
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
trap dp_exit EXIT

dp_load "$RVS_DP_TARGET"
dp_setup nat 4 2
c1=${DP_CIPS[0]}
c2=${DP_CIPS[1]}
# Each part has its own service port: ip_vs gives a real server re-added to a service of the
# same address and port its old destination back from the trash, counters and all (its
# TIME_WAIT connections would count in the new service's InActConn).
qsvc=$DP_VIP:84
tsvc=$DP_VIP:83

# names_of OUTPUT — the distinct server names of a --names output.
distinct() { tr ' ' '\n' <<<"$1" | sort -u | tr '\n' ' ' | sed 's/ $//'; }
other_rs() { if [ "$1" = rs1 ]; then echo rs2; else echo rs1; fi; }
rs_index() { echo "${1#rs}"; }
hex4() { printf '%02X%02X%02X%02X' ${1//./ }; }
# templates CLIENT — the client's persistence templates in /proc/net/ip_vs_conn (client port 0).
templates() { dpd cat /proc/net/ip_vs_conn | awk -v c="$(hex4 "$1")" '$2 == c && $3 == "0000"'; }
# client ARGS — the --names sequence; a failed connection fails the case.
client() {
    local seq rc
    set +e
    seq=$(dp_client --names "$@" 2>"$DP_WORK/client.err")
    rc=$?
    set -e
    cat "$DP_WORK/client.err" >&2
    [ $rc = 0 ] || { dp_fail "client $*: connections failed"; echo FAILED; return 0; }
    echo "$seq"
}

# ---- persistence
dpd ipvsadm -A -t "$DP_VSVC" -s rr -p 10
dpd ipvsadm -a -t "$DP_VSVC" -r "${DP_RS[1]}" -m
dpd ipvsadm -a -t "$DP_VSVC" -r "${DP_RS[2]}" -m
seq=$(client --proto tcp --to "$DP_VIP" --port 80 --count 5 --bind "$c1" --close rst)
s1=$(distinct "$seq")
if [ "$(wc -w <<<"$s1")" = 1 ] && [ "$s1" != FAILED ]; then
    ok "persistent: 5 connections from $c1 all to $s1"
else
    dp_fail "persistent: connections from $c1 went to '$seq'"
fi
seq=$(client --proto tcp --to "$DP_VIP" --port 80 --count 3 --bind "$c2" --close rst)
s2=$(distinct "$seq")
if [ "$s2" = "$(other_rs "$s1")" ]; then
    ok "persistent: 3 connections from $c2 all to $s2 (rr's next)"
else
    dp_fail "persistent: connections from $c2 went to '$seq', want all $(other_rs "$s1")"
fi
echo "-- /proc/net/ip_vs_conn"
dpd cat /proc/net/ip_vs_conn
tpl=$(templates "$c1")
if [ "$(wc -l <<<"$tpl")" = 1 ] && [ -n "$tpl" ] &&
    [ "$(awk '{print $6}' <<<"$tpl")" = "$(hex4 "${DP_RIPS[$(rs_index "$s1")]}")" ]; then
    ok "persistent: $c1's template (client port 0) points at $s1: $tpl"
else
    dp_fail "persistent: no single template for $c1 pointing at $s1: '$tpl'"
fi
dpd ipvsadm -L -n --persistent-conn

dpd ipvsadm -e -t "$DP_VSVC" -r "${DP_RS[$(rs_index "$s1")]}" -m -w 0
seq=$(client --proto tcp --to "$DP_VIP" --port 80 --count 2 --bind "$c1" --close rst)
if [ "$(distinct "$seq")" = "$s1" ]; then
    ok "persistent: with $s1 at weight 0, $c1 still goes to $s1 (its template holds)"
else
    dp_fail "persistent: with $s1 at weight 0, $c1 went to '$seq', want $s1 (template)"
fi
# The template expires 10 s after its last use — unless it still controls connections then
# (these RST-closed ones stay 10 s in CLOSE, so it does): ip_vs then gives it 60 s more
# (ip_vs_conn_expire's expire_later), and expires it at the first timer with none left.
start=$(date +%s)
while [ -n "$(templates "$c1")" ]; do
    if [ $(($(date +%s) - start)) -gt 90 ]; then
        dp_fail "persistent: $c1's template still there after 90 s"
        dpd cat /proc/net/ip_vs_conn
        break
    fi
    sleep 1
done
waited=$(($(date +%s) - start))
if [ $waited -lt 10 ]; then
    dp_fail "persistent: $c1's template went after ${waited} s, before its 10 s timeout"
else
    ok "persistent: $c1's template expired after ${waited} s"
fi
seq=$(client --proto tcp --to "$DP_VIP" --port 80 --count 2 --bind "$c1" --close rst)
if [ "$(distinct "$seq")" = "$(other_rs "$s1")" ]; then
    ok "persistent: after the template expired, $c1 moved to $(other_rs "$s1")"
else
    dp_fail "persistent: after expiry, $c1 went to '$seq', want $(other_rs "$s1")"
fi
dpd ipvsadm -D -t "$DP_VSVC"

# ---- weight 0 keeps established connections
dpd ipvsadm -A -t "$qsvc" -s rr
dpd ipvsadm -a -t "$qsvc" -r "${DP_RS[1]}" -m
dpd ipvsadm -a -t "$qsvc" -r "${DP_RS[2]}" -m
hold=$DP_WORK/hold
dp_client --proto tcp --to "$DP_VIP" --port 84 --count 1 --payload-bytes 2000 --bind "$c1" \
    --hold-file "$hold" --timeout 10 >"$DP_WORK/held.out" 2>&1 &
held=$!
dp_wait_hold "$DP_WORK/held.out" || true
h=$(awk '/^hold 0 server/ {print $4}' "$DP_WORK/held.out")
if [ -z "$h" ]; then
    dp_fail "weight 0: the held connection never got its header"
    cat "$DP_WORK/held.out"
    h=rs1
fi
dpd ipvsadm -e -t "$qsvc" -r "${DP_RS[$(rs_index "$h")]}" -m -w 0
line=$(dpd ipvsadm -L -n | awk -v r="${DP_RS[$(rs_index "$h")]}" '$2 == r')
if [ "$(awk '{print $4, $5}' <<<"$line")" = "0 1" ]; then
    ok "weight 0: $h shows weight 0 and its 1 active connection: $line"
else
    dp_fail "weight 0: $h's line is '$line', want weight 0, ActiveConn 1"
fi
seq=$(client --proto tcp --to "$DP_VIP" --port 84 --count 4 --bind "$c2")
if [ "$seq" = "$(other_rs "$h") $(other_rs "$h") $(other_rs "$h") $(other_rs "$h")" ]; then
    ok "weight 0: 4 new connections all to $(other_rs "$h")"
else
    dp_fail "weight 0: new connections went to '$seq', want all $(other_rs "$h")"
fi
touch "$hold"
set +e
wait $held
rc=$?
set -e
cat "$DP_WORK/held.out"
if [ $rc = 0 ] && grep -q "^conn 0 server $h seen $c1 ok" "$DP_WORK/held.out"; then
    ok "weight 0: the established connection to $h carried on (2000 bytes echoed after the change)"
else
    dp_fail "weight 0: the established connection to $h broke (exit $rc)"
fi
dpd ipvsadm -D -t "$qsvc"

# ---- fwmark service
# iptables-legacy: the kernel has x_tables and the mangle table but not NFT_COMPAT, which
# iptables-nft needs for its xt matches and targets.
dpd iptables-legacy -t mangle -A PREROUTING -d "$DP_VIP" -p tcp -m multiport --dports 80,81 \
    -j MARK --set-mark 1
dpd ipvsadm -A -f 1 -s rr
dpd ipvsadm -a -f 1 -r "${DP_RS[1]}" -m
dpd ipvsadm -a -f 1 -r "${DP_RS[2]}" -m
seq80=$(client --proto tcp --to "$DP_VIP" --port 80 --count 3 --bind "$c1" --check-seen)
seq81=$(client --proto tcp --to "$DP_VIP" --port 81 --count 3 --bind "$c1" --check-seen)
if dp_seq_alternates "$seq80 $seq81"; then
    ok "fwmark: ports 80 and 81 balanced as one service: $seq80 | $seq81"
else
    dp_fail "fwmark: not alternating across the marked ports: $seq80 | $seq81"
fi
# ---- statistics
# ip_vs shows the counters its estimator copies from the per-CPU ones, each once every 2 s
# (ip_vs_copy_stats reads kstats, which ip_vs_est's kthread updates): a read right after the
# traffic lags. settled PROTO SVC CONNS — `ipvsadm -L -n --stats --exact` once the service's
# connection count reads CONNS and a read 3 s later is identical.
settled() {
    local last= cur t
    for ((t = 0; t < 30; t++)); do
        cur=$(dpd ipvsadm -L -n --stats --exact)
        if [ "$cur" = "$last" ] && [ "$(stats "$cur" "$1" "$2" | cut -d' ' -f1)" = "$3" ]; then
            break
        fi
        last=$cur
        sleep 3
    done
    echo "$cur"
}
# stats LISTING PROTO SVC — "conns inpkts outpkts inbytes outbytes" of a service line.
stats() {
    awk -v p="$2" -v s="$3" '$1 == p && $2 == s {print $3, $4, $5, $6, $7}' <<<"$1"
}
# dest_stats LISTING PROTO SVC RS — the same for one of its real servers.
dest_stats() {
    awk -v p="$2" -v s="$3" -v r="$4" '
        $1 ~ /^(TCP|UDP|SCTP|FWM)$/ { in_svc = ($1 == p && $2 == s) }
        in_svc && $1 == "->" && $2 == r {print $3, $4, $5, $6, $7}' <<<"$1"
}

fw=$(stats "$(settled FWM 1 6)" FWM 1 | cut -d' ' -f1)
expect_eq "fwmark: the service's connection count" "$fw" 6
dpd ipvsadm -D -f 1
dpd iptables-legacy -t mangle -F

dpd ipvsadm -A -u "$DP_VSVC" -s rr
dpd ipvsadm -a -u "$DP_VSVC" -r "${DP_RS[1]}" -m
dpd ipvsadm -a -u "$DP_VSVC" -r "${DP_RS[2]}" -m
n=10 payload=100
set +e
dp_client --proto udp --to "$DP_VIP" --port 80 --count $n --payload-bytes $payload --bind "$c1" \
    >"$DP_WORK/udp.out" 2>&1
rc=$?
set -e
cat "$DP_WORK/udp.out"
[ $rc = 0 ] || dp_fail "stats: UDP connections failed"
received=$(sed -n 's/.* received \([0-9]*\)$/\1/p' "$DP_WORK/udp.out")
listing=$(settled UDP "$DP_VSVC" $n)
echo "$listing"
expect_eq "stats: UDP conns inpkts outpkts inbytes outbytes" "$(stats "$listing" UDP "$DP_VSVC")" \
    "$n $n $n $((n * (28 + payload))) $((n * 28 + received))"
d1=$(dest_stats "$listing" UDP "$DP_VSVC" "${DP_RS[1]}" | cut -d' ' -f1-3)
d2=$(dest_stats "$listing" UDP "$DP_VSVC" "${DP_RS[2]}" | cut -d' ' -f1-3)
expect_eq "stats: UDP per real server (conns inpkts outpkts)" "$d1 | $d2" "5 5 5 | 5 5 5"
dpd ipvsadm -D -u "$DP_VSVC"

dpd ipvsadm -A -t "$tsvc" -s rr
dpd ipvsadm -a -t "$tsvc" -r "${DP_RS[1]}" -m
dpd ipvsadm -a -t "$tsvc" -r "${DP_RS[2]}" -m
n=6 payload=2000
set +e
dp_client --proto tcp --to "$DP_VIP" --port 83 --count $n --payload-bytes $payload --bind "$c1" \
    >"$DP_WORK/tcp.out" 2>&1
rc=$?
set -e
cat "$DP_WORK/tcp.out"
[ $rc = 0 ] || dp_fail "stats: TCP connections failed"
listing=$(settled TCP "$tsvc" $n)
echo "$listing"
read -r conns inpkts outpkts inbytes outbytes <<<"$(stats "$listing" TCP "$tsvc")"
expect_eq "stats: TCP conns" "$conns" $n
if [ "$inpkts" -ge $((3 * n)) ] && [ "$outpkts" -ge $((2 * n)) ] &&
    [ "$inbytes" -ge $((n * payload)) ] && [ "$outbytes" -ge $((n * payload)) ]; then
    ok "stats: TCP inpkts $inpkts >= $((3 * n)), outpkts $outpkts >= $((2 * n)), bytes in $inbytes out $outbytes >= $((n * payload))"
else
    dp_fail "stats: TCP counters too small: $inpkts $outpkts $inbytes $outbytes"
fi
conns=$(dpd ipvsadm -L -n | awk -v s="$tsvc" '
    $1 ~ /^(TCP|UDP|SCTP|FWM)$/ { in_svc = ($1 == "TCP" && $2 == s) }
    in_svc && $1 == "->" {a += $5; i += $6} END {print a, i}')
expect_eq "stats: TCP ActiveConn InActConn after FIN closes (TIME_WAIT)" "$conns" "0 $n"
dpd ipvsadm -D -t "$tsvc"

# /proc/net/ip_vs_stats_percpu: ip_vs's layout, one row per possible CPU, and the rows add up to
# the totals line (ip_vs's totals come from its estimator, so they may lag the rows by a tick).
percpu_sums() {
    python3 -c '
import sys
rows, sums, total = 0, [0] * 5, ""
for line in sys.argv[1].splitlines()[2:]:
    f = line.split()
    if len(f) == 6 and f[0] == "~":
        total = " ".join(str(int(v, 16)) for v in f[1:])
    elif len(f) == 6 and all(c in "0123456789ABCDEF" for c in "".join(f)):
        rows += 1
        sums = [a + int(v, 16) for a, v in zip(sums, f[1:])]
print("%d|%s|%s" % (rows, " ".join(map(str, sums)), total))' "$1"
}
possible=$(dpd python3 -c "
r = open('/sys/devices/system/cpu/possible').read().strip()
print(sum(int(b) - int(a) + 1 if '-' in p else 1 for p in r.split(',') for a, b in [p.split('-') if '-' in p else (p, p)]))")
for _ in 1 2 3 4; do
    percpu=$(dpd cat /proc/net/ip_vs_stats_percpu)
    IFS='|' read -r rows sums total <<<"$(percpu_sums "$percpu")"
    [ "$sums" = "$total" ] && break
    sleep 2
done
echo "$percpu"
expect_eq "ip_vs_stats_percpu: header" "$(head -2 <<<"$percpu")" \
"       Total Incoming Outgoing         Incoming         Outgoing
CPU    Conns  Packets  Packets            Bytes            Bytes"
expect_eq "ip_vs_stats_percpu: one row per possible CPU" "$rows" "$possible"
expect_eq "ip_vs_stats_percpu: the rows add up to the totals line" "$sums" "$total"
[ "${total%% *}" -ge 16 ] || dp_fail "ip_vs_stats_percpu: totals count only ${total%% *} connections"
dp_finish
