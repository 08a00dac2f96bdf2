#!/bin/sh
# Builds the oracle: the kernel's own net/netfilter/ipvs/ip_vs_<sched>.c, unchanged, compiled in
# user space against stub.h, driven by main.c. Then regenerates the vectors the Rust test replays:
#   KSRC=/path/to/linux-6.12.117 ./build.sh [seed] [scenarios-per-scheduler]
set -e
cd "$(dirname "$0")"
: "${KSRC:?set KSRC to the kernel source tree}"
out=$(mktemp -d)
mkdir -p "$out/inc/linux" "$out/inc/net"
cp stub.h "$out/inc/"
for h in bitops fs gcd hash ip jiffies kernel list module net random sctp siphash skbuff slab sysctl udp; do
	echo '#include "stub.h"' > "$out/inc/linux/$h.h"
done
for h in ip_vs net_namespace tcp; do echo '#include "stub.h"' > "$out/inc/net/$h.h"; done
for s in rr wrr lc wlc sed nq fo ovf dh sh mh twos lblc lblcr; do
	{
		echo '#include "stub.h"'
		echo "#include \"$KSRC/net/netfilter/ipvs/ip_vs_$s.c\""
		echo "struct ip_vs_scheduler *sched_$s(void) { return &ip_vs_${s}_scheduler; }"
		case $s in lblc|lblcr) echo "void tick_$s(struct ip_vs_service *svc) { struct ip_vs_${s}_table *t = svc->sched_data; t->periodic_timer.fn(&t->periodic_timer); }";; esac
	} > "$out/sched_$s.c"
done
# -fwrapv: the kernel builds with -fno-strict-overflow, so int arithmetic wraps.
gcc -O1 -w -fwrapv -I"$out/inc" -o "$out/oracle" main.c "$out"/sched_*.c
python3 gen.py "${1:-1}" "${2:-20}" | "$out/oracle" > ../sched_ipvs_vectors.txt
echo "wrote ../sched_ipvs_vectors.txt ($(wc -l < ../sched_ipvs_vectors.txt) lines)"
