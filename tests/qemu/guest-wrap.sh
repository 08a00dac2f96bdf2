#!/usr/bin/env bash
# Runs inside the VM: marks the boot as reached, runs the command with its output saved to the
# shared directory, then records its exit status there (vm.sh reads both).
out=$1
shift
echo booted >"$out/booted"
# The host's filesystem is read-only in the VM; this shared directory is writable.
export RVS_VM_OUT=$out
# Under TCG every process start costs about 0.3 s. pyenv's python3 is a shim: a bash script that
# starts a dozen more processes before Python (3 s a run). The guest's Python programs use the
# standard library only, so Debian's python3 (scripts/deps.sh installs it) serves them directly.
PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v '/\.pyenv/' | paste -sd: -)
export PATH
"$@" >>"$out/output.log" 2>&1
echo $? >"$out/status"
sync
