# An operator who loads rvs finds ip_vs's settings where ip_vs keeps them: `sysctl net.ipv4.vs`
# lists the same entries, with the same defaults and permissions, in every network namespace;
# writes that ip_vs accepts stick, writes it refuses fail with the same error; a namespace's
# settings are its own; deleting the namespace or unloading rvs leaves nothing behind. Loaded
# beside ip_vs (ipvs_compat=0), rvs keeps the same tree under net.rvs and ip_vs keeps its own.
#
# Every expectation is taken from ip_vs itself, loaded first in the same VM with the schedulers
# that add sysctls (lblc, lblcr: rvs has every scheduler built in, so it always has theirs).
# timeout: 300
. tests/qemu/lib.sh
unload_all
cleanup() {
    for ns in a b; do ip netns del "$ns" 2>/dev/null || true; done
    unload_all
}
trap cleanup EXIT

load_ip_vs() {
    modprobe ip_vs
    modprobe ip_vs_lblc
    modprobe ip_vs_lblcr
}

# listing SYSCTL-DIR: `sysctl` of the tree, with the prefix cut to `vs.` and sync_qlen_max
# masked: ip_vs sets it to nr_free_buffer_pages()/32 when the namespace is created, which moves
# with memory use between loads (qlen_max compares it separately).
listing() {
    sysctl "$1" | sed -e "s/^$1\./vs./" -e 's/^\(vs\.sync_qlen_max = \).*/\1<free pages\/32>/' | sort
}

qlen_max() {
    cat "/proc/sys/$1/sync_qlen_max"
}

# modes DIR: each entry's permissions.
modes() {
    (cd "$1" && stat -c '%a %n' -- * | sort)
}

# try_write FILE VALUE: sets $wrote to "ok", or to the error the write failed with. No process
# starts (under TCG every fork costs).
try_write() {
    local err
    if { printf '%s\n' "$2" >"$1"; } 2>/tmp/sysctl-write.err; then
        wrote=ok
    else
        IFS= read -r err </tmp/sysctl-write.err
        wrote=${err##*: }
    fi
}

# same WHAT GOT WANT: like expect_eq, for multi-line values (prints a diff, not both values).
same() {
    [ "$2" = "$3" ] || fail "$1 differs (- want, + got): $(diff <(echo "$3") <(echo "$2") | grep '^[<>]')"
    ok "$1: same ($(echo "$2" | wc -l) lines)"
}

# The write cases: sysctl and value. Defense modes get 2 separately (see below).
cases=(
    "amemthresh 2048" "amemthresh abc" "am_droprate 0"
    "drop_entry 3" "drop_entry 4" "drop_entry -1" "drop_packet 1" "drop_packet 7"
    "secure_tcp 3" "secure_tcp 0" "conntrack 1" "snat_reroute 0"
    "sync_version 0" "sync_version 2" "sync_version -1"
    "sync_ports 4" "sync_ports 3" "sync_ports 0" "sync_ports 128" "sync_persist_mode 1"
    "sync_qlen_max 1000" "sync_qlen_max -5" "sync_sock_size 65536"
    "cache_bypass 1" "expire_nodest_conn 1" "sloppy_tcp 1" "sloppy_sctp 1"
    "expire_quiescent_template 1"
    "sync_threshold 5_100" "sync_threshold 100_100" "sync_threshold 7_0"
    "sync_threshold -1_50" "sync_threshold 3_-50" "sync_threshold 9" "sync_threshold 1_2_3"
    "sync_refresh_period 10" "sync_refresh_period 99999999999"
    "sync_retries 3" "sync_retries 4"
    "nat_icmp_send 1" "pmtu_disc 0" "backup_only 1" "conn_reuse_mode 2" "schedule_icmp 1"
    "ignore_tunneled 1" "run_estimation 0" "run_estimation 1"
    "est_nice 19" "est_nice 20" "est_nice -21" "est_nice -20"
    "est_cpulist 0" "est_cpulist 0-1" "est_cpulist abc" "est_cpulist 64" "est_cpulist _"
    "est_cpulist all"
    "lblc_expiration 60" "lblcr_expiration 120" "lblc_expiration -1"
)

# write_cases DIR: each case's outcome and what the entry reads afterwards ('_' is a space).
write_cases() {
    local c key val got
    for c in "${cases[@]}"; do
        key=${c%% *}
        val=${c#* }
        val=${val//_/ }
        try_write "$1/$key" "$val"
        IFS= read -r got <"$1/$key" || true
        echo "$key '$val': $wrote, reads '${got//$'\t'/ }'"
    done
}

# In a namespace of an unprivileged user namespace: which entries exist, their modes, and whether
# its root may write a plain and an admin-only entry. The test kernel has no CONFIG_USER_NS, where
# every namespace belongs to the initial user namespace: then there is nothing to compare.
unpriv_view() {
    if [ ! -e /proc/self/ns/user ]; then
        echo "no user namespaces"
        return
    fi
    unshare --user --map-root-user --net bash -c "
        $(declare -f modes try_write)
        modes $1
        try_write $1/am_droprate 5; echo \"am_droprate: \$wrote\"
        try_write $1/est_nice 5; echo \"est_nice: \$wrote\""
}

# ---- ip_vs: the reference --------------------------------------------------------------------
load_ip_vs
want_listing=$(listing net.ipv4.vs)
want_qlen=$(qlen_max net/ipv4/vs)
want_modes=$(modes /proc/sys/net/ipv4/vs)
want_unpriv=$(unpriv_view /proc/sys/net/ipv4/vs)
want_writes=$(write_cases /proc/sys/net/ipv4/vs)
want_after=$(listing net.ipv4.vs)
# Defense modes: with memory to spare, ip_vs's update_defense_level turns a written 2 ("on,
# engaged") into 1 ("automatic, idle") at once.
want_defense=$(for k in drop_entry drop_packet secure_tcp; do
    echo 2 >/proc/sys/net/ipv4/vs/$k
    cat /proc/sys/net/ipv4/vs/$k
done | tr '\n' ' ')
unload_all
ok "ip_vs reference: $(echo "$want_listing" | wc -l) entries"

# ---- rvs: defaults, permissions, writes --------------------------------------------------------
insmod "$RVS_KO"
got_listing=$(listing net.ipv4.vs)
same "sysctl net.ipv4.vs (entries and defaults) vs ip_vs's" "$got_listing" "$want_listing"
echo "$got_listing" | sed 's/^/    /'
got_qlen=$(qlen_max net/ipv4/vs)
[ $((got_qlen * 100 / want_qlen)) -ge 90 ] && [ $((got_qlen * 100 / want_qlen)) -le 110 ] ||
    fail "sync_qlen_max $got_qlen is not ip_vs's free pages/32 ($want_qlen)"
ok "sync_qlen_max $got_qlen ~ ip_vs's $want_qlen (free buffer pages/32 at namespace creation)"
same "entry modes vs ip_vs's" "$(modes /proc/sys/net/ipv4/vs)" "$want_modes"
got_unpriv=$(unpriv_view /proc/sys/net/ipv4/vs)
same "unprivileged user namespace view vs ip_vs's" "$got_unpriv" "$want_unpriv"
if [ "$got_unpriv" = "no user namespaces" ]; then
    ok "no CONFIG_USER_NS: the unprivileged-user-namespace view is not tested in this kernel"
else
    ok "namespace of an unprivileged user namespace: same entries, modes and refusals as ip_vs"
fi
got_writes=$(write_cases /proc/sys/net/ipv4/vs)
same "${#cases[@]} writes: outcome, errno and read-back vs ip_vs's" "$got_writes" "$want_writes"
echo "$got_writes" | sed 's/^/    /'
same "listing after the writes vs ip_vs's" "$(listing net.ipv4.vs)" "$want_after"
# rvs re-evaluates the defense levels every second (its defense work), not on the write as
# ip_vs also does (docs/data-path.md): the same values a second later.
for k in drop_entry drop_packet secure_tcp; do echo 2 >/proc/sys/net/ipv4/vs/$k; done
sleep 1.5
got_defense=$(for k in drop_entry drop_packet secure_tcp; do
    cat /proc/sys/net/ipv4/vs/$k
done | tr '\n' ' ')
expect_eq "ip_vs's defense modes after writing 2" "$want_defense" "1 1 1 "
expect_eq "rvs's defense modes 1.5 s after writing 2" "$got_defense" "1 1 1 "
rmmod rvs

# ---- per-namespace values --------------------------------------------------------------------
insmod "$RVS_KO"
fresh=$(listing net.ipv4.vs)
ip netns add a
ip netns add b
same "defaults of a new namespace" "$(ip netns exec a bash -c "$(declare -f listing); listing net.ipv4.vs")" "$fresh"
ip netns exec a sysctl -qw net.ipv4.vs.am_droprate=42 net.ipv4.vs.sync_threshold="4 40" \
    net.ipv4.vs.est_cpulist=1
expect_eq "am_droprate in a" "$(ip netns exec a sysctl -n net.ipv4.vs.am_droprate)" 42
expect_eq "sync_threshold in a" "$(ip netns exec a sysctl -n net.ipv4.vs.sync_threshold | tr '\t' ' ')" "4 40"
expect_eq "est_cpulist in a" "$(ip netns exec a sysctl -n net.ipv4.vs.est_cpulist)" 1
expect_eq "am_droprate in b" "$(ip netns exec b sysctl -n net.ipv4.vs.am_droprate)" 10
expect_eq "est_cpulist in b" "$(ip netns exec b sysctl -n net.ipv4.vs.est_cpulist)" "$(sysctl -n net.ipv4.vs.est_cpulist)"
same "init namespace after writes in a" "$(listing net.ipv4.vs)" "$fresh"
ip netns del a
ip netns del b
sleep 1
ok "namespaces deleted"
rmmod rvs
[ -e /proc/sys/net/ipv4/vs ] && fail "/proc/sys/net/ipv4/vs outlives rvs"
ok "rmmod rvs removes net.ipv4.vs"

# A namespace that still exists at rmmod loses its table with the module.
insmod "$RVS_KO"
ip netns add a
ip netns exec a sysctl -qw net.ipv4.vs.est_cpulist=0
rmmod rvs
[ -e /proc/sys/net/ipv4/vs ] && fail "net.ipv4.vs outlives rvs"
ip netns exec a test -e /proc/sys/net/ipv4/vs && fail "net.ipv4.vs in a outlives rvs"
ok "rmmod with a live namespace removes its tree"
ip netns del a

# ---- beside ip_vs: net.rvs -------------------------------------------------------------------
load_ip_vs
insmod "$RVS_KO" ipvs_compat=0
same "net.rvs (rvs) vs ip_vs's reference" "$(listing net.rvs)" "$want_listing"
same "net.ipv4.vs (ip_vs) beside rvs" "$(listing net.ipv4.vs)" "$want_listing"
same "net.rvs modes" "$(modes /proc/sys/net/rvs)" "$want_modes"
sysctl -qw net.rvs.am_droprate=7
sysctl -qw net.ipv4.vs.am_droprate=9
expect_eq "net.rvs.am_droprate" "$(sysctl -n net.rvs.am_droprate)" 7
expect_eq "net.ipv4.vs.am_droprate (ip_vs's)" "$(sysctl -n net.ipv4.vs.am_droprate)" 9
rmmod rvs
[ -e /proc/sys/net/rvs ] && fail "net.rvs outlives rvs"
expect_eq "ip_vs's am_droprate after rmmod rvs" "$(sysctl -n net.ipv4.vs.am_droprate)" 9
ok "ipvs_compat=0: net.rvs beside ip_vs's net.ipv4.vs, each its own"
