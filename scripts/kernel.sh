#!/usr/bin/env bash
# Builds (once) and locates rvs's kernel: Debian's linux-source-6.12 configured from virtme-ng's
# defconfig base plus scripts/kernel/{base,<variant>}.config, built with LLVM=1.
#
#   scripts/kernel.sh build [test|bench]   build if the cache has no such kernel; print its directory
#   scripts/kernel.sh kdir  [test|bench]   print the directory the kernel lives (or will live) in
#
# The tree lives outside the repository, in $RVS_CACHE (default /var/lib/rvs; not /var/cache,
# which virtme-ng hides behind a tmpfs in the guest, where the modules must be found), keyed by kernel
# version + configuration fragments + virtme-ng version + rustc, bindgen and clang versions, so a
# fresh clone reuses it and a second run is a no-op.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${RVS_CACHE:-/var/lib/rvs}
cmd=${1:-kdir}
variant=${2:-test}
tarball=/usr/src/linux-source-6.12.tar.xz

case "$variant" in test|bench) ;; *) echo "kernel.sh: unknown variant '$variant' (test or bench)" >&2; exit 2 ;; esac

kernel_version() {
    dpkg-query -W -f '${Version}' linux-source-6.12 2>/dev/null || echo unknown
}

key() {
    {
        kernel_version
        cat "$here/kernel/base.config" "$here/kernel/$variant.config"
        vng --version 2>/dev/null || echo no-vng
        rustc -vV
        bindgen --version 2>/dev/null || true
        clang --version | head -1
    } | sha256sum | cut -c1-12
}

kdir() {
    echo "$cache/kernel/linux-$(kernel_version | sed 's/[^A-Za-z0-9.]/_/g')-$variant-$(key)"
}

build() {
    local dir
    dir=$(kdir)
    if [ -f "$dir/.rvs-built" ]; then
        echo "$dir"
        return 0
    fi
    mkdir -p "$cache/kernel"
    exec 9>"$cache/kernel/.lock"
    flock 9
    if [ -f "$dir/.rvs-built" ]; then echo "$dir"; return 0; fi

    local t0=$SECONDS log="$cache/kernel/build-$variant.log"
    echo "kernel: building $variant kernel in $dir (log: $log)" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    tar -C "$dir" --strip-components=1 -xf "$tarball"
    (
        cd "$dir"
        # virtme-ng's defconfig base, then our fragments. virtme appends its own generic options
        # after --custom snippets (one of them turns DWARF debug info back on), so ours are
        # appended once more and win.
        virtme-configkernel --defconfig --custom "$here/kernel/base.config" \
            --custom "$here/kernel/$variant.config" LLVM=1
        cat "$here/kernel/base.config" "$here/kernel/$variant.config" >>.config
        make LLVM=1 olddefconfig
        # Every option the fragments ask for must have survived olddefconfig's dependency checks.
        local bad=0 line sym val got
        while IFS= read -r line; do
            case "$line" in CONFIG_*=*) ;; *) continue ;; esac
            sym=${line%%=*}; val=${line#*=}
            got=$(grep -E "^$sym=|^# $sym is not set" .config | tail -1 || true)
            if [ "$val" = n ]; then
                case "$got" in ''|"# $sym is not set") ;; *) echo "kernel: $sym wanted n, got: $got" >&2; bad=1 ;; esac
            elif [ "$got" != "$sym=$val" ]; then
                echo "kernel: $sym wanted $val, got: ${got:-absent}" >&2; bad=1
            fi
        done < <(cat "$here/kernel/base.config" "$here/kernel/$variant.config")
        [ $bad = 0 ] || { echo "kernel: configuration does not hold what the fragments ask (see above)" >&2; exit 1; }
        make LLVM=1 -j"$(( $(nproc) + 1 ))" bzImage modules
        # virtme-ng finds the modules of an in-tree build through .virtme_mods.
        virtme-prep-kdir-mods >/dev/null 2>&1 || true
    ) >"$log" 2>&1 || { echo "kernel: build failed, last lines of $log:" >&2; tail -30 "$log" >&2; exit 1; }
    touch "$dir/.rvs-built"
    echo "kernel: built in $(( (SECONDS - t0) / 60 )) min $(( (SECONDS - t0) % 60 )) s" >&2
    echo "$dir"
}

case "$cmd" in
    kdir) kdir ;;
    build) build ;;
    *) echo "usage: kernel.sh build|kdir [test|bench]" >&2; exit 2 ;;
esac
