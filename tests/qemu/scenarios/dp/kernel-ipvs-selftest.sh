# The kernel's own IPVS selftest (tools/testing/selftests/net/netfilter/ipvs.sh), unmodified,
# against rvs (ipvs_compat=1, stock ipvsadm, ip_vs not loaded): a TCP transfer through DR, NAT
# and TUN, checked byte for byte (the test's own checks). The test refuses ("skip") without
# /proc/sys/net/ipv4/vs, which rvs provides, and must not have loaded ip_vs.
# timeout: 300
. tests/qemu/lib.sh
unload_all
trap 'unload_all' EXIT
kdir=$(running_kdir) || fail "cannot find the running kernel's build tree"
selftest=$kdir/tools/testing/selftests/net/netfilter
[ -x "$selftest/ipvs.sh" ] || fail "no ipvs.sh in $selftest"

run_selftest() {
    local who=$1 out rc
    set +e
    out=$(cd "$selftest" && ./ipvs.sh 2>&1)
    rc=$?
    set -e
    echo "--- ipvs.sh under $who (exit $rc)"
    echo "$out"
    [ $rc = 0 ] || fail "ipvs.sh under $who exited $rc"
    # A "skip" exits 4; a pass prints the three modes and a final PASS.
    expect_eq "ipvs.sh modes run under $who" "$(grep -c '^Testing .* mode' <<<"$out")" 3
    grep -q 'ipvs.sh: .*PASS' <<<"$out" || fail "ipvs.sh under $who did not print PASS"
}

insmod "$RVS_KO"
run_selftest rvs
if grep -q '^ip_vs ' /proc/modules; then fail "ip_vs got loaded while rvs ran the test"; fi
ok "ip_vs stayed unloaded"
