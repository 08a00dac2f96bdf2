# With ipvs_compat=0 rvs registers as RVS and sits beside ip_vs in one kernel (how the
# benchmarks compare them): each answers on its own family, and each unloads independently.
# timeout: 180
. tests/qemu/lib.sh
unload_all
trap unload_all EXIT

modprobe ip_vs
insmod "$RVS_KO" ipvs_compat=0
module_loaded ip_vs || fail "ip_vs not loaded"
module_loaded rvs || fail "rvs not loaded"
expect_eq "ipvs_compat parameter" "$(cat /sys/module/rvs/parameters/ipvs_compat)" "N"

answer=$(python3 "$GENL_INFO" RVS)
expect_eq "RVS family (rvs)" "$answer" "family=RVS version=1.2.1 conn_tab_size=4096"
answer=$(python3 "$GENL_INFO" IPVS)
expect_eq "IPVS family (ip_vs)" "$answer" "family=IPVS version=1.2.1 conn_tab_size=4096"

# Stock ipvsadm keeps driving ip_vs while rvs is loaded.
ipvsadm -A -t 10.0.0.1:80 -s rr
ipvsadm -L -n | grep -q "TCP  10.0.0.1:80 rr" || fail "ipvsadm does not see its service"
ok "ipvsadm drives ip_vs beside rvs"
ipvsadm -C

rmmod rvs
module_loaded ip_vs || fail "ip_vs went away with rvs"
answer=$(python3 "$GENL_INFO" IPVS)
expect_eq "IPVS family after rmmod rvs" "$answer" "family=IPVS version=1.2.1 conn_tab_size=4096"
insmod "$RVS_KO" ipvs_compat=0
modprobe -r ip_vs_rr ip_vs
module_loaded ip_vs && fail "ip_vs still loaded"
answer=$(python3 "$GENL_INFO" RVS)
expect_eq "RVS family after modprobe -r ip_vs" "$answer" "family=RVS version=1.2.1 conn_tab_size=4096"
rmmod rvs
