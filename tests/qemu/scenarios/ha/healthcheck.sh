# keepalived's health checks drive the balancer: the Debian keepalived's checker (no VRRP) runs a
# keepalived.conf with two virtual servers on the VIP 192.0.2.1, each with the same two real
# servers rs1 and rs2 (tests/qemu/dp-lib.sh's DR topology, delay_loop 1):
#   - 192.0.2.1:80, lb_algo rr, lb_kind NAT to port 8080, TCP_CHECK (traffic.py's servers);
#   - 192.0.2.1:8000, lb_algo rr, lb_kind DR, HTTP_GET of / with status 200 (nginx, whose page
#     names the server).
# (NAT beside DR on the same real servers: the NAT client connects from 10.9.0.2, which the
# real servers reach through their default route via the director; the DR client from 10.0.0.2,
# which they reach directly.) While a client opens new connections to each service every 0.1 s
# and two long-lived connections stream through the NAT service (tests/qemu/flows.py, one on
# each real server), rs1's listeners stop:
#   - keepalived removes rs1 from both services (ipvsadm -L -n), within 15 s;
#   - the only failed connections are ones round robin gave to rs1 before keepalived removed it
#     (never two failures in a row), and every connection after the removal reaches rs2;
#   - the long-lived connection on rs2 keeps flowing; the one on rs1 breaks (it died with rs1's
#     server);
# then rs1's listeners start again: keepalived adds rs1 back to both services, no connection
# fails, and both servers answer again.
# Balancer: RVS_DP_TARGET (rvs|ip_vs; see tests/qemu/dp-lib.sh and tests/qemu/dp-run.sh).
# Runtime under TCG: 57-75 s (ip_vs and rvs alike) with at most one other VM on the machine's two
# cores, 134-172 s with them fully contended; hence the timeout.
# timeout: 400
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
. tests/qemu/ha-lib.sh
trap ha_exit EXIT

ha_leftovers
dp_load "$RVS_DP_TARGET"
dp_setup dr 4 2
NAT_CIP=10.9.0.2
DR_CIP=$DP_CIP
ip -n client addr add "$NAT_CIP/24" dev br0
ip -n director route add 10.9.0.0/24 via "$DP_CIP"
for i in 1 2; do
    ip -n "rs$i" route add default via "$DP_DBIP"
    ha_nginx "rs$i" "rs$i" 8000
done

conf=$DP_WORK/keepalived.conf
cat >"$conf" <<CONF
global_defs {
    router_id director
    script_user root
    enable_script_security
}
virtual_server $DP_VIP 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server ${DP_RIPS[1]} 8080 {
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
    real_server ${DP_RIPS[2]} 8080 {
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
}
virtual_server $DP_VIP 8000 {
    delay_loop 1
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server ${DP_RIPS[1]} 8000 {
        HTTP_GET {
            url {
                path /
                status_code 200
            }
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
    real_server ${DP_RIPS[2]} 8000 {
        HTTP_GET {
            url {
                path /
                status_code 200
            }
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
}
CONF
nat_svc=$DP_VIP:80
dr_svc=$DP_VIP:8000

# The director's table as `ipvsadm -S -n` saves it ("-a -t VIP:PORT -r RIP:PORT -m -w 1"), one
# process per look (they start slowly under TCG).
saved() { dpd ipvsadm -S -n; }
# in_both TABLE RIP — RIP is a real server of both services; in_neither TABLE RIP — of neither.
in_both() { [[ "$1" == *"-a -t $nat_svc -r $2:8080 "* ]] && [[ "$1" == *"-a -t $dr_svc -r $2:8000 "* ]]; }
in_neither() { [[ "$1" != *"-a -t $nat_svc -r $2:"* ]] && [[ "$1" != *"-a -t $dr_svc -r $2:"* ]]; }
has_rs() { in_both "$(saved)" "$1"; }
lacks_rs() { in_neither "$(saved)" "$1"; }
both_up() { local t; t=$(saved); in_both "$t" "${DP_RIPS[1]}" && in_both "$t" "${DP_RIPS[2]}"; }
table() {
    echo "\$ ipvsadm -L -n (director)"
    dpd ipvsadm -L -n
}

ha_keepalived director director "$conf" -C
ha_wait 30 both_up || fail "keepalived did not configure both services with rs1 and rs2 within 30 s"
ok "keepalived configured $nat_svc (NAT, TCP_CHECK) and $dr_svc (DR, HTTP_GET) with rs1 and rs2"
table

# Two long-lived connections first, so that round robin puts one on each real server.
ha_flows client held --to "$DP_VIP" --port 80 --tcp 2 --bind "$NAT_CIP" --interval 0.2
until=$DP_WORK/until
dp_client --proto tcp --to "$DP_VIP" --port 80 --bind "$NAT_CIP" --count 2000 --interval 0.25 \
    --timeout 3 --until-file "$until" --timestamps >"$DP_WORK/nat.out" 2>&1 &
DP_PIDS+=($!)
nat_client=$!
dp_client --proto http --to "$DP_VIP" --port 8000 --bind "$DR_CIP" --count 2000 --interval 0.25 \
    --timeout 3 --until-file "$until" --timestamps >"$DP_WORK/dr.out" 2>&1 &
DP_PIDS+=($!)
dr_client=$!

# conns_since FILE T — FILE has 4 connections that started at least 0.5 s after wall-clock time
# T (where check_client's phases begin).
conns_since() { awk -v t="$2" '/^conn / { sub("at=", "", $NF); if ($NF + 0 >= t + 0.5) n++ } END { exit !(n >= 4) }' "$1"; }
both_since() { conns_since "$DP_WORK/nat.out" "$1" && conns_since "$DP_WORK/dr.out" "$1"; }
now() { echo "$EPOCHREALTIME"; }

ha_wait 30 both_since 0 || fail "the clients did not get 4 connections each through within 30 s"
t_stop=$(now)
kill "${DP_PIDS[0]}"
wait "${DP_PIDS[0]}" 2>/dev/null || true
ha_nginx_stop rs1
touch "$DP_WORK/held.mark"
echo "rs1: traffic.py (TCP 8080) and nginx (HTTP 8000) stopped"
if ha_wait 15 lacks_rs "${DP_RIPS[1]}"; then
    t_removed=$(now)
    ok "keepalived removed rs1 from both services $(dp_since "$t_stop") s after its listeners stopped"
else
    t_removed=$(now)
    dp_fail "keepalived did not remove rs1 within 15 s of its listeners stopping"
fi
table
ha_wait 20 both_since "$t_removed" || dp_fail "the clients did not get 4 connections each through after rs1's removal"

t_restart=$(now)
ip netns exec rs1 "${DP_PY[@]}" "$TRAFFIC" serve --name rs1 --proto tcp,udp,sctp --port 80,8080 \
    --family 4 --sctp-addr "$DP_VIP" --ready-file "$DP_WORK/rs1.restarted" >>"$DP_WORK/rs1.log" 2>&1 &
DP_PIDS+=($!)
ha_nginx rs1 rs1 8000
ha_wait 20 test -s "$DP_WORK/rs1.restarted" || fail "rs1's traffic.py did not start again"
echo "rs1: traffic.py and nginx started again"
if ha_wait 15 has_rs "${DP_RIPS[1]}"; then
    t_added=$(now)
    ok "keepalived added rs1 back to both services $(dp_since "$t_restart") s after its listeners started"
else
    t_added=$(now)
    dp_fail "keepalived did not add rs1 back within 15 s of its listeners starting"
fi
table
ha_wait 20 both_since "$t_added" || dp_fail "the clients did not get 4 connections each through after rs1's return"
touch "$until" "$DP_WORK/held.stop"
wait "$nat_client" "$dr_client" 2>/dev/null || true
wait "$HA_FLOWS_PID" 2>/dev/null || true

# check_client NAME FILE — the phases of one client's connections (by start time): before the
# stop (all ok, both servers); from the stop until just after the removal (failures allowed, but
# never two in a row: each is a connection round robin gave to rs1); after the removal until the
# restart (all ok, all rs2); from the restart on (all ok; both servers once rs1 is back).
check_client() {
    local name=$1 file=$2 phase n fails run servers
    local m=0.5
    tail -1 "$file"
    while read -r phase n fails run servers; do
        case "$phase" in
            before)
                if [ "$fails" = 0 ] && [ "$servers" = "rs1,rs2" ]; then
                    ok "$name: before the stop: $n connections, none failed, both servers answered"
                else
                    dp_fail "$name: before the stop: $n connections, $fails failed, servers $servers"
                fi
                ;;
            outage)
                if [ "$run" -le 1 ]; then
                    ok "$name: until rs1 was removed: $n connections, $fails failed (rs1's turns), never two in a row"
                else
                    dp_fail "$name: until rs1 was removed: $fails of $n connections failed, $run in a row (not only rs1's turns)"
                fi
                ;;
            removed)
                if [ "$fails" = 0 ] && [ "$servers" = rs2 ] && [ "$n" -ge 4 ]; then
                    ok "$name: while rs1 was out: $n connections, all to rs2"
                else
                    dp_fail "$name: while rs1 was out: $n connections, $fails failed, servers $servers (want >= 4, none failed, rs2 only)"
                fi
                ;;
            restart)
                if [ "$fails" = 0 ]; then
                    ok "$name: until rs1 was back: $n connections, none failed (servers $servers)"
                else
                    dp_fail "$name: until rs1 was back: $fails of $n connections failed"
                fi
                ;;
            after)
                if [ "$fails" = 0 ] && [ "$servers" = "rs1,rs2" ] && [ "$n" -ge 4 ]; then
                    ok "$name: after rs1 was back: $n connections, none failed, both servers answered"
                else
                    dp_fail "$name: after rs1 was back: $n connections, $fails failed, servers $servers"
                fi
                ;;
        esac
    done < <(awk -v t0="$t_stop" -v t1="$t_removed" -v t2="$t_restart" -v t3="$t_added" -v m=$m '
        BEGIN { split("before outage removed restart after", order, " ") }
        /^conn / {
            at = $NF; sub("at=", "", at); at += 0
            p = at < t0 - m ? "before" : at < t1 + m ? "outage" : at < t2 ? "removed" : at < t3 + m ? "restart" : "after"
            n[p]++
            if ($7 == "ok") { seen[p, $4] = 1; cur = 0 }
            else { f[p]++; if (last == p) cur++; else cur = 1; if (cur > run[p]) run[p] = cur }
            last = p
        }
        END {
            for (i = 1; i <= 5; i++) {
                p = order[i]; s = ""
                if ((p, "rs1") in seen) s = "rs1"
                if ((p, "rs2") in seen) s = s (s == "" ? "" : ",") "rs2"
                printf "%s %d %d %d %s\n", p, n[p], f[p], run[p], (s == "" ? "-" : s)
            }
        }' "$file")
}
check_client "NAT $nat_svc (TCP_CHECK)" "$DP_WORK/nat.out"
check_client "DR $dr_svc (HTTP_GET)" "$DP_WORK/dr.out"

# The long-lived connections: the one on rs2 streamed on, the one on rs1 died with its server.
cat "$DP_WORK/held.flows"
on_rs2=$(grep '^flow tcp.* server rs2 ' "$DP_WORK/held.flows" || true)
on_rs1=$(grep '^flow tcp.* server rs1 ' "$DP_WORK/held.flows" || true)
gap=$(sed -n 's/.* gap \([0-9.]*\) .*/\1/p' <<<"$on_rs2")
if [[ "$on_rs2" == *" ok" ]] && [[ "$on_rs2" != *"after-mark 0 "* ]]; then
    ok "long-lived connection on rs2: kept flowing while rs1 went and came back (longest silence $gap s)"
else
    dp_fail "long-lived connection on rs2 did not keep flowing: ${on_rs2:-none on rs2}"
fi
if [[ "$on_rs1" == *" FAIL "* ]]; then
    ok "long-lived connection on rs1: broke with rs1's server (${on_rs1##* FAIL })"
else
    dp_fail "long-lived connection on rs1 should have broken when rs1's server stopped: ${on_rs1:-none on rs1}"
fi
dp_finish
