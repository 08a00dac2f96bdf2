//! The IPv4 header: validation, options, fragments, address rewrite and header checksum.

use super::csum::{csum_fold, csum_partial, ip_fast_csum};
use super::{be16, bytes, put, put16, PacketError};

/// `IP_MF`.
const IP_MF: u16 = 0x2000;
/// `IP_DF`.
pub const IP_DF: u16 = 0x4000;
/// `IP_OFFSET`: the fragment offset bits (in 8-byte units).
const IP_OFFSET: u16 = 0x1fff;

/// A validated IPv4 header at the start of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Hdr {
    /// Header length in bytes (IHL × 4, 20..=60).
    pub ihl: usize,
    /// Total length of the packet.
    pub tot_len: usize,
    /// The raw flags + fragment offset field.
    pub frag_off: u16,
    /// Time to live.
    pub ttl: u8,
    /// Protocol.
    pub protocol: u8,
    /// Source address.
    pub saddr: [u8; 4],
    /// Destination address.
    pub daddr: [u8; 4],
}

impl Ipv4Hdr {
    /// Validates the header at the start of `pkt` as `ip_rcv_core` does: version 4, IHL ≥ 5,
    /// total length at least the header and at most the slice. (The header checksum is left to
    /// [`header_checksum_ok`]: the IP stack has verified it before IPVS runs.)
    pub fn parse(pkt: &[u8]) -> Result<Ipv4Hdr, PacketError> {
        let h: [u8; 20] = bytes(pkt, 0).ok_or(PacketError::Truncated)?;
        let [vihl, _, l0, l1, _, _, f0, f1, ttl, protocol, _, _, s0, s1, s2, s3, d0, d1, d2, d3] =
            h;
        if vihl >> 4 != 4 {
            return Err(PacketError::BadVersion);
        }
        let ihl = usize::from(vihl & 0x0f) * 4;
        if ihl < 20 {
            return Err(PacketError::BadHeaderLength);
        }
        let tot_len = usize::from(u16::from_be_bytes([l0, l1]));
        if tot_len < ihl {
            return Err(PacketError::BadHeaderLength);
        }
        if tot_len > pkt.len() {
            return Err(PacketError::BadLength);
        }
        Ok(Ipv4Hdr {
            ihl,
            tot_len,
            frag_off: u16::from_be_bytes([f0, f1]),
            ttl,
            protocol,
            saddr: [s0, s1, s2, s3],
            daddr: [d0, d1, d2, d3],
        })
    }

    /// `ip_is_fragment`: MF set or a non-zero offset.
    pub const fn is_fragment(&self) -> bool {
        self.frag_off & (IP_MF | IP_OFFSET) != 0
    }

    /// The fragment offset in bytes.
    pub const fn frag_offset(&self) -> u16 {
        (self.frag_off & IP_OFFSET) << 3
    }

    /// Whether MF is set.
    pub const fn more_fragments(&self) -> bool {
        self.frag_off & IP_MF != 0
    }

    /// Whether DF is set (PMTU discovery: `ensure_mtu_is_adequate` answers FRAG_NEEDED).
    pub const fn dont_fragment(&self) -> bool {
        self.frag_off & IP_DF != 0
    }
}

/// Whether the IPv4 header checksum of the header at `off` verifies (`ip_fast_csum(iph) == 0`).
pub fn header_checksum_ok(pkt: &[u8], off: usize) -> bool {
    header(pkt, off).is_some_and(|h| ip_fast_csum(h) == 0)
}

/// `ip_send_check`: recomputes the header checksum of the IPv4 header at `off`.
pub fn ip_send_check(pkt: &mut [u8], off: usize) -> Result<(), PacketError> {
    let h = header(pkt, off).ok_or(PacketError::BadHeaderLength)?;
    // The checksum is over the header with its checksum field (bytes 10..12) taken as zero.
    let sum = csum_partial(h.get(..10).unwrap_or(&[]), 0);
    let sum = csum_fold(csum_partial(h.get(12..).unwrap_or(&[]), sum));
    let csum_at = off.checked_add(10).ok_or(PacketError::Truncated)?;
    put16(pkt, csum_at, sum)
}

/// Sets the source address of the IPv4 header at `off` and recomputes its checksum, as
/// `ip_vs_nat_xmit`'s `ip_send_check` after the rewrite.
pub fn set_saddr(pkt: &mut [u8], off: usize, addr: [u8; 4]) -> Result<(), PacketError> {
    header(pkt, off).ok_or(PacketError::BadHeaderLength)?;
    put(
        pkt,
        off.checked_add(12).ok_or(PacketError::Truncated)?,
        &addr,
    )?;
    ip_send_check(pkt, off)
}

/// Sets the destination address of the IPv4 header at `off` and recomputes its checksum.
pub fn set_daddr(pkt: &mut [u8], off: usize, addr: [u8; 4]) -> Result<(), PacketError> {
    header(pkt, off).ok_or(PacketError::BadHeaderLength)?;
    put(
        pkt,
        off.checked_add(16).ok_or(PacketError::Truncated)?,
        &addr,
    )?;
    ip_send_check(pkt, off)
}

/// `ip_decrease_ttl`: decrements the TTL of the header at the start of `pkt` and updates the
/// checksum incrementally, returning the new TTL. Like the kernel's, the update is only right
/// for a TTL above 0: callers drop packets whose TTL is 1 or less first, as `ip_forward` does.
pub fn decrease_ttl(pkt: &mut [u8]) -> Result<u8, PacketError> {
    let ttl = *pkt.get(8).ok_or(PacketError::Truncated)?;
    let check = u32::from(be16(pkt, 10).ok_or(PacketError::Truncated)?);
    // The TTL is the high byte of its 16-bit word, so the checksum gains 0x0100.
    let check = check.wrapping_add(0x0100);
    let check = check.wrapping_add(u32::from(check >= 0xffff));
    put16(pkt, 10, check as u16)?;
    let ttl = ttl.wrapping_sub(1);
    put(pkt, 8, &[ttl])?;
    Ok(ttl)
}

/// The whole IPv4 header at `off` (IHL × 4 bytes), if IHL ≥ 5 and it is all in the slice.
fn header(pkt: &[u8], off: usize) -> Option<&[u8]> {
    let ihl = usize::from(pkt.get(off)? & 0x0f) * 4;
    if ihl < 20 {
        return None;
    }
    pkt.get(off..off.checked_add(ihl)?)
}

/// One IPv4 option (RFC 791 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Option<'a> {
    /// The option type octet (copied flag, class, number).
    pub kind: u8,
    /// The option data after the type and length octets (empty for NOP).
    pub data: &'a [u8],
}

/// Iterates over the options of an IPv4 header (the bytes between byte 20 and IHL × 4). Stops at
/// End of Option List; a malformed option (length < 2 or past the header) yields one
/// [`PacketError::BadHeaderLength`] and ends the iteration.
#[derive(Clone, Debug)]
pub struct Ipv4Options<'a> {
    rest: &'a [u8],
}

impl<'a> Ipv4Options<'a> {
    /// The options of the IPv4 header at the start of `pkt` (which [`Ipv4Hdr::parse`] accepted).
    pub fn new(pkt: &'a [u8]) -> Ipv4Options<'a> {
        let rest = header(pkt, 0).and_then(|h| h.get(20..)).unwrap_or(&[]);
        Ipv4Options { rest }
    }
}

impl<'a> Iterator for Ipv4Options<'a> {
    type Item = Result<Ipv4Option<'a>, PacketError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, after) = self.rest.split_first()?;
        match kind {
            // IPOPT_END: the rest is padding.
            0 => {
                self.rest = &[];
                None
            }
            // IPOPT_NOOP.
            1 => {
                self.rest = after;
                Some(Ok(Ipv4Option { kind, data: &[] }))
            }
            _ => {
                let len = after.first().map(|&l| usize::from(l));
                match len.and_then(|l| {
                    if l >= 2 {
                        self.rest.get(2..l).map(|d| (l, d))
                    } else {
                        None
                    }
                }) {
                    Some((l, data)) => {
                        self.rest = self.rest.get(l..).unwrap_or(&[]);
                        Some(Ok(Ipv4Option { kind, data }))
                    }
                    None => {
                        self.rest = &[];
                        Some(Err(PacketError::BadHeaderLength))
                    }
                }
            }
        }
    }
}
