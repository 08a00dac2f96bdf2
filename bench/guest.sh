#!/usr/bin/env bash
# The benchmarks, inside the bench VM (started by bench/run.sh; runs as root from the repository
# root). Loads ip_vs and rvs (ipvs_compat=0: family RVS, beside ip_vs) and runs every workload
# against each target in turn — none (the director only routes: the client addresses the real
# server itself), ip_vs (stock ipvsadm), rvs (rvsadm --family RVS) — rotating the order every
# iteration, and appends one JSON line per measurement to OUT/results.jsonl.
#
#   bench/guest.sh OUT        (settings: OUT/bench.env, written by bench/run.sh)
#
# Topologies are tests/qemu/dp-lib.sh's (client, director, one real server rs1), built once per
# workload and forwarding method; a target's services are flushed after each of its runs.
set -euo pipefail
OUT=$1
. "$OUT/bench.env"
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
RVS_KO=$BENCH_KO
LG=$BENCH_LOADGEN
RESULTS=$OUT/results.jsonl
mkdir -p "$OUT/mem"
FAILED_MEASUREMENTS=0

log() { echo "[$(date +%T)] $*"; }

# emit WORKLOAD CASE TARGET ITER METRIC VALUE [EXTRA-JSON-FIELDS]
emit() {
    if ! [[ $6 =~ ^[0-9]+(\.[0-9]+)?$ ]] || [[ $6 =~ ^0+(\.0+)?$ ]]; then
        log "  $1 $2 $3 #$4: $5: NO FIGURE (got '$6'); skipped"
        FAILED_MEASUREMENTS=$((FAILED_MEASUREMENTS + 1))
        return 0
    fi
    printf '{"workload":"%s","case":"%s","target":"%s","iter":%s,"metric":"%s","value":%s%s}\n' \
        "$1" "$2" "$3" "$4" "$5" "$6" "${7:+,$7}" >>"$RESULTS"
    log "  $1 $2 $3 #$4: $5 = $6"
}

# A field of a JSON line: json_field LINE NAME.
json_field() { jq -r ".$2" <<<"$1"; }

# The targets in iteration I's order: the three rotate so that none always runs first.
targets_of() {
    local all=("$@") i=$((ITER % $#)) k out=()
    for ((k = 0; k < $#; k++)); do out+=("${all[(i + k) % $#]}"); done
    echo "${out[@]}"
}

# adm TARGET ARGS... — the admin tool of ip_vs or rvs, in the director.
adm() {
    local t=$1
    shift
    case "$t" in
        ip_vs) dpd ipvsadm "$@" ;;
        rvs) dpd "$BENCH_RVSADM" --family RVS "$@" ;;
        *) fail "adm: no admin tool for target $t" ;;
    esac
}

# svc_up TARGET METHOD PROTO VPORT RPORT [SCHED] — one service with rs1 behind it.
svc_up() {
    local t=$1 method=$2 proto=$3 vport=$4 rport=$5 sched=${6:-rr} flag
    case "$method" in nat) flag=-m ;; dr) flag=-g ;; tun) flag=-i ;; esac
    local opt
    opt=$(dp_svc_opt "$proto")
    adm "$t" -A "$opt" "$DP_VIP:$vport" -s "$sched"
    adm "$t" -a "$opt" "$DP_VIP:$vport" -r "${DP_RIPS[1]}:$rport" "$flag"
}
svc_down() {
    [ "$1" = none ] || adm "$1" -C
}

# Both balancers loaded, as the whole run has them (the scale workload reloads one at a time to
# start each fill from an empty table).
load_both() {
    module_loaded ip_vs || modprobe ip_vs
    module_loaded rvs || insmod "$RVS_KO" ipvs_compat=0
}
reload() {
    case "$1" in
        ip_vs)
            adm ip_vs -C
            # A deleted service drops its scheduler module after an RCU grace period.
            local k
            for ((k = 0; k < 40; k++)); do
                # shellcheck disable=SC2046
                modprobe -r $(grep -o '^ip_vs_[a-z_]*' /proc/modules || true) ip_vs 2>/dev/null && break
                sleep 0.5
            done
            module_loaded ip_vs && fail "reload: ip_vs does not unload"
            modprobe ip_vs
            ;;
        rvs)
            adm rvs -C
            rmmod rvs
            insmod "$RVS_KO" ipvs_compat=0
            ;;
    esac
}

# start_server NS ARGS... — an rvs-loadgen server in NS, waited for (it says READY on a FIFO).
start_server() {
    local ns=$1 fifo fd line
    shift
    fifo=$DP_WORK/ready.$RANDOM
    mkfifo "$fifo"
    ip netns exec "$ns" "$LG" "$@" --ready-file "$fifo" >"$DP_WORK/server.$ns.$RANDOM.log" 2>&1 &
    DP_PIDS+=($!)
    exec {fd}<>"$fifo"
    read -r -t 120 -u "$fd" line || fail "server $* in $ns did not start"
    exec {fd}<&-
}

rx_packets() { ip netns exec rs1 cat /sys/class/net/rs1-d/statistics/rx_packets; }

# The kernel memory that can hold connections: slab plus vmalloc (kvmalloc'd hash tables), in kB.
kmem_kb() {
    awk '/^(Slab|VmallocUsed|Percpu):/ { s += $2 } END { print s }' /proc/meminfo
}

# Live connections of a target's services (ActiveConn + InActConn of every destination).
live_conns() {
    adm "$1" -L -n | awk '$1 == "->" && $2 ~ /:/ { s += $5 + $6 } END { print s + 0 }'
}

# topo METHOD — the workload's topology: one real server; the client also routes the real
# servers' subnet via the director (the "none" target); wide port range, big accept queues.
topo() {
    DP_NO_SERVERS=1 dp_setup "$1" 4 1 >/dev/null
    in_ns client ip route add 172.16.0.0/24 via "$DP_DIP"
    in_ns client sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
    in_ns rs1 sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096
    dpd sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.dir-c.rp_filter=0
}

# dst TARGET VPORT RPORT — where the client sends: the VIP, or the real server itself.
dst_of() {
    if [ "$1" = none ]; then echo "${DP_RIPS[1]} $3"; else echo "$DP_VIP $2"; fi
}

# 1. New-connection rate: tcp-crr through NAT and DR.
w_crr() {
    local method t
    for method in $BENCH_CRR_MODES; do
        log "crr $method: topology"
        topo "$method"
        start_server rs1 tcp-serve --port 80,8080 --threads 1
        for ((ITER = 1; ITER <= BENCH_ITER; ITER++)); do
            for t in $(targets_of none ip_vs rvs); do
                [ "$t" = none ] || svc_up "$t" "$method" tcp 80 "$DP_RPORT"
                local d r
                read -r -a d <<<"$(dst_of "$t" 80 "$DP_RPORT")"
                r=$(in_ns client "$LG" tcp-crr --to "${d[0]}" --port "${d[1]}" \
                    --bind "$(IFS=,; echo "${DP_CIPS[*]}")" --concurrency "$BENCH_CRR_CONC" \
                    --duration "$BENCH_CRR_SECS" --warmup 1) || r='{}'
                svc_down "$t"
                emit crr "$method" "$t" "$ITER" conn_per_s "$(json_field "$r" rate)" \
                    "\"errors\":$(json_field "$r" errors),\"p50_us\":$(json_field "$r" p50_us),\"p99_us\":$(json_field "$r" p99_us)"
            done
        done
        dp_teardown
    done
}

# 2. Throughput: iperf3 through NAT, DR and TUN.
w_tput() {
    local method t
    for method in $BENCH_TPUT_MODES; do
        log "tput $method: topology"
        topo "$method"
        in_ns rs1 iperf3 -s -p 5201 >"$DP_WORK/iperf3-server.log" 2>&1 &
        DP_PIDS+=($!)
        sleep 2
        for ((ITER = 1; ITER <= BENCH_ITER; ITER++)); do
            for t in $(targets_of none ip_vs rvs); do
                [ "$t" = none ] || svc_up "$t" "$method" tcp 5201 5201
                local d r bps
                read -r -a d <<<"$(dst_of "$t" 5201 5201)"
                r=$(in_ns client iperf3 -c "${d[0]}" -p "${d[1]}" -t "$BENCH_TPUT_SECS" -O 1 -J) || true
                svc_down "$t"
                bps=$(jq -r '.end.sum_received.bits_per_second // 0' <<<"$r")
                emit tput "$method" "$t" "$ITER" gbit_per_s "$(awk -v b="$bps" 'BEGIN { printf "%.4f", b / 1e9 }')"
            done
        done
        dp_teardown
    done
}

# 3. Packet rate: 18-byte UDP datagrams from 16 flows, counted as they reach the real server.
w_pps() {
    local method t
    for method in $BENCH_PPS_MODES; do
        log "pps $method: topology"
        topo "$method"
        start_server rs1 udp-sink --port 9000
        for ((ITER = 1; ITER <= BENCH_ITER; ITER++)); do
            for t in $(targets_of none ip_vs rvs); do
                [ "$t" = none ] || svc_up "$t" "$method" udp 9000 9000
                local d r rx0 rx1
                read -r -a d <<<"$(dst_of "$t" 9000 9000)"
                rx0=$(rx_packets)
                r=$(in_ns client "$LG" udp-flood --to "${d[0]}" --port "${d[1]}" --flows 16 \
                    --duration "$BENCH_PPS_SECS") || r='{}'
                rx1=$(rx_packets)
                svc_down "$t"
                emit pps "$method" "$t" "$ITER" kpps \
                    "$(awk -v n=$((rx1 - rx0)) -v s="$(json_field "$r" seconds)" 'BEGIN { printf "%.3f", n / s / 1000 }')" \
                    "\"sent_kpps\":$(awk -v r="$(json_field "$r" rate)" 'BEGIN { printf "%.3f", r / 1000 }')"
            done
        done
        dp_teardown
    done
}

# 4 and 6. Connection-table scale and memory per connection: fill an empty table (module just
# reloaded) with N UDP entries from distinct source tuples (raw socket, UDP timeout 3600 s),
# measure the kernel-memory delta, then the packet rate over min(N, 65536) of those entries.
w_scale() {
    local n t
    log "scale: topology"
    topo nat
    start_server rs1 udp-sink --port 9000
    for ((ITER = 1; ITER <= BENCH_SCALE_ITER; ITER++)); do
        # The reference: the same replay straight to the real server (no table at all).
        local r rx0 rx1
        rx0=$(rx_packets)
        r=$(in_ns client "$LG" udp-raw --to "${DP_RIPS[1]}" --port 9000 --src 10.64.0.0 \
            --count 65536 --replay --duration "$BENCH_SCALE_SECS") || r='{}'
        rx1=$(rx_packets)
        local none_kpps
        none_kpps=$(awk -v n=$((rx1 - rx0)) -v s="$(json_field "$r" seconds)" 'BEGIN { printf "%.3f", n / s / 1000 }')
        for n in $BENCH_SCALE_SIZES; do
            # Sizes listed in BENCH_SCALE_ONCE (none by default) run in the first iteration only.
            if [ "$ITER" != 1 ] && [[ " $BENCH_SCALE_ONCE " == *" $n "* ]]; then continue; fi
            emit scale "$n" none "$ITER" kpps "$none_kpps"
            for t in $(targets_of ip_vs rvs); do
                reload "$t"
                adm "$t" --set 900 120 3600
                svc_up "$t" nat udp 9000 9000
                sleep 2
                local m0 m1 live fill
                m0=$(kmem_kb)
                [ "$ITER" != 1 ] || cp /proc/slabinfo "$OUT/mem/$t-$n.before"
                fill=$(in_ns client "$LG" udp-raw --to "$DP_VIP" --port 9000 --src 10.64.0.0 \
                    --count "$n" --fill --threads 2) || fill='{}'
                sleep 2
                m1=$(kmem_kb)
                [ "$ITER" != 1 ] || cp /proc/slabinfo "$OUT/mem/$t-$n.after"
                live=$(live_conns "$t")
                rx0=$(rx_packets)
                r=$(in_ns client "$LG" udp-raw --to "$DP_VIP" --port 9000 --src 10.64.0.0 \
                    --count "$n" --replay --sample 65536 --duration "$BENCH_SCALE_SECS") || r='{}'
                rx1=$(rx_packets)
                emit scale "$n" "$t" "$ITER" kpps \
                    "$(awk -v n=$((rx1 - rx0)) -v s="$(json_field "$r" seconds)" 'BEGIN { printf "%.3f", n / s / 1000 }')" \
                    "\"entries\":$live"
                emit fill "$n" "$t" "$ITER" kconn_per_s \
                    "$(awk -v r="$(json_field "$fill" rate)" 'BEGIN { printf "%.3f", r / 1000 }')" "\"entries\":$live"
                if [ "$live" -gt 0 ]; then
                    emit mem "$n" "$t" "$ITER" bytes_per_conn \
                        "$(awk -v d=$((m1 - m0)) -v n="$live" 'BEGIN { printf "%.1f", d * 1024 / n }')" \
                        "\"entries\":$live,\"kmem_delta_kb\":$((m1 - m0))"
                fi
                svc_down "$t"
            done
        done
    done
    load_both
    dp_teardown
}

# 5. Large pools: wlc over N destinations (rs1's ports 10000..), new-connection rate (NAT).
w_pools() {
    local n t max=0
    for n in $BENCH_POOL_SIZES; do [ "$n" -le "$max" ] || max=$n; done
    log "pools: topology ($max ports on rs1)"
    topo nat
    start_server rs1 tcp-serve --port "10000-$((10000 + max - 1))" --threads 1
    for ((ITER = 1; ITER <= BENCH_ITER; ITER++)); do
        for n in $BENCH_POOL_SIZES; do
            for t in $(targets_of none ip_vs rvs); do
                local r
                if [ "$t" != none ]; then
                    {
                        echo "-A -t $DP_VIP:80 -s wlc"
                        for ((i = 0; i < n; i++)); do echo "-a -t $DP_VIP:80 -r ${DP_RIPS[1]}:$((10000 + i)) -m -w 1"; done
                    } >"$DP_WORK/pool.rules"
                    adm "$t" -R <"$DP_WORK/pool.rules"
                    r=$(in_ns client "$LG" tcp-crr --to "$DP_VIP" --port 80 \
                        --bind "$(IFS=,; echo "${DP_CIPS[*]}")" --concurrency "$BENCH_CRR_CONC" \
                        --duration "$BENCH_POOL_SECS" --warmup 1) || r='{}'
                else
                    r=$(in_ns client "$LG" tcp-crr --to "${DP_RIPS[1]}" --port 10000 \
                        --bind "$(IFS=,; echo "${DP_CIPS[*]}")" --concurrency "$BENCH_CRR_CONC" \
                        --duration "$BENCH_POOL_SECS" --warmup 1) || r='{}'
                fi
                svc_down "$t"
                emit pools "$n" "$t" "$ITER" conn_per_s "$(json_field "$r" rate)" \
                    "\"errors\":$(json_field "$r" errors),\"p99_us\":$(json_field "$r" p99_us)"
            done
        done
    done
    dp_teardown
}

# Where the time goes: system-wide perf profiles (cpu-clock, the only event under TCG) of three
# loads, for ip_vs and for rvs — the DR UDP flood of workload 3 (pps-dr), the NAT new-connection
# load of workload 1 (crr-nat), and workload 4's replay over a table of BENCH_PROFILE_ENTRIES
# entries (scale-nat); top symbols to OUT/profile-CASE-TARGET.txt. The load starts first and
# runs past the sampling window (perf's first start reads kallsyms, which takes seconds under
# TCG), then is stopped.
w_profile() {
    local t c
    command -v perf >/dev/null || { log "profile: no perf"; return 0; }
    perf record -q -a -e cpu-clock -o "$DP_WORK/perf.warm" -- true >/dev/null 2>&1 || true
    # Symbols from /proc/kallsyms, modules' included: with a vmlinux, perf looks the modules'
    # symbols up in their files under /lib/modules, where an insmod'ed rvs.ko is not, and
    # prints bare addresses for it.
    local report=(perf report -q --ignore-vmlinux --kallsyms /proc/kallsyms --stdio)
    for c in ${BENCH_PROFILE_CASES:-pps-dr crr-nat scale-nat}; do
        log "profile $c: topology"
        topo "${c#*-}"
        case "$c" in
            pps-* | scale-*) start_server rs1 udp-sink --port 9000 ;;
            crr-*) start_server rs1 tcp-serve --port 80 --threads 1 ;;
        esac
        for t in ip_vs rvs; do
            local load
            case "$c" in
                pps-*)
                    svc_up "$t" "${c#*-}" udp 9000 9000
                    in_ns client "$LG" udp-flood --to "$DP_VIP" --port 9000 --flows 16 \
                        --duration 60 >/dev/null &
                    ;;
                crr-*)
                    svc_up "$t" "${c#*-}" tcp 80 80
                    in_ns client "$LG" tcp-crr --to "$DP_VIP" --port 80 \
                        --bind "$(IFS=,; echo "${DP_CIPS[*]}")" --concurrency "$BENCH_CRR_CONC" \
                        --duration 60 >/dev/null &
                    ;;
                scale-*)
                    reload "$t"
                    adm "$t" --set 900 120 3600
                    svc_up "$t" nat udp 9000 9000
                    in_ns client "$LG" udp-raw --to "$DP_VIP" --port 9000 --src 10.64.0.0 \
                        --count "$BENCH_PROFILE_ENTRIES" --fill --threads 2 >/dev/null
                    sleep 2
                    in_ns client "$LG" udp-raw --to "$DP_VIP" --port 9000 --src 10.64.0.0 \
                        --count "$BENCH_PROFILE_ENTRIES" --replay --sample 65536 --duration 60 >/dev/null &
                    ;;
            esac
            load=$!
            sleep 2
            # Packets that reach the real server while perf samples: the load's rate in the
            # window, so the two balancers' samples can be compared per packet.
            local rx0 rx1 t0 t1
            rx0=$(rx_packets)
            t0=$(date +%s.%N)
            perf record -q -a -e cpu-clock -F 1999 -o "$DP_WORK/perf.$c.$t" -- sleep 5 >/dev/null 2>&1 || true
            t1=$(date +%s.%N)
            rx1=$(rx_packets)
            awk -v n=$((rx1 - rx0)) -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", n / (b - a) / 1000 }' \
                >"$OUT/profile-$c-$t.kpps"
            # The load runs in a subshell (in_ns): stop the load generator itself.
            pkill -f "rvs-loadgen (udp-flood|tcp-crr|udp-raw) --to $DP_VIP" || true
            wait "$load" || true
            svc_down "$t"
            "${report[@]}" -i "$DP_WORK/perf.$c.$t" --sort sym --percent-limit 0.7 2>/dev/null |
                sed 's/[[:space:]]*$//' | head -45 >"$OUT/profile-$c-$t.txt" || true
            # The balancer's own share: samples in its module(s) (rvs; ip_vs and ip_vs_rr), by
            # perf's module maps (these need no symbols).
            perf report -q -i "$DP_WORK/perf.$c.$t" --stdio --sort dso 2>/dev/null |
                awk '$2 ~ /^\[(rvs|ip_vs[a-z_]*)\]$/ { gsub("%", "", $1); s += $1 } END { printf "%.2f\n", s }' \
                    >"$OUT/profile-$c-$t.module" || true
            # Where the module's own share goes: its top symbols (percent of all samples), the
            # symbols kallsyms lists for the module(s).
            awk '$4 ~ /^\[(rvs|ip_vs[a-z_]*)\]$/ { print $3 }' /proc/kallsyms >"$DP_WORK/modsyms"
            "${report[@]}" -i "$DP_WORK/perf.$c.$t" --sort sym 2>/dev/null |
                awk 'NR == FNR { m[$1] = 1; next } ($3 in m)' "$DP_WORK/modsyms" - |
                sed 's/[[:space:]]*$//' | head -"${BENCH_PROFILE_SYMS:-12}" >"$OUT/profile-$c-$t.module-syms" || true
            # Every symbol down to 0.05 %, to compare the two balancers outside their modules.
            "${report[@]}" -i "$DP_WORK/perf.$c.$t" --sort sym --percent-limit 0.05 2>/dev/null |
                sed 's/[[:space:]]*$//' >"$OUT/profile-$c-$t.all" || true
            log "profile $c $t: $(wc -l <"$OUT/profile-$c-$t.txt") symbols above 0.7 %, $(cat "$OUT/profile-$c-$t.module") % in the module, $(cat "$OUT/profile-$c-$t.kpps") kpps at the real server (OUT/profile-$c-$t.*)"
        done
        dp_teardown
    done
    load_both
}

trap dp_exit EXIT
unload_all
load_both
{
    echo "kernel: $(uname -r) $(cat /proc/version)"
    echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-))"
    echo "memory: $(awk '/MemTotal/ { print $2 " kB" }' /proc/meminfo)"
    echo "ip_vs: $(dmesg | grep -m1 'Connection hash table configured' | sed 's/.*IPVS: //')"
    echo "rvs: $(modinfo -F version "$RVS_KO" 2>/dev/null || true) $(sha256sum "$RVS_KO" | cut -c1-12)"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt"
t0=$SECONDS
for w in $BENCH_WORKLOADS; do
    log "== workload $w"
    "w_$w"
    log "== workload $w done ($((SECONDS - t0)) s so far)"
done
log "all workloads done in $((SECONDS - t0)) s; $FAILED_MEASUREMENTS measurement(s) without a figure"
[ "$FAILED_MEASUREMENTS" = 0 ]
