#!/bin/bash
# Prints the reference values src/hash.rs's tests hold, computed by C built from the kernel's
# own include/linux/{jhash,siphash}.h and lib/siphash.c (64-bit section):
#   KSRC=/path/to/linux-6.12.117 ./hash_ref.sh
set -e
: "${KSRC:?set KSRC to the kernel source tree}"
out=$(mktemp -d)
sed -n 229,383p "$KSRC/lib/siphash.c" > "$out/sip64.c"
cat > "$out/ref.c" <<EOF
#include <stdio.h>
#include <stdint.h>
#include <string.h>
typedef uint32_t u32; typedef uint64_t u64; typedef uint8_t u8;
static inline u32 rol32(u32 w, unsigned s) { return (w << (s & 31)) | (w >> ((-s) & 31)); }
static inline u64 rol64(u64 w, unsigned s) { return (w << (s & 63)) | (w >> ((-s) & 63)); }
static inline u32 __get_unaligned_cpu32(const void *p) { u32 v; memcpy(&v, p, 4); return v; }
#define fallthrough __attribute__((__fallthrough__))
$(sed -n '/#define __jhash_mix/,/#endif \/\* _LINUX_JHASH_H/p' "$KSRC/include/linux/jhash.h" | grep -v '#endif')
#define GOLDEN_RATIO_32 0x61C88647
static inline u32 hash_32(u32 val, unsigned int bits) { return (val * GOLDEN_RATIO_32) >> (32 - bits); }
$(sed -n '/#define SIPHASH_PERMUTATION/,/#define SIPHASH_CONST_3/p' "$KSRC/include/linux/siphash.h")
typedef struct { unsigned long key[2]; } hsiphash_key_t;
#define SIPROUND SIPHASH_PERMUTATION(v0, v1, v2, v3)
$(sed -n '/^#define PREAMBLE(len)/,/^	v0 ^= key->key\[0\];/p' "$KSRC/lib/siphash.c")
#define HSIPROUND SIPROUND
#define HPREAMBLE(len) PREAMBLE(len)
$(python3 - "$out/sip64.c" <<'PY'
import sys
s = open(sys.argv[1]).read()
post = s[s.index('#define HPOSTAMBLE'):s.index('#ifndef CONFIG_HAVE_EFFICIENT_UNALIGNED_ACCESS')]
one = s[s.index('u32 hsiphash_1u32'):]; one = one[:one.index('EXPORT_SYMBOL')]
two = s[s.index('u32 hsiphash_2u32'):]; two = two[:two.index('EXPORT_SYMBOL')]
print(post + one + two)
PY
)
int main(void) {
  u32 xs[] = {0, 1, 0xc0a80001u, 0x0a000002u, 0xffffffffu, 0x12345678u, 80u + 0x0a000001u};
  for (unsigned i = 0; i < sizeof xs / sizeof *xs; i++) {
    u32 x = xs[i];
    printf("hash32 %08x %u %u %u %u\n", x, hash_32(x, 8), hash_32(x, 10), hash_32(x, 1), hash_32(x, 32));
    printf("jhash_1word %08x %08x %08x\n", x, jhash_1word(x, 0), jhash_1word(x, 0x9e3779b9u));
    printf("jhash_2words %08x %08x\n", x, jhash_2words(x, ~x, 7));
    printf("jhash_3words %08x %08x\n", x, jhash_3words(x, x ^ 0x55aa, 3, 11));
  }
  const char *msg = "The quick brown fox jumps over the lazy dog";
  for (unsigned l = 0; l <= strlen(msg); l += 5)
    printf("jhash %u %08x %08x\n", l, jhash(msg, l, 0), jhash(msg, l, 0xdeadbeefu));
  u32 w[5] = {1, 2, 3, 0xfffffffeu, 0x80000000u};
  for (unsigned l = 0; l <= 5; l++) printf("jhash2 %u %08x\n", l, jhash2(w, l, 42));
  hsiphash_key_t k1 = {{2654435761UL, 2654435761UL}}, k2 = {{2654446892UL, 2654446892UL}};
  for (unsigned i = 0; i < sizeof xs / sizeof *xs; i++)
    printf("hsiphash %08x %08x %08x\n", xs[i], hsiphash_1u32(xs[i], &k1), hsiphash_1u32(xs[i], &k2));
  hsiphash_key_t k3 = {{0x0706050403020100UL, 0x0f0e0d0c0b0a0908UL}};
  printf("hsiphash2 %08x\n", hsiphash_2u32(0x03020100u, 0x07060504u, &k3));
  return 0;
}
EOF
gcc -O1 -w -o "$out/ref" "$out/ref.c"
"$out/ref"
