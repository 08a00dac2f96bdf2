# 100,000 random and mutated IPVS generic-netlink messages (tests/qemu/nlfuzz.py) leave the kernel
# without a report and the module answering: stock ip_vs first, as the reference, then the module
# under test (RVS_TARGET: rvs, the default, loaded with ipvs_compat=1; or ip_vs again). Each run
# ends by adding known services and destinations and reading them back. Prints both errno
# histograms and, as warnings, any outcome the module under test gave that ip_vs never did.
# The reference run sends the first NLFUZZ_REF_COUNT (20,000) of the same messages: the module
# under test's histogram of those first messages is what is compared (under TCG each 100,000
# take about 4 minutes).
# timeout: 1200
. tests/qemu/lib.sh
target=${RVS_TARGET:-rvs}
count=${NLFUZZ_COUNT:-100000}
ref_count=${NLFUZZ_REF_COUNT:-20000}
[ "$ref_count" -le "$count" ] || ref_count=$count
seed=${NLFUZZ_SEED:-1}
work=$(mktemp -d)
modprobe_path=$(cat /proc/sys/kernel/modprobe)
restore() {
    echo "$modprobe_path" >/proc/sys/kernel/modprobe
    unload_all
    rm -rf "$work"
}
trap restore EXIT
unload_all

# ip_vs loads a scheduler or persistence engine it lacks with request_module(): mutated names would
# start a modprobe per message, which takes ages under TCG. Everything real is loaded up front,
# then autoloading is switched off (an empty kernel.modprobe makes request_module fail at once).
modprobe ip_vs
for m in rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos pe_sip; do modprobe "ip_vs_$m"; done
echo >/proc/sys/kernel/modprobe

fuzz() {  # fuzz NAME FAMILY COUNT [--prefix ...]: the run's histogram goes to NAME.hist
    echo "== $1: $3 messages, seed $seed"
    python3 tests/qemu/nlfuzz.py --family "$2" --seed "$seed" --count "$3" --hist-out "$work/$1.hist" "${@:4}" ||
        fail "$1 does not work after the fuzz run (final check above)"
    ok "$1 survived $3 messages and still adds, lists and flushes services"
}

fuzz ip_vs IPVS "$ref_count"
unload_all
module_loaded ip_vs && fail "ip_vs did not unload after the fuzz run"

if [ "$target" = ip_vs ]; then
    modprobe ip_vs
    for m in rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos pe_sip; do modprobe "ip_vs_$m"; done
    fuzz ip_vs-again IPVS "$count" --prefix "$ref_count" --prefix-hist-out "$work/ip_vs-again.prefix.hist"
    echo "== ip_vs (reference) against ip_vs again, first $ref_count messages"
    python3 tests/qemu/nlfuzz.py --compare "$work/ip_vs.hist" "$work/ip_vs-again.prefix.hist"
    cmp -s "$work/ip_vs.hist" "$work/ip_vs-again.prefix.hist" && ok "same seed, same module: identical histograms"
else
    insmod "$RVS_KO" ipvs_compat=1
    fuzz rvs IPVS "$count" --prefix "$ref_count" --prefix-hist-out "$work/rvs.prefix.hist"
    rmmod rvs
    module_loaded rvs && fail "rvs did not unload after the fuzz run"
    ok "rvs unloaded after the fuzz run"
    echo "== ip_vs (reference) against rvs, first $ref_count messages"
    python3 tests/qemu/nlfuzz.py --compare "$work/ip_vs.hist" "$work/rvs.prefix.hist"
fi
