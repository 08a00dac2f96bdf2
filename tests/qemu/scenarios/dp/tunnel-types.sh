# TUN over IPv4 with the encapsulations besides plain IPIP: GUE (`--tun-type gue`) without UDP
# checksum, with it (`--tun-csum`) and with remote checksum offload (`--tun-remcsum`), and GRE
# without and with checksum. For each, TCP (3,000-byte payloads, so the tunnel's MTU is hit and
# "fragmentation needed" lowers the client's) and UDP (1,000 bytes) services with two real
# servers: every connection's bytes intact both ways, the servers alternate, and the real server
# saw the client's address. The real servers decapsulate with the kernel's own fou (GUE port
# 6080) and GRE devices (gre0; for checksummed GRE one with icsum).
# Balancer: RVS_DP_TARGET (rvs|ip_vs; see tests/qemu/dp-lib.sh).
# timeout: 300
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
trap dp_exit EXIT

dp_load "$RVS_DP_TARGET"
dp_setup tun 4 2
for ((i = 1; i <= DP_NRS; i++)); do
    ip netns exec "rs$i" ip fou add port 6080 gue
    ip -n "rs$i" link set gre0 up
    ip netns exec "rs$i" sysctl -qw net.ipv4.conf.gre0.rp_filter=0
done

declare -A opts=(
    [gue]="--tun-type gue --tun-port 6080 --tun-nocsum"
    [gue-csum]="--tun-type gue --tun-port 6080 --tun-csum"
    [gue-remcsum]="--tun-type gue --tun-port 6080 --tun-remcsum"
    [gre]="--tun-type gre --tun-nocsum"
    [gre-csum]="--tun-type gre --tun-csum"
)
count=4
for kind in gue gue-csum gue-remcsum gre gre-csum; do
    if [ $kind = gre-csum ]; then
        # A GRE device takes only packets whose checksum flag matches its own (ip_tunnel_rcv),
        # so checksummed GRE needs a device with icsum (the fallback gre0 has none).
        for ((i = 1; i <= DP_NRS; i++)); do
            ip -n "rs$i" link add gre1 type gre local "${DP_RIPS[i]}" icsum
            ip -n "rs$i" link set gre1 up
            ip netns exec "rs$i" sysctl -qw net.ipv4.conf.gre1.rp_filter=0
        done
    fi
    dpd ipvsadm -C
    for opt in -t -u; do
        dpd ipvsadm -A $opt "$DP_VSVC" -s rr
        for i in 1 2; do
            # shellcheck disable=SC2086
            dpd ipvsadm -a $opt "$DP_VSVC" -r "${DP_RS[i]}" -i ${opts[$kind]}
        done
    done
    dpd ipvsadm -L -n --tun-info 2>/dev/null || dpd ipvsadm -L -n
    set +e
    dp_client --proto tcp,udp --to "$DP_VIP" --port "$DP_VPORT" --count $count \
        --payload-bytes 3000,udp=1000 --bind "$DP_CIP" --check-seen --names \
        >"$DP_WORK/names-$kind" 2>"$DP_WORK/client-$kind.err"
    rc=$?
    set -e
    cat "$DP_WORK/client-$kind.err"
    mapfile -t seqs <"$DP_WORK/names-$kind"
    k=0
    for proto in tcp udp; do
        seq=${seqs[k]:-}
        k=$((k + 1))
        if [[ " $seq " == *" - "* ]] || [ -z "$seq" ]; then
            dp_fail "$kind $proto: connections failed: '$seq'"
        elif ! dp_seq_alternates "$seq"; then
            dp_fail "$kind $proto: servers did not alternate: $seq"
        else
            ok "$kind $proto: $count connections intact both ways, servers $seq, client address seen"
        fi
    done
    [ $rc = 0 ] || dp_debug
done
dp_finish
