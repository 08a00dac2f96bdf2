#!/usr/bin/env bash
# Runs inside the VM: each scenario in turn, with its own timeout, and judges it by its exit status
# AND its kernel log: any Oops/BUG, WARNING, lockdep or kmemleak report fails it.
#
#   guest-runner.sh OUTDIR SCENARIO...
#
# Writes OUTDIR/<name>.{log,dmesg,kmemleak,findings}, appends "PASS|FAIL <name> ..." to
# OUTDIR/results (and prints it), and keeps the name of the running scenario in OUTDIR/current so
# the host can tell which one a dying VM was running.
set -u
out=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
export RVS_ROOT=$(cd "$here/../.." && pwd)
export PATH="$RVS_ROOT/target/release:$PATH"

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
kmemleak=/sys/kernel/debug/kmemleak
[ -w "$kmemleak" ] || kmemleak=

for script in "$@"; do
    name=$(basename "$script" .sh)
    timeout=$(sed -n 's/^# timeout: *\([0-9]*\).*/\1/p' "$script" | head -1)
    timeout=${timeout:-120}
    echo "$name" >"$out/current"
    sync
    dmesg -C
    # Objects allocated before the scenario are not its leaks.
    [ -z "$kmemleak" ] || echo clear >"$kmemleak"

    start=$(date +%s%N)
    (cd "$RVS_ROOT" && timeout -k 5 "$timeout" bash "$script") >"$out/$name.log" 2>&1
    rc=$?
    secs=$(( ($(date +%s%N) - start) / 1000000 ))

    if [ -n "$kmemleak" ]; then
        # kmemleak only reports objects older than 5 s, and only from its second scan of them
        # (the first records their checksum). A scan of the guest takes about 4 s under TCG, so
        # 3 s before the first leaves everything the scenario made at least 7 s old at the second.
        sleep 3
        echo scan >"$kmemleak"
        echo scan >"$kmemleak"
        cat "$kmemleak" >"$out/$name.kmemleak"
    fi
    dmesg >"$out/$name.dmesg"
    python3 "$here/logscan.py" "$out/$name.dmesg" "$out/$name.kmemleak" >"$out/$name.findings"
    scan=$?

    elapsed=$(printf '%d.%01d s' $((secs / 1000)) $(((secs % 1000) / 100)))
    if [ $rc = 0 ] && [ $scan = 0 ]; then
        line="PASS $name ($elapsed)"
    else
        why=()
        if [ $rc = 124 ] || [ $rc = 137 ]; then
            why+=("timed out after ${timeout}s")
        elif [ $rc != 0 ]; then
            # The scenario's own verdict (its last "FAIL:" line) if it gave one, not whatever
            # debugging output it printed after it.
            reason=$(grep -a '^FAIL: ' "$out/$name.log" | tail -1)
            [ -n "$reason" ] || reason=$(tail -1 "$out/$name.log")
            why+=("exit $rc: $(printf '%s' "$reason" | cut -c1-200)")
        fi
        [ $scan = 0 ] || why+=("kernel: $(head -1 "$out/$name.findings" | cut -c1-160)")
        line="FAIL $name ($elapsed; $(IFS=';'; echo "${why[*]}"))"
    fi
    echo "$line" >>"$out/results"
    echo "$line"
    # The report itself, for a failure seen only on a CI console.
    [ $scan = 0 ] || python3 "$here/logscan.py" --context 60 "$out/$name.dmesg" | sed 's/^/    | /'
    sync
done
rm -f "$out/current"
sync
