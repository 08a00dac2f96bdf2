#!/usr/bin/env bash
# Runs every cargo-fuzz target under rust/rvs-core/fuzz for a short smoke, SECONDS each
# (default 30), and fails if any target crashes. Targets are found with `cargo fuzz list`, so a
# new target needs no change here. Usage: scripts/fuzz-smoke.sh [SECONDS]
#
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address); RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them. New inputs go to fuzz/corpus/<target> (not committed); the committed
# seeds in fuzz/seeds/<target>, if any, are read as a second corpus.
set -euo pipefail

secs="${1:-30}"
case "$secs" in
    '' | *[!0-9]*) echo "fuzz-smoke: SECONDS must be a whole number, got '$secs'" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
crate="$root/rust/rvs-core"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

cd "$crate"
mapfile -t targets < <(cargo fuzz list)
if [ "${#targets[@]}" -eq 0 ]; then
    echo "fuzz-smoke: no fuzz targets found under $crate/fuzz" >&2
    exit 1
fi

passed=0
failed=0
failures=()
for t in "${targets[@]}"; do
    corpus="fuzz/corpus/$t"
    mkdir -p "$corpus"
    dirs=("$corpus")
    if [ -d "fuzz/seeds/$t" ]; then
        dirs+=("fuzz/seeds/$t")
    fi
    echo "fuzz-smoke: $t for ${secs}s"
    if cargo fuzz run "$t" "${dirs[@]}" -- -max_total_time="$secs" -print_final_stats=1; then
        echo "fuzz-smoke: $t ok"
        passed=$((passed + 1))
    else
        echo "fuzz-smoke: $t FAILED (crash input under fuzz/artifacts/$t)"
        failed=$((failed + 1))
        failures+=("$t")
    fi
done

echo "fuzz-smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || { echo "fuzz-smoke: failing targets: ${failures[*]}" >&2; exit 1; }
