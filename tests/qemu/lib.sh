# Shared by the VM scenarios (sourced; runs as root inside the VM, from the repository root).
# Each helper prints what it checks, so a scenario's log reads as its story.

set -euo pipefail
RVS_ROOT=${RVS_ROOT:-$(pwd)}
RVS_KO=$RVS_ROOT/rvs.ko
GENL_INFO=$RVS_ROOT/tests/qemu/genl_info.py

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

ok() {
    echo "ok: $*"
}

# expect_eq WHAT GOT WANT
expect_eq() {
    if [ "$2" != "$3" ]; then
        fail "$1: got '$2', want '$3'"
    fi
    ok "$1 = '$3'"
}

module_loaded() {
    grep -q "^$1 " /proc/modules
}

# Leaves the VM as a scenario found it: neither rvs nor ip_vs loaded.
unload_all() {
    if module_loaded rvs; then rmmod rvs; fi
    # Services hold their schedulers and persistence engines (a scenario that timed out may leave
    # some behind); those modules hold ip_vs, so they go first.
    if module_loaded ip_vs; then ipvsadm -C >/dev/null 2>&1 || true; fi
    local m
    for m in $(grep -o '^ip_vs_[a-z_]*' /proc/modules || true); do
        rmmod "$m" || true
    done
    if module_loaded ip_vs; then modprobe -r ip_vs || rmmod ip_vs || true; fi
}

# The build tree of the running kernel (the one whose UTS version /proc/version shows), for its
# selftests; scripts/kernel.sh's key needs host tools the guest may not see the same way.
running_kdir() {
    local d uts
    for d in /var/lib/rvs/kernel/*/; do
        uts=$(sed -n 's/^#define UTS_VERSION "\(.*\)"$/\1/p' "$d/include/generated/utsversion.h" 2>/dev/null)
        if [ -n "$uts" ] && grep -qF "$uts" /proc/version; then
            echo "${d%/}"
            return 0
        fi
    done
    return 1
}
