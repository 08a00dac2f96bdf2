//! ICMP and ICMPv6 errors: reading the embedded header as `ip_vs_in_icmp`/`ip_vs_out_icmp` (and
//! their IPv6 twins) do, and rewriting it for NAT as `ip_vs_nat_icmp`/`ip_vs_nat_icmp_v6` do.
//!
//! An ICMP error carries the start of the packet that caused it: its IP header and at least 8
//! bytes of its transport header, enough for the ports. That packet travelled the other way, so
//! IPVS reads its header with `IP_VS_HDR_ICMP | IP_VS_HDR_INVERSE` and looks the connection up
//! with source and destination swapped.

use super::super::proto::icmp::{embedded_has_ports, is_related_v4, is_related_v6};
use super::super::proto::ipproto;
use super::csum::{csum_ipv6_magic, csum_partial, ip_compute_csum};
use super::{
    be16, bytes, fill_iph, ipv4, put, put16, Addr, Af, Iph, PacketError, HDR_ICMP, HDR_INVERSE,
    IP6_FH_F_FRAG,
};

/// Length of the ICMP/ICMPv6 header (`struct icmphdr`, `struct icmp6hdr`).
pub const ICMP_HDR_LEN: usize = 8;

/// An ICMP or ICMPv6 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IcmpHdr {
    /// Type.
    pub icmp_type: u8,
    /// Code.
    pub code: u8,
    /// Checksum field.
    pub checksum: u16,
    /// The 4 type-specific bytes (echo id/sequence, the MTU of FRAG_NEEDED/PKT_TOOBIG, …).
    pub rest: [u8; 4],
}

impl IcmpHdr {
    /// Reads the 8-byte header at the start of `seg`.
    pub fn parse(seg: &[u8]) -> Result<IcmpHdr, PacketError> {
        let [t, c, k0, k1, r0, r1, r2, r3]: [u8; 8] =
            bytes(seg, 0).ok_or(PacketError::Truncated)?;
        Ok(IcmpHdr {
            icmp_type: t,
            code: c,
            checksum: u16::from_be_bytes([k0, k1]),
            rest: [r0, r1, r2, r3],
        })
    }

    /// The echo identifier (`icmp_id`/`icmpv6_id`).
    pub const fn id(&self) -> u16 {
        u16::from_be_bytes([self.rest[0], self.rest[1]])
    }

    /// The next-hop MTU of an IPv4 FRAG_NEEDED (`un.frag.mtu`).
    pub const fn frag_mtu(&self) -> u16 {
        u16::from_be_bytes([self.rest[2], self.rest[3]])
    }
}

/// An ICMP error related to a connection, with its embedded header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IcmpError {
    /// The ICMP header.
    pub icmp: IcmpHdr,
    /// Offset of the ICMP header (`toff`, `iph->len` of the outer packet).
    pub toff: usize,
    /// The embedded IP header (`ciph`), read with [`HDR_ICMP`] | [`HDR_INVERSE`]: its
    /// source is the connection's far end.
    pub inner: Iph,
    /// The embedded transport ports (source, destination as they appear), for TCP, UDP and SCTP
    /// when the 4 bytes are there.
    pub ports: Option<(u16, u16)>,
    /// The embedded IPv4 header's protocol is IPIP, UDP or GRE: a candidate error about one of
    /// IPVS's own tunnel packets (`ip_vs_in_icmp` then checks the destination is a known tunnel
    /// end and that the error arrived at LOCAL_IN, which only the caller can tell).
    pub tunnel_candidate: bool,
}

/// What IPVS does with an ICMP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcmpClass {
    /// Not an error IPVS relates to a connection (echo etc.): `*related = 0`, the local stack
    /// gets it.
    NotRelated,
    /// An error whose embedded packet looks wrong or is not one IPVS handles (`NF_ACCEPT`
    /// without looking further).
    Ignore,
    /// A related error to look up.
    Related(IcmpError),
}

/// Classifies the ICMP (IPv4) or ICMPv6 packet `pkt` whose outer header is `iph`. `Err` is
/// where IPVS drops the packet (`NF_DROP`): an ICMP header cut short, or an ICMPv6 error that
/// came fragmented (errors are never fragmented). IPv4 ICMP must be reassembled before this,
/// as IPVS does with `ip_vs_gather_frags`.
pub fn classify(pkt: &[u8], iph: &Iph) -> Result<IcmpClass, PacketError> {
    let icmp = IcmpHdr::parse(pkt.get(iph.len..).ok_or(PacketError::Truncated)?)?;
    let offset = iph
        .len
        .checked_add(ICMP_HDR_LEN)
        .ok_or(PacketError::Truncated)?;
    match iph.af() {
        Af::Inet => {
            if !is_related_v4(icmp.icmp_type) {
                return Ok(IcmpClass::NotRelated);
            }
            let Some(cih) = bytes::<20>(pkt, offset) else {
                return Ok(IcmpClass::Ignore);
            };
            if cih[0] >> 4 != 4 || usize::from(cih[0] & 0x0f) * 4 < 20 {
                return Ok(IcmpClass::Ignore);
            }
            let Ok(inner) = fill_iph(Af::Inet, pkt, offset, HDR_ICMP | HDR_INVERSE) else {
                return Ok(IcmpClass::Ignore);
            };
            let frag_off = u16::from_be_bytes([cih[6], cih[7]]);
            // A non-first fragment carries no transport header; only AH/ESP (dont_defrag) go on.
            if frag_off & 0x1fff != 0 && !matches!(inner.protocol, ipproto::AH | ipproto::ESP) {
                return Ok(IcmpClass::Ignore);
            }
            let tunnel_candidate =
                matches!(inner.protocol, ipproto::IPIP | ipproto::UDP | ipproto::GRE);
            Ok(IcmpClass::Related(IcmpError {
                icmp,
                toff: iph.len,
                inner,
                ports: ports(pkt, &inner),
                tunnel_candidate,
            }))
        }
        Af::Inet6 => {
            if !is_related_v6(icmp.icmp_type) {
                return Ok(IcmpClass::NotRelated);
            }
            if iph.flags & IP6_FH_F_FRAG != 0 {
                return Err(PacketError::FragmentedError);
            }
            let Ok(inner) = fill_iph(Af::Inet6, pkt, offset, HDR_ICMP | HDR_INVERSE) else {
                return Ok(IcmpClass::Ignore);
            };
            if inner.fragoffs != 0 && !matches!(inner.protocol, ipproto::AH | ipproto::ESP) {
                return Ok(IcmpClass::Ignore);
            }
            Ok(IcmpClass::Related(IcmpError {
                icmp,
                toff: iph.len,
                inner,
                ports: ports(pkt, &inner),
                tunnel_candidate: false,
            }))
        }
    }
}

fn ports(pkt: &[u8], inner: &Iph) -> Option<(u16, u16)> {
    if !embedded_has_ports(inner.protocol) {
        return None;
    }
    Some((be16(pkt, inner.len)?, be16(pkt, inner.len.checked_add(2)?)?))
}

/// Which way an ICMP error is NATed (`inout` of `ip_vs_nat_icmp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcmpNat {
    /// Error from a real server going out (`inout = 1`): outer source and embedded destination
    /// become the virtual address, the embedded destination port the virtual port.
    Out,
    /// Error from outside going to a real server (`inout = 0`): outer destination and embedded
    /// source become the real server's address, the embedded source port its port.
    In,
}

/// `ip_vs_nat_icmp` / `ip_vs_nat_icmp_v6`: rewrites the ICMP error `pkt` (trimmed to its
/// length) for a NAT connection. `addr`/`port` are the virtual address/port for [`IcmpNat::Out`]
/// and the destination's for [`IcmpNat::In`]. The IPv4 headers get `ip_send_check`, the ICMP
/// checksum is recomputed in full. (For ICMPv6 the kernel leaves a pseudo-header seed for the NIC,
/// `CHECKSUM_PARTIAL`; here the complete checksum is written, which is what the NIC would.)
pub fn nat_icmp(
    pkt: &mut [u8],
    outer: &Iph,
    err: &IcmpError,
    dir: IcmpNat,
    addr: &Addr,
    port: u16,
) -> Result<(), PacketError> {
    let inner = &err.inner;
    if outer.af() != addr.af() || inner.af() != addr.af() {
        return Err(PacketError::Mismatch);
    }
    let has_ports = embedded_has_ports(inner.protocol);
    // skb_ensure_writable(skb, ctoff): the embedded header and its ports must be there.
    let ctoff = inner
        .len
        .checked_add(if has_ports { 4 } else { 0 })
        .ok_or(PacketError::Truncated)?;
    if pkt.len() < ctoff {
        return Err(PacketError::Truncated);
    }
    match addr {
        Addr::V4(a) => {
            // Revalidate the embedded IHL against what was parsed.
            let ihl = usize::from(pkt.get(inner.off).ok_or(PacketError::Truncated)? & 0x0f) * 4;
            if inner.len.checked_sub(inner.off) != Some(ihl) {
                return Err(PacketError::BadHeaderLength);
            }
            match dir {
                IcmpNat::Out => {
                    ipv4::set_saddr(pkt, outer.off, *a)?;
                    ipv4::set_daddr(pkt, inner.off, *a)?;
                }
                IcmpNat::In => {
                    ipv4::set_daddr(pkt, outer.off, *a)?;
                    ipv4::set_saddr(pkt, inner.off, *a)?;
                }
            }
        }
        Addr::V6(a) => {
            let (outer_at, inner_at) = match dir {
                IcmpNat::Out => (8, 24),
                IcmpNat::In => (24, 8),
            };
            put(
                pkt,
                outer
                    .off
                    .checked_add(outer_at)
                    .ok_or(PacketError::Truncated)?,
                a,
            )?;
            put(
                pkt,
                inner
                    .off
                    .checked_add(inner_at)
                    .ok_or(PacketError::Truncated)?,
                a,
            )?;
        }
    }
    if has_ports {
        let at = match dir {
            IcmpNat::Out => inner.len.checked_add(2).ok_or(PacketError::Truncated)?,
            IcmpNat::In => inner.len,
        };
        put16(pkt, at, port)?;
    }
    let toff = err.toff;
    put16(pkt, toff.checked_add(2).ok_or(PacketError::Truncated)?, 0)?;
    let sum = match addr {
        Addr::V4(_) => ip_compute_csum(pkt.get(toff..).ok_or(PacketError::Truncated)?),
        Addr::V6(_) => {
            let s: [u8; 16] = bytes(pkt, outer.off.checked_add(8).ok_or(PacketError::Truncated)?)
                .ok_or(PacketError::Truncated)?;
            let d: [u8; 16] = bytes(
                pkt,
                outer.off.checked_add(24).ok_or(PacketError::Truncated)?,
            )
            .ok_or(PacketError::Truncated)?;
            let msg = pkt.get(toff..).ok_or(PacketError::Truncated)?;
            let len = u32::try_from(msg.len()).map_err(|_| PacketError::BadLength)?;
            csum_ipv6_magic(&s, &d, len, ipproto::ICMPV6, csum_partial(msg, 0))
        }
    };
    put16(pkt, toff + 2, sum)
}

/// Whether the ICMP (IPv4: plain sum) or ICMPv6 (with pseudo-header) checksum of the message at
/// `iph.len` verifies (`ip_vs_checksum_common_check`).
pub fn checksum_ok(pkt: &[u8], iph: &Iph) -> bool {
    let Some(msg) = pkt.get(iph.len..) else {
        return false;
    };
    match (iph.saddr, iph.daddr) {
        (Addr::V4(_), _) => ip_compute_csum(msg) == 0,
        (Addr::V6(s), Addr::V6(d)) => u32::try_from(msg.len()).is_ok_and(|len| {
            csum_ipv6_magic(&s, &d, len, ipproto::ICMPV6, csum_partial(msg, 0)) == 0
        }),
        _ => false,
    }
}

/// `ipvs_udp_decap`'s header check, for an ICMP error about one of IPVS's own GUE tunnel packets:
/// `offset` is where the embedded UDP header starts (after the embedded outer IPv4 header). The
/// caller first looks up the tunnel destination by the UDP destination port ([`tunnel_udp_dport`])
/// and checks it is a GUE tunnel. Returns the length of UDP + GUE headers (`ulen`) when the GUE
/// header is version 0, not a control message, and carries IPIP, else `None` (IPVS returns 0).
pub fn gue_decap(pkt: &[u8], offset: usize) -> Option<usize> {
    bytes::<8>(pkt, offset)?;
    let [b0, proto_ctype, _, _]: [u8; 4] = bytes(pkt, offset.checked_add(8)?)?;
    // struct guehdr's first octet: version (2 bits), control (1 bit), hlen (5 bits, in words).
    let (version, control, hlen) = (b0 >> 6, (b0 >> 5) & 1, usize::from(b0 & 0x1f));
    if control != 0 || version != 0 || proto_ctype != ipproto::IPIP {
        return None;
    }
    Some(8 + 4 + (hlen << 2))
}

/// The UDP destination port of an embedded tunnel packet's UDP header at `offset`, which
/// `ipvs_udp_decap` looks the tunnel destination up by.
pub fn tunnel_udp_dport(pkt: &[u8], offset: usize) -> Option<u16> {
    be16(pkt, offset.checked_add(2)?)
}

/// `ipvs_gre_decap`'s header check for an embedded GRE header at `offset` (the caller has found
/// a GRE tunnel destination for the embedded destination address): only version 0 with at most
/// the checksum flag, carrying IPv4, is accepted. Returns the GRE header length (4, or 8 with a
/// checksum: `gre_calc_hlen`).
pub fn gre_decap(pkt: &[u8], offset: usize) -> Option<usize> {
    let flags = be16(pkt, offset)?;
    let protocol = be16(pkt, offset.checked_add(2)?)?;
    const GRE_CSUM: u16 = 0x8000;
    const ETH_P_IP: u16 = 0x0800;
    if flags & !GRE_CSUM != 0 || protocol != ETH_P_IP {
        return None;
    }
    Some(if flags & GRE_CSUM != 0 { 8 } else { 4 })
}

/// The MTU `ip_vs_in_icmp` reports to the client for a FRAG_NEEDED about a tunnelled packet:
/// the path MTU less the tunnel overhead (outer IPv4 header `hlen_ipip` plus UDP/GUE or GRE
/// `ulen`), unless that would go below 68 + overhead, in which case the MTU is passed on as is.
pub const fn tunnel_client_mtu(mtu: u32, hlen_ipip: u32, ulen: u32) -> u32 {
    let overhead = hlen_ipip.saturating_add(ulen);
    if mtu > 68u32.saturating_add(overhead) {
        mtu - overhead
    } else {
        mtu
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunnel_headers() {
        // UDP header, then GUE: version 0, control 0, hlen 1 word, proto IPIP, flags, 1 word.
        let gue = [0, 0, 0x17, 0xc1, 0, 20, 0, 0, 0x01, 4, 0, 0, 0, 0, 0, 0];
        assert_eq!(tunnel_udp_dport(&gue, 0), Some(6081));
        assert_eq!(gue_decap(&gue, 0), Some(16));
        let mut ctl = gue;
        ctl[8] |= 0x20;
        assert_eq!(gue_decap(&ctl, 0), None);
        assert_eq!(gue_decap(&gue[..11], 0), None);
        assert_eq!(gre_decap(&[0, 0, 8, 0], 0), Some(4));
        assert_eq!(gre_decap(&[0x80, 0, 8, 0], 0), Some(8));
        assert_eq!(gre_decap(&[0x20, 0, 8, 0], 0), None); // key flag
        assert_eq!(gre_decap(&[0, 0, 0x86, 0xdd], 0), None);
        assert_eq!(tunnel_client_mtu(1500, 20, 0), 1480);
        assert_eq!(tunnel_client_mtu(100, 20, 16), 100);
    }
}
