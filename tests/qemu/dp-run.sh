#!/usr/bin/env bash
# Runs the data-plane scenarios (or the data-plane demo) in the VM with this shell's
# RVS_DP_TARGET, RVS_DP_COMPARE and RVSADM. run.sh and vm.sh pass no environment into the guest,
# so this writes them to OUTROOT/dp.env (OUTROOT: run.sh's output root, tests/qemu/out unless
# -o), which tests/qemu/dp-lib.sh reads in the guest (the guest sees the host's filesystem; the
# file is the parent directory's of the VM's shared directory), for the length of the run.
#
#   RVS_DP_TARGET=ip_vs RVS_DP_COMPARE=0 tests/qemu/dp-run.sh            # the whole dp group
#   RVS_DP_TARGET=ip_vs tests/qemu/dp-run.sh [-o OUTROOT] tests/qemu/scenarios/dp/forwarding.sh
#   RVS_DP_TARGET=ip_vs tests/qemu/dp-run.sh [-o OUTROOT] --demo        # tests/qemu/demo-dp.sh
#   RVS_DP_TARGET=ip_vs tests/qemu/dp-run.sh [-o OUTROOT] ha            # any group or path:
#   RVS_DP_TARGET=ip_vs tests/qemu/dp-run.sh [-o OUTROOT] tests/qemu/scenarios/ha/failover.sh
#
# Without it the scenarios run against rvs (RVS_DP_TARGET defaults to rvs) and schedulers.sh
# compares rvs with ip_vs when ./rvs.ko exists. Give concurrent runs different -o roots.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
outroot=$here/out
if [ "${1:-}" = -o ]; then
    mkdir -p "$2"
    outroot=$(cd "$2" && pwd)
    shift 2
fi
env_file=$outroot/dp.env
mkdir -p "$outroot"
if [ -e "$env_file" ]; then
    echo "dp-run.sh: replacing a leftover $env_file: $(tr '\n' ' ' <"$env_file")" >&2
fi
for v in RVS_DP_TARGET RVS_DP_COMPARE RVSADM; do
    [ -z "${!v+x}" ] || echo "$v=${!v}"
done >"$env_file.tmp"
mv "$env_file.tmp" "$env_file"
trap 'rm -f "$env_file"' EXIT
echo "dp-run.sh: ${outroot}: $(tr '\n' ' ' <"$env_file")"
if [ "${1:-}" = --demo ]; then
    "$here/vm.sh" --out "$outroot/demo-dp" -- "$here/demo-dp.sh"
elif [ $# = 0 ]; then
    "$here/run.sh" -o "$outroot" dp
else
    "$here/run.sh" -o "$outroot" "$@"
fi
