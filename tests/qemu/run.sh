#!/usr/bin/env bash
# The VM scenario runner: boots the VM once per group of scenarios and runs the group's scenarios
# in it, each with its own timeout. Prints one line per scenario and a closing "N passed, N failed"
# line; exits non-zero if any scenario failed.
#
#   tests/qemu/run.sh [-o OUTDIR] [GROUP|SCENARIO-PATH...]
#
# Scenarios are tests/qemu/scenarios/<group>/<name>.sh, run as root from the repository root; a
# "# timeout: SECS" comment sets a scenario's own timeout (default 120). A scenario fails on a
# non-zero exit, on its timeout, or on any kernel report (Oops/BUG, WARNING, lockdep, kmemleak) in
# its kernel log. A VM that never boots is retried once (vm.sh says so); a scenario that ran and
# failed is never retried.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
outroot=$here/out
if [ "${1:-}" = -o ]; then outroot=$2; shift 2; fi
mkdir -p "$outroot"

# Group the arguments (default: every group) into group -> scenario list.
declare -A groups=()
order=()
add() {
    local g=$1 s=$2
    [ -n "${groups[$g]+x}" ] || order+=("$g")
    groups[$g]="${groups[$g]:-} $s"
}
if [ $# = 0 ]; then
    set -- "$here"/scenarios/*/
fi
for arg in "$@"; do
    arg=${arg%/}
    if [ -d "$arg" ]; then
        for s in "$arg"/*.sh; do add "$(basename "$arg")" "$(cd "$(dirname "$s")" && pwd)/$(basename "$s")"; done
    elif [ -d "$here/scenarios/$arg" ]; then
        for s in "$here/scenarios/$arg"/*.sh; do add "$arg" "$s"; done
    elif [ -f "$arg" ]; then
        add "$(basename "$(dirname "$arg")")" "$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")"
    else
        echo "run.sh: no scenario or group '$arg'" >&2
        exit 2
    fi
done

passed=0
failed=0
for g in "${order[@]}"; do
    read -r -a scenarios <<<"${groups[$g]}"
    out=$outroot/$g
    rm -rf "$out"
    mkdir -p "$out"
    budget=180
    for s in "${scenarios[@]}"; do
        t=$(sed -n 's/^# timeout: *\([0-9]*\).*/\1/p' "$s" | head -1)
        budget=$((budget + ${t:-120} + 30))
    done
    echo "== group $g: ${#scenarios[@]} scenarios (VM log: $out/console.log)"
    "$here/vm.sh" --timeout "$budget" --out "$out" -- "$here/guest-runner.sh" "$out" "${scenarios[@]}"
    vmrc=$?

    # Scenarios the VM did not get to report: the one it was running when it died (judged by
    # the console log) and the ones after it.
    for s in "${scenarios[@]}"; do
        name=$(basename "$s" .sh)
        if grep -q "^PASS $name " "$out/results" 2>/dev/null; then
            passed=$((passed + 1))
        elif grep -q "^FAIL $name " "$out/results" 2>/dev/null; then
            failed=$((failed + 1))
        else
            failed=$((failed + 1))
            if [ $vmrc = 125 ]; then
                echo "FAIL $name (the VM never booted, twice)"
            elif [ "$(cat "$out/current" 2>/dev/null)" = "$name" ]; then
                why=$(python3 "$here/logscan.py" "$out/console.log" | head -1)
                echo "FAIL $name (the VM died or timed out while running it${why:+; kernel: $why})"
                # The report itself, for a failure seen only on a CI console.
                python3 "$here/logscan.py" --context 60 "$out/console.log" | sed 's/^/    | /'
            else
                echo "FAIL $name (not run: the VM died before it)"
            fi
        fi
    done
done
echo "$passed passed, $failed failed"
[ $failed = 0 ]
