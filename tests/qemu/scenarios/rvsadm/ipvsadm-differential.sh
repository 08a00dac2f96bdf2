# rvsadm is a drop-in ipvsadm: the same ~110 commands (every service kind, scheduler flags,
# destination options, kernel errors, every listing format, save/restore, timeouts, sync daemons,
# zero, connections) run through stock ipvsadm 1.31 and through rvsadm, both driving stock ip_vs,
# give identical transcripts (stdout, stderr, exit status).
# timeout: 900
. tests/qemu/lib.sh
unload_all
trap unload_all EXIT
bash userspace/rvsadm/tests/vm-diff.sh target/release/rvsadm
