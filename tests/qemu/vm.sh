#!/usr/bin/env bash
# Boots rvs's kernel under virtme-ng (TCG: KVM guests hang on these machines) over the host's root
# filesystem and runs a command in it as root, from the repository root. Prints the command's
# output and returns its exit status.
#
#   tests/qemu/vm.sh [--timeout SECS] [--out DIR] [--quiet] -- CMD...
#
# A VM that never reaches the guest wrapper (the rare early TCG boot crash) is retried once, and
# the retry is announced; a command that ran and failed is never retried. Exit status 125 means
# the VM did not boot twice; 124 that the command did not finish (timeout, or the VM died).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
timeout=${RVS_VM_TIMEOUT:-1800}
out=
quiet=0
while [ $# -gt 0 ]; do
    case "$1" in
        --timeout) timeout=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --quiet) quiet=1; shift ;;
        --) shift; break ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: vm.sh [--timeout SECS] [--out DIR] [--quiet] -- CMD..." >&2; exit 2; }

kdir=${KDIR:-$("$root/scripts/kernel.sh" kdir "${KVARIANT:-test}")}
[ -f "$kdir/arch/x86/boot/bzImage" ] || { echo "vm.sh: no kernel in $kdir (run make first)" >&2; exit 2; }
[ -n "$out" ] || out=$(mktemp -d /tmp/rvs-vm.XXXXXX)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Prints what the guest appends to output.log while the VM runs, and everything left once asked
# to stop (the .stop file): every byte exactly once, however late the guest wrote it.
follow() {
    local offset=0 size
    while :; do
        local last=0
        [ -e "$out/.stop" ] && last=1
        size=$(stat -c %s "$out/output.log" 2>/dev/null || echo 0)
        if [ "$size" -gt "$offset" ]; then
            tail -c +$((offset + 1)) "$out/output.log" | head -c $((size - offset))
            offset=$size
        fi
        [ $last = 1 ] && return 0
        sleep 1
    done
}

# vng hands the command to the guest on the kernel command line, which x86 cuts at 2,048 bytes (a
# cut line boots nothing): the command goes in the shared directory, and only its path on the line.
printf '%q ' "$root/tests/qemu/guest-wrap.sh" "$out" "$@" >"$out/command.sh"
echo >>"$out/command.sh"

boot() {
    rm -f "$out/booted" "$out/status" "$out/.stop"
    : >"$out/output.log"
    local follower=
    if [ $quiet = 0 ]; then
        follow &
        follower=$!
    fi
    set +e
    # The guest's stdin must not be the caller's terminal: vng would treat it as interactive.
    timeout --kill-after=15 "$timeout" vng --disable-kvm --run "$kdir" \
        --cpus "${RVS_VM_CPUS:-2}" --memory "${RVS_VM_MEMORY:-2G}" \
        --rwdir "$out" --cwd "$root" --verbose \
        --append "panic_on_warn=0 printk.devkmsg=on" \
        --exec "bash $(printf '%q' "$out/command.sh")" \
        </dev/null >"$out/console.log" 2>&1
    local rc=$?
    set -e
    touch "$out/.stop"
    [ -z "$follower" ] || wait "$follower"
    return $rc
}

for attempt in 1 2; do
    boot "$@" || true
    if [ -f "$out/booted" ]; then
        break
    fi
    if [ $attempt = 1 ]; then
        echo "vm.sh: the VM never booted (console: $out/console.log); retrying the boot once" >&2
        cp "$out/console.log" "$out/console.boot-failure.log"
    else
        echo "vm.sh: the VM never booted, twice (console: $out/console.log)" >&2
        exit 125
    fi
done

if [ -f "$out/status" ]; then
    exit "$(cat "$out/status")"
fi
echo "vm.sh: the command did not finish (timeout after ${timeout}s, or the VM died; console: $out/console.log)" >&2
exit 124
