# Harness self-test: this scenario exits 0 but makes the kernel WARN, so the runner must report
# it FAILED (harness-selftest.sh checks that). Not part of the normal scenario groups.
# timeout: 60
. tests/qemu/lib.sh
insmod "$RVS_ROOT/tests/qemu/faults/rvs_faults.ko" fault=warn
rmmod rvs_faults
echo "scenario itself succeeded"
