//! The IPv6 header and its extension-header chain (`net/ipv6/exthdrs_core.c`).
//!
//! [`find_hdr`] is `ipv6_find_hdr` as IPVS calls it (`target` -1: find the upper-layer header,
//! no flags in), including its treatment of fragments: a non-first fragment reports the protocol
//! after the fragment header and its offset, without moving the transport offset.
//! [`skip_exthdr`] is `ipv6_skip_exthdr`.

use super::{be16, put, PacketError, IP6_FH_F_FRAG};

/// `NEXTHDR_HOP`.
pub const NEXTHDR_HOP: u8 = 0;
/// `NEXTHDR_ROUTING`.
pub const NEXTHDR_ROUTING: u8 = 43;
/// `NEXTHDR_FRAGMENT`.
pub const NEXTHDR_FRAGMENT: u8 = 44;
/// `NEXTHDR_AUTH`.
pub const NEXTHDR_AUTH: u8 = 51;
/// `NEXTHDR_NONE`.
pub const NEXTHDR_NONE: u8 = 59;
/// `NEXTHDR_DEST`.
pub const NEXTHDR_DEST: u8 = 60;

/// `ipv6_ext_hdr`: whether `nexthdr` is an extension header (NONE counts as one).
pub const fn ipv6_ext_hdr(nexthdr: u8) -> bool {
    matches!(
        nexthdr,
        NEXTHDR_HOP
            | NEXTHDR_ROUTING
            | NEXTHDR_FRAGMENT
            | NEXTHDR_AUTH
            | NEXTHDR_NONE
            | NEXTHDR_DEST
    )
}

/// What [`find_hdr`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FoundHdr {
    /// The protocol of the header found (the return value of `ipv6_find_hdr`).
    pub nexthdr: u8,
    /// Its offset (`*offset`); for a non-first fragment, the offset passed in.
    pub offset: usize,
    /// The fragment offset in bytes (`*fragoff`), 0 unless a non-first fragment.
    pub fragoff: u16,
    /// [`IP6_FH_F_FRAG`] if a fragment header was crossed (`*flags`).
    pub flags: u8,
}

/// `ipv6_find_hdr(skb, &offset, target, &fragoff, &flags)` with `flags` starting at 0, for the
/// IPv6 header at `offset` of `pkt` (the slice is the whole packet, `skb->len` its length).
/// `target` is a protocol number, or -1 for the upper-layer header as IPVS asks.
///
/// As in the kernel, the version of a header at a non-zero offset (one embedded in an ICMPv6
/// error) is checked, the outer header's (offset 0) is not, and a chain that ends in NEXTHDR_NONE
/// reports protocol 59 when looking for the upper layer.
pub fn find_hdr(pkt: &[u8], offset: usize, target: i32) -> Result<FoundHdr, PacketError> {
    let first = *pkt.get(offset).ok_or(PacketError::BadExtHeader)?;
    if offset != 0 && first >> 4 != 6 {
        return Err(PacketError::BadExtHeader);
    }
    let mut nexthdr = *pkt
        .get(offset.checked_add(6).ok_or(PacketError::BadExtHeader)?)
        .ok_or(PacketError::BadExtHeader)?;
    // skb_header_pointer of the 40-byte header must succeed too.
    if pkt.len().saturating_sub(offset) < 40 {
        return Err(PacketError::BadExtHeader);
    }
    let mut start = offset.checked_add(40).ok_or(PacketError::BadExtHeader)?;
    let mut flags = 0u8;
    loop {
        let found = i32::from(nexthdr) == target;
        if !ipv6_ext_hdr(nexthdr) || nexthdr == NEXTHDR_NONE {
            if target < 0 || found {
                break;
            }
            return Err(PacketError::NoUpperLayer);
        }
        // struct ipv6_opt_hdr: nexthdr, hdrlen.
        let hp_next = *pkt.get(start).ok_or(PacketError::BadExtHeader)?;
        let hp_len = *pkt
            .get(start.checked_add(1).ok_or(PacketError::BadExtHeader)?)
            .ok_or(PacketError::BadExtHeader)?;
        if nexthdr == NEXTHDR_ROUTING {
            // struct ipv6_rt_hdr is 4 bytes; IPVS passes no IP6_FH_F_SKIP_RH, so only its
            // presence matters.
            pkt.get(start..start.checked_add(4).ok_or(PacketError::BadExtHeader)?)
                .ok_or(PacketError::BadExtHeader)?;
        }
        let hdrlen: usize = if nexthdr == NEXTHDR_FRAGMENT {
            flags |= IP6_FH_F_FRAG;
            let fp = be16(pkt, start.checked_add(2).ok_or(PacketError::BadExtHeader)?)
                .ok_or(PacketError::BadExtHeader)?;
            let frag_off = fp & !0x7;
            if frag_off != 0 {
                if target < 0 && (!ipv6_ext_hdr(hp_next) || hp_next == NEXTHDR_NONE) {
                    return Ok(FoundHdr {
                        nexthdr: hp_next,
                        offset,
                        fragoff: frag_off,
                        flags,
                    });
                }
                if !found {
                    return Err(PacketError::NoUpperLayer);
                }
                return Ok(FoundHdr {
                    nexthdr,
                    offset: start,
                    fragoff: frag_off,
                    flags,
                });
            }
            8
        } else if nexthdr == NEXTHDR_AUTH {
            // ipv6_authlen: (hdrlen + 2) << 2.
            (usize::from(hp_len) + 2) << 2
        } else {
            // ipv6_optlen: (hdrlen + 1) << 3.
            (usize::from(hp_len) + 1) << 3
        };
        if found {
            break;
        }
        if pkt.len().saturating_sub(start) < hdrlen {
            return Err(PacketError::BadExtHeader);
        }
        nexthdr = hp_next;
        start = start.checked_add(hdrlen).ok_or(PacketError::BadExtHeader)?;
    }
    Ok(FoundHdr {
        nexthdr,
        offset: start,
        fragoff: 0,
        flags,
    })
}

/// `ipv6_skip_exthdr`: skips extension headers starting at `start` with first header type
/// `nexthdr`. Returns the offset and protocol of the first non-extension header and the raw
/// fragment-offset field (`*frag_offp`, network value) if a fragment header was crossed;
/// `None` where the kernel returns -1 (NEXTHDR_NONE or a header past the packet). Like the
/// kernel, it stops at a non-first fragment's header and does not check that the last header's
/// length fits the packet.
pub fn skip_exthdr(pkt: &[u8], start: usize, nexthdr: u8) -> Option<(usize, u8, u16)> {
    let mut start = start;
    let mut nexthdr = nexthdr;
    let mut frag_off = 0u16;
    while ipv6_ext_hdr(nexthdr) {
        if nexthdr == NEXTHDR_NONE {
            return None;
        }
        let hp_next = *pkt.get(start)?;
        let hp_len = *pkt.get(start.checked_add(1)?)?;
        let hdrlen = if nexthdr == NEXTHDR_FRAGMENT {
            frag_off = be16(pkt, start.checked_add(2)?)?;
            if frag_off & !0x7 != 0 {
                break;
            }
            8
        } else if nexthdr == NEXTHDR_AUTH {
            (usize::from(hp_len) + 2) << 2
        } else {
            (usize::from(hp_len) + 1) << 3
        };
        nexthdr = hp_next;
        start = start.checked_add(hdrlen)?;
    }
    Some((start, nexthdr, frag_off))
}

/// Sets the source address of the IPv6 header at `off` (IPv6 has no header checksum).
pub fn set_saddr(pkt: &mut [u8], off: usize, addr: &[u8; 16]) -> Result<(), PacketError> {
    put(pkt, off.checked_add(8).ok_or(PacketError::Truncated)?, addr)
}

/// Sets the destination address of the IPv6 header at `off`.
pub fn set_daddr(pkt: &mut [u8], off: usize, addr: &[u8; 16]) -> Result<(), PacketError> {
    put(
        pkt,
        off.checked_add(24).ok_or(PacketError::Truncated)?,
        addr,
    )
}
