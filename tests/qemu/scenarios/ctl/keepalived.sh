# keepalived configures rvs exactly as it configures ip_vs: the same keepalived.conf of
# virtual_server blocks (TCP wrr with persistence and a netmask whose real servers use NAT, DR and
# GUE/GRE tunnels, weights, thresholds and a MISC_CHECK that sets a weight dynamically; UDP sh with
# flags and one-packet scheduling over TUN; SCTP; IPv4 and IPv6 fwmarks; an IPv6 TCP service with
# a prefix-length granularity; global lvs_timeouts and lvs_flush) run by the Debian keepalived
# checker (libipvs over generic netlink, family "IPVS") leaves the same table behind — as
# `ipvsadm -S -n`, -L -n --thresholds, -L -n --tun-info and -L --timeout show it — first against
# ip_vs, then against rvs (ipvs_compat=1); and once keepalived stops, both tables are empty again
# and the timeouts are back to what they were.
# timeout: 420
. tests/qemu/lib.sh
unload_all
trap 'stop_keepalived; unload_all' EXIT

work=$(mktemp -d)
ip link set lo up
conf=$work/keepalived.conf
cat >"$conf" <<'CONF'
global_defs {
    router_id rvs_ctl_test
    script_user root
    enable_script_security
    lvs_timeouts tcp 7200 tcpfin 60 udp 50
    lvs_flush
}

virtual_server 10.0.0.1 80 {
    delay_loop 2
    lb_algo wrr
    lb_kind NAT
    persistence_timeout 600
    persistence_granularity 255.255.255.0
    protocol TCP
    real_server 192.168.1.2 8080 {
        weight 3
    }
    real_server 192.168.1.3 8080 {
        weight 1
        uthreshold 100
        lthreshold 10
    }
    real_server 192.168.1.4 8081 {
        weight 5
        MISC_CHECK {
            misc_path "/bin/sh -c 'exit 12'"
            misc_dynamic
        }
    }
    real_server 192.168.1.5 80 {
        lvs_method DR
        weight 2
    }
    real_server 192.168.1.6 80 {
        lvs_method TUN type gue port 6080 csum
        weight 4
    }
    real_server 192.168.1.7 80 {
        lvs_method TUN type gre nocsum
        weight 0
    }
}

virtual_server 10.0.0.2 53 {
    lb_algo sh
    sh-port
    sh-fallback
    ops
    lb_kind TUN
    protocol UDP
    real_server 192.168.2.1 53 {
        weight 1
    }
    real_server 192.168.2.2 53 {
        weight 7
    }
}

virtual_server 10.0.0.3 3868 {
    lb_algo lblcr
    lb_kind DR
    protocol SCTP
    real_server 192.168.3.1 3868 {
    }
}

virtual_server fwmark 7 {
    lb_algo mh
    mh-port
    lb_kind DR
    persistence_timeout 120
    real_server 192.168.4.1 0 {
        weight 2
    }
    real_server 192.168.4.2 0 {
        weight 3
    }
}

virtual_server fwmark 8 {
    ip_family inet6
    lb_algo twos
    lb_kind NAT
    real_server 2001:db8::c 0 {
        weight 6
    }
}

virtual_server 2001:db8::1 443 {
    lb_algo lc
    lb_kind NAT
    persistence_timeout 300
    persistence_granularity 64
    protocol TCP
    real_server 2001:db8::a 8443 {
        weight 3
    }
    real_server 2001:db8::b 8443 {
        weight 1
        uthreshold 20
    }
}
CONF
# Services and destinations in the table once keepalived has configured everything.
want_lines=20

kpid=
stop_keepalived() {
    [ -n "$kpid" ] || return 0
    kill -TERM "$kpid" 2>/dev/null || true
    local i
    for i in $(seq 60); do
        kill -0 "$kpid" 2>/dev/null || break
        sleep 0.5
    done
    kill -0 "$kpid" 2>/dev/null && { echo "keepalived ignored SIGTERM: killing it"; kill -KILL "$kpid"; }
    wait "$kpid" 2>/dev/null || true
    kpid=
}

snapshot() {
    for args in "-S -n" "-L -n --thresholds" "-L -n --tun-info" "-L --timeout"; do
        echo "\$ ipvsadm $args"
        # shellcheck disable=SC2086
        ipvsadm $args 2>&1 || echo "rc=$?"
    done
}

# run KERNEL: keepalived's checker against the loaded KERNEL until the table is complete (the
# MISC_CHECK has set 192.168.1.4's weight to 12 - 2), or 90 s have passed; then stops it.
run() {
    local kernel=$1 i table=
    ipvsadm -L --timeout >"$work/$kernel.timeouts-before" 2>&1 || true
    keepalived -n -l -D -C -B -f "$conf" -p "$work/$kernel.pid" -c "$work/$kernel.checkers.pid" \
        >"$work/$kernel.keepalived.log" 2>&1 &
    kpid=$!
    for i in $(seq 180); do
        table=$(ipvsadm -S -n 2>/dev/null || true)
        if [ "$(printf '%s\n' "$table" | grep -c .)" = $want_lines ] &&
            printf '%s\n' "$table" | grep -q -- '-r 192.168.1.4:8081 -m -w 10$'; then
            break
        fi
        kill -0 "$kpid" 2>/dev/null || break
        sleep 0.5
    done
    if [ "$(printf '%s\n' "$table" | grep -c .)" = $want_lines ]; then
        ok "$kernel: keepalived configured $want_lines services and destinations after ~$((i / 2)) s"
    else
        echo "$kernel: keepalived did not complete the table; its log ends:"
        tail -20 "$work/$kernel.keepalived.log"
    fi
    snapshot >"$work/$kernel.running"
    stop_keepalived
    snapshot >"$work/$kernel.stopped"
}

modprobe ip_vs
run ip_vs
cat "$work/ip_vs.running"
echo "--- after keepalived stopped:"
cat "$work/ip_vs.stopped"
# The reference itself must be what the configuration asks for, or comparing with it proves little.
expect_eq "ip_vs: rules saved while keepalived runs" "$(grep -c '^-[Aa] ' "$work/ip_vs.running")" $want_lines
grep -q -- '-r 192.168.1.4:8081 -m -w 10$' "$work/ip_vs.running" || fail "ip_vs: MISC_CHECK weight not applied"
grep -q 'Timeout (tcp tcpfin udp): 7200 60 50' "$work/ip_vs.running" || fail "ip_vs: lvs_timeouts not applied"
expect_eq "ip_vs: rules left after keepalived stops" "$(grep -c '^-[Aa] ' "$work/ip_vs.stopped" || true)" 0
grep -qF "$(cat "$work/ip_vs.timeouts-before")" "$work/ip_vs.stopped" || fail "ip_vs: timeouts not restored"
ok "ip_vs: keepalived restored the timeouts on exit: $(cat "$work/ip_vs.timeouts-before")"
unload_all

insmod "$RVS_KO" ipvs_compat=1
module_loaded rvs || fail "rvs did not load"
run rvs
rmmod rvs

failed=0
for phase in running stopped; do
    if diff -u --label "ip_vs ($phase)" --label "rvs ($phase)" "$work/ip_vs.$phase" "$work/rvs.$phase"; then
        ok "keepalived $phase: rvs table identical to ip_vs's ($(wc -l <"$work/ip_vs.$phase") lines)"
    else
        echo "DIFFERS: keepalived $phase: rvs vs ip_vs (diff above: - ip_vs, + rvs)"
        failed=1
    fi
done
[ $failed = 0 ] || fail "keepalived leaves rvs configured differently from ip_vs"
