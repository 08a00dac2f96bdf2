# Devices going away under live services (ip_vs's ip_vs_dst_event). A real server's cached route
# holds the device it goes out through, and unregistering a device waits until every reference
# to it is given back: unless the balancer lets go of its routes when the device goes down, the
# unregistration waits for ever ("unregister_netdevice: waiting for br1 to become free"), and so
# does every namespace operation and rmmod after it.
#  1. NAT IPv4, then DR IPv6: requests through both real servers (their routes cached), then
#     the director's back bridge br1 deleted with the service live: the deletion completes; the
#     service still lists both real servers; with br1 built again, requests reach both real
#     servers again (the routes are looked up afresh). (IPv4 lets go of the device by itself:
#     its cached routes move to blackhole_netdev with their fib entries. IPv6 DR's do not.)
#  2. DR IPv6 (its routes are the uncached clones IPv6 moves to blackhole_netdev when their
#     device goes down, but which still hold it through their fib entry): a connection held open
#     to one real server, the other deleted (it goes to the destination trash, with its
#     connections); then every namespace deleted with the service still configured (no
#     ipvsadm -C) and the connection still open: the director's cleanup completes, which
#     `rmmod` (it waits for it) shows.
#  3. A persistence template replaced while a connection it controls is open (DR IPv4,
#     expire_quiescent_template=1, the held connection's real server set to weight 0, then a new
#     connection from the same client: ip_vs_check_template invalidates the template and a new
#     one sends the client to the other server), then the services flushed, the namespaces
#     deleted and the balancer unloaded at once, well within the old template's 60 s: the
#     teardown frees it too. (rvs takes a replaced entry out of its table; its teardown must
#     still find it, or the entry is reported leaked and its armed timer later fires into the
#     unloaded module: the harness fails the scenario on the report.)
# Balancer: RVS_DP_TARGET (rvs|ip_vs); the same assertions pass against ip_vs.
# timeout: 420
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
trap dp_exit EXIT

# finishes_within SECS WHAT CMD... — runs CMD in the background and fails the scenario (with the
# kernel's "waiting for" lines) if it has not returned within SECS seconds.
finishes_within() {
    local secs=$1 what=$2 pid t
    shift 2
    "$@" &
    pid=$!
    for ((t = 0; t < secs * 10; t++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" || fail "$what: exited $?"
            ok "$what: done in $((t / 10)).$((t % 10)) s"
            return 0
        fi
        sleep 0.1
    done
    dmesg | grep 'unregister_netdevice: waiting for' | tail -3 >&2 || true
    fail "$what: still waiting after $secs s"
}

# svc_up — the round-robin service on port 80 with both real servers.
svc_up() {
    dpd ipvsadm -A -t "$DP_VSVC" -s rr
    for i in 1 2; do dpd ipvsadm -a -t "$DP_VSVC" -r "${DP_RS[i]}" $DP_FLAG; done
}

# hold_one WHAT — opens one connection that stays open until $hold is touched; sets held (the
# client's pid) and held_rs (the real server that answered it).
hold_one() {
    hold=$DP_WORK/hold
    dp_client --proto tcp --to "$DP_VIP" --port 80 --count 1 --payload-bytes 3000 --bind "$DP_CIP" \
        --hold-file "$hold" --timeout 60 >"$DP_WORK/held.out" 2>&1 &
    held=$!
    dp_wait_hold "$DP_WORK/held.out" || dp_fail "$1: the held connection never got its header"
    held_rs=$(sed -n 's/^hold 0 server \([a-z0-9]*\).*/\1/p' "$DP_WORK/held.out")
}

# rs_count — the number of real servers listed under the service.
rs_count() {
    dpd ipvsadm -L -n | awk '$1 == "->" && $2 != "RemoteAddress:Port"' | wc -l
}

target=$RVS_DP_TARGET
dp_load "$target"

# 1. The back bridge deleted under a live service.
for setup in "nat 4" "dr 6"; do
    read -r method fam <<<"$setup"
    what="$target $method IPv$fam"
    dp_setup "$method" "$fam" 2
    svc_up
    dp_client --proto tcp --to "$DP_VIP" --port 80 --count 4 --bind "$DP_CIP" >/dev/null ||
        dp_fail "$what: 4 requests before br1 went"
    finishes_within 30 "$what: ip link del br1 under the live service" \
        ip -n director link del br1
    expect_eq "$what: real servers listed after br1 went" "$(rs_count)" 2
    nd=
    [ "$fam" = 4 ] || nd=nodad
    ip -n director -b - <<EOF
link add br1 type bridge mcast_snooping 0
link set br1 up
link set dir-rs1 master br1
link set dir-rs2 master br1
addr add $DP_DBIP/$DP_PLEN dev br1 $nd
EOF
    sleep 1
    out=$(dp_client --proto tcp --to "$DP_VIP" --port 80 --count 4 --bind "$DP_CIP") ||
        dp_fail "$what: 4 requests after br1 came back"
    echo "$out"
    for rs in rs1 rs2; do
        if grep -qw "$rs" <<<"$out"; then
            ok "$what: $rs answers through the new br1"
        else
            dp_fail "$what: $rs never answered through the new br1"
        fi
    done
    dp_teardown
done

# 2. Every namespace deleted under a live DR service, one real server in the trash with a route.
dp_setup dr 6 2
svc_up
dp_client --proto tcp --to "$DP_VIP" --port 80 --count 2 --bind "$DP_CIP" >/dev/null ||
    dp_fail "$target dr: 2 requests before the deletions"
hold_one "$target dr"
other=1
[ "$held_rs" != rs1 ] || other=2
dpd ipvsadm -d -t "$DP_VSVC" -r "${DP_RS[other]}"
expect_eq "$target dr: real servers listed" "$(rs_count)" 1
dpd ipvsadm -L -n
dp_teardown --keep-services
kill "$held" 2>/dev/null || true
wait "$held" 2>/dev/null || true
if [ "$target" = rvs ]; then
    finishes_within 90 "rvs dr: rmmod after the namespaces went with a live service" rmmod rvs
else
    finishes_within 90 "ip_vs dr: rmmod after the namespaces went with a live service" \
        modprobe -r ip_vs_rr ip_vs
fi

# 3. A replaced persistence template, still referenced, at teardown.
dp_load "$target"
dp_setup dr 4 2
dpd sysctl -qw net.ipv4.vs.expire_quiescent_template=1
dpd ipvsadm -A -t "$DP_VSVC" -s rr -p 600
for i in 1 2; do dpd ipvsadm -a -t "$DP_VSVC" -r "${DP_RS[i]}" $DP_FLAG; done
hold_one "$target persistent"
mine=1 other=rs2
[ "$held_rs" = rs1 ] || { mine=2; other=rs1; }
dpd ipvsadm -e -t "$DP_VSVC" -r "${DP_RS[mine]}" $DP_FLAG -w 0
out=$(dp_client --proto tcp --to "$DP_VIP" --port 80 --count 1 --bind "$DP_CIP") ||
    dp_fail "$target persistent: a new connection after the weight went to 0"
if grep -qw "$other" <<<"$out"; then
    ok "$target persistent: with $held_rs quiescent the client's template was replaced ($other answers)"
else
    dp_fail "$target persistent: the new connection did not go to $other: $out"
fi
# The old template is still there, held by the open connection: listed beside the new one
# (ip_vs lists it re-keyed with ports 65535, rvs with its own).
listing=$(dpd ipvsadm -L -c -n)
echo "$listing"
n=$(awk -v c="$DP_CIP:0" '$4 == c' <<<"$listing" | wc -l)
if [ "$n" -eq 2 ]; then
    ok "$target persistent: the replaced and the new template are both listed"
else
    dp_fail "$target persistent: $n templates of $DP_CIP listed, expected 2"
fi
t_replaced=$SECONDS
touch "$hold"
wait "$held" 2>/dev/null || true
dp_teardown
if [ "$target" = rvs ]; then
    finishes_within 90 "rvs persistent: rmmod with the replaced template" rmmod rvs
else
    finishes_within 90 "ip_vs persistent: rmmod with the replaced template" modprobe -r ip_vs_rr ip_vs
fi
[ $((SECONDS - t_replaced)) -lt 60 ] ||
    dp_fail "the unload came $((SECONDS - t_replaced)) s after the replacement: the old template could have expired by itself"
# A device still waiting for its references, or connection-table entries left at teardown,
# fail the scenario too: the harness reports the kernel's line (tests/qemu/logscan.py).
dp_finish
