# net.ipv4.vs.conntrack: what an operator of a NAT director with a stateful firewall sees, with
# conntrack=1 and with conntrack=0 (the default). NAT over IPv4, one real server; the director's
# nftables ruleset has a FORWARD chain with policy drop that accepts only packets of known flows
# in their reply direction (`ct state established ct direction reply`), and POSTROUTING counters
# of the packets going to the real server by conntrack state.
# - conntrack=1 (VIP:80 → RIP:8080): TCP connections work through that firewall (the real
#   server's replies match the flow's altered reply tuple); each connection's first packet is
#   `ct state new`, the rest `established`, none untracked; `conntrack -L` shows a held TCP
#   connection ESTABLISHED and ASSURED, and a UDP flow, each with the reply tuple from the real
#   server (src=RIP sport=8080 dst=client); when the IPVS connections expire (`ipvsadm --set`
#   timeouts) their conntrack entries are gone too, long before conntrack's own timeouts.
# - conntrack=0 (VIP:81 → RIP:80): IPVS traffic is untracked — the packets to the real server
#   are `ct state untracked`, no reply ever matches a flow, so the firewall drops the real
#   server's SYN-ACK and the connection fails; `conntrack -L` has no entry for it.
# Runs ip_vs then rvs in the same boot (when ./rvs.ko exists and RVS_DP_COMPARE=1), the same
# assertions for both, and compares what each showed; else RVS_DP_TARGET only.
# timeout: 300
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
trap dp_exit EXIT

if [ "$RVS_DP_COMPARE" = 1 ] && [ -f "$RVS_KO" ]; then
    targets=(ip_vs rvs)
elif [ "$RVS_DP_COMPARE" = 1 ]; then
    echo "note: no $RVS_KO: running ip_vs only, no comparison"
    targets=(ip_vs)
else
    targets=("$RVS_DP_TARGET")
fi

dp_setup nat 4 1
RIP=${DP_RIPS[1]}
CIP=${DP_CIPS[0]}
# The held TCP connection comes from its own address, so its conntrack entry is told apart
# from the closed connections' (TIME_WAIT in conntrack too).
HCIP=${DP_CIPS[1]}

ruleset() {
    cat <<EOF
table inet rvsct {
    counter new1 {}
    counter est1 {}
    counter untracked1 {}
    counter reply1 {}
    counter new0 {}
    counter est0 {}
    counter untracked0 {}
    counter reply0 {}
    chain forward_filter {
        type filter hook forward priority filter; policy drop;
        ct state established ct direction reply tcp sport 8080 counter name reply1
        ct state established ct direction reply tcp sport 80 counter name reply0
        ct state established ct direction reply accept
    }
    chain postrouting_filter {
        type filter hook postrouting priority filter; policy accept;
        ip daddr $RIP tcp dport 8080 ct state new counter name new1
        ip daddr $RIP tcp dport 8080 ct state established counter name est1
        ip daddr $RIP tcp dport 8080 ct state untracked counter name untracked1
        ip daddr $RIP tcp dport 80 ct state new counter name new0
        ip daddr $RIP tcp dport 80 ct state established counter name est0
        ip daddr $RIP tcp dport 80 ct state untracked counter name untracked0
    }
}
EOF
}

# counters — "name packets" per line, from one nft call.
counters() {
    dpd nft list counters table inet rvsct |
        awk '/counter /{n=$2} /packets/{print n, $2}'
}
counter() { awk -v n="$2" '$1 == n {print $2}' <<<"$1"; }

# ct_flows — the director's conntrack entries of the VIP, one line each, with what varies
# between runs (timeouts, the client's port, ids) taken out:
# "tcp ESTABLISHED src=10.0.0.3 dst=192.0.2.1 sport=C dport=80 src=172.16.0.11 ... [ASSURED]".
ct_flows() {
    dpd conntrack -L --orig-dst "$DP_VIP" 2>/dev/null |
        sed -E 's/^([a-z]+) +[0-9]+ [0-9]+ /\1 /; s/ (mark|use|id|zone)=[0-9]+//g' |
        sed -E 's/ sport=([0-9]+) dport=(8[01]) (.*) dport=\1( |$)/ sport=C dport=\2 \3 dport=C\4/' |
        sed -E 's/ +$//' | sort
}

# conn_listed PATTERN — /proc/net/ip_vs_conn has a line matching PATTERN (grep -E).
conn_listed() { dpd grep -qE "$1" /proc/net/ip_vs_conn; }

hex_ip() { printf '%02X%02X%02X%02X' ${1//./ }; }

declare -A seen=()
for target in "${targets[@]}"; do
    echo "==== $target"
    dp_load "$target"
    obs=$DP_WORK/obs-$target
    : >"$obs"
    dpd nft delete table inet rvsct 2>/dev/null || true
    ruleset | dpd nft -f -
    dpd conntrack -F 2>/dev/null || true
    dpd sysctl -qw net.netfilter.nf_conntrack_udp_timeout=120 \
        net.netfilter.nf_conntrack_udp_timeout_stream=180

    # --- conntrack=1.
    dpd sysctl -qw net.ipv4.vs.conntrack=1
    # IPVS's TCP ESTABLISHED and UDP timeouts: 12 s (conntrack's own: 5 days, and 120 s set
    # below, so an entry gone within 40 s went with its IPVS connection).
    dpd ipvsadm --set 12 0 12
    dpd ipvsadm -A -t "$DP_VIP:80" -s rr
    dpd ipvsadm -a -t "$DP_VIP:80" -r "$RIP:8080" -m
    dpd ipvsadm -A -u "$DP_VIP:80" -s rr
    dpd ipvsadm -a -u "$DP_VIP:80" -r "$RIP:8080" -m

    if dp_client --proto tcp --to "$DP_VIP" --port 80 --count 3 --bind "$CIP" \
        >"$DP_WORK/tcp1.out" 2>&1; then
        ok "$target conntrack=1: 3 TCP connections through the stateful firewall"
        echo "conntrack=1 tcp: ok" >>"$obs"
    else
        cat "$DP_WORK/tcp1.out"
        dp_fail "$target conntrack=1: TCP connections through the stateful firewall failed"
        echo "conntrack=1 tcp: FAIL" >>"$obs"
    fi

    hold=$DP_WORK/hold-$target
    rm -f "$hold"
    dp_client --proto tcp --to "$DP_VIP" --port 80 --count 1 --bind "$HCIP" \
        --hold-file "$hold" --hold-max 60 --timeout 5 >"$DP_WORK/held.out" 2>&1 &
    hpid=$!
    dp_client --proto udp --to "$DP_VIP" --port 80 --count 1 --bind "$CIP" \
        >"$DP_WORK/udp1.out" 2>&1 || { cat "$DP_WORK/udp1.out"; dp_fail "$target: UDP datagram"; }
    for _ in $(seq 50); do
        grep -q '^hold' "$DP_WORK/held.out" && break
        sleep 0.2
    done
    grep -q '^hold' "$DP_WORK/held.out" || { cat "$DP_WORK/held.out"; fail "$target: no held connection"; }

    c=$(counters)
    echo "counters after conntrack=1 traffic:" $c
    expect_n() {
        local what=$1 got=$2 want=$3
        if [ "$got" = "$want" ]; then ok "$target $what = $want"; else dp_fail "$target $what: got $got, want $want"; fi
        echo "$what: $got" >>"$obs"
    }
    expect_pos() {
        local what=$1 got=$2
        if [ "${got:-0}" -gt 0 ]; then ok "$target $what > 0 ($got)"; else dp_fail "$target $what: got ${got:-none}, want > 0"; fi
        echo "$what: >0" >>"$obs"
    }
    # 4 connections: the 3 closed ones and the held one; each one's SYN is new.
    expect_n "conntrack=1: packets to the real server in ct state new" "$(counter "$c" new1)" 4
    expect_pos "conntrack=1: packets to the real server in ct state established" "$(counter "$c" est1)"
    expect_n "conntrack=1: packets to the real server untracked" "$(counter "$c" untracked1)" 0
    expect_pos "conntrack=1: real server replies matched as established replies" "$(counter "$c" reply1)"

    flows=$(ct_flows)
    echo "conntrack -L (normalised):"
    echo "$flows"
    want_tcp="tcp ESTABLISHED src=$HCIP dst=$DP_VIP sport=C dport=80 src=$RIP dst=$HCIP sport=8080 dport=C [ASSURED]"
    want_udp="^udp src=$CIP dst=$DP_VIP sport=C dport=80 src=$RIP dst=$CIP sport=8080 dport=C( |$)"
    if grep -qxF "$want_tcp" <<<"$flows"; then
        ok "$target conntrack=1: held TCP flow listed with the real server's reply tuple"
    else
        dp_fail "$target conntrack=1: no conntrack entry '$want_tcp'"
    fi
    if grep -qE "$want_udp" <<<"$flows"; then
        ok "$target conntrack=1: UDP flow listed with the real server's reply tuple"
    else
        dp_fail "$target conntrack=1: no conntrack entry matching '$want_udp'"
    fi
    n_closed=$(grep -c "^tcp TIME_WAIT src=$CIP dst=$DP_VIP sport=C dport=80 src=$RIP dst=$CIP sport=8080 dport=C \[ASSURED\]$" <<<"$flows" || true)
    expect_n "conntrack=1: closed TCP flows in conntrack TIME_WAIT" "$n_closed" 3
    {
        echo "flows with conntrack=1:"
        echo "$flows"
    } >>"$obs"

    # --- conntrack=0: the same firewall, another service.
    dpd sysctl -qw net.ipv4.vs.conntrack=0
    dpd ipvsadm -A -t "$DP_VIP:81" -s rr
    dpd ipvsadm -a -t "$DP_VIP:81" -r "$RIP:80" -m
    if dp_client --proto tcp --to "$DP_VIP" --port 81 --count 1 --bind "$CIP" --timeout 3 \
        >"$DP_WORK/tcp0.out" 2>&1; then
        dp_fail "$target conntrack=0: a TCP connection got through a firewall that only passes tracked replies"
        echo "conntrack=0 tcp: ok" >>"$obs"
    else
        ok "$target conntrack=0: the TCP connection fails (the real server's SYN-ACK is not a tracked reply)"
        echo "conntrack=0 tcp: fails" >>"$obs"
    fi
    c=$(counters)
    echo "counters after conntrack=0 traffic:" $c
    expect_pos "conntrack=0: packets to the real server untracked" "$(counter "$c" untracked0)"
    expect_n "conntrack=0: packets to the real server in ct state new" "$(counter "$c" new0)" 0
    expect_n "conntrack=0: packets to the real server in ct state established" "$(counter "$c" est0)" 0
    expect_n "conntrack=0: real server replies matched as established replies" "$(counter "$c" reply0)" 0
    n81=$(ct_flows | grep -c "dport=81" || true)
    expect_n "conntrack=0: conntrack entries of VIP:81" "$n81" 0

    # --- Expiry: the held TCP connection (idle) and the UDP flow leave IPVS after 12 s; their
    # conntrack entries go with them.
    held_pat="^TCP $(hex_ip "$HCIP") .* ESTABLISHED"
    udp_pat="^UDP $(hex_ip "$CIP") "
    for _ in $(seq 60); do
        conn_listed "$held_pat" || conn_listed "$udp_pat" || break
        sleep 0.5
    done
    if conn_listed "$held_pat" || conn_listed "$udp_pat"; then
        dpd cat /proc/net/ip_vs_conn
        dp_fail "$target: the IPVS entries did not expire within 30 s"
    fi
    flows=$(ct_flows)
    echo "conntrack -L after the IPVS entries expired (normalised):"
    echo "$flows"
    n=$(grep -c "src=$HCIP " <<<"$flows" || true)
    expect_n "after expiry: conntrack entries of the held TCP connection" "$n" 0
    n=$(grep -c "^udp " <<<"$flows" || true)
    expect_n "after expiry: conntrack entries of the UDP flow" "$n" 0
    kill "$hpid" 2>/dev/null || true
    wait "$hpid" 2>/dev/null || true

    seen[$target]=$(cat "$obs")
    dpd ipvsadm -C
done

if [ ${#targets[@]} = 2 ]; then
    if [ "${seen[ip_vs]}" = "${seen[rvs]}" ]; then
        ok "rvs showed what ip_vs showed"
    else
        diff <(echo "${seen[ip_vs]}") <(echo "${seen[rvs]}") || true
        dp_fail "rvs and ip_vs differ (diff above: ip_vs <, rvs >)"
    fi
fi
dp_finish
