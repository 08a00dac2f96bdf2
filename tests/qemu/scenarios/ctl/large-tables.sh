# An operator restores a large configuration (ipvsadm -R) and lists it: 1,500 services and a
# service with 1,200 real servers come back complete, through dumps that span many netlink
# messages, and /proc/net/ip_vs shows every entry. rvs and ip_vs, given the same restore file,
# save the same rules (compared sorted: ip_vs lists services in its hash order).
# timeout: 900
. tests/qemu/lib.sh
unload_all
work=$(mktemp -d)
trap 'unload_all; rm -rf "$work"' EXIT

{
    for i in $(seq 0 1499); do
        echo "-A -t 10.$((i / 250)).$((i % 250)).1:80 -s wrr"
    done
    echo "-A -u 10.99.0.1:53 -s rr"
    for i in $(seq 0 1199); do
        echo "-a -u 10.99.0.1:53 -r 172.16.$((i / 250)).$((i % 250 + 1)):53 -m -w $((i % 7 + 1))"
    done
} >"$work/rules"

# run TARGET: restore the rules and record what the tools show.
run() {
    local target=$1
    ipvsadm -R <"$work/rules" || fail "$target: ipvsadm -R failed"
    ipvsadm -S -n | sort >"$work/$target.save"
    ipvsadm -L -n -u 10.99.0.1:53 | grep '^  -> [0-9]' | sort >"$work/$target.dests"
    grep -c '^TCP\|^UDP' /proc/net/ip_vs >"$work/$target.proc-services"
    grep -c '^  -> [0-9A-F]' /proc/net/ip_vs >"$work/$target.proc-dests"
    ipvsadm -C
}

modprobe ip_vs
run ip_vs
unload_all
insmod "$RVS_KO"
run rvs

expect_eq "services saved by rvs" "$(grep -c '^-A' "$work/rvs.save")" 1501
expect_eq "real servers saved by rvs" "$(grep -c '^-a' "$work/rvs.save")" 1200
expect_eq "real servers listed for the 1,200-server service" "$(wc -l <"$work/rvs.dests")" 1200
expect_eq "services in /proc/net/ip_vs" "$(cat "$work/rvs.proc-services")" 1501
expect_eq "real servers in /proc/net/ip_vs" "$(cat "$work/rvs.proc-dests")" 1200
diff -u "$work/ip_vs.save" "$work/rvs.save" >"$work/save.diff" || {
    head -20 "$work/save.diff"
    fail "rvs and ip_vs save different rules"
}
ok "rvs and ip_vs save the same $(wc -l <"$work/rvs.save") rules"
diff -u "$work/ip_vs.dests" "$work/rvs.dests" >/dev/null || fail "real-server listings differ"
ok "the 1,200-server listing is the same as ip_vs's"
expect_eq "/proc/net/ip_vs counts equal ip_vs's" \
    "$(cat "$work/rvs.proc-services") $(cat "$work/rvs.proc-dests")" \
    "$(cat "$work/ip_vs.proc-services") $(cat "$work/ip_vs.proc-dests")"
