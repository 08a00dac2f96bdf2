# The destination trash (ip_vs's dest_trash): a real server deleted while connections still use it
# comes back with them when it is added again to a service with the same address and port. So
# `ipvsadm -C` followed by the same configuration (a keepalived restart, `ipvsadm -C; ipvsadm -R`)
# does not cut established connections. For DR and NAT, with a held established connection:
#  1. deleted from its live service and added back, the real server still shows the connection
#     (ActiveConn 1) and keeps its statistics (Conns);
#  2. through `ipvsadm -C` and the service's re-creation, the re-added real server shows the
#     connection again, with its statistics zeroed (a new service);
#  3. the held connection's bytes then still flow both ways (the client's echo check), and its
#     packets count into the new service's statistics.
# Balancer: RVS_DP_TARGET (rvs|ip_vs; see tests/qemu/dp-lib.sh). Against ip_vs the same
# assertions pass (RVS_DP_TARGET=ip_vs tests/qemu/dp-run.sh tests/qemu/scenarios/dp/dest-trash.sh).
# timeout: 300
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
trap dp_exit EXIT

# rs_line SVC RS [--stats] — RS's line under service SVC in `ipvsadm -L -n [--stats]`
# ($4 Weight, $5 ActiveConn, $6 InActConn; with --stats: $3 Conns, $4 InPkts).
rs_line() {
    dpd ipvsadm -L -n "${@:3}" | awk -v s="$1" -v r="$2" \
        '$1 == "TCP" { in_svc = ($2 == s) } in_svc && $1 == "->" && $2 == r'
}

# The service on port 80 with its one real server $rs.
add_svc() {
    dpd ipvsadm -A -t "$DP_VSVC" -s rr
    dpd ipvsadm -a -t "$DP_VSVC" -r "$rs" $DP_FLAG
}

target=$RVS_DP_TARGET
dp_load "$target"
for method in dr nat; do
    dp_setup $method 4 1
    rs=${DP_RS[1]}
    add_svc
    dp_client --proto tcp --to "$DP_VIP" --port 80 --count 2 --bind "$DP_CIP" >/dev/null ||
        dp_fail "$target $method: 2 connections before the deletions failed"
    hold=$DP_WORK/hold.$method
    dp_client --proto tcp --to "$DP_VIP" --port 80 --count 1 --payload-bytes 3000 --bind "$DP_CIP" \
        --hold-file "$hold" --timeout 10 >"$DP_WORK/held.$method.out" 2>&1 &
    held=$!
    dp_wait_hold "$DP_WORK/held.$method.out" ||
        dp_fail "$target $method: the held connection never got its header"
    # ip_vs's statistics lag (its estimator copies them every 2 s; docs/dp-tests.md).
    sleep 3
    conns=$(rs_line "$DP_VSVC" "$rs" --stats | awk '{print $3}')
    expect_eq "$target $method: Conns of $rs before the deletions" "$conns" 3

    # 1. Deleted from the live service and added back.
    dpd ipvsadm -d -t "$DP_VSVC" -r "$rs"
    dpd ipvsadm -a -t "$DP_VSVC" -r "$rs" $DP_FLAG
    expect_eq "$target $method: ActiveConn of $rs re-added to its service" \
        "$(rs_line "$DP_VSVC" "$rs" | awk '{print $5}')" 1
    expect_eq "$target $method: Conns of $rs re-added to its service (kept)" \
        "$(rs_line "$DP_VSVC" "$rs" --stats | awk '{print $3}')" 3

    # 2. Every service flushed, then the same configuration again.
    dpd ipvsadm -C
    add_svc
    dpd ipvsadm -L -n
    expect_eq "$target $method: ActiveConn of $rs after -C and the same configuration" \
        "$(rs_line "$DP_VSVC" "$rs" | awk '{print $5}')" 1
    expect_eq "$target $method: Conns of $rs in the new service (zeroed)" \
        "$(rs_line "$DP_VSVC" "$rs" --stats | awk '{print $3}')" 0

    # 3. The held connection carries on.
    touch "$hold"
    if wait "$held"; then
        ok "$target $method: the held connection's 3000 bytes came back intact after -C"
    else
        dp_fail "$target $method: the held connection failed after -C"
    fi
    cat "$DP_WORK/held.$method.out"
    sleep 3
    inpkts=$(rs_line "$DP_VSVC" "$rs" --stats | awk '{print $4}')
    if [ "${inpkts:-0}" -gt 0 ]; then
        ok "$target $method: the held connection's packets count into the new service ($inpkts InPkts)"
    else
        dp_fail "$target $method: InPkts of $rs in the new service is '${inpkts:-}', want > 0"
    fi
    dp_teardown
done
dp_finish
