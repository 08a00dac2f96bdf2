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

# The other way round: rvs first, then ip_vs is refused before its init runs (ip_vs's init would
# trip a kernel WARNING creating /proc/net/ip_vs, which rvs holds; the harness fails on any).
insmod "$RVS_KO"
if out=$(modprobe ip_vs 2>&1); then
    : # kmod reports some init failures as success; /proc/modules decides.
fi
module_loaded ip_vs && fail "ip_vs loaded beside rvs (ipvs_compat=1)"
ok "modprobe ip_vs refused: $out"
dmesg | grep -q "rvs: refusing to load ip_vs: rvs (ipvs_compat=1) provides IPVS" ||
    fail "the kernel log does not say why ip_vs was refused"
ok "kernel log explains: $(dmesg | grep 'rvs: refusing to load ip_vs' | tail -1 | sed 's/^\[[^]]*\] //')"
modprobe ip_vs_rr 2>/dev/null || true
module_loaded ip_vs_rr && fail "a scheduler module (needs ip_vs) loaded beside rvs"
ok "ip_vs_rr, which needs ip_vs, is refused too"
answer=$(python3 "$GENL_INFO" IPVS)
expect_eq "rvs still answers" "$answer" "family=IPVS version=1.2.1 conn_tab_size=4096"
rmmod rvs
# With rvs gone, ip_vs loads again.
modprobe ip_vs
module_loaded ip_vs || fail "ip_vs does not load after rvs unloaded"
ok "ip_vs loads once rvs is unloaded"
