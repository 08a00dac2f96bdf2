//! Packet parsing and rewriting on byte slices: the header work IPVS does on an `sk_buff`.
//!
//! Every function here takes the packet as a byte slice starting at the IP header (the module
//! hands in the linear part of the skb) and is total: any input, however short or malformed,
//! yields a value or a [`PacketError`], never a panic, and nothing reads past the slice.
//!
//! - [`parse`] validates an incoming IPv4/IPv6 packet the way the IP stack has before IPVS sees
//!   it, fills an [`Iph`] (`struct ip_vs_iphdr`, via [`fill_iph`], `ip_vs_fill_iph_skb_off`) and
//!   reads the transport header ([`L4`]).
//! - [`icmp::classify`] reads an ICMP/ICMPv6 error and its embedded IP + transport header as
//!   `ip_vs_in_icmp`/`ip_vs_out_icmp` do; [`icmp::nat_icmp`] rewrites it (`ip_vs_nat_icmp`).
//! - [`nat::dnat`]/[`nat::snat`] rewrite addresses and ports with the checksum handling of
//!   `tcp_dnat_handler`, `udp_*_handler`, `sctp_*_handler` and `ip_vs_nat_xmit`.
//! - [`csum`] and [`crc32c`] hold the checksum arithmetic.

pub mod crc32c;
pub mod csum;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod nat;
pub mod sctp;
pub mod tcp;
pub mod udp;

use super::proto::ipproto;

/// Why a packet could not be parsed or rewritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketError {
    /// The slice ends before a header IPVS needs.
    Truncated,
    /// The IP version nibble is not the one expected.
    BadVersion,
    /// An IPv4 IHL below 5, or a header length past the packet.
    BadHeaderLength,
    /// The IP total/payload length disagrees with the slice.
    BadLength,
    /// `ipv6_find_hdr` gave up (`-EBADMSG`): an extension header runs past the packet.
    BadExtHeader,
    /// `ipv6_find_hdr` found no upper-layer header (`-ENOENT`): a non-first fragment whose next
    /// header is another extension header.
    NoUpperLayer,
    /// A rewrite was asked of a header whose protocol or family does not match.
    Mismatch,
    /// An ICMPv6 error that arrived fragmented (errors never are: IPVS drops it).
    FragmentedError,
}

/// Address family (`AF_INET`/`AF_INET6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Af {
    /// IPv4.
    Inet,
    /// IPv6.
    Inet6,
}

/// An address of either family (`union nf_inet_addr` together with its family).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Addr {
    /// An IPv4 address in network order.
    V4([u8; 4]),
    /// An IPv6 address in network order.
    V6([u8; 16]),
}

impl Addr {
    /// The family of the address.
    pub const fn af(&self) -> Af {
        match self {
            Addr::V4(_) => Af::Inet,
            Addr::V6(_) => Af::Inet6,
        }
    }

    /// The address bytes (4 or 16).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Addr::V4(a) => a,
            Addr::V6(a) => a,
        }
    }
}

/// `IP_VS_HDR_INVERSE`: the header belongs to a packet travelling the reverse way (the header
/// embedded in an ICMP error).
pub const HDR_INVERSE: u8 = 1;
/// `IP_VS_HDR_ICMP`: the header is embedded in an ICMP error (only 8 transport bytes are sure).
pub const HDR_ICMP: u8 = 2;

/// `IP6_FH_F_FRAG`: `ipv6_find_hdr` crossed a fragment header.
pub const IP6_FH_F_FRAG: u8 = 1;

/// `struct ip_vs_iphdr`: what IPVS needs of an IP header, for either family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Iph {
    /// `HDR_INVERSE`/`HDR_ICMP` bits (`hdr_flags`).
    pub hdr_flags: u8,
    /// Offset of the IP header in the slice (`off`).
    pub off: usize,
    /// Offset of the transport header (`len`). For an IPv6 non-first fragment IPVS leaves this
    /// at the IPv6 header (`ipv6_find_hdr` returns before updating it), and so does this.
    pub len: usize,
    /// IPv6 fragment offset in bytes, 0 for a first or unfragmented packet and for IPv4
    /// (`fragoffs`, which IPVS only sets for IPv6; see [`Parsed::v4_frag`]).
    pub fragoffs: u16,
    /// The upper-layer protocol (`protocol`).
    pub protocol: u8,
    /// [`IP6_FH_F_FRAG`] when an IPv6 fragment header was crossed (`flags`).
    pub flags: u8,
    /// Source address.
    pub saddr: Addr,
    /// Destination address.
    pub daddr: Addr,
}

impl Iph {
    /// The family of the header.
    pub const fn af(&self) -> Af {
        self.saddr.af()
    }

    /// `ip_vs_iph_inverse`.
    pub const fn inverse(&self) -> bool {
        self.hdr_flags & HDR_INVERSE != 0
    }

    /// `ip_vs_iph_icmp`.
    pub const fn icmp(&self) -> bool {
        self.hdr_flags & HDR_ICMP != 0
    }
}

/// `ip_vs_fill_iph_skb_off`: reads the IP header of family `af` at `offset` of `pkt`. Like IPVS
/// it trusts the header as far as it reads it: an IPv4 IHL is not checked against the slice
/// (callers that need the whole header, like the ICMP code, check `len - off`), and the IPv6
/// extension-header chain is walked with [`ipv6::find_hdr`].
pub fn fill_iph(af: Af, pkt: &[u8], offset: usize, hdr_flags: u8) -> Result<Iph, PacketError> {
    match af {
        Af::Inet6 => {
            let h: [u8; 40] = bytes(pkt, offset).ok_or(PacketError::Truncated)?;
            let saddr = Addr::V6(sub16(&h, 8));
            let daddr = Addr::V6(sub16(&h, 24));
            let found = ipv6::find_hdr(pkt, offset, -1)?;
            Ok(Iph {
                hdr_flags,
                off: offset,
                len: found.offset,
                fragoffs: found.fragoff,
                protocol: found.nexthdr,
                flags: found.flags,
                saddr,
                daddr,
            })
        }
        Af::Inet => {
            let h: [u8; 20] = bytes(pkt, offset).ok_or(PacketError::Truncated)?;
            let v4 = V4Fields::of(&h);
            Ok(Iph {
                hdr_flags,
                off: offset,
                len: offset
                    .checked_add(v4.ihl)
                    .ok_or(PacketError::BadHeaderLength)?,
                fragoffs: 0,
                protocol: v4.protocol,
                flags: 0,
                saddr: Addr::V4(v4.saddr),
                daddr: Addr::V4(v4.daddr),
            })
        }
    }
}

/// What [`fill_iph`] reads of an IPv4 header, for a caller that wants the fields without the
/// general [`Iph`] (the kernel's packet path reads every packet's header twice).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct V4Fields {
    /// The header length in bytes (IHL × 4, trusted as IPVS trusts it).
    pub ihl: usize,
    /// The upper-layer protocol.
    pub protocol: u8,
    /// Source address.
    pub saddr: [u8; 4],
    /// Destination address.
    pub daddr: [u8; 4],
}

impl V4Fields {
    /// The fields of the 20-byte fixed header `h`.
    pub fn of(h: &[u8; 20]) -> Self {
        let [vihl, _, _, _, _, _, _, _, _, protocol, _, _, s0, s1, s2, s3, d0, d1, d2, d3] = *h;
        Self {
            ihl: usize::from(vihl & 0x0f) * 4,
            protocol,
            saddr: [s0, s1, s2, s3],
            daddr: [d0, d1, d2, d3],
        }
    }
}

/// IPv4 fragmentation of a packet (`ip_is_fragment`: MF set or offset non-zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct V4Frag {
    /// Fragment offset in bytes.
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
}

/// The transport header of a parsed packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum L4 {
    /// A TCP header (20 bytes present).
    Tcp(tcp::TcpHdr),
    /// A UDP header (8 bytes present).
    Udp(udp::UdpHdr),
    /// An SCTP common header (12 bytes present) and the first chunk's type if present.
    Sctp(sctp::SctpHdr),
    /// An ICMP or ICMPv6 header (8 bytes present).
    Icmp(icmp::IcmpHdr),
    /// A non-first fragment: no transport header in this packet.
    Fragment,
    /// The transport header is cut short (IPVS drops such TCP/UDP/SCTP packets when it has to
    /// schedule them and ignores them for state changes).
    Truncated,
    /// Any other protocol (AH, ESP, GRE, …).
    Other,
}

/// An incoming packet as IPVS sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Parsed {
    /// The IP header summary.
    pub iph: Iph,
    /// The length of the IP packet (IPv4 total length, IPv6 40 + payload length): the slice
    /// may carry link-layer padding past it, which the IP stack trims before IPVS runs.
    pub pkt_len: usize,
    /// For IPv4, the fragmentation fields if the packet is a fragment.
    pub v4_frag: Option<V4Frag>,
    /// The transport header.
    pub l4: L4,
}

impl Parsed {
    /// The ports IPVS keys connections on: the first 4 transport bytes of a TCP, UDP or SCTP
    /// packet (`frag_safe_skb_hp(skb, iph->len, sizeof(_ports))`), source first.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self.l4 {
            L4::Tcp(h) => Some((h.source, h.dest)),
            L4::Udp(h) => Some((h.source, h.dest)),
            L4::Sctp(h) => Some((h.source, h.dest)),
            _ => None,
        }
    }
}

/// Parses an incoming packet starting at its IP header, with the validation the IP stack does
/// before netfilter (`ip_rcv_core`, `ipv6_rcv`): version, IPv4 IHL ≥ 5 and header within the
/// total length, total/payload length within the slice. The family comes from the version
/// nibble.
pub fn parse(pkt: &[u8]) -> Result<Parsed, PacketError> {
    let first = *pkt.first().ok_or(PacketError::Truncated)?;
    match first >> 4 {
        4 => parse_v4(pkt),
        6 => parse_v6(pkt),
        _ => Err(PacketError::BadVersion),
    }
}

fn parse_v4(pkt: &[u8]) -> Result<Parsed, PacketError> {
    let hdr = ipv4::Ipv4Hdr::parse(pkt)?;
    let pkt = pkt.get(..hdr.tot_len).ok_or(PacketError::BadLength)?;
    let iph = fill_iph(Af::Inet, pkt, 0, 0)?;
    let v4_frag = hdr.is_fragment().then_some(V4Frag {
        offset: hdr.frag_offset(),
        more: hdr.more_fragments(),
    });
    let l4 = if hdr.frag_offset() != 0 {
        L4::Fragment
    } else {
        l4_at(pkt, &iph)
    };
    Ok(Parsed {
        iph,
        pkt_len: hdr.tot_len,
        v4_frag,
        l4,
    })
}

fn parse_v6(pkt: &[u8]) -> Result<Parsed, PacketError> {
    let payload_len = usize::from(be16(pkt, 4).ok_or(PacketError::Truncated)?);
    let nexthdr = *pkt.get(6).ok_or(PacketError::Truncated)?;
    if pkt.len() < 40 {
        return Err(PacketError::Truncated);
    }
    // A zero payload length with a hop-by-hop header is a jumbogram (RFC 2675): its length is
    // the slice's.
    let pkt_len = if payload_len == 0 && nexthdr == ipv6::NEXTHDR_HOP {
        pkt.len()
    } else {
        payload_len.checked_add(40).ok_or(PacketError::BadLength)?
    };
    let pkt = pkt.get(..pkt_len).ok_or(PacketError::BadLength)?;
    let iph = fill_iph(Af::Inet6, pkt, 0, 0)?;
    let l4 = if iph.fragoffs != 0 {
        L4::Fragment
    } else {
        l4_at(pkt, &iph)
    };
    Ok(Parsed {
        iph,
        pkt_len,
        v4_frag: None,
        l4,
    })
}

/// Reads the transport header of protocol `iph.protocol` at `iph.len`.
fn l4_at(pkt: &[u8], iph: &Iph) -> L4 {
    let rest = pkt.get(iph.len..).unwrap_or(&[]);
    let parsed = match iph.protocol {
        ipproto::TCP => tcp::TcpHdr::parse(rest).map(L4::Tcp),
        ipproto::UDP => udp::UdpHdr::parse(rest).map(L4::Udp),
        ipproto::SCTP => sctp::SctpHdr::parse(rest).map(L4::Sctp),
        ipproto::ICMP if iph.af() == Af::Inet => icmp::IcmpHdr::parse(rest).map(L4::Icmp),
        ipproto::ICMPV6 if iph.af() == Af::Inet6 => icmp::IcmpHdr::parse(rest).map(L4::Icmp),
        _ => return L4::Other,
    };
    parsed.unwrap_or(L4::Truncated)
}

/// `N` bytes of `buf` at `off`, if all are there.
fn bytes<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    buf.get(off..end)?.try_into().ok()
}

/// The big-endian u16 at `off`.
fn be16(buf: &[u8], off: usize) -> Option<u16> {
    bytes::<2>(buf, off).map(u16::from_be_bytes)
}

/// Writes `src` at `off`, if it fits.
fn put(buf: &mut [u8], off: usize, src: &[u8]) -> Result<(), PacketError> {
    let end = off.checked_add(src.len()).ok_or(PacketError::Truncated)?;
    buf.get_mut(off..end)
        .ok_or(PacketError::Truncated)?
        .copy_from_slice(src);
    Ok(())
}

/// Writes a big-endian u16 at `off`, if it fits.
fn put16(buf: &mut [u8], off: usize, v: u16) -> Result<(), PacketError> {
    put(buf, off, &v.to_be_bytes())
}

/// The 16 bytes of a 40-byte IPv6 header at `at` (8 for the source, 24 for the destination).
fn sub16(h: &[u8; 40], at: usize) -> [u8; 16] {
    bytes(h, at).unwrap_or([0; 16])
}
