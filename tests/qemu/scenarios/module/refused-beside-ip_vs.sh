# With ipvs_compat=1 (the default) rvs takes ip_vs's place, so it refuses to load beside ip_vs
# with a clear message, and ip_vs cannot load beside it either.
# timeout: 180
. tests/qemu/lib.sh
unload_all
trap unload_all EXIT

modprobe ip_vs
module_loaded ip_vs || fail "ip_vs did not load"
if out=$(insmod "$RVS_KO" 2>&1); then
    fail "rvs loaded beside ip_vs with ipvs_compat=1"
fi
ok "insmod refused: $out"
echo "$out" | grep -q "Device or resource busy" || fail "insmod error is not EBUSY: $out"
dmesg | grep -q "rvs: the IPVS generic-netlink family is taken: ip_vs is loaded" ||
    fail "no explanation in the kernel log"
ok "kernel log explains: $(dmesg | grep 'rvs: the IPVS' | sed 's/^\[[^]]*\] //')"
module_loaded rvs && fail "rvs is in /proc/modules"
answer=$(python3 "$GENL_INFO" IPVS)
expect_eq "ip_vs still answers" "$answer" "family=IPVS version=1.2.1 conn_tab_size=4096"
modprobe -r ip_vs

# The other way round: rvs first, then ip_vs cannot load: rvs holds net.ipv4.vs (ip_vs's
# per-namespace init fails on it before ip_vs would even try the IPVS family).
insmod "$RVS_KO"
modprobe ip_vs 2>/dev/null || true
module_loaded ip_vs && fail "ip_vs loaded beside rvs (ipvs_compat=1)"
dmesg | grep -q "sysctl duplicate entry: /net/ipv4/vs/" || fail "the kernel did not say why ip_vs failed"
ok "ip_vs refused while rvs holds net.ipv4.vs: $(dmesg | grep 'sysctl duplicate entry' | tail -1 | sed 's/^\[[^]]*\] //')"
answer=$(python3 "$GENL_INFO" IPVS)
expect_eq "rvs still answers" "$answer" "family=IPVS version=1.2.1 conn_tab_size=4096"
rmmod rvs
