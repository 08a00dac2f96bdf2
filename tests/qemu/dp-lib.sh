# Data-plane scenario helpers (sourced after tests/qemu/lib.sh): the balancer under test, the
# topology of the kernel's selftest tools/testing/selftests/net/netfilter/ipvs.sh grown to several
# real servers, and the traffic tool's servers and client.
#
#                 client ns                      director ns                rsN ns
#   10.0.0.2-9 ┌───────────┐ c-dir      dir-c ┌──────────────┐ dir-rsN  rsN-d ┌──────────┐
#   fd00:1::2-9│    br0    ├──────────────────┤ 10.0.0.1     │    br1 ──────────┤ RIP      │
#              │           │                  │ fd00:1::1    │ 172.16.0.1     │172.16.0.1N│
#              │           │                  │ VIP on lo    │ fd00:2::1      │fd00:2::1N │
#              │           │ c-rsN            └──────────────┘                │ VIP on lo │
#              │           ├──────────────────────────────────────── rsN-c ───┤(DR, TUN) │
#              └───────────┘   (DR and TUN only: the real servers' replies     └──────────┘
#                               go straight back to the client, from the VIP)  10.0.0.1N
#
# The client routes the VIP (192.0.2.1 / fd00:100::1, outside every connected subnet, so nobody
# ever ARPs for it) via the director, which holds it on lo. NAT: the real servers have no front
# link and route everything via the director (172.16.0.1 / fd00:2::1), which forwards
# (ip_forward). DR: the real servers hold the VIP on lo, with arp_ignore=1, arp_announce=2 and
# rp_filter off. TUN: the same, plus the fallback tunnel devices up — tunl0 (ipip) for IPv4 and
# ip6tnl0 (ip6ip6) for IPv6 — with rp_filter off on tunl0 (the decapsulated packet arrives on
# it, but its source routes out of rsN-c).
#
# Every real server runs one `traffic.py serve --name rsN --proto tcp,udp,sctp --port 80,8080`
# (DR and TUN: SCTP bound to the VIP).
# Services use port 80; NAT services map it to the real servers' 8080 (port translation), DR and
# TUN keep 80. The scenario configures services itself: `dpd ipvsadm ...` (in the director).
#
# The balancer under test: RVS_DP_TARGET (ip_vs or rvs, default rvs), from the environment, or
# else from a dp.env file of KEY=VALUE lines, or else the default; RVS_DP_COMPARE (default 1) and
# RVSADM likewise. run.sh passes no environment into the VM, so tests/qemu/dp-run.sh writes
# dp.env on the host in the run's output root (tests/qemu/out by default), the parent of the
# VM's shared directory RVS_VM_OUT; outside the harness (RVS_VM_OUT unset) the file read is
# tests/qemu/out/dp.env.

TRAFFIC=$RVS_ROOT/tests/qemu/traffic.py
# No site packages: the interpreter starts in ~0.6 s under TCG instead of ~3 s.
DP_PY=(python3 -I -S)
if [ -n "${RVS_VM_OUT:-}" ]; then
    DP_ENV_FILE=$(dirname "$RVS_VM_OUT")/dp.env
else
    DP_ENV_FILE=$RVS_ROOT/tests/qemu/out/dp.env
fi

# Variables from the env file, unless the environment already sets them.
if [ -f "$DP_ENV_FILE" ]; then
    while IFS='=' read -r _k _v; do
        case "$_k" in
            RVS_DP_*|RVSADM) [ -n "${!_k+x}" ] || export "$_k=$_v" ;;
        esac
    done <"$DP_ENV_FILE"
    unset _k _v
fi
RVS_DP_TARGET=${RVS_DP_TARGET:-rvs}
RVS_DP_COMPARE=${RVS_DP_COMPARE:-1}

DP_NS=()
DP_PIDS=()
DP_WORK=
DP_FAILURES=0

# dp_load ip_vs|rvs [ftp] — loads the balancer (after unloading both); with "ftp", its FTP
# helper on port 21 too (ip_vs: modprobe ip_vs_ftp; rvs: ftp_ports=21).
dp_load() {
    unload_all
    case "$1" in
        ip_vs)
            modprobe ip_vs
            [ "${2:-}" != ftp ] || modprobe ip_vs_ftp
            ;;
        rvs)
            [ -f "$RVS_KO" ] || fail "dp_load rvs: no $RVS_KO (build it with make)"
            if [ "${2:-}" = ftp ]; then insmod "$RVS_KO" ftp_ports=21; else insmod "$RVS_KO"; fi
            ;;
        *) fail "dp_load: unknown balancer '$1' (ip_vs or rvs)" ;;
    esac
    echo "balancer: $1${2:+ ($2)}"
}

# Runs a command in a namespace.
in_ns() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}
dpd() { ip netns exec director "$@"; }

# dp_client ARGS... — traffic.py client in the client namespace.
dp_client() {
    ip netns exec client "${DP_PY[@]}" "$TRAFFIC" client "$@"
}

# dp_wait_hold OUT — waits up to 20 s for the `hold 0 server ...` line of a traffic.py client
# started with --hold-file and writing to OUT (its connection is established); false if none.
dp_wait_hold() {
    local t
    for ((t = 0; t < 200; t++)); do
        grep -q '^hold 0 server' "$1" && return 0
        sleep 0.1
    done
    return 1
}

# A case's failure that does not end the scenario (the others still run); dp_finish exits 1
# if there was any.
dp_fail() {
    echo "FAIL: $*" >&2
    DP_FAILURES=$((DP_FAILURES + 1))
}
dp_finish() {
    if [ "$DP_FAILURES" != 0 ]; then
        fail "$DP_FAILURES case(s) failed"
    fi
    echo "all cases passed"
}

# dp_svc — ipvsadm's service option for a protocol: dp_svc tcp → "-t <VIP>:80".
dp_svc_opt() {
    case "$1" in
        tcp) echo -t ;;
        udp) echo -u ;;
        sctp) echo --sctp-service ;;
        *) fail "dp_svc_opt: unknown protocol $1" ;;
    esac
}

# dp_hostport ADDR PORT — "a.b.c.d:p" or "[v6]:p".
dp_hostport() {
    case "$1" in
        *:*) echo "[$1]:$2" ;;
        *) echo "$1:$2" ;;
    esac
}

# dp_setup nat|dr|tun 4|6 [NRS] — builds the topology (see the top of this file) with NRS
# (default 2) real servers rs1..rsNRS, starts their servers (not with DP_NO_SERVERS=1), and sets:
#   DP_METHOD DP_FAMILY DP_NRS  DP_FLAG (-m|-g|-i)  DP_VIP  DP_VPORT (80)  DP_RPORT (8080|80)
#   DP_VSVC (VIP:80 as ipvsadm takes it)  DP_CIP (the client's first address)  DP_CIPS (all 8)
#   DP_RIPS[1..N]  DP_RS[1..N] (RIP:RPORT as ipvsadm takes it)  DP_DIP (director, front)
#   DP_DBIP (director, back)  DP_PLEN (24|64)
dp_setup() {
    local method=$1 fam=$2 nrs=${3:-2} i
    case "$method" in
        nat) DP_FLAG=-m; DP_RPORT=8080 ;;
        dr) DP_FLAG=-g; DP_RPORT=80 ;;
        tun) DP_FLAG=-i; DP_RPORT=80 ;;
        *) fail "dp_setup: unknown method $method" ;;
    esac
    DP_METHOD=$method
    DP_FAMILY=$fam
    DP_NRS=$nrs
    DP_VPORT=80
    DP_CIPS=()
    DP_RIPS=()
    DP_RS=()
    local front_rs=()
    if [ "$fam" = 4 ]; then
        DP_VIP=192.0.2.1; DP_DIP=10.0.0.1; DP_DBIP=172.16.0.1; DP_PLEN=24
        local vplen=32 nd=
        for i in 2 3 4 5 6 7 8 9; do DP_CIPS+=("10.0.0.$i"); done
        for ((i = 1; i <= nrs; i++)); do
            DP_RIPS[i]=172.16.0.$((10 + i)); front_rs[i]=10.0.0.$((10 + i))
        done
    elif [ "$fam" = 6 ]; then
        DP_VIP=fd00:100::1; DP_DIP=fd00:1::1; DP_DBIP=fd00:2::1; DP_PLEN=64
        local vplen=128 nd=nodad
        for i in 2 3 4 5 6 7 8 9; do DP_CIPS+=("fd00:1::$i"); done
        for ((i = 1; i <= nrs; i++)); do
            DP_RIPS[i]=fd00:2::$((10 + i)); front_rs[i]=fd00:1::$((10 + i))
        done
    else
        fail "dp_setup: family must be 4 or 6, not '$fam'"
    fi
    DP_CIP=${DP_CIPS[0]}
    DP_VSVC=$(dp_hostport "$DP_VIP" "$DP_VPORT")
    for ((i = 1; i <= nrs; i++)); do DP_RS[i]=$(dp_hostport "${DP_RIPS[i]}" "$DP_RPORT"); done
    echo "topology: $method IPv$fam, $nrs real servers, VIP $DP_VSVC (${DP_RS[*]})"

    local t0=$EPOCHREALTIME
    DP_WORK=$(mktemp -d /tmp/rvs-dp.XXXXXX)
    DP_NS=(client director)
    for ((i = 1; i <= nrs; i++)); do DP_NS+=("rs$i"); done

    # 1. Namespaces, then their sysctls (before the links exist, so "default" reaches them).
    # Only where needed (a process costs up to a second under TCG): every address is added
    # nodad, and a new namespace's IPv4 defaults come from the initial namespace (rp_filter 0
    # in the VM; set anyway where it matters).
    local b=$DP_WORK/root.batch ns
    : >"$b"
    for ns in "${DP_NS[@]}"; do echo "netns add $ns" >>"$b"; done
    ip -b "$b"
    in_ns director sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
        net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0
    if [ "$method" != nat ]; then
        # The client's packets reach a real server on rsN-d (DR) or tunl0 (TUN) but their
        # source routes out of rsN-c: no reverse-path filter.
        local rs=(net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
            net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0)
        [ "$method" = tun ] && rs+=(net.ipv4.conf.tunl0.rp_filter=0)
        for ((i = 1; i <= nrs; i++)); do in_ns "rs$i" sysctl -qw "${rs[@]}"; done
    fi
    # 2. Links, created straight into their namespaces.
    : >"$b"
    echo "link add br0 netns client type bridge mcast_snooping 0" >>"$b"
    echo "link add br1 netns director type bridge mcast_snooping 0" >>"$b"
    echo "link add c-dir netns client type veth peer name dir-c netns director" >>"$b"
    for ((i = 1; i <= nrs; i++)); do
        echo "link add dir-rs$i netns director type veth peer name rs$i-d netns rs$i" >>"$b"
        if [ "$method" != nat ]; then
            echo "link add c-rs$i netns client type veth peer name rs$i-c netns rs$i" >>"$b"
        fi
    done
    ip -b "$b"

    # 3. Addresses and routes, one batch per namespace.
    {
        echo "link set lo up"
        echo "link set br0 up"
        echo "link set c-dir master br0 up"
        for ((i = 1; i <= nrs; i++)); do
            [ "$method" = nat ] || echo "link set c-rs$i master br0 up"
        done
        for a in "${DP_CIPS[@]}"; do echo "addr add $a/$DP_PLEN dev br0 $nd"; done
        echo "route add $DP_VIP/$vplen via $DP_DIP"
    } >"$DP_WORK/client.batch"
    {
        echo "link set lo up"
        echo "link set dir-c up"
        echo "link set br1 up"
        for ((i = 1; i <= nrs; i++)); do echo "link set dir-rs$i master br1 up"; done
        echo "addr add $DP_DIP/$DP_PLEN dev dir-c $nd"
        echo "addr add $DP_DBIP/$DP_PLEN dev br1 $nd"
        echo "addr add $DP_VIP/$vplen dev lo $nd"
    } >"$DP_WORK/director.batch"
    for ((i = 1; i <= nrs; i++)); do
        {
            echo "link set lo up"
            echo "link set rs$i-d up"
            echo "addr add ${DP_RIPS[i]}/$DP_PLEN dev rs$i-d $nd"
            if [ "$method" = nat ]; then
                echo "route add default via $DP_DBIP"
            else
                echo "link set rs$i-c up"
                echo "addr add ${front_rs[i]}/$DP_PLEN dev rs$i-c $nd"
                echo "addr add $DP_VIP/$vplen dev lo $nd"
            fi
            if [ "$method" = tun ]; then
                if [ "$fam" = 4 ]; then echo "link set tunl0 up"; else echo "link set ip6tnl0 up"; fi
            fi
        } >"$DP_WORK/rs$i.batch"
    done
    for ns in "${DP_NS[@]}"; do ip -n "$ns" -b "$DP_WORK/$ns.batch"; done

    # 4. A server on every real server, naming itself (unless DP_NO_SERVERS=1).
    [ "${DP_NO_SERVERS:-0}" = 1 ] && return 0
    # DR/TUN: SCTP bound to the VIP, or an IPv4 SCTP server would answer from its front
    # address (its route's source), which the client's association does not know: ABORT.
    local sctp_addr=()
    [ "$method" = nat ] || sctp_addr=(--sctp-addr "$DP_VIP")
    mkfifo "$DP_WORK/ready"
    for ((i = 1; i <= nrs; i++)); do
        ip netns exec "rs$i" "${DP_PY[@]}" "$TRAFFIC" serve --name "rs$i" --proto tcp,udp,sctp \
            --port 80,8080 --family "$fam" "${sctp_addr[@]}" --ready-file "$DP_WORK/ready" \
            >"$DP_WORK/rs$i.log" 2>&1 &
        DP_PIDS+=($!)
    done
    # They say READY on a FIFO (bash's read waits on it: no sleep processes).
    local fd line n=0
    exec {fd}<>"$DP_WORK/ready"
    while [ $n -lt "$nrs" ] && read -r -t 60 -u "$fd" line; do n=$((n + 1)); done
    exec {fd}<&-
    [ $n = "$nrs" ] || { cat "$DP_WORK"/rs*.log >&2; fail "dp_setup: the servers did not start"; }
    echo "topology ready in $(dp_since "$t0") s"
}

# dp_since EPOCHREALTIME — seconds since then, to a tenth.
dp_since() {
    local now=${EPOCHREALTIME/./} then=${1/./}
    local ms=$(((now - then) / 1000))
    printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

# dp_debug — what a failing scenario's log should show.
dp_debug() {
    echo "---- dp_debug (balancer $RVS_DP_TARGET)"
    ip netns exec director ipvsadm -L -n --stats --exact 2>&1 || true
    echo "---- /proc/net/ip_vs_conn (director)"
    ip netns exec director cat /proc/net/ip_vs_conn 2>&1 | head -40 || true
    local f
    for f in "$DP_WORK"/rs*.log; do
        [ -e "$f" ] || continue
        echo "---- $(basename "$f") (last lines)"
        tail -5 "$f"
    done
    echo "---- ip -s link (director)"
    ip -n director -s -brief link 2>&1 || true
}

# dp_teardown [--keep-services] — stops the servers and deletes the namespaces.
dp_teardown() {
    local p keep=0
    [ "${1:-}" != --keep-services ] || keep=1
    for p in "${DP_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${DP_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    DP_PIDS=()
    # Namespaces go away asynchronously: flush the director's services first, so that they
    # release their scheduler modules now (unload_all comes next); --keep-services deletes the
    # namespaces with their services still configured.
    if [ $keep = 0 ] && [ -e /run/netns/director ]; then
        ip netns exec director ipvsadm -C >/dev/null 2>&1 || true
    fi
    if [ ${#DP_NS[@]} -gt 0 ]; then
        local b=${DP_WORK:-/tmp}/teardown.batch
        : >"$b"
        for p in "${DP_NS[@]}"; do
            [ -e "/run/netns/$p" ] && echo "netns del $p" >>"$b"
        done
        [ -s "$b" ] && ip -b "$b"
        rm -f "$b"
    fi
    DP_NS=()
    [ -z "$DP_WORK" ] || rm -rf "$DP_WORK"
    DP_WORK=
}

# The EXIT trap of a data-plane scenario: on failure shows dp_debug, then cleans up.
dp_exit() {
    local rc=$?
    set +e
    [ $rc = 0 ] || [ ${#DP_NS[@]} = 0 ] || dp_debug
    dp_teardown
    unload_all
    return $rc
}

# dp_seq_alternates "rs1 rs2 rs1 ..." — true if no server answers twice in a row and every
# server answered.
dp_seq_alternates() {
    local prev= n
    local -A seen=()
    for n in $1; do
        [ "$n" != - ] || return 1
        [ "$n" != "$prev" ] || return 1
        seen[$n]=1
        prev=$n
    done
    [ ${#seen[@]} = "$DP_NRS" ]
}
