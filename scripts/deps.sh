#!/usr/bin/env bash
# Installs everything rvs needs on a fresh Debian bookworm machine: compilers, the kernel source,
# QEMU and virtme-ng, bindgen, rust-src, and the userspace tools the VM tests drive.
# Idempotent and quick when everything is already present (a stamp records the last full run).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
stamp_dir=${RVS_CACHE:-/var/lib/rvs}
stamp="$stamp_dir/deps.stamp"
want=$(sha256sum "$here/deps.sh" | cut -c1-16)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && command -v bindgen >/dev/null && command -v vng >/dev/null; then
    exit 0
fi

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

debs=(
    # kernel build
    make clang lld llvm libclang-dev flex bison bc libelf-dev libssl-dev dwarves cpio rsync
    xz-utils zstd linux-source-6.12 python3-pip
    # VM (no udev: virtme-ng-init then skips a ~25 s coldplug under TCG; rvs's harness does not
    # need the script I/O ports udev would create)
    qemu-system-x86 busybox-static kmod
    # tools the scenarios use inside the VM
    iproute2 ipvsadm socat iperf3 nginx-light keepalived tcpdump iptables nftables conntrack
    procps psmisc
    # the FTP helper scenario's server (dp/ftp.sh)
    python3-pyftpdlib ethtool
    # benchmarks (make bench): JSON in the guest, the chart on the host
    jq python3-matplotlib
)
echo "deps: apt-get install ${#debs[@]} packages" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
# nginx and keepalived must not run on the host: the tests start their own inside namespaces.
for svc in nginx keepalived; do
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
    $SUDO pkill -x "$svc" >/dev/null 2>&1 || true
done

if ! command -v vng >/dev/null || ! vng --version 2>/dev/null | grep -q '1\.'; then
    echo "deps: pip install virtme-ng" >&2
    python3 -m pip install -q virtme-ng==1.42 || python3 -m pip install -q --break-system-packages virtme-ng==1.42
    hash -r
fi

rustup component add rust-src clippy rustfmt >/dev/null 2>&1

if ! bindgen --version 2>/dev/null | grep -q '0\.70\.1'; then
    echo "deps: cargo install bindgen-cli 0.70.1" >&2
    cargo install bindgen-cli --version 0.70.1 --locked -q
fi

mkdir -p "$stamp_dir"
echo "$want" >"$stamp"
