# rvs: the Linux Virtual Server (IPVS) as a Rust kernel module.
#
#   make              build rvs.ko (at the repository root) and rvsadm; installs dependencies and
#                     builds (once, cached outside the repo) the kernel they need
#   make test         every test: lints, host (cargo), fuzz smoke, then the VM scenarios
#   make demo         the main job, in the VM
#   make vm CMD='..'  run CMD as root in the VM, from the repository root; returns CMD's status
#   make print-kdir   the kernel build directory
#   make bench        benchmarks (BENCH_ITER=5; docs/benchmarks.md)
#   make clean

SHELL := /bin/bash
KVARIANT ?= test
CARGO ?= cargo
# Kernel-side build logs stay quiet unless V=1.
V ?= 0

.PHONY: all deps kernel module rvsadm test test-host test-vm fuzz-smoke lint demo vm print-kdir bench clean FORCE

all: module rvsadm

deps:
	@scripts/deps.sh

kernel: deps
	@scripts/kernel.sh build $(KVARIANT) >/dev/null

# rvs.ko and the test fixture module, against our kernel (same rustc, LLVM=1, CONFIG_WERROR).
module: kernel
	@kdir=$$(scripts/kernel.sh kdir $(KVARIANT)) && \
	  $(MAKE) -C "$$kdir" M=$(CURDIR) LLVM=1 V=$(V) modules

rvs.ko: module

rvsadm: deps
	$(CARGO) build --release -q -p rvsadm

print-kdir:
	@scripts/kernel.sh kdir $(KVARIANT)

# CMD reaches the recipe through the environment, so any quoting in it survives.
export CMD
vm: all
	@[ -n "$$CMD" ] || { echo "usage: make vm CMD='...'" >&2; exit 2; }
	@tests/qemu/vm.sh -- bash -c "$$CMD"

demo: all
	@tests/qemu/vm.sh -- tests/qemu/demo.sh

test: all lint test-host fuzz-smoke test-vm

# The protocol-table tests read ip_vs's C source from our kernel tree. The lock-free parts of
# rvs-core are model-checked with loom in a build of their own (`--cfg loom`).
test-host: kernel
	RVS_KERNEL_SRC=$$(scripts/kernel.sh kdir $(KVARIANT)) $(CARGO) test --workspace -q
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom $(CARGO) test -p rvs-core --release --lib -q loom_tests
	python3 -m unittest discover -s tests/qemu -p 'test_*.py'

fuzz-smoke: deps
	@if [ -x scripts/fuzz-smoke.sh ]; then scripts/fuzz-smoke.sh 20; fi

test-vm: all
	tests/qemu/harness-selftest.sh
	tests/qemu/run.sh

# Clippy and rustfmt on the workspace, and the module rebuilt through clippy with the kernel's
# lint set (Kbuild notices the changed compiler command and rebuilds).
lint: all
	$(CARGO) clippy --workspace --all-targets -q -- -D warnings
	$(CARGO) fmt --all --check
	rustfmt --edition 2021 --check rust/rvs/rvs_main.rs
	@kdir=$$(scripts/kernel.sh kdir $(KVARIANT)) && \
	  $(MAKE) -C "$$kdir" M=$(CURDIR) LLVM=1 CLIPPY=1 modules

# Benchmarks (issue 7): the bench kernel (cached), rvs.ko for it, one VM boot running every
# workload against no balancer, ip_vs and rvs; regenerates docs/benchmarks.{md,png,csv}.
# BENCH_ITER=1 for a smoke; see bench/run.sh for the other settings.
bench: deps
	@bench/run.sh

clean:
	@kdir=$$(scripts/kernel.sh kdir $(KVARIANT)); \
	  if [ -d "$$kdir" ]; then $(MAKE) -C "$$kdir" M=$(CURDIR) LLVM=1 clean; fi
	$(CARGO) clean
	rm -rf tests/qemu/out
