#!/usr/bin/env bash
# Proves the VM harness fails a scenario that makes the kernel WARN although the scenario itself
# exits 0, and passes a clean one: runs the selftest group and checks the runner's verdicts.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/out/harness-selftest
rm -rf "$out"
# The scenarios are reached through a directory whose path is 1,000 bytes long, so the command the
# VM runs is longer than the kernel command line vng hands commands over on (2,048 bytes): the
# harness must still boot (a 14-scenario group once did not, in CI's longer checkout path).
long=$out/scenarios
for i in 1 2 3 4; do long=$long/$(printf 'd%.0s' $(seq 240)); done
mkdir -p "$long/selftest"
ln -s "$here/selftest/clean.sh" "$here/selftest/kernel-warns.sh" "$long/selftest/"
report=$("$here/run.sh" -o "$out" "$long/selftest" 2>&1)
rc=$?
echo "$report" | sed 's/^/  | /'
fail() { echo "harness-selftest: FAIL: $*"; exit 1; }
[ $rc != 0 ] || fail "the runner exited 0 although a scenario made the kernel WARN"
echo "$report" | grep -q '^FAIL kernel-warns (.*kernel: warning: .*WARNING: CPU: .*rvs_faults' ||
    fail "kernel-warns was not reported FAILED with the WARNING"
echo "$report" | grep -q '^PASS clean ' || fail "the clean scenario did not PASS"
echo "$report" | grep -q '^1 passed, 1 failed$' || fail "wrong closing line"
echo "harness-selftest: ok (a WARNING fails a scenario that exited 0; a clean one passes)"
