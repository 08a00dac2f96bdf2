#!/usr/bin/env bash
# make bench: rvs against ip_vs and against no balancer, side by side in one VM boot.
#
#   bench/run.sh            (BENCH_ITER=5 by default; BENCH_ITER=1 for a smoke)
#
# 1. builds (once, cached) the bench kernel (scripts/kernel.sh build bench: the test kernel
#    without lockdep, kmemleak, DEBUG_LIST, debug objects, DEBUG_ATOMIC_SLEEP);
# 2. builds rvs.ko against it in a copy of the module sources under OUT/module (so ./rvs.ko, the
#    test kernel's module, stays as it is), rvs-loadgen and rvsadm;
# 3. runs rvs-core's criterion benches on the host (workload 7);
# 4. boots ONE bench VM (tests/qemu/vm.sh, KVARIANT=bench) that runs bench/guest.sh: every
#    workload against none / ip_vs / rvs, alternating, BENCH_ITER times;
# 5. bench/report.py: OUT/results.{jsonl,csv}, docs/benchmarks.{md,png,csv} regenerated.
#
# Settings (environment): BENCH_ITER, BENCH_WORKLOADS (default "crr pps tput scale pools profile"),
# BENCH_OUT (default tests/qemu/out/bench), BENCH_CRITERION=0 to skip the host benches,
# BENCH_DOCS=0 to leave docs/ alone (results only in OUT), and the per-workload sizes and
# durations below. Benchmarks are never timed tests: nothing here fails on a figure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

out=${BENCH_OUT:-$root/tests/qemu/out/bench}
iter=${BENCH_ITER:-5}
mkdir -p "$out"
out=$(cd "$out" && pwd)
t0=$SECONDS
say() { echo "bench: $*" >&2; }

say "bench kernel"
kdir=$(scripts/kernel.sh build bench)

say "rvs.ko for the bench kernel (in $out/module)"
mkdir -p "$out/module"
rsync -a --delete --exclude target --exclude '/rust/rvs-core/fuzz' \
    --include /Kbuild --include '/rust/***' --include /tests --include /tests/qemu \
    --include '/tests/qemu/faults/***' --exclude '*' ./ "$out/module/"
make -s -C "$kdir" M="$out/module" LLVM=1 modules
ko=$out/module/rvs.ko

say "rvs-loadgen, rvsadm"
cargo build --release -q -p rvs-loadgen -p rvsadm

if [ "${BENCH_CRITERION:-1}" = 1 ]; then
    say "rvs-core criterion benches (host)"
    rm -rf target/criterion
    cargo bench -q -p rvs-core --bench sched -- --warm-up-time "${BENCH_CRITERION_WARMUP:-0.5}" \
        --measurement-time "${BENCH_CRITERION_SECS:-1}" --noplot >"$out/criterion.log" 2>&1 ||
        { tail -20 "$out/criterion.log" >&2; exit 1; }
    rm -rf "$out/criterion"
    cp -r target/criterion "$out/criterion"
fi

vmout=$out/vm
rm -rf "$vmout"
mkdir -p "$vmout"
# The guest reads its settings from here (vm.sh passes no environment into the VM).
cat >"$vmout/bench.env" <<EOF
BENCH_ITER=$iter
BENCH_KO=$ko
BENCH_LOADGEN=$root/target/release/rvs-loadgen
BENCH_RVSADM=$root/target/release/rvsadm
BENCH_WORKLOADS="${BENCH_WORKLOADS:-crr pps tput scale pools profile}"
BENCH_CRR_MODES="${BENCH_CRR_MODES:-nat dr}"
BENCH_CRR_CONC=${BENCH_CRR_CONC:-64}
BENCH_CRR_SECS=${BENCH_CRR_SECS:-6}
BENCH_TPUT_MODES="${BENCH_TPUT_MODES:-nat dr tun}"
BENCH_TPUT_SECS=${BENCH_TPUT_SECS:-5}
BENCH_PPS_MODES="${BENCH_PPS_MODES:-nat dr}"
BENCH_PPS_SECS=${BENCH_PPS_SECS:-5}
BENCH_SCALE_SIZES="${BENCH_SCALE_SIZES:-1000 100000 1000000}"
BENCH_SCALE_ITER=${BENCH_SCALE_ITER:-$iter}
BENCH_SCALE_ONCE="${BENCH_SCALE_ONCE:-}"
BENCH_SCALE_SECS=${BENCH_SCALE_SECS:-5}
BENCH_POOL_SIZES="${BENCH_POOL_SIZES:-10 1000 10000}"
BENCH_POOL_SECS=${BENCH_POOL_SECS:-5}
BENCH_PROFILE_ENTRIES=${BENCH_PROFILE_ENTRIES:-100000}
BENCH_PROFILE_CASES="${BENCH_PROFILE_CASES:-pps-dr crr-nat scale-nat}"
BENCH_PROFILE_SYMS=${BENCH_PROFILE_SYMS:-12}
EOF
cat "$vmout/bench.env" >&2
say "booting the bench VM (log: $vmout/output.log)"
set +e
KVARIANT=bench RVS_VM_MEMORY=${RVS_VM_MEMORY:-3G} tests/qemu/vm.sh --timeout "${BENCH_TIMEOUT:-5400}" \
    --out "$vmout" -- bench/guest.sh "$vmout"
rc=$?
set -e
[ $rc = 0 ] || say "the guest script failed (status $rc); reporting what was measured"

say "report"
docs=()
[ "${BENCH_DOCS:-1}" = 1 ] && docs=(--docs "$root/docs")
/usr/bin/python3 bench/report.py --out "$out" "${docs[@]}"
say "done in $(( (SECONDS - t0) / 60 )) min $(( (SECONDS - t0) % 60 )) s"
exit $rc
