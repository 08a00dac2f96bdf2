# rmmod rvs while traffic flows and thousands of connections are tracked: it must succeed at once
# (nothing holds the module), leave no module, no kernel report and no leak (the runner scans
# kmemleak), and a reloaded rvs must balance again.
#
# Each topology PFX is PFX-cl (client, 10.0.0.2-5) — PFX-dir (director: VIP 192.0.2.1 on lo,
# 10.0.0.1, 172.16.0.1; NAT TCP and UDP services VIP:80 -> 172.16.0.11:8080) — PFX-rs (real
# server 172.16.0.11, `connload.py serve`), the same addresses in every topology (namespaces).
# Connections come from one tests/qemu/connload.py per client: UDP flows, held-open TCP
# connections (ESTABLISHED), then complete TCP connections (the client closes first: their
# entries linger in TIME_WAIT); then it keeps traffic flowing (new connections, datagrams, bytes on
# the held ones) until told to stop. ipvsadm --set raises the TCP, FIN and UDP timeouts so that
# a slow VM counts the entries before they expire (TIME_WAIT stays 2 minutes).
#
# 1. Topology ra; 1,000 UDP + 1,000 held + 1,500 complete TCP; /proc/net/ip_vs_conn and
#    ipvsadm -L -n -c list >= 2,500; rmmod rvs under traffic; insmod, services, one connection.
# 2. Topology ra again filled, plus topology rb (its own services and connections); `ip netns del
#    rb-dir` while rb's traffic flows; ra's table is intact; then rmmod rvs under ra's traffic;
#    insmod, one connection works.
# timeout: 900
. tests/qemu/lib.sh

TRAFFIC=$RVS_ROOT/tests/qemu/traffic.py
CONNLOAD=$RVS_ROOT/tests/qemu/connload.py
PY=(python3 -I -S)
W=$(mktemp -d /tmp/rvs-rmmod.XXXXXX)
# A private copy: rvs.ko may be rebuilt on the host while this runs.
cp "$RVS_KO" "$W/rvs.ko"
NSS=()
PIDS=()
BAD=()

cleanup() {
    local rc=$? p
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    for p in "${NSS[@]}"; do [ -e "/run/netns/$p" ] && ip netns del "$p"; done
    unload_all
    rm -rf "$W"
    return $rc
}
trap cleanup EXIT

bad() {
    echo "FAIL: $*" >&2
    BAD+=("$*")
}

stamp() { echo "[$SECONDS s] $*"; }

# topo PFX — builds PFX-cl, PFX-dir, PFX-rs and starts the real server's servers.
topo() {
    local p=$1 ns
    local nss=("$p-cl" "$p-dir" "$p-rs")
    NSS+=("${nss[@]}")
    printf 'netns add %s\n' "${nss[@]}" | ip -b -
    for ns in "${nss[@]}"; do
        ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
            net.ipv4.conf.default.rp_filter=0 net.ipv4.ip_forward=1 \
            net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1
    done
    ip -b - <<EOF
link add c-dir netns $p-cl type veth peer name dir-c netns $p-dir
link add dir-rs netns $p-dir type veth peer name rs-d netns $p-rs
EOF
    ip -n "$p-cl" -b - <<EOF
link set lo up
link set c-dir up
addr add 10.0.0.2/24 dev c-dir
addr add 10.0.0.3/24 dev c-dir
addr add 10.0.0.4/24 dev c-dir
addr add 10.0.0.5/24 dev c-dir
route add 192.0.2.1/32 via 10.0.0.1
EOF
    ip -n "$p-dir" -b - <<EOF
link set lo up
link set dir-c up
link set dir-rs up
addr add 192.0.2.1/32 dev lo
addr add 10.0.0.1/24 dev dir-c
addr add 172.16.0.1/24 dev dir-rs
EOF
    ip -n "$p-rs" -b - <<EOF
link set lo up
link set rs-d up
addr add 172.16.0.11/24 dev rs-d
route add default via 172.16.0.1
EOF
    ip netns exec "$p-rs" "${PY[@]}" "$CONNLOAD" serve --name "$p-rs" --port 8080 \
        --ready-file "$W/$p.ready" >"$W/$p-rs.log" 2>&1 &
    PIDS+=($!)
    local t
    for ((t = 0; t < 600; t++)); do
        [ -e "$W/$p.ready" ] && break
        sleep 0.1
    done
    [ -e "$W/$p.ready" ] || { cat "$W/$p-rs.log"; fail "$p: the server did not start"; }
    rm -f "$W/$p.ready"
}

services() {
    local p=$1
    ip netns exec "$p-dir" ipvsadm -R <<EOF
-A -t 192.0.2.1:80 -s rr
-a -t 192.0.2.1:80 -r 172.16.0.11:8080 -m
-A -u 192.0.2.1:80 -s rr
-a -u 192.0.2.1:80 -r 172.16.0.11:8080 -m
EOF
    # TIME_WAIT/FIN entries live for tcpfin (default 120 s): long enough for a slow VM to count
    # them before they expire.
    ip netns exec "$p-dir" ipvsadm --set 900 600 600
}

# fill PFX UDP HOLD TCP — starts PFX's connload (it stays in its traffic loop once the
# connections are made; wait_loaded waits for that).
fill() {
    local p=$1 udp=$2 hold=$3 tcp=$4
    rm -f "$W/$p.loaded" "$W/$p.stop"
    ip netns exec "$p-cl" "${PY[@]}" "$CONNLOAD" --to 192.0.2.1 --port 80 \
        --bind 10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5 --tcp "$tcp" --hold "$hold" --udp "$udp" \
        --concurrency 48 --ready-file "$W/$p.loaded" --stop-file "$W/$p.stop" \
        >"$W/$p-load.log" 2>&1 &
    PIDS+=($!)
    eval "LOAD_$p=\$!"
}

wait_loaded() {
    local p=$1 t
    for ((t = 0; t < 4000; t++)); do
        [ -e "$W/$p.loaded" ] && break
        sleep 0.1
    done
    [ -e "$W/$p.loaded" ] || { cat "$W/$p-load.log"; fail "$p: connections never all opened"; }
    stamp "$p: $(cat "$W/$p.loaded")"
}

# count PFX MIN — the director's table lists at least MIN entries, in both views.
count() {
    local p=$1 min=$2 n m
    n=$(($(ip netns exec "$p-dir" cat /proc/net/ip_vs_conn | wc -l) - 1))
    m=$(($(ip netns exec "$p-dir" ipvsadm -L -n -c | wc -l) - 2))
    echo "$p: /proc/net/ip_vs_conn lists $n entries, ipvsadm -L -n -c $m; by protocol and state:"
    ip netns exec "$p-dir" cat /proc/net/ip_vs_conn | awk 'NR > 1 { c[$1 " " $8]++ }
        END { for (k in c) printf "    %-20s %d\n", k, c[k] }' | sort
    if [ "$n" -ge "$min" ] && [ "$m" -ge "$min" ]; then
        ok "$p: at least $min connections tracked"
    else
        bad "$p: only $n (proc) / $m (ipvsadm) connections tracked, want >= $min"
    fi
}

# stop PFX — ends PFX's traffic loop and shows its counts.
stop() {
    local p=$1 pid
    pid=$(eval "echo \$LOAD_$p")
    touch "$W/$p.stop"
    wait "$pid" || true
    grep -E '^(ready|loop end)' "$W/$p-load.log" | sed "s/^/  $p: /"
}

scan_log() {
    local what=$1
    dmesg >"$W/dmesg"
    if "${PY[@]}" "$RVS_ROOT/tests/qemu/logscan.py" "$W/dmesg" >"$W/findings"; then
        ok "no kernel report ($what)"
    else
        cat "$W/findings"
        bad "kernel report ($what): $(head -1 "$W/findings")"
    fi
}

# rmmod_under_load — rmmod rvs (the traffic loops still running); it must succeed first time.
rmmod_under_load() {
    local i t0=$SECONDS
    for i in 1 2 3 4 5; do
        if rmmod rvs 2>"$W/rmmod.err"; then
            break
        fi
        bad "rmmod rvs attempt $i failed: $(cat "$W/rmmod.err"); refcount $(cat /sys/module/rvs/refcnt 2>/dev/null)"
        sleep 2
    done
    if module_loaded rvs; then
        fail "rvs still loaded after 5 rmmod attempts"
    fi
    [ ! -e /sys/module/rvs ] || bad "/sys/module/rvs still exists after rmmod"
    ok "rmmod rvs under traffic succeeded (attempt $i, $((SECONDS - t0)) s); module gone"
}

# check_one PFX — after insmod: services again, one TCP and one UDP connection through them.
check_one() {
    local p=$1
    services "$p"
    if ip netns exec "$p-cl" "${PY[@]}" "$TRAFFIC" client --proto tcp,udp --to 192.0.2.1 \
        --port 80 --count 1 --timeout 10 >"$W/check.log" 2>&1; then
        ok "$p: reloaded rvs balances a TCP and a UDP connection"
    else
        cat "$W/check.log"
        bad "$p: no connection through the reloaded rvs"
    fi
    ip netns exec "$p-dir" ipvsadm -L -n -c | sed 's/^/  /'
}

unload_all
insmod "$W/rvs.ko"
stamp "rvs loaded"

echo "==== 1. rmmod with 2,500+ connections and traffic flowing"
topo ra
services ra
stamp "ra up"
fill ra 1000 1000 1500
wait_loaded ra
count ra 2500
sleep 3
grep '^loop' "$W/ra-load.log" | tail -1 | sed 's/^/  ra: /' || true
stamp "rmmod"
rmmod_under_load
sleep 3
stop ra
scan_log "after rmmod 1"
insmod "$W/rvs.ko"
check_one ra
stamp "part 1 done"

echo "==== 2. a namespace with services and connections deleted under traffic, then rmmod"
topo rb
services rb
stamp "rb up"
fill ra 400 400 800
fill rb 300 300 600
wait_loaded ra
wait_loaded rb
count ra 1500
count rb 1000
sleep 2
stamp "ip netns del rb-dir"
ip netns del rb-dir
# cleanup_net runs asynchronously; give it time to tear rvs's state of rb down under rb's
# traffic (rb-cl keeps sending into a link whose other end is going).
sleep 5
stop rb
scan_log "after deleting rb-dir"
count ra 1000
stamp "rmmod"
rmmod_under_load
sleep 3
stop ra
scan_log "after rmmod 2"
insmod "$W/rvs.ko"
check_one ra
stamp "part 2 done"

rmmod rvs || bad "final rmmod failed"
if [ ${#BAD[@]} -gt 0 ]; then
    printf 'FAIL: %s\n' "${BAD[@]}" >&2
    exit 1
fi
echo "all checks passed"
