//! The kernel's hash functions, bit-exact, so that hashing schedulers pick what ip_vs picks.
//!
//! `sh`, `dh`, `lblc` and `lblcr` hash with `hash_32` (include/linux/hash.h), `mh` with
//! `hsiphash` (lib/siphash.c) under fixed keys, and connection tables elsewhere use `jhash`
//! (include/linux/jhash.h). A director running rvs must send a given client to the same real
//! server as a director running ip_vs with the same configuration, so these are transcriptions of
//! the C, not look-alikes. `hsiphash` is the 64-bit-architecture variant: on 64-bit kernels
//! lib/siphash.c makes "HalfSipHash-1-3" actually SipHash-1-3 on 64-bit words, truncated to 32
//! bits, and that is what an x86_64 or arm64 ip_vs computes. The test vectors below come from the
//! kernel's own lib/siphash_kunit.c and from a small C program compiled from the kernel headers.

/// `GOLDEN_RATIO_32` from include/linux/hash.h.
pub const GOLDEN_RATIO_32: u32 = 0x61C8_8647;

/// `JHASH_INITVAL` from include/linux/jhash.h.
pub const JHASH_INITVAL: u32 = 0xdead_beef;

/// `hash_32(val, bits)`: the top `bits` bits of `val * GOLDEN_RATIO_32`.
///
/// `bits` must be 1..=32 as in the kernel; 0 yields 0 instead of the C's undefined shift.
#[inline]
pub fn hash_32(val: u32, bits: u32) -> u32 {
    val.wrapping_mul(GOLDEN_RATIO_32)
        .checked_shr(32u32.wrapping_sub(bits))
        .unwrap_or(0)
}

#[inline]
fn jhash_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

#[inline]
fn jhash_final(mut a: u32, mut b: u32, mut c: u32) -> u32 {
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(24));
    c
}

/// Reads up to four bytes as a little-endian word, zero-padded (the C reads host-endian words;
/// every architecture rvs targets is little-endian, and the tail bytes are added by shifts).
#[inline]
fn le_word(k: &[u8]) -> u32 {
    let mut w = [0u8; 4];
    for (d, s) in w.iter_mut().zip(k.iter()) {
        *d = *s;
    }
    u32::from_le_bytes(w)
}

/// `jhash(key, length, initval)` over a byte string.
pub fn jhash(key: &[u8], initval: u32) -> u32 {
    // The C takes a u32 length; keys longer than 4 GiB do not exist on the packet path.
    let length = key.len() as u32;
    let init = JHASH_INITVAL.wrapping_add(length).wrapping_add(initval);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut k = key;
    while k.len() > 12 {
        let (block, rest) = k.split_at(12);
        a = a.wrapping_add(le_word(block.get(0..4).unwrap_or(&[])));
        b = b.wrapping_add(le_word(block.get(4..8).unwrap_or(&[])));
        c = c.wrapping_add(le_word(block.get(8..12).unwrap_or(&[])));
        jhash_mix(&mut a, &mut b, &mut c);
        k = rest;
    }
    if k.is_empty() {
        return c;
    }
    // The switch's fallthrough adds the tail bytes at their little-endian positions.
    a = a.wrapping_add(le_word(k.get(0..).unwrap_or(&[])));
    b = b.wrapping_add(le_word(k.get(4..).unwrap_or(&[])));
    c = c.wrapping_add(le_word(k.get(8..).unwrap_or(&[])));
    jhash_final(a, b, c)
}

/// `jhash2(k, length, initval)` over an array of words.
pub fn jhash2(key: &[u32], initval: u32) -> u32 {
    let length = key.len() as u32;
    let init = JHASH_INITVAL
        .wrapping_add(length.wrapping_shl(2))
        .wrapping_add(initval);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut k = key;
    while k.len() > 3 {
        let (block, rest) = k.split_at(3);
        if let [x, y, z] = *block {
            a = a.wrapping_add(x);
            b = b.wrapping_add(y);
            c = c.wrapping_add(z);
        }
        jhash_mix(&mut a, &mut b, &mut c);
        k = rest;
    }
    match *k {
        [x, y, z] => jhash_final(a.wrapping_add(x), b.wrapping_add(y), c.wrapping_add(z)),
        [x, y] => jhash_final(a.wrapping_add(x), b.wrapping_add(y), c),
        [x] => jhash_final(a.wrapping_add(x), b, c),
        _ => c,
    }
}

#[inline]
fn jhash_nwords(a: u32, b: u32, c: u32, initval: u32) -> u32 {
    jhash_final(
        a.wrapping_add(initval),
        b.wrapping_add(initval),
        c.wrapping_add(initval),
    )
}

/// `jhash_3words(a, b, c, initval)`.
#[inline]
pub fn jhash_3words(a: u32, b: u32, c: u32, initval: u32) -> u32 {
    jhash_nwords(
        a,
        b,
        c,
        initval.wrapping_add(JHASH_INITVAL).wrapping_add(3 << 2),
    )
}

/// `jhash_2words(a, b, initval)`.
#[inline]
pub fn jhash_2words(a: u32, b: u32, initval: u32) -> u32 {
    jhash_nwords(
        a,
        b,
        0,
        initval.wrapping_add(JHASH_INITVAL).wrapping_add(2 << 2),
    )
}

/// `jhash_1word(a, initval)`.
#[inline]
pub fn jhash_1word(a: u32, initval: u32) -> u32 {
    jhash_nwords(
        a,
        0,
        0,
        initval.wrapping_add(JHASH_INITVAL).wrapping_add(1 << 2),
    )
}

/// `hsiphash_key_t` on a 64-bit kernel: two `unsigned long` words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HsiphashKey(pub [u64; 2]);

struct Sip {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
}

impl Sip {
    fn new(key: &HsiphashKey) -> Self {
        let [k0, k1] = key.0;
        Sip {
            v0: 0x736f_6d65_7073_6575 ^ k0,
            v1: 0x646f_7261_6e64_6f6d ^ k1,
            v2: 0x6c79_6765_6e65_7261 ^ k0,
            v3: 0x7465_6462_7974_6573 ^ k1,
        }
    }

    /// `SIPHASH_PERMUTATION`.
    #[inline]
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13);
        self.v1 ^= self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16);
        self.v3 ^= self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21);
        self.v3 ^= self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17);
        self.v1 ^= self.v2;
        self.v2 = self.v2.rotate_left(32);
    }

    /// One compression round per word (the "1" of SipHash-1-3).
    #[inline]
    fn compress(&mut self, m: u64) {
        self.v3 ^= m;
        self.round();
        self.v0 ^= m;
    }

    /// `HPOSTAMBLE` of the 64-bit build: one more compression, three finalisation rounds.
    #[inline]
    fn finish(mut self, b: u64) -> u32 {
        self.compress(b);
        self.v2 ^= 0xff;
        self.round();
        self.round();
        self.round();
        ((self.v0 ^ self.v1) ^ (self.v2 ^ self.v3)) as u32
    }
}

/// `hsiphash(data, len, key)` of a 64-bit kernel.
pub fn hsiphash(data: &[u8], key: &HsiphashKey) -> u32 {
    let mut s = Sip::new(key);
    let mut b = (data.len() as u64) << 56;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        s.compress(u64::from_le_bytes(w));
    }
    let mut w = [0u8; 8];
    for (d, s) in w.iter_mut().zip(chunks.remainder()) {
        *d = *s;
    }
    b |= u64::from_le_bytes(w);
    s.finish(b)
}

/// `hsiphash_1u32(first, key)` of a 64-bit kernel; equal to `hsiphash(&first, 4, key)` on a
/// little-endian machine, which is the call ip_vs_mh.c makes.
#[inline]
pub fn hsiphash_1u32(first: u32, key: &HsiphashKey) -> u32 {
    Sip::new(key).finish((4u64 << 56) | u64::from(first))
}

/// `hsiphash_2u32(first, second, key)` of a 64-bit kernel.
#[inline]
pub fn hsiphash_2u32(first: u32, second: u32, key: &HsiphashKey) -> u32 {
    let mut s = Sip::new(key);
    s.compress((u64::from(second) << 32) | u64::from(first));
    s.finish(8u64 << 56)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Printed by a C program built from include/linux/{hash,jhash,siphash}.h and lib/siphash.c
    // of 6.12.117 (64-bit section), see docs/rvs-core-schedulers.md.
    const WORDS: [u32; 7] = [
        0, 1, 0xc0a80001, 0x0a000002, 0xffffffff, 0x12345678, 0x0a000051,
    ];

    #[test]
    fn hash_32_matches_kernel() {
        let expect: [[u32; 4]; 7] = [
            [0, 0, 0, 0],
            [97, 391, 0, 1640531527],
            [192, 769, 1, 3227551303],
            [137, 550, 1, 2307984526],
            [158, 632, 1, 2654435769],
            [119, 478, 0, 2005322568],
            [182, 729, 1, 3060956279],
        ];
        for (x, e) in WORDS.iter().zip(expect.iter()) {
            let got = [
                hash_32(*x, 8),
                hash_32(*x, 10),
                hash_32(*x, 1),
                hash_32(*x, 32),
            ];
            assert_eq!(got, *e, "hash_32({x:#x})");
        }
    }

    #[test]
    fn jhash_words_match_kernel() {
        let expect: [[u32; 4]; 7] = [
            [0x049396b8, 0xd0e2ea78, 0xcf6b979e, 0xa515bb32],
            [0x72a82a9b, 0x65141dc3, 0x11451deb, 0x8ec14f26],
            [0x141c753e, 0xed0a2f92, 0x036d7579, 0x7ce71a2d],
            [0x6ec73995, 0x4989241a, 0xa2518cf5, 0xbed07ce0],
            [0x9b11c75b, 0x4c564a1b, 0x5a8266aa, 0xfc4c1a4d],
            [0xbc441425, 0xe80c3f78, 0x6097443a, 0x2fa3cdec],
            [0x93e0d65b, 0x983f70fa, 0xf279d444, 0xabe9319d],
        ];
        for (x, e) in WORDS.iter().zip(expect.iter()) {
            let got = [
                jhash_1word(*x, 0),
                jhash_1word(*x, 0x9e3779b9),
                jhash_2words(*x, !*x, 7),
                jhash_3words(*x, *x ^ 0x55aa, 3, 11),
            ];
            assert_eq!(got, *e, "jhash words of {x:#x}");
        }
    }

    #[test]
    fn jhash_bytes_match_kernel() {
        let msg = b"The quick brown fox jumps over the lazy dog";
        let expect: [(usize, u32, u32); 9] = [
            (0, 0xdeadbeef, 0xbd5b7dde),
            (5, 0x39c657de, 0x3eea142a),
            (10, 0xb55efe53, 0xcf0dc65c),
            (15, 0x1da4defc, 0x0d78a044),
            (20, 0x35821a2d, 0xfb3ed888),
            (25, 0x9d279883, 0x7bc67478),
            (30, 0x4b08e7e3, 0x385211ed),
            (35, 0x7cf7d367, 0x26ff2700),
            (40, 0x364074f3, 0x9a727bdb),
        ];
        for (len, e0, e1) in expect {
            assert_eq!(jhash(&msg[..len], 0), e0, "jhash len {len}");
            assert_eq!(jhash(&msg[..len], 0xdeadbeef), e1, "jhash len {len}");
        }
        let w = [1, 2, 3, 0xfffffffe, 0x80000000];
        let expect2 = [
            0xdeadbf19, 0xe4067751, 0x979d26e7, 0xc1611b72, 0x28bf8a10, 0x2f82709b,
        ];
        for (len, e) in expect2.iter().enumerate() {
            assert_eq!(jhash2(&w[..len], 42), *e, "jhash2 len {len}");
        }
    }

    #[test]
    fn hsiphash_matches_kernel_kunit_vectors() {
        // lib/siphash_kunit.c, BITS_PER_LONG == 64: hsiphash(in[0..i]) with in[j] = j.
        const V: [u32; 64] = [
            0x050fc4dc, 0x7d57ca93, 0x4dc7d44d, 0xe7ddf7fb, 0x88d38328, 0x49533b67, 0xc59f22a7,
            0x9bb11140, 0x8d299a8e, 0x6c063de4, 0x92ff097f, 0xf94dc352, 0x57b4d9a2, 0x1229ffa7,
            0xc0f95d34, 0x2a519956, 0x7d908b66, 0x63dbd80c, 0xb473e63e, 0x8d297d1c, 0xa6cce040,
            0x2b45f844, 0xa320872e, 0xdae6c123, 0x67349c8c, 0x705b0979, 0xca9913a5, 0x4ade3b35,
            0xef6cd00d, 0x4ab1e1f4, 0x43c5e663, 0x8c21d1bc, 0x16a7b60d, 0x7a8ff9bf, 0x1f2a753e,
            0xbf186b91, 0xada26206, 0xa3c33057, 0xae3a36a1, 0x7b108392, 0x99e41531, 0x3f1ad944,
            0xc8138825, 0xc28949a6, 0xfaf8876b, 0x9f042196, 0x68b1d623, 0x8b5114fd, 0xdf074c46,
            0x12cc86b3, 0x0a52098f, 0x9d292f9a, 0xa2f41f12, 0x43a71ed0, 0x73f0bce6, 0x70a7e980,
            0x243c6d75, 0xfdb71513, 0xa67d8a08, 0xb7e8f148, 0xf7a644ee, 0x0f1837f2, 0x4b6694e0,
            0xb7bbb3a8,
        ];
        let key = HsiphashKey([0x0706050403020100, 0x0f0e0d0c0b0a0908]);
        let input: std::vec::Vec<u8> = (0u8..64).collect();
        for (i, e) in V.iter().enumerate() {
            assert_eq!(hsiphash(&input[..i], &key), *e, "hsiphash len {i}");
        }
        assert_eq!(hsiphash_1u32(0x03020100, &key), V[4]);
        assert_eq!(hsiphash_2u32(0x03020100, 0x07060504, &key), V[8]);
    }

    #[test]
    fn hsiphash_with_ip_vs_mh_keys_matches_kernel() {
        let k1 = HsiphashKey([2654435761, 2654435761]);
        let k2 = HsiphashKey([2654446892, 2654446892]);
        let expect: [(u32, u32); 7] = [
            (0x1d5a77c2, 0xf882433f),
            (0x16ec66b2, 0x8210aad1),
            (0x8334668e, 0x1683a1ed),
            (0x41cfde13, 0xc537a6e5),
            (0x22c5d719, 0xf75a0f5d),
            (0x1d8b3a04, 0x1cad180e),
            (0x439c0cbe, 0x97b3dc47),
        ];
        for (x, (e1, e2)) in WORDS.iter().zip(expect) {
            assert_eq!(hsiphash_1u32(*x, &k1), e1, "hsiphash k1 {x:#x}");
            assert_eq!(hsiphash_1u32(*x, &k2), e2, "hsiphash k2 {x:#x}");
            assert_eq!(hsiphash(&x.to_le_bytes(), &k1), e1);
        }
    }
}
