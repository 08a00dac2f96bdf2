# Malformed packets, ip_vs against rvs: ~230 hand-made cases and 2,000 fuzzed frames, sent by
# tests/qemu/badpkt.py as whole Ethernet frames on an AF_PACKET socket (nothing fixed up by the
# sender's stack) to the director's front MAC, against ip_vs and then rvs in one VM boot, each in a
# freshly built topology (ip_vs leaves IPv6 defragmentation hooked into a namespace for good). The
# IP header of every frame is valid; the malformation is above IP or in IPv4 options / IPv6
# extension headers (see badpkt.py's docstring for the list and the attribution scheme).
#
#   bp-cl (client)  c-dir ─── dir-c  bp-dir (director)  dir-rs1 ─── rs1-d  bp-rs (real server)
#   10.0.0.2 fd00:1::2          10.0.0.1 fd00:1::1     172.16.0.1 fd00:2::1   172.16.0.11 fd00:2::11
#   case sources 10.1.0.0/16,   VIP 192.0.2.1, 2001:db8:100::1 on lo        default via director
#   fd00:a1::/64 (not owned:    NAT: VIP:80 -> RIP:8080 (nothing listens: the real server answers
#   the director routes them    statelessly, RST / port unreachable / ABORT), VIP:81 -> RIP:8081
#   via 10.0.0.2 / fd00:1::2)   (badpkt.py's echo servers: the held connections, the checks)
#
# Per balancer: one held TCP connection per family through VIP:81 (fixed client port 40000, which
# ICMP cases quote), then every case, then the held connections must still complete, a normal
# TCP/UDP/SCTP connection per family must work, and the kernel log must hold no report. Per case
# the outcome is what reached the real server (L4 protocol, IP length, bytes) and what came back to
# the client; the two balancers' outcomes are printed side by side. Fails on any difference in a
# hand-made case, or in the fuzz totals (the first differing fuzz cases are printed).
# timeout: 600
. tests/qemu/lib.sh

BADPKT=$RVS_ROOT/tests/qemu/badpkt.py
PY=(python3 -I -S)
W=$(mktemp -d /tmp/rvs-badpkt.XXXXXX)
# A private copy: rvs.ko may be rebuilt on the host while this runs.
cp "$RVS_KO" "$W/rvs.ko"
NSS=(bp-cl bp-dir bp-rs)
FUZZ=${BADPKT_FUZZ:-2000}

cleanup() {
    local rc=$? p
    set +e
    for p in "${NSS[@]}"; do [ -e "/run/netns/$p" ] && ip netns del "$p"; done
    unload_all
    rm -rf "$W"
    return $rc
}
trap cleanup EXIT

bpd() { ip netns exec bp-dir "$@"; }

load() {
    unload_all
    case "$1" in
        ip_vs) modprobe ip_vs ;;
        rvs) insmod "$W/rvs.ko" ;;
    esac
    echo "balancer: $1"
}

# topology — fresh namespaces; case sources 10.1.0.0/16 and fd00:a1::/64 (badpkt.py --run 1;
# the same in both runs, so the forwarded bytes compare).
topology() {
    local r=1 ns
    for ns in "${NSS[@]}"; do [ -e "/run/netns/$ns" ] && ip netns del "$ns"; done
    printf 'netns add %s\n' "${NSS[@]}" | ip -b -
    local common=(net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
        net.ipv6.conf.all.dad_transmits=0 net.ipv6.conf.default.dad_transmits=0
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
        # No ICMP rate limiting: every case's answer must come, whatever came before it.
        net.ipv4.icmp_ratemask=0 net.ipv4.icmp_msgs_per_sec=1000000
        net.ipv4.icmp_msgs_burst=1000000 net.ipv6.icmp.ratelimit=0 net.ipv6.icmp.ratemask=255
        # Reassembly gives up quickly (and sends its "time exceeded") within the run.
        net.ipv4.ipfrag_time=3 net.ipv6.ip6frag_time=3)
    ip netns exec bp-cl sysctl -qw "${common[@]}"
    ip netns exec bp-rs sysctl -qw "${common[@]}"
    bpd sysctl -qw "${common[@]}" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
        net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0
    ip -b - <<EOF
link add c-dir netns bp-cl address 02:00:00:00:00:02 type veth peer name dir-c netns bp-dir address 02:00:00:00:00:01
link add dir-rs1 netns bp-dir address 02:00:00:00:01:01 type veth peer name rs1-d netns bp-rs address 02:00:00:00:01:11
EOF
    ip -n bp-cl -b - <<EOF
link set lo up
link set c-dir up
addr add 10.0.0.2/24 dev c-dir
addr add fd00:1::2/64 dev c-dir nodad
route add 192.0.2.1/32 via 10.0.0.1
route add 2001:db8:100::1/128 via fd00:1::1
EOF
    ip -n bp-dir -b - <<EOF
link set lo up
link set dir-c up
link set dir-rs1 up
addr add 192.0.2.1/32 dev lo
addr add 2001:db8:100::1/128 dev lo nodad
addr add 10.0.0.1/24 dev dir-c
addr add fd00:1::1/64 dev dir-c nodad
addr add 172.16.0.1/24 dev dir-rs1
addr add fd00:2::1/64 dev dir-rs1 nodad
route add 10.$r.0.0/16 via 10.0.0.2
route add fd00:a$r::/64 via fd00:1::2
EOF
    ip -n bp-rs -b - <<EOF
link set lo up
link set rs1-d up
addr add 172.16.0.11/24 dev rs1-d
addr add fd00:2::11/64 dev rs1-d nodad
route add default via 172.16.0.1
route add default via fd00:2::1
EOF
}

services() {
    local v s opt rs port
    {
        for v in 192.0.2.1 "[2001:db8:100::1]"; do
            if [ "$v" = 192.0.2.1 ]; then rs=172.16.0.11; else rs="[fd00:2::11]"; fi
            for opt in -t -u --sctp-service; do
                for port in 80 81; do
                    s="$opt $v:$port"
                    echo "-A $s -s rr"
                    echo "-a $s -r $rs:$((port + 8000)) -m"
                done
            done
        done
    } | bpd ipvsadm -R
    bpd ipvsadm -L -n | sed 's/^/  /'
}

# One balancer's run.
run_one() {
    local b=$1
    echo "==== $b"
    load "$b"
    echo "[$SECONDS s] loaded"
    topology
    echo "[$SECONDS s] topology up"
    services
    # ip_vs hooks IPv6 defragmentation in (nf_defrag_ipv6); its timeout too.
    bpd sysctl -qw net.netfilter.nf_conntrack_frag6_timeout=3 2>/dev/null || true

    local start=$SECONDS
    echo "[$SECONDS s] sending the cases"
    # One process: the real server's echo servers on 8081, the held connections (client port
    # 40000 to VIP:81, which the ICMP "conn" cases quote), the cases, then the checks.
    local rc=0
    "${PY[@]}" "$BADPKT" run --out "$W/out.$b" --run 1 --fuzz "$FUZZ" --client-ns bp-cl \
        --rs-ns bp-rs || rc=$?
    [ -e "$W/out.$b" ] || fail "$b: badpkt.py run failed (exit $rc)"
    [ $rc = 0 ] || BAD+=("$b: a held connection or a connection after the cases failed")
    echo "$b: cases sent and collected in $((SECONDS - start)) s"
    echo "[$SECONDS s] checks done"
    bpd ipvsadm -L -n --stats --exact | sed 's/^/  /'

    # Any kernel report so far (the runner checks the whole log again at the end).
    dmesg >"$W/dmesg.$b"
    if ! "${PY[@]}" "$RVS_ROOT/tests/qemu/logscan.py" "$W/dmesg.$b" >"$W/findings.$b"; then
        cat "$W/findings.$b"
        BAD+=("$b: kernel report: $(head -1 "$W/findings.$b")")
    else
        ok "$b: no kernel report"
    fi

    echo "[$SECONDS s] kernel log checked"
    bpd ipvsadm -C
    local p
    for p in "${NSS[@]}"; do ip netns del "$p"; done
    echo "[$SECONDS s] namespaces deleted"
    unload_all
    echo "[$SECONDS s] torn down"
}

BAD=()
run_one ip_vs
run_one rvs

echo "==== per-case outcomes (rs = reached the real server, cl = came back to the client)"
if "${PY[@]}" "$BADPKT" compare "$W/out.ip_vs" "$W/out.rvs" --labels ip_vs,rvs --show 40; then
    ok "rvs handled every case as ip_vs did"
else
    BAD+=("rvs and ip_vs differ (see the DIFF lines above)")
fi
if [ ${#BAD[@]} -gt 0 ]; then
    printf 'FAIL: %s\n' "${BAD[@]}" >&2
    exit 1
fi
echo "all checks passed"
