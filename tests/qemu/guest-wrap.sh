#!/usr/bin/env bash
# Runs inside the VM: marks the boot as reached, runs the command with its output saved to the
# shared directory, then records its exit status there (vm.sh reads both).
out=$1
shift
echo booted >"$out/booted"
# The host's filesystem is read-only in the VM; this shared directory is writable.
export RVS_VM_OUT=$out
"$@" >>"$out/output.log" 2>&1
echo $? >"$out/status"
sync
