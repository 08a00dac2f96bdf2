#!/usr/bin/env bash
# `make demo`, inside the VM: load rvs, show rvsadm's version and rvs's answer to
# IPVS_CMD_GET_INFO, in the initial namespace and in a fresh one, then unload.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

run uname -r
run insmod ./rvs.ko
say "grep rvs /proc/modules"; grep rvs /proc/modules
say "dmesg | grep rvs:"; dmesg | grep 'rvs:' | tail -1
run target/release/rvsadm --version
run python3 tests/qemu/genl_info.py IPVS
ip netns add demo
say "ip netns exec demo python3 tests/qemu/genl_info.py IPVS"
ip netns exec demo python3 tests/qemu/genl_info.py IPVS
ip netns del demo
run rmmod rvs
echo
echo "demo: rvs loaded, answered GET_INFO as IPVS 1.2.1 in two namespaces, and unloaded."
