#!/usr/bin/env bash
# Differential check of rvsadm against stock ipvsadm 1.31, both driving stock ip_vs, inside the VM
# (ctl/four-way runs it, with VMDIFF_CONN_ONLY=1):
#
#   tests/qemu/vm.sh -- userspace/rvsadm/tests/vm-diff.sh target/release/rvsadm
#
# The same script of commands (tests/qemu/ipvsadm-commands.txt: every service kind, scheduler
# flags, destination options, errors, every listing format, save/restore, timeouts, sync daemons,
# zero; plus connections here) runs once per tool on an emptied table; each command's stdout,
# stderr and exit status go to a transcript, and the two transcripts must be identical. Prints the
# diff and exits 1 if they are not.
set -u
rvsadm=$(realpath "${1:?usage: vm-diff.sh RVSADM}")
work=$(mktemp -d)
modprobe ip_vs || exit 2
ip addr add 10.0.0.1/32 dev lo 2>/dev/null
ip link set lo up
# Sync daemons need a multicast-capable interface.
ip link add sync0 type veth peer name sync1 2>/dev/null
ip link set sync0 up 2>/dev/null
ip link set sync1 up 2>/dev/null
# rvsadm runs under the name ipvsadm, so messages that print argv[0] match too.
mkdir -p "$work/bin"
ln -s "$rvsadm" "$work/bin/ipvsadm"

# shellcheck source=../../../tests/qemu/ipvsadm-transcript.sh
. "$(dirname "$0")/../../../tests/qemu/ipvsadm-transcript.sh"

# The shared script, then a connection entry to list (ipvsadm -Lc reads /proc/net/ip_vs_conn).
# VMDIFF_CONN_ONLY=1 leaves the shared script out: ctl/four-way, which runs it through both tools
# on both kernels, uses this for the rest.
transcript() {
    [ "${VMDIFF_CONN_ONLY:-0}" = 1 ] || ipvsadm_transcript
    # A connection entry: a SYN to a virtual service on this host.
    ipvsadm_step -A -t 10.0.0.1:81 -s rr
    ipvsadm_step -a -t 10.0.0.1:81 -r 127.0.0.1:9 -m
    # Under TCG a SYN sometimes leaves no entry by the time we list: try until one is there.
    for _ in 1 2 3 4 5; do
        timeout 1 bash -c 'exec 3<>/dev/tcp/10.0.0.1/81' 2>/dev/null
        grep -q ' 0051 ' /proc/net/ip_vs_conn && break
    done
    # The expiry timer ticks between the two runs and the client port is random: mask both. A
    # retried SYN leaves a second entry, masked the same: each line is kept once.
    local mask='s/ [0-9]{2}:[0-9]{2} / MM:SS /; s/10\.0\.0\.1:[0-9]{4,5} +/CLIENT /'
    ipvsadm_step -L -n -c | sed -E "$mask" | awk '!seen[$0]++'
    ipvsadm_step -L -n -c --persistent-conn | sed -E "$mask" | awk '!seen[$0]++'
    ipvsadm_step -C
}

transcript >"$work/ipvsadm.txt"
(PATH="$work/bin:$PATH" && transcript) >"$work/rvsadm.txt"
lines=$(wc -l <"$work/ipvsadm.txt")
if diff -u "$work/ipvsadm.txt" "$work/rvsadm.txt"; then
    echo "vm-diff: rvsadm and ipvsadm transcripts identical ($lines lines)"
    status=0
else
    echo "vm-diff: transcripts differ"
    status=1
fi
cp "$work/ipvsadm.txt" "$work/rvsadm.txt" "${RVSADM_DIFF_OUT:-$work}/" 2>/dev/null
echo "--- rvsadm extras"
"$rvsadm" -A -t 10.0.0.60:80 -s rr && "$rvsadm" -a -t 10.0.0.60:80 -r 10.9.0.1 -m
"$rvsadm" --json -L -n | head -40
"$rvsadm" --json -L --timeout
"$rvsadm" --family RVS -L -n; echo "family RVS rc=$?"
"$rvsadm" --family IPVS -S -n; echo "family IPVS rc=$?"
"$rvsadm" -C
exit $status
