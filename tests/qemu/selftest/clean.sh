# Harness self-test: a scenario that succeeds with a clean kernel log must PASS.
# timeout: 60
. tests/qemu/lib.sh
insmod "$RVS_ROOT/tests/qemu/faults/rvs_faults.ko" fault=none
rmmod rvs_faults
