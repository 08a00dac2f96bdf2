#!/usr/bin/env bash
# Runs inside the VM: marks the boot as reached, runs the command with its output saved to the
# shared directory, then records its exit status there (vm.sh reads both).
out=$1
shift
echo booted >"$out/booted"
"$@" >>"$out/output.log" 2>&1
echo $? >"$out/status"
sync
