#!/usr/bin/env bash
# Runs inside the VM: provokes each kernel report with
# the rvs_faults fixture and saves the real kernel log to the VM's shared directory, from which
# the host copies them to tests/qemu/samples/, where the log scanner's unit tests read them. The
# samples are committed; to refresh them after a kernel change:
#   tests/qemu/vm.sh --out /tmp/capture -- tests/qemu/capture-samples.sh &&
#     cp /tmp/capture/samples/*.log tests/qemu/samples/
set -u
cd "$(dirname "$0")"
ko=./faults/rvs_faults.ko
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
out=${RVS_VM_OUT:?run through vm.sh}/samples
mkdir -p "$out"

capture() {
    local name=$1
    shift
    dmesg -C
    "$@"
    dmesg >"$out/$name.log"
    echo "captured $name: $(wc -l <"$out/$name.log") lines"
}
load() {
    insmod "$ko" fault="$1"
    rmmod rvs_faults 2>/dev/null || true
}

capture clean load none
capture warning load warn
capture lockdep load lockdep
capture sleep-in-atomic load sleep
echo clear >/sys/kernel/debug/kmemleak
load leak
sleep 6
echo scan >/sys/kernel/debug/kmemleak
echo scan >/sys/kernel/debug/kmemleak
cat /sys/kernel/debug/kmemleak >"$out/kmemleak.log"
echo "captured kmemleak: $(wc -l <"$out/kmemleak.log") lines"
# Last: the Oops kills insmod and leaves the module half-loaded.
capture oops load oops
