# rvs is a drop-in ip_vs for ipvsadm users, and rvsadm a drop-in ipvsadm for both: one script of
# ipvsadm commands (tests/qemu/ipvsadm-commands.txt: every service kind and scheduler, every
# destination option and tunnel type, kernel and command-line errors, -E/-e edits, -D/-d deletes,
# -Z, -C, --set and -L --timeout, every -L -n variant, -S then -C and -R) gives one transcript
# (stdout, stderr, exit status of each command) whichever of {stock ipvsadm, rvsadm} drives
# whichever of {ip_vs, rvs with ipvs_compat=1}. Each leg that differs from stock ipvsadm on ip_vs
# is named and its diff -u printed. On ip_vs, userspace/rvsadm/tests/vm-diff.sh then compares the
# two tools' listings of a connection entry.
#
# The sync-daemon commands run on sync0, one end of a veth pair made here (as vm-diff.sh does).
#
# --nosort listings print the kernel's order. ip_vs's service order is its hash order, salted
# with the namespace's address, and its destination lists are newest first: nothing rvs has to
# copy (and not even stable across boots). They are compared after sorting their service blocks
# and destination lines (ipvsadm_canon_order); every other listing is sorted by ipvsadm itself.
# Four runs of ~140 ipvsadm processes: about 5 minutes under TCG, four times that when other VMs
# share the machine.
# timeout: 1800
. tests/qemu/lib.sh
. tests/qemu/ipvsadm-transcript.sh
unload_all
trap 'ip link del sync0 2>/dev/null || true; unload_all' EXIT

work=$(mktemp -d)
ip link add sync0 type veth peer name sync1
ip link set sync0 up
ip link set lo up
ip addr add 10.0.0.1/32 dev lo 2>/dev/null || true
# rvsadm runs under the name ipvsadm, so messages that print argv[0] match too.
mkdir -p "$work/bin"
ln -s "$RVS_ROOT/target/release/rvsadm" "$work/bin/ipvsadm"
export IPVSADM_CANON_ORDER=1

# legs KERNEL: runs the script with stock ipvsadm, then with rvsadm, on the loaded KERNEL.
legs() {
    local start=$SECONDS
    ipvsadm_transcript >"$work/$1.ipvsadm"
    (PATH="$work/bin:$PATH" && ipvsadm_transcript) >"$work/$1.rvsadm"
    ipvsadm -C || true
    ok "$1: ran $(grep -c '^\$ ipvsadm' "$work/$1.ipvsadm") commands with each tool in $((SECONDS - start)) s"
}

modprobe ip_vs
legs ip_vs
# On ip_vs, the rest of rvsadm's differential check: a connection entry listed by both tools
# (-L -n -c, --persistent-conn), and rvsadm's own extras (--json, --family).
VMDIFF_CONN_ONLY=1 bash userspace/rvsadm/tests/vm-diff.sh "$RVS_ROOT/target/release/rvsadm" ||
    fail "rvsadm and ipvsadm list ip_vs's connection entries differently (diff above)"
ok "rvsadm: connection listings identical to ipvsadm's on ip_vs"
unload_all

insmod "$RVS_KO" ipvs_compat=1
module_loaded rvs || fail "rvs did not load"
legs rvs
rmmod rvs

reference=$work/ip_vs.ipvsadm
failed=()
for leg in ip_vs.rvsadm rvs.ipvsadm rvs.rvsadm; do
    tool=${leg#*.} kernel=${leg%.*}
    if diff -u --label "ipvsadm on ip_vs" --label "$tool on $kernel" "$reference" "$work/$leg"; then
        ok "$tool on $kernel: transcript identical to ipvsadm on ip_vs ($(wc -l <"$reference") lines)"
    else
        echo "DIFFERS: $tool on $kernel (diff above: - ipvsadm on ip_vs, + $tool on $kernel)"
        failed+=("$tool on $kernel")
    fi
done
[ ${#failed[@]} = 0 ] || fail "transcripts differ from ipvsadm on ip_vs: ${failed[*]}"
