#!/usr/bin/env bash
# Proves the VM harness fails a scenario that makes the kernel WARN although the scenario itself
# exits 0, and passes a clean one: runs the selftest group and checks the runner's verdicts.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/out/harness-selftest
rm -rf "$out"
report=$("$here/run.sh" -o "$out" "$here/selftest" 2>&1)
rc=$?
echo "$report" | sed 's/^/  | /'
fail() { echo "harness-selftest: FAIL: $*"; exit 1; }
[ $rc != 0 ] || fail "the runner exited 0 although a scenario made the kernel WARN"
echo "$report" | grep -q '^FAIL kernel-warns (.*kernel: warning: .*WARNING: CPU: .*rvs_faults' ||
    fail "kernel-warns was not reported FAILED with the WARNING"
echo "$report" | grep -q '^PASS clean ' || fail "the clean scenario did not PASS"
echo "$report" | grep -q '^1 passed, 1 failed$' || fail "wrong closing line"
echo "harness-selftest: ok (a WARNING fails a scenario that exited 0; a clean one passes)"
