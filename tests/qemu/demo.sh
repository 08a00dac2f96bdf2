#!/usr/bin/env bash
# `make demo`, inside the VM: rvs balancing real traffic. A client, a director with the VIP and
# two real servers running nginx with a page that names them; an rr service forwarding by DR,
# then NAT, then TUN, four HTTP requests each answered in turn, and `rvsadm -L -n --stats`
# after each (tests/qemu/demo-dp.sh does the work).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export RVS_DP_TARGET=rvs RVSADM=$root/target/release/rvsadm
printf '\033[1m$ uname -r\033[0m\n'
uname -r
exec tests/qemu/demo-dp.sh
