# Director failover with keepalived: two director namespaces, dir1 and dir2, run the Debian
# keepalived with one VRRP instance over unicast peers (unicast_src_ip/unicast_peer, advert_int 1,
# dir1 MASTER priority 150, dir2 BACKUP 100) holding the VIP 10.0.0.100 (and, in NAT, the real
# servers' gateway 172.16.0.254 on the back network), the same virtual servers (TCP and UDP
# 10.0.0.100:80, rr, two real servers) and `lvs_sync_daemon front VI_1`, so keepalived runs the
# master sync daemon on the VRRP master and the backup daemon on the backup (topology:
# ha_pair_setup in tests/qemu/ha-lib.sh). A client keeps four TCP connections and one UDP flow
# through the VIP busy both ways (tests/qemu/flows.py, a 64-byte piece every 50 ms each). For DR
# and then NAT:
#   - keepalived runs the master sync daemon in dir1 and the backup daemon in dir2
#     (ipvsadm -L --daemon);
#   - before the failover, dir2's connection table (ipvsadm -L -c -n) already holds every one of
#     the client's flows, with the same real server and state as dir1's;
#   - dir1 crashes: every keepalived process SIGKILLed and its links down at once, so no goodbye
#     advert and no forwarding. (Not a graceful stop: when keepalived stops (SIGTERM), its
#     checker deletes the services while its VRRP process may still hold the VIP, and ip_vs
#     unregisters its hooks with a netns's last service, so packets arriving in between reach
#     dir1's own TCP stack, which resets their connections: a race that reset 3 of the 4
#     connections in one run of 3 against ip_vs);
#   - dir2 takes the VIP (and the gateway);
#   - every TCP connection keeps going: bytes echoed after the failover, no reset, the complete
#     echo and a clean close at the end; the UDP flow is still answered, by the same real server
#     (the client's first datagram went to rs2 on dir1: without dir1's connection, dir2's round
#     robin would start at rs1);
#   - the longest silence of each flow (the time without traffic) is printed.
#
# Against rvs (its sync daemon, docs/sync.md) in the VM: PASS in 123 s; time without traffic
# 3.2-3.3 s for TCP and 2.0 s for UDP after the DR master's crash, 1.9-3.3 s and 1.8 s for NAT
# (dir2 takes the VIP about 3 s after the crash: VRRP's advert_int 1 and its master-down timer).
# Balancer: RVS_DP_TARGET (rvs|ip_vs; see tests/qemu/dp-lib.sh and tests/qemu/dp-run.sh).
# Runtime against ip_vs under TCG: 148-197 s with at most one other VM on the machine's two cores,
# 307 s with the cores fully contended (each case ~25 s of topology, ~20 s until keepalived has
# a master, most of the rest starting processes); hence the timeout.
# timeout: 600
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
. tests/qemu/ha-lib.sh
trap ha_exit EXIT

ha_leftovers
dp_load "$RVS_DP_TARGET"
NTCP=4
# Each check says when it passed, in seconds since its case began.
ok() { echo "ok: $* [$(dp_since "$HA_T0") s]"; }

# keepalived_conf DIR STATE PRIORITY PEER — dir1's or dir2's keepalived.conf.
keepalived_conf() {
    local me=$1 state=$2 prio=$3 peer=$4 proto i
    cat <<CONF
global_defs {
    router_id $me
    script_user root
    enable_script_security
    lvs_sync_daemon front VI_1
}
vrrp_instance VI_1 {
    state $state
    interface front
    virtual_router_id 51
    priority $prio
    advert_int 1
    unicast_src_ip 10.0.0.1${me#dir}
    unicast_peer {
        $peer
    }
    virtual_ipaddress {
        $DP_VIP/32 dev front
CONF
    [ -z "$HA_GW" ] || echo "        $HA_GW/32 dev back"
    echo "    }"
    echo "}"
    for proto in TCP UDP; do
        echo "virtual_server $DP_VIP 80 {"
        echo "    delay_loop 2"
        echo "    lb_algo rr"
        echo "    lb_kind ${DP_METHOD^^}"
        echo "    protocol $proto"
        for i in 1 2; do echo "    real_server ${DP_RIPS[i]} $DP_RPORT {"; echo "    }"; done
        echo "}"
    done
}

# The director's view: `ipvsadm ARGS` in NS.
adm() { local ns=$1; shift; ip netns exec "$ns" ipvsadm "$@"; }
# addrs NS — NS's addresses, on one line (one process).
addrs() { local a; a=$(ip -n "$1" -br addr show 2>/dev/null); echo " ${a//$'\n'/ } "; }
has_vip() { [[ "$(addrs "$1")" == *" $DP_VIP/32 "* ]]; }
has_addrs() {
    local a
    a=$(addrs "$1")
    [[ "$a" == *" $DP_VIP/32 "* ]] && { [ -z "$HA_GW" ] || [[ "$a" == *" $HA_GW/32 "* ]]; }
}
tables_ready() {
    [ "$(adm "$1" -S -n 2>/dev/null | grep -c '^-a ')" = 4 ]
}
# daemon NS — ipvsadm -L --daemon, on one line.
daemon() { local d; d=$(adm "$1" -L --daemon 2>&1); echo "${d//$'\n'/; }"; }
# daemons_up — dir1 runs the master sync daemon and dir2 the backup one (as d1 and d2 show).
daemons_up() {
    d1=$(daemon dir1)
    [[ "$d1" == *"master sync daemon"* ]] || return 1
    d2=$(daemon dir2)
    [[ "$d2" == *"backup sync daemon"* ]]
}
# flow_entries NS — the client's flows in NS's connection table: "PROTO SOURCE DEST STATE" lines.
flow_entries() {
    adm "$1" -L -c -n 2>/dev/null | awk -v ports=" $HA_PORTS " '
        $1 == "TCP" || $1 == "UDP" {
            n = split($4, a, ":"); if (index(ports, " " a[n] " ")) print $1, $4, $6, $3
        }' | sort
}
synced() { [ "$(flow_entries dir2)" = "$(flow_entries dir1)" ]; }
# since_fail T — wall-clock time T (seconds, 6 decimals) relative to t_fail, to a tenth: "+2.1".
since_fail() {
    local d=$((${1/./} - ${t_fail/./})) sign=+
    [ $d -ge 0 ] || { sign=-; d=$((-d)); }
    d=$((d / 100000))
    printf '%s%d.%d' $sign $((d / 10)) $((d % 10))
}

# run_case dr|nat
run_case() {
    local method=$1 i
    echo "==== $method"
    HA_T0=$EPOCHREALTIME
    ha_pair_setup "$method"
    keepalived_conf dir1 MASTER 150 10.0.0.12 >"$DP_WORK/dir1.conf"
    keepalived_conf dir2 BACKUP 100 10.0.0.11 >"$DP_WORK/dir2.conf"
    ha_keepalived dir1 dir1 "$DP_WORK/dir1.conf"
    ha_keepalived dir2 dir2 "$DP_WORK/dir2.conf"
    # (If dir2's keepalived started more than a master-down interval before dir1's, dir2 is
    # master for a moment, until dir1 preempts it.)
    ha_wait 30 eval 'has_addrs dir1 && ! has_vip dir2' ||
        fail "$method: dir1 did not become the only VRRP master (VIP $DP_VIP${HA_GW:+, gateway $HA_GW}) within 30 s: dir1 $(ip -n dir1 -br addr show dev front), dir2 $(ip -n dir2 -br addr show dev front)"
    ok "$method: dir1 is VRRP master: it holds $DP_VIP${HA_GW:+ and $HA_GW}, dir2 does not"
    ha_wait 30 tables_ready dir1 || fail "$method: keepalived did not configure dir1's two services within 30 s"
    ha_wait 30 tables_ready dir2 || fail "$method: keepalived did not configure dir2's two services within 30 s"
    ok "$method: keepalived configured both services (rr, ${DP_RIPS[*]}) on dir1 and dir2"
    local d1= d2=
    if ha_wait 10 daemons_up; then
        ok "$method: sync daemons: dir1 '$d1', dir2 '$d2'"
    else
        d1=$(daemon dir1)
        d2=$(daemon dir2)
        dp_fail "$method: keepalived (lvs_sync_daemon front VI_1) did not start the sync daemons: ipvsadm -L --daemon shows dir1 '$d1' (want master), dir2 '$d2' (want backup); keepalived said: $(grep -i 'daemon' "$DP_WORK"/dir*.keepalived.log | grep -i 'error\|fail\|not supp' | sed 's/^.*\/\(dir[0-9]\)\.keepalived\.log:.*\(IPVS cmd\)/\1: \2/' | sort -u | head -3 | tr '\n' ';')"
    fi

    # One datagram first: dir1's round robin gives it the real server that dir2's round robin
    # (same keepalived.conf, same order of real servers, never used) would pick first, and
    # puts the UDP flow on the other one.
    local probe
    probe=$(dp_client --proto udp --to "$DP_VIP" --port 80 --count 1 --names 2>"$DP_WORK/probe") ||
        { cat "$DP_WORK/probe"; fail "$method: the UDP probe through the VIP failed"; }
    echo "UDP probe answered by $probe"
    ha_flows client flows --to "$DP_VIP" --port 80 --udp-port 80 --tcp $NTCP
    HA_PORTS=$(sed 's/.*(local ports \(.*\))/\1/' "$DP_WORK/flows.ready")
    [[ "$(cat "$DP_WORK/flows.ready")" != *"udp to $probe "* ]] ||
        dp_fail "$method: round robin on dir1 put the UDP flow on $probe again, after the probe: $(cat "$DP_WORK/flows.ready")"

    echo "\$ ipvsadm -L -c -n (dir1, the master)"
    adm dir1 -L -c -n
    local want
    want=$(flow_entries dir1 | wc -l)
    [ "$want" = $((NTCP + 1)) ] || dp_fail "$method: dir1 lists $want of the $((NTCP + 1)) flows"
    if ha_wait 10 synced; then
        ok "$method: before the failover dir2 already holds all $want of the client's flows, same real servers and states as dir1"
    else
        dp_fail "$method: before the failover dir2 holds $(flow_entries dir2 | wc -l) of the client's $want flows (dir1's: $(flow_entries dir1 | tr '\n' ';'); dir2's: $(flow_entries dir2 | tr '\n' ';')): the connections were not synced"
    fi
    echo "\$ ipvsadm -L -c -n (dir2, the backup)"
    adm dir2 -L -c -n

    # Let the flows run a little, then fail dir1.
    sleep 1
    local t_fail
    # keepalived first, so that it cannot react to the links going down.
    ha_keepalived_stop dir1 KILL
    t_fail=$EPOCHREALTIME
    if [ "$method" = dr ]; then
        ip -n dir1 link set front down
    else
        printf '%s\n' "link set front down" "link set back down" >"$DP_WORK/dir1.down"
        ip -n dir1 -b "$DP_WORK/dir1.down"
    fi
    echo "dir1 crashed: its keepalived processes SIGKILLed, then its links down"
    if ha_wait 20 has_addrs dir2; then
        ok "$method: dir2 took over $DP_VIP${HA_GW:+ and $HA_GW} $(dp_since "$t_fail") s after dir1 failed"
    else
        dp_fail "$method: dir2 did not take over $DP_VIP${HA_GW:+ and $HA_GW} within 20 s"
    fi
    # From here on only dir2 can carry the flows (dir1's links are down): what they echo after
    # the mark went through dir2. TCP retransmits back off
    # (0.2, 0.4, 0.8, 1.6, 3.2 s...), so give them time to find the new path.
    touch "$DP_WORK/flows.mark"
    if ha_wait 20 test -e "$DP_WORK/flows.mark.resumed"; then
        ok "$method: every flow was answered again once dir2 held the VIP"
    else
        echo "not every flow was answered within 20 s of dir2 holding the VIP"
    fi
    sleep 1
    touch "$DP_WORK/flows.stop"
    wait "$HA_FLOWS_PID" 2>/dev/null || true
    cat "$DP_WORK/flows.flows"
    echo "\$ ipvsadm -L -n --stats (dir2, the new master)"
    adm dir2 -L -n --stats
    local inpkts
    inpkts=$(adm dir2 -L -n --stats --exact | awk -v s="$DP_VIP:80" '$1 == "TCP" && $2 == s { print $4 }')
    if [ "${inpkts:-0}" -gt 0 ]; then
        ok "$method: dir2 forwarded the flows after the failover ($inpkts packets in on its TCP service)"
    else
        dp_fail "$method: dir2's TCP service forwarded nothing after the failover (InPkts '${inpkts:-}')"
    fi
    echo "dir2's sync daemons now: $(daemon dir2)"

    local line name why gap at rel
    # flow NAME server S port P sent N echoed|answered N after-mark N gap G at T ok|FAIL why
    local f n=0
    while read -r -a f; do
        [ "${f[0]:-}" = flow ] || continue
        n=$((n + 1))
        line=${f[*]}
        [ "${f[1]}" = udp ] && what="UDP flow (server ${f[3]})" || what="TCP connection ${f[1]} (server ${f[3]})"
        gap=${f[13]}
        rel=$(since_fail "${f[15]}")
        if [ "${f[16]}" = ok ]; then
            ok "$method: $what kept going through the failover; time without traffic $gap s (from ${rel} s after dir1 failed)"
        else
            why=${line##* FAIL }
            dp_fail "$method: $what did not survive the failover: $why (time without traffic $gap s, from ${rel} s after dir1 failed)"
        fi
    done <"$DP_WORK/flows.flows"
    [ $n = $((NTCP + 1)) ] || dp_fail "$method: flows.py reported $n of $((NTCP + 1)) flows"
    local t0=$EPOCHREALTIME
    ha_teardown
    echo "teardown: $(dp_since "$t0") s"
}

run_case dr
run_case nat
dp_finish
