//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624), as the kernel's
//! `include/net/checksum.h` and IPVS's `ip_vs_check_diff*` compute them.
//!
//! Values are kept in network order: a 16-bit checksum is the field read big-endian, and a
//! [`Wsum`] is a 32-bit one's-complement accumulator of big-endian 16-bit words. The kernel sums
//! in the CPU's byte order instead, but the one's-complement sum is byte-order independent
//! (RFC 1071 §2(B)), and so is the distinction between 0x0000 and 0xffff (a sum folds to 0 only
//! when every word is 0), so the folded 16-bit results here are byte-for-byte those of the kernel.

/// A 32-bit partial checksum (`__wsum`), in network-order word values.
pub type Wsum = u32;

/// `CSUM_MANGLED_0`: the checksum UDP transmits instead of a computed 0, since 0 means "none".
pub const CSUM_MANGLED_0: u16 = 0xffff;

/// `csum_add`: one's-complement addition of two partial sums (end-around carry).
pub const fn csum_add(csum: Wsum, addend: Wsum) -> Wsum {
    let (res, carry) = csum.overflowing_add(addend);
    res.wrapping_add(carry as u32)
}

/// `csum_sub`: adds the one's complement of `addend`.
pub const fn csum_sub(csum: Wsum, addend: Wsum) -> Wsum {
    csum_add(csum, !addend)
}

/// `csum_fold`: folds a partial sum to 16 bits and complements it, with the kernel's exact
/// formula (`(~sum - ror32(sum, 16)) >> 16`).
pub const fn csum_fold(csum: Wsum) -> u16 {
    ((!csum).wrapping_sub(csum.rotate_right(16)) >> 16) as u16
}

/// `csum_unfold`: widens a 16-bit checksum field to a partial sum.
pub const fn csum_unfold(sum: u16) -> Wsum {
    sum as u32
}

/// `csum_partial`: adds the bytes of `buf` (big-endian 16-bit words, an odd last byte as the
/// high half of a word) to `sum`.
pub fn csum_partial(buf: &[u8], sum: Wsum) -> Wsum {
    // A u64 accumulator cannot overflow for any slice a packet can be (2^48 words).
    let mut acc: u64 = 0;
    let mut words = buf.chunks_exact(2);
    for w in words.by_ref() {
        if let [hi, lo] = *w {
            acc = acc.wrapping_add(u64::from(u16::from_be_bytes([hi, lo])));
        }
    }
    if let [last] = *words.remainder() {
        acc = acc.wrapping_add(u64::from(last) << 8);
    }
    // Fold 64 → 32 bits with end-around carries.
    let folded = csum_add((acc >> 32) as u32, acc as u32);
    csum_add(folded, sum)
}

/// `ip_compute_csum`: the complemented checksum of a whole buffer.
pub fn ip_compute_csum(buf: &[u8]) -> u16 {
    csum_fold(csum_partial(buf, 0))
}

/// `csum_tcpudp_nofold`: adds the IPv4 pseudo-header (addresses, protocol, L4 length) to `sum`.
pub fn csum_tcpudp_nofold(saddr: [u8; 4], daddr: [u8; 4], len: u32, proto: u8, sum: Wsum) -> Wsum {
    let mut s = csum_add(sum, u32::from_be_bytes(saddr));
    s = csum_add(s, u32::from_be_bytes(daddr));
    s = csum_add(s, len);
    csum_add(s, u32::from(proto))
}

/// `csum_tcpudp_magic`: the finished TCP/UDP checksum for IPv4, `sum` being the L4 bytes' sum.
pub fn csum_tcpudp_magic(saddr: [u8; 4], daddr: [u8; 4], len: u32, proto: u8, sum: Wsum) -> u16 {
    csum_fold(csum_tcpudp_nofold(saddr, daddr, len, proto, sum))
}

/// `csum_ipv6_magic`: the finished checksum with the IPv6 pseudo-header (RFC 8200 §8.1).
pub fn csum_ipv6_magic(saddr: &[u8; 16], daddr: &[u8; 16], len: u32, proto: u8, sum: Wsum) -> u16 {
    let mut s = csum_partial(saddr, sum);
    s = csum_partial(daddr, s);
    s = csum_add(s, len);
    s = csum_add(s, u32::from(proto));
    csum_fold(s)
}

/// `ip_vs_check_diff4`: adds the change of a 32-bit field from `old` to `new` to `oldsum`.
pub fn check_diff4(old: [u8; 4], new: [u8; 4], oldsum: Wsum) -> Wsum {
    let o = !u32::from_be_bytes(old);
    csum_add(csum_add(oldsum, o), u32::from_be_bytes(new))
}

/// `ip_vs_check_diff16`: adds the change of an IPv6 address to `oldsum`.
pub fn check_diff16(old: &[u8; 16], new: &[u8; 16], oldsum: Wsum) -> Wsum {
    let mut s = oldsum;
    for (o, n) in old.chunks_exact(4).zip(new.chunks_exact(4)) {
        if let (Ok(o), Ok(n)) = (<[u8; 4]>::try_from(o), <[u8; 4]>::try_from(n)) {
            s = check_diff4(o, n, s);
        }
    }
    s
}

/// `ip_vs_check_diff2`: adds the change of a 16-bit field to `oldsum`.
pub fn check_diff2(old: u16, new: u16, oldsum: Wsum) -> Wsum {
    csum_add(csum_add(oldsum, u32::from(!old)), u32::from(new))
}

/// `csum_replace4`: the checksum `sum` after a 32-bit field covered by it changed.
pub fn csum_replace4(sum: u16, from: [u8; 4], to: [u8; 4]) -> u16 {
    let tmp = csum_sub(!csum_unfold(sum), u32::from_be_bytes(from));
    csum_fold(csum_add(tmp, u32::from_be_bytes(to)))
}

/// `csum_replace2`: the checksum `sum` after a 16-bit field covered by it changed
/// (RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')`).
pub const fn csum_replace2(sum: u16, old: u16, new: u16) -> u16 {
    !csum16_add(csum16_add(!sum, !old), new)
}

/// `csum16_add`: 16-bit one's-complement addition.
const fn csum16_add(csum: u16, addend: u16) -> u16 {
    let (res, carry) = csum.overflowing_add(addend);
    res.wrapping_add(carry as u16)
}

/// `inet_proto_csum_replace16` for a packet whose checksum field holds a full checksum (not
/// `CHECKSUM_PARTIAL`): the checksum after an IPv6 address in the pseudo-header changed.
pub fn inet_proto_csum_replace16(sum: u16, from: &[u8; 16], to: &[u8; 16]) -> u16 {
    csum_fold(check_diff16(from, to, !csum_unfold(sum)))
}

/// `inet_proto_csum_replace4` for a packet whose checksum field holds a full checksum.
pub fn inet_proto_csum_replace4(sum: u16, from: [u8; 4], to: [u8; 4]) -> u16 {
    csum_replace4(sum, from, to)
}

/// `ip_fast_csum`: the checksum of an IPv4 header (the checksum field included as it is).
pub fn ip_fast_csum(header: &[u8]) -> u16 {
    ip_compute_csum(header)
}

/// Whether a complete checksum over `buf` (checksum field included), plus `sum`, verifies.
pub fn csum_verifies(buf: &[u8], sum: Wsum) -> bool {
    csum_fold(csum_partial(buf, sum)) == 0
}

/// The full TCP/UDP/ICMPv6 checksum of `segment` (the whole transport header and payload) with
/// the pseudo-header of `saddr`/`daddr`/`proto`, the checksum field at `check_off` taken as zero
/// (`csum_tcpudp_magic`/`csum_ipv6_magic` over `skb_checksum`). The caller substitutes
/// [`CSUM_MANGLED_0`] for a UDP result of 0. `None` if the addresses' families differ or the
/// segment is longer than 4 GiB.
pub fn transport_checksum(
    saddr: &super::Addr,
    daddr: &super::Addr,
    proto: u8,
    segment: &[u8],
    check_off: usize,
) -> Option<u16> {
    let len = u32::try_from(segment.len()).ok()?;
    let head = segment.get(..check_off).unwrap_or(segment);
    let tail = check_off
        .checked_add(2)
        .and_then(|t| segment.get(t..))
        .unwrap_or(&[]);
    let sum = csum_partial(tail, csum_partial(head, 0));
    match (saddr, daddr) {
        (super::Addr::V4(s), super::Addr::V4(d)) => {
            Some(csum_tcpudp_magic(*s, *d, len, proto, sum))
        }
        (super::Addr::V6(s), super::Addr::V6(d)) => Some(csum_ipv6_magic(s, d, len, proto, sum)),
        _ => None,
    }
}

/// Whether the checksum in `segment` verifies with the given pseudo-header
/// (`ip_vs_checksum_common_check`: the fold of everything, field included, is 0).
pub fn transport_checksum_ok(
    saddr: &super::Addr,
    daddr: &super::Addr,
    proto: u8,
    segment: &[u8],
) -> bool {
    let Ok(len) = u32::try_from(segment.len()) else {
        return false;
    };
    let sum = csum_partial(segment, 0);
    match (saddr, daddr) {
        (super::Addr::V4(s), super::Addr::V4(d)) => csum_tcpudp_magic(*s, *d, len, proto, sum) == 0,
        (super::Addr::V6(s), super::Addr::V6(d)) => csum_ipv6_magic(s, d, len, proto, sum) == 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (before complement).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(csum_fold(csum_partial(&data, 0)), !0xddf2);
    }

    #[test]
    fn fold_matches_straightforward_folding() {
        for x in [
            0u32,
            1,
            0xffff,
            0x1_0000,
            0xffff_ffff,
            0x0001_ffff,
            0x8000_8000,
            0xdead_beef,
        ] {
            let mut s = u64::from(x);
            while s > 0xffff {
                s = (s & 0xffff) + (s >> 16);
            }
            assert_eq!(csum_fold(x), !(s as u16), "{x:#x}");
        }
    }

    #[test]
    fn replace2_equals_replace_by_diff() {
        let sum = 0x1234;
        assert_eq!(
            csum_replace2(sum, 0x5678, 0x9abc),
            csum_fold(check_diff2(0x5678, 0x9abc, !csum_unfold(sum)))
        );
    }
}
