# Schedulers: for each of rr wrr lc wlc sed nq fo ovf lblc lblcr dh sh mh twos, a NAT TCP
# service (its own port, so no destination is ever recycled from another service's trash) over
# three real servers weighted 3, 2, 1 (added rs1, rs2, rs3 in that order), and 12 new connections
# one after the other, from the client's 8 addresses in turn (so sh and mh see several sources),
# each closed with FIN both ways before the next starts (the director has seen both FINs, so the
# lc family counts it as inactive, TIME_WAIT): the sequence of real servers that answered.
#
# The sequences are deterministic (twos aside) and are checked against the ones ip_vs gives (the
# table below); twos picks at random, so only its answers' membership is checked. The scenario
# runs ip_vs first, then — when ./rvs.ko exists and RVS_DP_COMPARE=1 (the default) — rvs in the
# same boot, and compares the two runs' sequences. With RVS_DP_COMPARE=0 it runs only
# RVS_DP_TARGET (see tests/qemu/dp-lib.sh) and checks it against the table.
# timeout: 900
. tests/qemu/lib.sh
. tests/qemu/dp-lib.sh
trap dp_exit EXIT

scheds=(rr wrr lc wlc sed nq fo ovf lblc lblcr dh sh mh twos)
count=12

# What ip_vs (6.12) answers here. ip_vs adds a destination at the head of the service's list, so
# the list (which rr, lc, nq, the lblc first pick walk) is rs3, rs2, rs1 — while ipvsadm -L lists
# them rs1, rs2, rs3. rr and lc go round that list. wrr: 6-periodic, 3:2:1. wlc: the inactive
# connections over weight, ties to the list's first: the same as wrr here. sed ((active+1)/
# weight) ignores inactive connections: always the heaviest, rs1, as do fo and ovf (active <
# weight). nq takes the first idle server in the list: always rs3. lblc/lblcr schedule on the
# destination address (the VIP: one, so the first pick, rs3, sticks), dh hashes it (rs1). sh and
# mh hash the source address: the client's 8 addresses in turn, so the sequences repeat after 8.
declare -A expected=(
    [rr]="rs3 rs2 rs1 rs3 rs2 rs1 rs3 rs2 rs1 rs3 rs2 rs1"
    [wrr]="rs3 rs2 rs1 rs1 rs2 rs1 rs3 rs2 rs1 rs1 rs2 rs1"
    [lc]="rs3 rs2 rs1 rs3 rs2 rs1 rs3 rs2 rs1 rs3 rs2 rs1"
    [wlc]="rs3 rs2 rs1 rs1 rs2 rs1 rs3 rs2 rs1 rs1 rs2 rs1"
    [sed]="rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1"
    [nq]="rs3 rs3 rs3 rs3 rs3 rs3 rs3 rs3 rs3 rs3 rs3 rs3"
    [fo]="rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1"
    [ovf]="rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1"
    [lblc]="rs3 rs3 rs3 rs3 rs3 rs3 rs3 rs3 rs3 rs3 rs3 rs3"
    [lblcr]="rs3 rs3 rs3 rs3 rs3 rs3 rs3 rs3 rs3 rs3 rs3 rs3"
    [dh]="rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1 rs1"
    [sh]="rs1 rs2 rs1 rs3 rs1 rs3 rs2 rs3 rs1 rs2 rs1 rs3"
    [mh]="rs3 rs1 rs1 rs2 rs1 rs3 rs1 rs2 rs3 rs1 rs1 rs2"
)

if [ "$RVS_DP_COMPARE" = 1 ] && [ -f "$RVS_KO" ]; then
    targets=(ip_vs rvs)
elif [ "$RVS_DP_COMPARE" = 1 ]; then
    echo "note: no $RVS_KO: running ip_vs only, no comparison"
    targets=(ip_vs)
else
    targets=("$RVS_DP_TARGET")
fi

dp_setup nat 4 3
binds=$(IFS=,; echo "${DP_CIPS[*]}")
weights=(0 3 2 1)
declare -A got=()

for target in "${targets[@]}"; do
    dp_load "$target"
    {
        j=0
        for s in "${scheds[@]}"; do
            svc=$DP_VIP:$((8100 + j))
            echo "-A -t $svc -s $s"
            for i in 1 2 3; do echo "-a -t $svc -r ${DP_RS[i]} -m -w ${weights[i]}"; done
            j=$((j + 1))
        done
    } | dpd ipvsadm -R
    # One client process for the 14 services, a line of names for each.
    ports=$(for ((j = 0; j < ${#scheds[@]}; j++)); do echo $((8100 + j)); done | paste -sd,)
    set +e
    dp_client --proto tcp --to "$DP_VIP" --port "$ports" --count $count --bind "$binds" \
        --names >"$DP_WORK/names" 2>"$DP_WORK/client.err"
    rc=$?
    set -e
    [ $rc = 0 ] || { cat "$DP_WORK/client.err"; dp_fail "$target: connections failed"; }
    mapfile -t seqs <"$DP_WORK/names"
    j=0
    for s in "${scheds[@]}"; do
        got[$target:$s]=${seqs[j]:-}
        printf '%-5s %-5s %s\n' "$target" "$s" "${seqs[j]:-}"
        j=$((j + 1))
    done
    echo "-- $target: ipvsadm -L -n"
    dpd ipvsadm -L -n
    dpd ipvsadm -C
done

for target in "${targets[@]}"; do
    for s in "${scheds[@]}"; do
        seq=${got[$target:$s]}
        if [ "$s" = twos ]; then
            bad=0
            for n in $seq; do
                case $n in rs1|rs2|rs3) ;; *) bad=1 ;; esac
            done
            if [ $bad = 0 ]; then ok "$target twos: every answer from a weighted server ($seq)"
            else dp_fail "$target twos: an answer not from rs1..rs3: $seq"; fi
        elif [ -n "${expected[$s]:-}" ]; then
            if [ "$seq" = "${expected[$s]}" ]; then ok "$target $s: the expected sequence"
            else dp_fail "$target $s: got '$seq', ip_vs's sequence is '${expected[$s]}'"; fi
        fi
    done
done

if [ ${#targets[@]} = 2 ]; then
    for s in "${scheds[@]}"; do
        [ "$s" != twos ] || continue
        a=${got[ip_vs:$s]} b=${got[rvs:$s]}
        if [ "$a" = "$b" ]; then ok "$s: rvs = ip_vs ($a)"
        else dp_fail "$s: rvs '$b' != ip_vs '$a'"; fi
    done
fi
dp_finish
