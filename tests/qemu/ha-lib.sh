# High-availability scenario helpers (sourced after tests/qemu/lib.sh and tests/qemu/dp-lib.sh):
# the Debian keepalived in a namespace, nginx real servers, long-lived flows (tests/qemu/flows.py)
# and waiting for what keepalived does. Everything lives in DP_WORK and goes with dp_teardown.

FLOWS=$RVS_ROOT/tests/qemu/flows.py
declare -A HA_KEEPALIVED=()
declare -A HA_NGINX=()

# ha_keepalived NS NAME CONF [KEEPALIVED-ARGS...] — starts keepalived in namespace NS, in the
# foreground of a background job, logging to DP_WORK/NAME.keepalived.log; its pid files (the
# parent's, the checker's, the VRRP process') are DP_WORK/NAME.{pid,checkers.pid,vrrp.pid}.
ha_keepalived() {
    local ns=$1 name=$2 conf=$3
    shift 3
    ip netns exec "$ns" keepalived -n -l -D -f "$conf" -p "$DP_WORK/$name.pid" \
        -c "$DP_WORK/$name.checkers.pid" -r "$DP_WORK/$name.vrrp.pid" "$@" \
        >"$DP_WORK/$name.keepalived.log" 2>&1 &
    HA_KEEPALIVED[$name]=$!
    echo "keepalived $name started in $ns (pid $!)"
}

# ha_keepalived_stop NAME [TERM|KILL] — TERM (default): keepalived's own shutdown, waited for
# (up to 30 s, then KILL). KILL: every keepalived process of NAME (parent, checker, VRRP) at once,
# as a crash leaves them: no goodbye advert, nothing removed.
ha_keepalived_stop() {
    local name=$1 sig=${2:-TERM} pid=${HA_KEEPALIVED[$1]:-} f i
    [ -n "$pid" ] || return 0
    if [ "$sig" = KILL ]; then
        local pids=("$pid")
        for f in "$DP_WORK/$name.checkers.pid" "$DP_WORK/$name.vrrp.pid"; do
            [ -s "$f" ] && pids+=("$(cat "$f")")
        done
        kill -KILL "${pids[@]}" 2>/dev/null || true
    else
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 120; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "keepalived $name ignored SIGTERM for 30 s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    unset "HA_KEEPALIVED[$name]"
}

# ha_nginx NS NAME PORT — nginx in NS on PORT serving a page "NAME <address>"; restartable.
ha_nginx() {
    local ns=$1 name=$2 port=$3 d=$DP_WORK/nginx-$2
    if [ ! -f "$d/nginx.conf" ]; then
        mkdir -p "$d/www" "$d/tmp"
        echo "$name answered" >"$d/www/index.html"
        cat >"$d/nginx.conf" <<CONF
user root;
daemon on;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server {
        listen $port;
        root $d/www;
        default_type text/plain;
    }
}
CONF
    fi
    ip netns exec "$ns" nginx -q -e "$d/error.log" -p "$d" -c "$d/nginx.conf"
    HA_NGINX[$name]=$d
}

# ha_nginx_stop NAME — stops NAME's nginx and waits until its master has exited.
ha_nginx_stop() {
    local d=${HA_NGINX[$1]:-} pid i
    [ -n "$d" ] && [ -s "$d/nginx.pid" ] || return 0
    pid=$(cat "$d/nginx.pid")
    kill -TERM "$pid" 2>/dev/null || true
    # nginx removes its pid file on exit (its master is not our child: no wait).
    for ((i = 0; i < 80; i++)); do
        [ -e "$d/nginx.pid" ] || break
        sleep 0.1
    done
    unset "HA_NGINX[$1]"
}

# ha_leftovers — deletes every named network namespace: in the VM (its own /run), only an
# earlier scenario that timed out (killed before its EXIT trap ran) leaves any. Before dp_load,
# so that their services do not pin ip_vs. Only inside the harness's VM (RVS_VM_OUT set).
ha_leftovers() {
    local f ns
    [ -n "${RVS_VM_OUT:-}" ] || return 0
    for f in /run/netns/*; do
        [ -e "$f" ] || continue
        ns=${f##*/}
        echo "deleting namespace $ns, left behind by an earlier scenario"
        ip netns exec "$ns" ipvsadm -C >/dev/null 2>&1 || true
        ip netns del "$ns"
    done
}

# ha_wait SECS CMD... — runs CMD every 0.25 s until it succeeds (0) or SECS have passed (1).
ha_wait() {
    local secs=$1 t0=$EPOCHREALTIME
    shift
    while :; do
        if "$@"; then return 0; fi
        [ "$(dp_since "$t0" | tr -d .)" -lt "${secs}0" ] || return 1
        sleep 0.25
    done
}

# ha_flows NS NAME ARGS... — flows.py (see its header) in NS in the background, output in
# DP_WORK/NAME.flows; waits (up to 30 s) for its ready line. Its stop file is
# DP_WORK/NAME.stop, its mark file DP_WORK/NAME.mark; the pid is HA_FLOWS_PID.
ha_flows() {
    local ns=$1 name=$2
    shift 2
    ip netns exec "$ns" "${DP_PY[@]}" "$FLOWS" "$@" --ready-file "$DP_WORK/$name.ready" \
        --stop-file "$DP_WORK/$name.stop" --mark-file "$DP_WORK/$name.mark" \
        >"$DP_WORK/$name.flows" 2>&1 &
    HA_FLOWS_PID=$!
    DP_PIDS+=($!)
    if ! ha_wait 30 test -s "$DP_WORK/$name.ready"; then
        cat "$DP_WORK/$name.flows" >&2
        fail "$name: the flows were not all answered within 30 s"
    fi
    cat "$DP_WORK/$name.ready"
}

# ha_debug — what a failing HA scenario's log should show: every director's tables, keepalived's
# and the clients' last words.
ha_debug() {
    local f ns
    for ns in "${DP_NS[@]}"; do
        case "$ns" in
            director|dir[0-9]*)
                echo "---- $ns: ipvsadm -L -n --stats; -L -c -n; -L --daemon"
                ip netns exec "$ns" ipvsadm -L -n --stats 2>&1 || true
                ip netns exec "$ns" ipvsadm -L -c -n 2>&1 | head -20 || true
                ip netns exec "$ns" ipvsadm -L --daemon 2>&1 || true
                ;;
        esac
    done
    for f in "$DP_WORK"/*.keepalived.log; do
        [ -e "$f" ] || continue
        echo "---- $(basename "$f") (last lines)"
        tail -25 "$f"
    done
    for f in "$DP_WORK"/*.out; do
        [ -e "$f" ] || continue
        echo "---- $(basename "$f") (last lines)"
        tail -8 "$f"
    done
    for f in "$DP_WORK"/*.flows; do
        [ -e "$f" ] || continue
        echo "---- $(basename "$f")"
        cat "$f"
    done
}

# The EXIT trap of an HA scenario: on failure shows ha_debug, then stops keepalived and nginx,
# tears down and unloads the balancer.
ha_exit() {
    local rc=$?
    set +e
    [ $rc = 0 ] || [ ${#DP_NS[@]} = 0 ] || ha_debug
    ha_teardown
    unload_all
    return $rc
}

# ha_teardown — stops keepalived (KILL: quick), nginx, the directors' services and sync daemons
# (so that the scheduler modules are free before the namespaces go), then dp_teardown.
ha_teardown() {
    local name ns
    for name in "${!HA_KEEPALIVED[@]}"; do ha_keepalived_stop "$name" KILL; done
    for name in "${!HA_NGINX[@]}"; do ha_nginx_stop "$name"; done
    for ns in "${DP_NS[@]}"; do
        case "$ns" in
            dir[0-9]*)
                ip netns exec "$ns" sh -c 'ipvsadm -C; ipvsadm --stop-daemon master
                    ipvsadm --stop-daemon backup' >/dev/null 2>&1 || true
                ;;
        esac
    done
    dp_teardown
}

# ha_pair_setup dr|nat — two directors sharing a VIP, for failover scenarios:
#
#   client 10.0.0.2 ─┐            br-front (in namespace "switch")           ┌─ rsN 10.0.0.2N (DR)
#                    ├── dir1 10.0.0.11 ── dir2 10.0.0.12 ── (VIP 10.0.0.100) ┘  VIP on lo
#                                 │              │
#                                 └── br-back ───┴── rsN 172.16.0.2N (NAT), default via the
#                                     dir1 172.16.0.11, dir2 172.16.0.12,     gateway 172.16.0.254
#
# Every host's link is called front (or back) inside its own namespace; their peers are ports of
# the two bridges in "switch". The VIP 10.0.0.100 (and in NAT the real servers' gateway
# 172.16.0.254) is not configured on any director: keepalived's VRRP adds it to the master's
# front (back). DR: the real servers are on the front network, hold the VIP on lo with
# arp_ignore=1/arp_announce=2 and answer the client directly. NAT: they are on the back network
# only and route everything via the gateway address, so their replies follow the VIP to
# whichever director holds it. Both directors forward (ip_forward). Every real server runs
# traffic.py serve --proto tcp,udp --port 80,8080 (DR serves 80, NAT 8080).
# Sets DP_VIP DP_RPORT DP_RIPS[1..2] DP_FLAG HA_GW (NAT's gateway, or empty) and DP_NS/DP_WORK
# (so dp_teardown deletes it all).
ha_pair_setup() {
    local method=$1 i ns b p
    case "$method" in
        dr) DP_FLAG=-g; DP_RPORT=80; HA_GW= ;;
        nat) DP_FLAG=-m; DP_RPORT=8080; HA_GW=172.16.0.254 ;;
        *) fail "ha_pair_setup: unknown method $method (dr or nat)" ;;
    esac
    DP_METHOD=$method
    DP_VIP=10.0.0.100
    DP_NRS=2
    DP_RIPS=()
    local t0=$EPOCHREALTIME
    DP_WORK=$(mktemp -d /tmp/rvs-ha.XXXXXX)
    DP_NS=(switch client dir1 dir2 rs1 rs2)
    b=$DP_WORK/root.batch
    : >"$b"
    for ns in "${DP_NS[@]}"; do echo "netns add $ns" >>"$b"; done
    ip -b "$b"
    for i in 1 2; do
        in_ns "dir$i" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
            net.ipv4.conf.default.send_redirects=0
        if [ "$method" = dr ]; then
            in_ns "rs$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
                net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
        fi
    done
    : >"$b"
    echo "link add br-front netns switch type bridge mcast_snooping 0" >>"$b"
    echo "link add br-back netns switch type bridge mcast_snooping 0" >>"$b"
    echo "link add front netns client type veth peer name client-f netns switch" >>"$b"
    for i in 1 2; do
        echo "link add front netns dir$i type veth peer name dir$i-f netns switch" >>"$b"
        if [ "$method" = nat ]; then
            echo "link add back netns dir$i type veth peer name dir$i-b netns switch" >>"$b"
            echo "link add back netns rs$i type veth peer name rs$i-b netns switch" >>"$b"
        else
            echo "link add front netns rs$i type veth peer name rs$i-f netns switch" >>"$b"
        fi
    done
    ip -b "$b"
    {
        echo "link set lo up"
        echo "link set br-front up"
        echo "link set br-back up"
        for p in client-f dir1-f dir2-f rs1-f rs2-f; do
            [ "$method" = nat ] && [[ $p == rs* ]] && continue
            echo "link set $p master br-front up"
        done
        if [ "$method" = nat ]; then
            for p in dir1-b dir2-b rs1-b rs2-b; do echo "link set $p master br-back up"; done
        fi
    } >"$DP_WORK/switch.batch"
    printf '%s\n' "link set lo up" "link set front up" "addr add 10.0.0.2/24 dev front" \
        >"$DP_WORK/client.batch"
    for i in 1 2; do
        {
            echo "link set lo up"
            echo "link set front up"
            echo "addr add 10.0.0.1$i/24 dev front"
            if [ "$method" = nat ]; then
                echo "link set back up"
                echo "addr add 172.16.0.1$i/24 dev back"
            fi
        } >"$DP_WORK/dir$i.batch"
        {
            echo "link set lo up"
            if [ "$method" = nat ]; then
                DP_RIPS[i]=172.16.0.2$i
                echo "link set back up"
                echo "addr add ${DP_RIPS[i]}/24 dev back"
                echo "route add default via $HA_GW"
            else
                DP_RIPS[i]=10.0.0.2$i
                echo "link set front up"
                echo "addr add ${DP_RIPS[i]}/24 dev front"
                echo "addr add $DP_VIP/32 dev lo"
            fi
        } >"$DP_WORK/rs$i.batch"
    done
    for ns in "${DP_NS[@]}"; do ip -n "$ns" -b "$DP_WORK/$ns.batch"; done
    echo "topology: $method, client 10.0.0.2, directors dir1 10.0.0.11 and dir2 10.0.0.12 sharing VIP $DP_VIP${HA_GW:+ and gateway $HA_GW}, real servers ${DP_RIPS[*]} port $DP_RPORT"

    mkfifo "$DP_WORK/ready"
    for i in 1 2; do
        ip netns exec "rs$i" "${DP_PY[@]}" "$TRAFFIC" serve --name "rs$i" --proto tcp,udp \
            --port 80,8080 --ready-file "$DP_WORK/ready" >"$DP_WORK/rs$i.log" 2>&1 &
        DP_PIDS+=($!)
    done
    local fd line n=0
    exec {fd}<>"$DP_WORK/ready"
    while [ $n -lt 2 ] && read -r -t 60 -u "$fd" line; do n=$((n + 1)); done
    exec {fd}<&-
    [ $n = 2 ] || { cat "$DP_WORK"/rs*.log >&2; fail "ha_pair_setup: the servers did not start"; }
    echo "topology ready in $(dp_since "$t0") s"
}
