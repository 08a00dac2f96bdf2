# The connection sync daemon (docs/sync.md), in one VM boot:
#
# 1. Control plane: ipvsadm's --start-daemon/--stop-daemon/-L --daemon commands (mixed-family
#    refusal, EEXIST, ESRCH, ENODEV, defaults, maxlen clamp) give the same transcript on rvs
#    (ipvs_compat=1) as on ip_vs.
# 2. Replication, with ip_vs and rvs (ipvs_compat=0) loaded side by side, each director in its
#    own namespace on one bridge: an rvs master (sync id 1) feeds an rvs backup and a stock ip_vs
#    backup, a stock ip_vs master (sync id 2) feeds an rvs backup. A client holds TCP
#    connections (persistent service: templates too) and UDP flows through each master (DR to
#    one real server), and TCP connections of a firewall-mark service through the rvs master;
#    each backup's `-L -c -n` (expiry column aside) and `-L -n` equal its master's.
#    With rvs's opt-in full resync (sync_resync=1), a backup started after the connections went
#    idle asks the rvs master for them and holds the same entries. A backup that got entries
#    before it had their destination binds them when a later message arrives after the
#    destination was added (ip_vs_try_bind_dest): its counters become the master's. The same
#    replication over an IPv6 multicast group.
# 3. A forging sender multicasts 100,000 malformed, truncated, oversized and forged sync
#    datagrams at the rvs backup: /proc/net/rvs_sync_stats counts each one in its class, the
#    backup's table is unchanged, and the daemon still stops and starts.
# 4. Clean teardown with threads running: a namespace with a backup is deleted, then rvs is
#    unloaded with a master and a backup running (the harness checks for kmemleak/lockdep).
# timeout: 600
. tests/qemu/lib.sh
unload_all
work=$(mktemp -d)
NS=(client rs m_rvs m_ipvs b_rvs1 b_ipvs b_rvs2 b_late b_bind b_v6 forger)
cleanup() {
    touch "$work/stop"
    sleep 0.3
    # The servers (and any load left): a process in a deleted namespace keeps it, and its veth
    # peer in this one, alive.
    local pids
    pids=$(jobs -p)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || { kill $pids 2>/dev/null; wait $pids 2>/dev/null || true; }
    local ns
    for ns in m_ipvs b_ipvs; do
        ip netns exec "$ns" ipvsadm -C 2>/dev/null || true
        ip netns exec "$ns" ipvsadm --stop-daemon master 2>/dev/null || true
        ip netns exec "$ns" ipvsadm --stop-daemon backup 2>/dev/null || true
    done
    for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    ip link del br-sync 2>/dev/null || true
    ip link del sync0 2>/dev/null || true
    unload_all
    rm -rf "$work"
}
trap cleanup EXIT
t_all=$SECONDS
RVSADM=$RVS_ROOT/target/release/rvsadm
[ -x "$RVSADM" ] || fail "rvsadm is not built ($RVSADM)"

# --- 1. the daemon commands, ip_vs against rvs -------------------------------------------------
ip link add sync0 type veth peer name sync1
ip link set sync0 up
daemon_transcript() {
    local line rc
    while read -r line; do
        rc=0
        printf '$ ipvsadm %s\n' "$line"
        # shellcheck disable=SC2086
        ipvsadm $line 2>&1 || rc=$?
        printf 'rc=%d\n' "$rc"
    done <<'EOF'
-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 2001:db8::9 -i
--start-daemon master --mcast-interface sync0 --syncid 3
-d -t 10.0.0.1:80 -r 2001:db8::9
--start-daemon master --mcast-interface sync0 --syncid 3
--start-daemon master --mcast-interface sync0
--start-daemon backup --mcast-interface sync0 --mcast-group 239.1.2.3 --mcast-port 9000 --mcast-ttl 2 --sync-maxlen 1400
-a -t 10.0.0.1:80 -r 2001:db8::9 -i
-L --daemon
--stop-daemon master
--stop-daemon master
-L --daemon
--stop-daemon backup
--stop-daemon backup
-L --daemon
--start-daemon master --mcast-interface nosuch0
--start-daemon backup --mcast-interface sync0 --sync-maxlen 100 --syncid 300
--start-daemon master --mcast-interface sync0 --sync-maxlen 1
-L --daemon
--stop-daemon backup
--stop-daemon master
-C
EOF
}
t0=$SECONDS
modprobe ip_vs
daemon_transcript >"$work/daemon.ip_vs"
unload_all
insmod "$RVS_KO"
daemon_transcript >"$work/daemon.rvs"
rmmod rvs
if ! diff -u "$work/daemon.ip_vs" "$work/daemon.rvs"; then
    fail "rvs answers the daemon commands differently from ip_vs (diff above: - ip_vs, + rvs)"
fi
ok "$(grep -c '^\$ ipvsadm' "$work/daemon.rvs") daemon commands: rvs's transcript is ip_vs's ($((SECONDS - t0)) s)"
ip link del sync0

# --- 2. replication between namespaces ---------------------------------------------------------
t0=$SECONDS
modprobe ip_vs
insmod "$RVS_KO" ipvs_compat=0 sync_resync=1
b=$work/root.batch
: >"$b"
for ns in "${NS[@]}"; do echo "netns add $ns" >>"$b"; done
echo "link add br-sync type bridge mcast_snooping 0" >>"$b"
echo "link set br-sync up" >>"$b"
declare -A ADDR=([client]=10.9.0.50 [rs]=10.9.0.100 [m_rvs]=10.9.0.1 [m_ipvs]=10.9.0.2
    [b_rvs1]=10.9.0.11 [b_ipvs]=10.9.0.12 [b_rvs2]=10.9.0.13 [b_late]=10.9.0.14
    [b_bind]=10.9.0.15 [b_v6]=10.9.0.16
    [forger]=10.9.0.99)
for ns in "${NS[@]}"; do
    echo "link add v-$ns type veth peer name eth0 netns $ns" >>"$b"
    echo "link set v-$ns master br-sync up" >>"$b"
done
ip -b "$b"
for ns in "${NS[@]}"; do
    {
        echo "link set lo up"
        echo "link set eth0 up"
        echo "addr add ${ADDR[$ns]}/24 dev eth0"
        case $ns in
            client) echo "route add 10.9.1.1/32 via 10.9.0.1"; echo "route add 10.9.1.2/32 via 10.9.0.2" ;;
            rs) echo "addr add 10.9.1.1/32 dev lo"; echo "addr add 10.9.1.2/32 dev lo" ;;
            m_rvs) echo "addr add 10.9.1.1/32 dev lo" ;;
            m_ipvs) echo "addr add 10.9.1.2/32 dev lo" ;;
        esac
    } >"$work/$ns.batch"
    ip -n "$ns" -b "$work/$ns.batch"
done
ip netns exec rs sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
rvs() { local ns=$1; shift; ip netns exec "$ns" "$RVSADM" --family RVS "$@"; }
ipvs() { local ns=$1; shift; ip netns exec "$ns" ipvsadm "$@"; }
# services VIP TOOL NS: a persistent TCP service and a UDP one, DR to the real server; with
# 10.9.1.1, also a firewall-mark service (mark 7: TCP to port 81, marked in m_rvs), whose
# connections a backup can only bind if the messages carry the mark.
# (One restore per director: every process costs under TCG.)
services() {
    printf -- '-A -t %s:80 -s rr -p 600\n-a -t %s:80 -r 10.9.0.100:80 -g\n' "$1" "$1" >"$work/rules"
    printf -- '-A -u %s:80 -s rr\n-a -u %s:80 -r 10.9.0.100:80 -g\n' "$1" "$1" >>"$work/rules"
    if [ "$1" = 10.9.1.1 ]; then
        printf -- '-A -f 7 -s rr\n-a -f 7 -r 10.9.0.100:0 -g\n' >>"$work/rules"
    fi
    "$2" "$3" -R <"$work/rules"
}
services 10.9.1.1 rvs m_rvs
ip netns exec m_rvs iptables-legacy -t mangle -A PREROUTING -d 10.9.1.1 -p tcp --dport 81 \
    -j MARK --set-mark 7
services 10.9.1.1 rvs b_rvs1
services 10.9.1.1 ipvs b_ipvs
services 10.9.1.2 ipvs m_ipvs
services 10.9.1.2 rvs b_rvs2
services 10.9.1.1 rvs b_late
services 10.9.1.1 rvs b_v6
# A backup whose TCP service has no destination yet: its TCP entries arrive unbound.
grep -v -- '-a -t' "$work/rules" | ip netns exec b_bind "$RVSADM" --family RVS -R
# The fuzz run's pacing needs room in the backup's socket (sync_sock_size, read at start).
ip netns exec b_rvs1 sysctl -qw net.rvs.sync_sock_size=1048576
rvs m_rvs --start-daemon master --mcast-interface eth0 --syncid 1
ipvs m_ipvs --start-daemon master --mcast-interface eth0 --syncid 2
rvs b_rvs1 --start-daemon backup --mcast-interface eth0 --syncid 1
ipvs b_ipvs --start-daemon backup --mcast-interface eth0 --syncid 1
rvs b_rvs2 --start-daemon backup --mcast-interface eth0 --syncid 2
rvs b_bind --start-daemon backup --mcast-interface eth0 --syncid 1
expect_eq "rvs master listed" "$(rvs m_rvs -L --daemon)" \
    "master sync daemon (mcast=eth0, syncid=1, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)"
ok "topology and daemons up ($((SECONDS - t0)) s)"

t0=$SECONDS
for port in 80 81; do
    ip netns exec rs python3 tests/qemu/connload.py serve --port $port \
        --ready-file "$work/rs.ready.$port" >"$work/rs.$port.log" 2>&1 &
done
for _ in $(seq 100); do [ -e "$work/rs.ready.80" ] && [ -e "$work/rs.ready.81" ] && break; sleep 0.1; done
[ -e "$work/rs.ready.80" ] && [ -e "$work/rs.ready.81" ] || fail "the real server did not start"
for vip in 10.9.1.1 10.9.1.2; do
    ip netns exec client python3 tests/qemu/syncload.py --to "$vip" --port 80 --tcp 20 --udp 20 \
        --ready-file "$work/load.$vip" --hold-file "$work/stop" >"$work/load.$vip.log" 2>&1 &
done
ip netns exec client python3 tests/qemu/syncload.py --to 10.9.1.1 --port 81 --tcp 8 \
    --ready-file "$work/load.fwm" --hold-file "$work/stop" >"$work/load.fwm.log" 2>&1 &
for _ in $(seq 300); do
    [ -e "$work/load.10.9.1.1" ] && [ -e "$work/load.10.9.1.2" ] && [ -e "$work/load.fwm" ] && break
    sleep 0.1
done
for vip in 10.9.1.1 10.9.1.2; do
    grep -q 'ready: tcp 20 ok 0 failed; udp 20' "$work/load.$vip" 2>/dev/null ||
        fail "client to $vip: $(cat "$work/load.$vip.log")"
done
grep -q 'ready: tcp 8 ok 0 failed' "$work/load.fwm" 2>/dev/null ||
    fail "client to the fwmark service: $(cat "$work/load.fwm.log")"
ok "client holds 20 TCP connections and 20 UDP flows through each master, and 8 TCP connections of a fwmark service ($((SECONDS - t0)) s)"

# The connection listing without the expiry column, sorted.
conns() { "$@" -L -c -n | awk 'NR > 2 { print $1, $3, $4, $5, $6 }' | LC_ALL=C sort; }
# same WHAT WANT-CMD... -- GOT-CMD...: waits up to 15 s (a master flushes within 2 s) for the
# two listings to agree.
same() {
    local what=$1 want got i
    shift
    local -a a=() c=()
    while [ "$1" != -- ]; do a+=("$1"); shift; done
    shift
    c=("$@")
    for i in $(seq 30); do
        want=$(conns "${a[@]}")
        got=$(conns "${c[@]}")
        [ "$want" = "$got" ] && break
        sleep 0.5
    done
    if [ "$want" != "$got" ]; then
        diff -u <(echo "$want") <(echo "$got") || true
        fail "$what: the backup's connections differ from the master's (diff: - master, + backup)"
    fi
    ok "$what: $(echo "$want" | wc -l) entries equal ($(echo "$want" | grep -c TCP) TCP incl. templates, $(echo "$want" | grep -c UDP) UDP)"
}
t0=$SECONDS
master_n=$(conns rvs m_rvs | wc -l)
[ "$master_n" -eq 49 ] ||
    fail "rvs master has $master_n entries, want 20 TCP + 1 template + 20 UDP + 8 TCP of the fwmark service"
same "rvs -> rvs" rvs m_rvs -- rvs b_rvs1
same "rvs -> ip_vs" rvs m_rvs -- ipvs b_ipvs
same "ip_vs -> rvs" ipvs m_ipvs -- rvs b_rvs2
conns rvs b_rvs1 | grep -q "^TCP ESTABLISHED 10.9.0.50:" || fail "no ESTABLISHED TCP entry on the rvs backup"
conns rvs b_rvs1 | grep -Eq "^TCP [A-Z_]+ 10.9.0.50:0 10.9.1.1:80 10.9.0.100:80" ||
    fail "no persistence template on the rvs backup"
grep -q 'SYNC' <(ip netns exec b_rvs1 cat /proc/net/rvs_conn_sync) || fail "no SYNC origin in rvs_conn_sync"
# The backups bound the entries to their destinations: the same counters as the master's.
expect_eq "rvs backup's service counters" "$(rvs b_rvs1 -L -n)" "$(rvs m_rvs -L -n)"
expect_eq "ip_vs backup's service counters (rvs master)" \
    "$(ipvs b_ipvs -L -n | sed 1d)" "$(rvs m_rvs -L -n | sed 1d)"
expect_eq "rvs backup's service counters (ip_vs master)" \
    "$(rvs b_rvs2 -L -n | sed 1d)" "$(ipvs m_ipvs -L -n | sed 1d)"
ip netns exec m_rvs cat /proc/net/rvs_sync_stats | grep -q '^tx_msgs [1-9]' || fail "the master counted no message sent"
ok "replication checked ($((SECONDS - t0)) s)"

# --- 2b. full resync (rvs's own, module parameter sync_resync=1) -------------------------------
# The connections are idle now: nothing would sync them again. A backup that starts late asks
# its master for everything and gets it.
t0=$SECONDS
mstat() { ip netns exec m_rvs awk -v k="$1" '$1 == k { print $2 }' /proc/net/rvs_sync_stats; }
resyncs=$(mstat tx_resyncs)
t_resync=$SECONDS
rvs b_late --start-daemon backup --mcast-interface eth0 --syncid 1
same "full resync to a late rvs backup" rvs m_rvs -- rvs b_late
expect_eq "full resyncs the master sent for it" "$(($(mstat tx_resyncs) - resyncs))" 1
ok "full resync checked ($((SECONDS - t0)) s)"

# --- 2c. binding late (ip_vs_try_bind_dest) ----------------------------------------------------
# b_bind got the TCP entries before it had their destination: they are held, unbound (no
# counters). Once the destination is added, the next message about each entry binds it (here the
# full resync a restarted backup asks for), and the counters become the master's.
t0=$SECONDS
same "unbound entries on a backup without the destination" rvs m_rvs -- rvs b_bind
expect_eq "destinations of b_bind's TCP service" \
    "$(rvs b_bind -L -n -t 10.9.1.1:80 | awk '$1 == "->" && $2 ~ /^[0-9]/' | wc -l)" 0
rvs b_bind -a -t 10.9.1.1:80 -r 10.9.0.100:80 -g
expect_eq "the added destination's counters before a message" "$(rvs b_bind -L -n -t 10.9.1.1:80 | awk '$1 == "->" && $2 ~ /^[0-9]/ { print $4, $5, $6 }')" "1 0 0"
# The master answers one resync request per 10 s.
wait_s=$((11 - (SECONDS - t_resync)))
[ "$wait_s" -le 0 ] || sleep "$wait_s"
resyncs=$(mstat tx_resyncs)
rvs b_bind --stop-daemon backup
rvs b_bind --start-daemon backup --mcast-interface eth0 --syncid 1
want=$(rvs m_rvs -L -n)
for _ in $(seq 30); do
    [ "$(rvs b_bind -L -n)" = "$want" ] && break
    sleep 0.5
done
expect_eq "b_bind's counters after the entries were bound" "$(rvs b_bind -L -n)" "$want"
same "bound entries on b_bind" rvs m_rvs -- rvs b_bind
expect_eq "full resyncs the master sent for b_bind" "$(($(mstat tx_resyncs) - resyncs))" 1
ok "late binding checked ($((SECONDS - t0)) s)"

# --- 2d. over IPv6 multicast ------------------------------------------------------------------
# The master moves to an IPv6 group (link-local sources on the bridge); a new backup on that
# group asks for a full resync and gets every entry over IPv6.
t0=$SECONDS
rvs m_rvs --stop-daemon master
rvs m_rvs --start-daemon master --mcast-interface eth0 --syncid 1 --mcast-group ff02::1:81
rvs m_rvs -L --daemon | grep -q "group=ff02::1:81," || fail "IPv6 master: $(rvs m_rvs -L --daemon)"
rvs b_v6 --start-daemon backup --mcast-interface eth0 --syncid 1 --mcast-group ff02::1:81
same "over IPv6 multicast (full resync)" rvs m_rvs -- rvs b_v6
expect_eq "b_v6's counters" "$(rvs b_v6 -L -n)" "$(rvs m_rvs -L -n)"
ok "IPv6 sync transport checked ($((SECONDS - t0)) s)"

# --- 3. the forging sender ---------------------------------------------------------------------
t0=$SECONDS
rvs m_rvs --stop-daemon master
ipvs m_ipvs --stop-daemon master
ipvs b_ipvs --stop-daemon backup
# The forger gets a link of its own to the backup (one veth hop per datagram, not a bridge
# flooding seven ports), and the backup daemon moves to it; the table stays.
ip link add fz0 netns forger type veth peer name eth1 netns b_rvs1
ip -n forger addr add 10.9.2.99/24 dev fz0
ip -n forger link set fz0 up
ip -n b_rvs1 addr add 10.9.2.11/24 dev eth1
ip -n b_rvs1 link set eth1 up
rvs b_rvs1 --stop-daemon backup
rvs b_rvs1 --start-daemon backup --mcast-interface eth1 --syncid 1
sleep 0.5
sstat() { ip netns exec b_rvs1 awk -v k="$1" '$1 == k { print $2 }' /proc/net/rvs_sync_stats; }
before=$(conns rvs b_rvs1)
declare -A s0
for k in rx_msgs rx_conns rx_malformed rx_skipped rx_other_syncid; do s0[$k]=$(sstat $k); done
out=$(ip netns exec b_rvs1 python3 tests/qemu/syncfuzz.py --stats /proc/net/rvs_sync_stats \
    --netns forger --ifaddr 10.9.2.99 --syncid 1 --count "${SYNCFUZZ_COUNT:-100000}" --pool 10000) ||
    fail "syncfuzz: $out"
echo "$out"
read -r _ sent _ malformed _ skipped _ other _ <<<"$out"
expect_eq "datagrams the backup received" "$(($(sstat rx_msgs) - s0[rx_msgs]))" "$sent"
expect_eq "counted malformed" "$(($(sstat rx_malformed) - s0[rx_malformed]))" "$malformed"
expect_eq "counted skipped entries" "$(($(sstat rx_skipped) - s0[rx_skipped]))" "$skipped"
expect_eq "counted for another sync id" "$(($(sstat rx_other_syncid) - s0[rx_other_syncid]))" "$other"
expect_eq "entries the fuzz applied" "$(($(sstat rx_conns) - s0[rx_conns]))" 0
[ "$(conns rvs b_rvs1)" = "$before" ] || fail "the backup's table changed during the fuzz run"
ok "the backup's table after the fuzz: the same $(echo "$before" | wc -l) entries"
rvs b_rvs1 --stop-daemon backup
rvs b_rvs1 --start-daemon backup --mcast-interface eth0 --syncid 1
ok "forged datagrams: $sent sent, all counted, table intact ($((SECONDS - t0)) s)"

# --- 4. teardown with threads running ----------------------------------------------------------
t0=$SECONDS
rvs m_rvs --start-daemon master --mcast-interface eth0 --syncid 1
ip netns del b_rvs2
touch "$work/stop"
sleep 0.5
rmmod rvs
module_loaded rvs && fail "rvs did not unload"
ok "namespace with a backup deleted, rvs unloaded with a master and a backup running ($((SECONDS - t0)) s)"
ok "sync-daemon scenario in $((SECONDS - t_all)) s"
