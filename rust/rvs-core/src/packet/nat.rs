//! Address and port rewriting for NAT (masquerading), with IPVS's checksum handling.
//!
//! [`dnat`] is what happens to a client→real-server packet (`*_dnat_handler` rewrites the
//! destination port and the transport checksum, then `ip_vs_nat_xmit` the destination address and
//! the IPv4 header checksum); [`snat`] is the reply (`*_snat_handler`, `ip_vs_nat_xmit` in
//! `handle_response`). Checksums follow IPVS exactly:
//!
//! - TCP: incremental update of address and port (`tcp_fast_csum_update`), or, for a packet whose
//!   checksum is left to the NIC ([`CsumMode::Partial`]), of the pseudo-header seed
//!   (`tcp_partial_csum_update`).
//! - UDP: the same, except that a packet without checksum (0) gets a full one computed, and a
//!   computed 0 is sent as 0xffff (`CSUM_MANGLED_0`).
//! - SCTP: the CRC32c is recomputed when the port changes or the checksum is partial.
//! - IPv4 header: recomputed in full (`ip_send_check`).
//!
//! No application helper (FTP) runs here, so the packet length never changes.

use super::super::proto::ipproto;
use super::csum::{
    check_diff16, check_diff2, check_diff4, csum_fold, csum_unfold, transport_checksum, Wsum,
    CSUM_MANGLED_0,
};
use super::tcp::TCP_CHECK_OFF;
use super::udp::UDP_CHECK_OFF;
use super::{be16, ipv4, ipv6, put16, sctp, Addr, Af, Iph, PacketError};

/// What the transport checksum field holds (`skb->ip_summed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CsumMode {
    /// A complete checksum (`CHECKSUM_NONE`, `CHECKSUM_UNNECESSARY`, `CHECKSUM_COMPLETE`).
    Full,
    /// Only the pseudo-header sum, the NIC completes it (`CHECKSUM_PARTIAL`).
    Partial,
}

/// Which end of the packet a rewrite changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum End {
    Source,
    Dest,
}

/// Rewrites the destination of a packet to `daddr`:`dport` (client → real server). `pkt` is the
/// IP packet trimmed to its length ([`super::Parsed::pkt_len`]), `iph` its header as
/// [`super::parse`] returned it. The transport header is left alone for a protocol without
/// ports or an IPv6 non-first fragment, like IPVS; an IPv4 non-first fragment has no transport
/// header either (IPVS only ever sees reassembled IPv4).
pub fn dnat(
    pkt: &mut [u8],
    iph: &Iph,
    daddr: &Addr,
    dport: u16,
    mode: CsumMode,
) -> Result<(), PacketError> {
    rewrite(pkt, pkt.len(), iph, End::Dest, daddr, dport, mode, false)
}

/// Rewrites the source of a packet to `saddr`:`sport` (real server → client: the virtual
/// address and port).
pub fn snat(
    pkt: &mut [u8],
    iph: &Iph,
    saddr: &Addr,
    sport: u16,
    mode: CsumMode,
) -> Result<(), PacketError> {
    rewrite(pkt, pkt.len(), iph, End::Source, saddr, sport, mode, false)
}

/// How much of a packet a NAT rewrite needs to see, for buffers (socket buffers) whose
/// payload may not be at hand: the headers only, or the whole packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Extent {
    /// The IP and transport headers suffice: an incremental TCP or UDP checksum update, or an
    /// SCTP packet that will be segmented (its CRC32c is computed per segment later, as
    /// ip_vs leaves it for GSO packets).
    Headers,
    /// Every byte is needed: a UDP datagram without checksum (a full one is computed) or an
    /// SCTP packet (its CRC32c is recomputed).
    Whole,
}

/// What [`dnat_headers`]/[`snat_headers`] need of a packet of protocol `protocol` whose UDP
/// checksum field (UDP only) is `udp_check`, when `sctp_gso` says an SCTP packet will be
/// segmented.
pub fn extent(protocol: u8, udp_check: u16, sctp_gso: bool) -> Extent {
    match protocol {
        ipproto::UDP if udp_check == 0 => Extent::Whole,
        ipproto::SCTP if !sctp_gso => Extent::Whole,
        _ => Extent::Headers,
    }
}

/// [`dnat`] for a buffer `pkt` that may hold only the packet's headers: `pkt_len` is the
/// packet's length (for the checksum's length field), and `sctp_gso` skips the SCTP CRC32c of
/// a packet to be segmented. When [`extent`] says [`Extent::Whole`], `pkt` must be the whole
/// packet.
pub fn dnat_headers(
    pkt: &mut [u8],
    pkt_len: usize,
    iph: &Iph,
    daddr: &Addr,
    dport: u16,
    mode: CsumMode,
    sctp_gso: bool,
) -> Result<(), PacketError> {
    rewrite(pkt, pkt_len, iph, End::Dest, daddr, dport, mode, sctp_gso)
}

/// [`snat`] for a buffer that may hold only the packet's headers (see [`dnat_headers`]).
pub fn snat_headers(
    pkt: &mut [u8],
    pkt_len: usize,
    iph: &Iph,
    saddr: &Addr,
    sport: u16,
    mode: CsumMode,
    sctp_gso: bool,
) -> Result<(), PacketError> {
    rewrite(pkt, pkt_len, iph, End::Source, saddr, sport, mode, sctp_gso)
}

#[allow(clippy::too_many_arguments)]
fn rewrite(
    pkt: &mut [u8],
    pkt_len: usize,
    iph: &Iph,
    end: End,
    addr: &Addr,
    port: u16,
    mode: CsumMode,
    sctp_gso: bool,
) -> Result<(), PacketError> {
    let old = match end {
        End::Source => iph.saddr,
        End::Dest => iph.daddr,
    };
    if old.af() != addr.af() {
        return Err(PacketError::Mismatch);
    }
    let port_off = match end {
        End::Source => 0,
        End::Dest => 2,
    };
    let l4_present = iph.fragoffs == 0 && !is_v4_nonfirst_fragment(pkt, iph);
    if l4_present {
        match iph.protocol {
            ipproto::TCP => tcpudp(pkt, pkt_len, iph, &old, addr, port_off, port, mode, false)?,
            ipproto::UDP => tcpudp(pkt, pkt_len, iph, &old, addr, port_off, port, mode, true)?,
            ipproto::SCTP => sctp_rewrite(pkt, pkt_len, iph, port_off, port, mode, sctp_gso)?,
            _ => {}
        }
    }
    match (end, addr) {
        (End::Source, Addr::V4(a)) => ipv4::set_saddr(pkt, iph.off, *a),
        (End::Dest, Addr::V4(a)) => ipv4::set_daddr(pkt, iph.off, *a),
        (End::Source, Addr::V6(a)) => ipv6::set_saddr(pkt, iph.off, a),
        (End::Dest, Addr::V6(a)) => ipv6::set_daddr(pkt, iph.off, a),
    }
}

fn is_v4_nonfirst_fragment(pkt: &[u8], iph: &Iph) -> bool {
    iph.af() == Af::Inet
        && iph
            .off
            .checked_add(6)
            .and_then(|o| be16(pkt, o))
            .is_some_and(|f| f & 0x1fff != 0)
}

/// Adds the change of address `old` → `new` to a partial sum (`ip_vs_check_diff4/16`).
fn addr_diff(old: &Addr, new: &Addr, sum: Wsum) -> Wsum {
    match (old, new) {
        (Addr::V4(o), Addr::V4(n)) => check_diff4(*o, *n, sum),
        (Addr::V6(o), Addr::V6(n)) => check_diff16(o, n, sum),
        _ => sum,
    }
}

/// `tcp_*_handler`/`udp_*_handler` without an application helper.
#[allow(clippy::too_many_arguments)]
fn tcpudp(
    pkt: &mut [u8],
    pkt_len: usize,
    iph: &Iph,
    old_addr: &Addr,
    new_addr: &Addr,
    port_off: usize,
    new_port: u16,
    mode: CsumMode,
    udp: bool,
) -> Result<(), PacketError> {
    let hoff = iph.len;
    // skb_ensure_writable(skb, off + sizeof(header)).
    let hlen = if udp { 8 } else { 20 };
    if pkt.len() < hoff.checked_add(hlen).ok_or(PacketError::Truncated)? {
        return Err(PacketError::Truncated);
    }
    let check_at = hoff + if udp { UDP_CHECK_OFF } else { TCP_CHECK_OFF };
    let port_at = hoff + port_off;
    let old_port = be16(pkt, port_at).ok_or(PacketError::Truncated)?;
    let check = be16(pkt, check_at).ok_or(PacketError::Truncated)?;
    put16(pkt, port_at, new_port)?;
    let l4_len = pkt_len.saturating_sub(hoff);
    match mode {
        CsumMode::Partial => {
            // *_partial_csum_update with oldlen == newlen.
            let len = u16::try_from(l4_len).unwrap_or(u16::MAX);
            let seed = check_diff2(len, len, csum_unfold(check));
            put16(
                pkt,
                check_at,
                !csum_fold(addr_diff(old_addr, new_addr, seed)),
            )
        }
        CsumMode::Full if !udp || check != 0 => {
            // *_fast_csum_update.
            let sum = check_diff2(old_port, new_port, !csum_unfold(check));
            let mut new = csum_fold(addr_diff(old_addr, new_addr, sum));
            if udp && new == 0 {
                new = CSUM_MANGLED_0;
            }
            put16(pkt, check_at, new)
        }
        CsumMode::Full => {
            // A UDP packet without checksum: IPVS computes a full one, over the whole packet.
            if pkt.len() < pkt_len {
                return Err(PacketError::Truncated);
            }
            let (saddr, daddr) = match port_off {
                0 => (*new_addr, iph.daddr),
                _ => (iph.saddr, *new_addr),
            };
            let seg = pkt.get(hoff..).ok_or(PacketError::Truncated)?;
            let sum = transport_checksum(&saddr, &daddr, ipproto::UDP, seg, UDP_CHECK_OFF)
                .ok_or(PacketError::Mismatch)?;
            put16(pkt, check_at, if sum == 0 { CSUM_MANGLED_0 } else { sum })
        }
    }
}

/// `sctp_*_handler` without an application helper.
fn sctp_rewrite(
    pkt: &mut [u8],
    pkt_len: usize,
    iph: &Iph,
    port_off: usize,
    new_port: u16,
    mode: CsumMode,
    gso: bool,
) -> Result<(), PacketError> {
    let hoff = iph.len;
    if pkt.len()
        < hoff
            .checked_add(sctp::SCTP_HDR_LEN)
            .ok_or(PacketError::Truncated)?
    {
        return Err(PacketError::Truncated);
    }
    let port_at = hoff + port_off;
    let old_port = be16(pkt, port_at).ok_or(PacketError::Truncated)?;
    if old_port != new_port || mode == CsumMode::Partial {
        put16(pkt, port_at, new_port)?;
        // A packet to be segmented gets its CRC32c per segment (sctp_gso_segment).
        if !gso {
            if pkt.len() < pkt_len {
                return Err(PacketError::Truncated);
            }
            let seg = pkt.get_mut(hoff..pkt_len).ok_or(PacketError::Truncated)?;
            sctp::nat_csum(seg)?;
        }
    }
    Ok(())
}
