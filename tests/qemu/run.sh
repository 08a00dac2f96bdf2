#!/usr/bin/env bash
# The VM scenario runner: runs the scenarios of each group in VMs, each scenario with its own
# timeout, RVS_VM_JOBS VMs at a time (default 2: one per host core). Prints each VM's report when
# it ends (one line per scenario) and a closing "N passed, N failed" line; exits non-zero if any
# scenario failed.
#
#   tests/qemu/run.sh [-o OUTDIR] [GROUP|SCENARIO-PATH...]
#
# Scenarios are tests/qemu/scenarios/<group>/<name>.sh, run as root from the repository root.
# Header comments:
#   # timeout: SECS   the scenario's own timeout (default 120)
#   # cost: SECS      what it usually takes on a quiet host (default: a third of the timeout); the
#                     runner balances the VMs with it
#   # cpus: N         vCPUs its VM needs (default 1; 2 for scenarios about SMP concurrency)
# Under TCG a 1-vCPU guest runs a sequential workload as fast as a 2-vCPU one, and two 1-vCPU
# guests side by side each run almost as fast as one alone, where two 2-vCPU guests do not: so VMs
# get 1 vCPU unless a scenario asks for more, and run two at a time.
#
# The scenarios are dealt out to RVS_VM_JOBS lanes, the costliest first, each to the lane with the
# least work so far; a lane boots one VM per group (and vCPU count) it holds, so a group may be
# split across lanes (its parts' logs go to OUTDIR/<group>.1, .2, ...). A scenario fails on a non-zero
# exit, on its timeout, or on any kernel report (Oops/BUG, WARNING, lockdep, kmemleak) in its
# kernel log. A VM that never boots is retried once (vm.sh says so); a scenario that ran and failed
# is never retried.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
outroot=$here/out
if [ "${1:-}" = -o ]; then outroot=$2; shift 2; fi
mkdir -p "$outroot"
outroot=$(cd "$outroot" && pwd)
jobs=${RVS_VM_JOBS:-2}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: RVS_VM_JOBS must be a positive number" >&2; exit 2; }

# The arguments (default: every group) as a list of scenarios, each with its group.
names=()
sgroup=()
order=()
add() {
    local g=$1 s=$2 known=0 o
    for o in "${order[@]}"; do [ "$o" = "$g" ] && known=1; done
    [ $known = 1 ] || order+=("$g")
    names+=("$s")
    sgroup+=("$g")
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

header() {  # header FILE KEY DEFAULT
    local v
    v=$(sed -n "s/^# $2: *\\([0-9]*\\).*/\\1/p" "$1" | head -1)
    echo "${v:-$3}"
}

# Deal the scenarios out: costliest first, each to the least loaded lane.
n=${#names[@]}
costs=()
cpus=()
for ((i = 0; i < n; i++)); do
    t=$(header "${names[i]}" timeout 120)
    costs+=("$(header "${names[i]}" cost $((t / 3)))")
    cpus+=("$(header "${names[i]}" cpus 1)")
done
lane_of=()
load=()
for ((l = 0; l < jobs; l++)); do load+=(0); done
for i in $(for ((i = 0; i < n; i++)); do echo "${costs[i]} $i"; done | sort -k1,1nr -k2,2n | cut -d' ' -f2); do
    best=0
    for ((l = 1; l < jobs; l++)); do [ "${load[l]}" -lt "${load[best]}" ] && best=$l; done
    lane_of[i]=$best
    load[best]=$((load[best] + costs[i] + 30))
done

# The VMs: one per (group, lane, vCPU count), in group order; a group split across lanes or vCPU
# counts gets an output directory per part.
batch_dir=()
batch_lane=()
batch_cpus=()
batch_list=()
for g in "${order[@]}"; do
    keys=()
    part=0
    for ((i = 0; i < n; i++)); do
        [ "${sgroup[i]}" = "$g" ] || continue
        k="${lane_of[i]}:${cpus[i]}"
        seen=0
        for x in "${keys[@]}"; do [ "$x" = "$k" ] && seen=1; done
        [ $seen = 1 ] || keys+=("$k")
    done
    for k in "${keys[@]}"; do
        list=()
        for ((i = 0; i < n; i++)); do
            [ "${sgroup[i]}" = "$g" ] && [ "${lane_of[i]}:${cpus[i]}" = "$k" ] && list+=("${names[i]}")
        done
        part=$((part + 1))
        if [ ${#keys[@]} = 1 ]; then dir=$outroot/$g; else dir=$outroot/$g.$part; fi
        batch_dir+=("$dir")
        batch_lane+=("${k%%:*}")
        batch_cpus+=("${k##*:}")
        batch_list+=("${list[*]}")
    done
done

# run_batch B: boots batch B's VM, then writes its report (and one verdict per scenario) to
# DIR/report.
run_batch() {
    local b=$1 out=${batch_dir[$1]} budget=180 s t vmrc name
    local -a scenarios
    read -r -a scenarios <<<"${batch_list[b]}"
    rm -rf "$out"
    mkdir -p "$out"
    for s in "${scenarios[@]}"; do
        t=$(header "$s" timeout 120)
        budget=$((budget + t + 30))
    done
    RVS_VM_CPUS=${batch_cpus[b]} "$here/vm.sh" --quiet --timeout "$budget" --out "$out" -- \
        "$here/guest-runner.sh" "$out" "${scenarios[@]}" >"$out/vm.out" 2>&1
    vmrc=$?
    {
        echo "== group $(basename "$out"): ${#scenarios[@]} scenarios, ${batch_cpus[b]} vCPU (VM log: $out/console.log)"
        grep -v '^\(PASS\|FAIL\) ' "$out/vm.out" || true
        # Scenarios the VM did not get to report: the one it was running when it died (judged by
        # the console log) and the ones after it.
        for s in "${scenarios[@]}"; do
            name=$(basename "$s" .sh)
            if grep -q "^\(PASS\|FAIL\) $name " "$out/results" 2>/dev/null; then
                grep "^\(PASS\|FAIL\) $name " "$out/results" | head -1
            elif [ $vmrc = 125 ]; then
                echo "FAIL $name (the VM never booted, twice)"
            elif [ "$(cat "$out/current" 2>/dev/null)" = "$name" ]; then
                why=$(python3 "$here/logscan.py" "$out/console.log" | head -1)
                echo "FAIL $name (the VM died or timed out while running it${why:+; kernel: $why})"
            else
                echo "FAIL $name (not run: the VM died before it)"
            fi
        done
    } >"$out/report.tmp"
    mv "$out/report.tmp" "$out/report"
}

# Each lane runs its VMs one after the other; the lanes run side by side. Reports are printed as
# VMs finish.
lane_pids=()
for ((l = 0; l < jobs; l++)); do
    (
        for ((b = 0; b < ${#batch_dir[@]}; b++)); do
            [ "${batch_lane[b]}" = "$l" ] && run_batch "$b"
        done
    ) &
    lane_pids+=($!)
done
printed=()
while :; do
    left=0
    for ((b = 0; b < ${#batch_dir[@]}; b++)); do
        [ -n "${printed[b]:-}" ] && continue
        if [ -f "${batch_dir[b]}/report" ]; then
            cat "${batch_dir[b]}/report"
            printed[b]=1
        else
            left=$((left + 1))
        fi
    done
    [ $left = 0 ] && break
    alive=0
    for p in "${lane_pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    if [ $alive = 0 ]; then
        # A lane ended without a report for some VM (it should not): count its scenarios failed.
        for ((b = 0; b < ${#batch_dir[@]}; b++)); do
            [ -n "${printed[b]:-}" ] || [ -f "${batch_dir[b]}/report" ] && continue
            for s in ${batch_list[b]}; do echo "FAIL $(basename "$s" .sh) (its VM gave no report)"; done \
                >"${batch_dir[b]}/report"
        done
        continue
    fi
    sleep 2
done
wait

passed=0
failed=0
for ((b = 0; b < ${#batch_dir[@]}; b++)); do
    passed=$((passed + $(grep -c '^PASS ' "${batch_dir[b]}/report")))
    failed=$((failed + $(grep -c '^FAIL ' "${batch_dir[b]}/report")))
done
echo "$passed passed, $failed failed"
[ $failed = 0 ]
