# Forwarding: {NAT, DR, TUN} x {TCP, UDP, SCTP} x {IPv4, IPv6} through an rr service with two
# real servers. For each case, 6 new connections from new source ports: the payload comes back
# byte-identical (TCP and SCTP payloads span several segments, and the TUN ones are too big for the
# tunnel's MTU at first: the balancer must send the client "fragmentation needed"), the two real
# servers answer alternately, and each saw the client's own address and port (all three methods
# preserve them). One topology per method and family; the protocols reuse it.
# Balancer: RVS_DP_TARGET (rvs|ip_vs; see tests/qemu/dp-lib.sh).
# timeout: 900
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
trap dp_exit EXIT

dp_load "$RVS_DP_TARGET"
count=6
protos=(tcp udp sctp)
for method in nat dr tun; do
    for fam in 4 6; do
        dp_setup "$method" "$fam" 2
        for proto in "${protos[@]}"; do
            opt=$(dp_svc_opt "$proto")
            printf '%s\n' "-A $opt $DP_VSVC -s rr" "-a $opt $DP_VSVC -r ${DP_RS[1]} $DP_FLAG" \
                "-a $opt $DP_VSVC -r ${DP_RS[2]} $DP_FLAG"
        done | dpd ipvsadm -R
        # One client process for the three services: a line of server names for each.
        t0=$EPOCHREALTIME
        set +e
        dp_client --proto "$(IFS=,; echo "${protos[*]}")" --to "$DP_VIP" --port "$DP_VPORT" \
            --count $count --payload-bytes 3000,udp=1000 --bind "$DP_CIP" --check-seen --names \
            >"$DP_WORK/names" 2>"$DP_WORK/client.err"
        rc=$?
        set -e
        cat "$DP_WORK/client.err"
        echo "client: $((3 * count)) connections in $(dp_since "$t0") s"
        mapfile -t seqs <"$DP_WORK/names"
        k=0
        for proto in "${protos[@]}"; do
            what="$method $proto IPv$fam"
            seq=${seqs[k]:-}
            k=$((k + 1))
            bytes=3000
            [ "$proto" != udp ] || bytes=1000
            if [[ " $seq " == *" - "* ]] || [ -z "$seq" ]; then
                dp_fail "$what: connections failed: '$seq'"
            elif ! dp_seq_alternates "$seq"; then
                dp_fail "$what: servers did not alternate: $seq"
            else
                ok "$what: $count connections, $bytes bytes intact both ways, servers $seq, client address seen"
            fi
        done
        [ $rc = 0 ] || dp_debug
        t0=$EPOCHREALTIME
        dpd ipvsadm -C
        dp_teardown
        echo "teardown: $(dp_since "$t0") s"
    done
done
dp_finish
