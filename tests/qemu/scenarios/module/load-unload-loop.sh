# rvs.ko loads and unloads cleanly 40 times in a row, registering and unregistering its
# per-namespace state and its generic-netlink family each time, with namespaces present.
# timeout: 600
. tests/qemu/lib.sh
unload_all

# Namespaces that exist before and while rvs loads must get and lose their state too.
ip netns add director
trap 'ip netns del director 2>/dev/null || true' EXIT

for i in $(seq 1 40); do
    insmod "$RVS_KO" || fail "insmod #$i"
    module_loaded rvs || fail "rvs not in /proc/modules after insmod #$i"
    if [ $((i % 10)) = 0 ]; then
        # Every so often, prove the loaded module answers, from a namespace too.
        ip netns exec director python3 "$GENL_INFO" IPVS >/dev/null || fail "GET_INFO in netns after insmod #$i"
    fi
    rmmod rvs || fail "rmmod #$i"
    module_loaded rvs && fail "rvs still loaded after rmmod #$i"
done
ok "40 load/unload cycles"

loads=$(dmesg | grep -c "rvs: rvs .* loaded" || true)
expect_eq "load messages in the kernel log" "$loads" 40
