//! Property tests of the packet code: parsing never panics on any bytes, incremental checksum
//! updates equal full recomputation bit for bit, the network-order arithmetic gives the bytes a
//! little-endian kernel stores, and CRC32c and extension-header walks agree with references.

mod packet_fixtures;

use proptest::prelude::*;
use rvs_core::packet::{self, crc32c, csum, icmp, ipv4, ipv6, nat, sctp, Addr, Af, L4};

/// Builds an IPv4 or IPv6 TCP/UDP packet with a valid transport checksum (computed by
/// rvs-core's full checksum, which the fixtures tests tie to an independent implementation).
#[allow(clippy::too_many_arguments)]
fn build(
    v6: bool,
    udp: bool,
    s: &[u8; 16],
    d: &[u8; 16],
    sp: u16,
    dp: u16,
    payload: &[u8],
    zero_udp: bool,
) -> Vec<u8> {
    let hlen = if udp { 8 } else { 20 };
    let mut l4 = vec![0u8; hlen];
    l4[0..2].copy_from_slice(&sp.to_be_bytes());
    l4[2..4].copy_from_slice(&dp.to_be_bytes());
    if udp {
        let len = (8 + payload.len()) as u16;
        l4[4..6].copy_from_slice(&len.to_be_bytes());
    } else {
        l4[12] = 5 << 4;
        l4[13] = 0x18;
    }
    l4.extend_from_slice(payload);
    let proto = if udp { 17 } else { 6 };
    let (saddr, daddr) = if v6 {
        (Addr::V6(*s), Addr::V6(*d))
    } else {
        (
            Addr::V4([s[0], s[1], s[2], s[3]]),
            Addr::V4([d[0], d[1], d[2], d[3]]),
        )
    };
    let off = if udp { 6 } else { 16 };
    if !(udp && zero_udp) {
        let mut c = csum::transport_checksum(&saddr, &daddr, proto, &l4, off).unwrap();
        if udp && c == 0 {
            c = csum::CSUM_MANGLED_0;
        }
        l4[off..off + 2].copy_from_slice(&c.to_be_bytes());
    }
    let mut pkt = Vec::new();
    if v6 {
        pkt.extend_from_slice(&[0x60, 0, 0, 0]);
        pkt.extend_from_slice(&(l4.len() as u16).to_be_bytes());
        pkt.extend_from_slice(&[proto, 64]);
        pkt.extend_from_slice(s);
        pkt.extend_from_slice(d);
    } else {
        let tot = (20 + l4.len()) as u16;
        pkt.extend_from_slice(&[0x45, 0]);
        pkt.extend_from_slice(&tot.to_be_bytes());
        pkt.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0]);
        pkt.extend_from_slice(&s[..4]);
        pkt.extend_from_slice(&d[..4]);
        ipv4::ip_send_check(&mut pkt, 0).unwrap();
    }
    pkt.extend_from_slice(&l4);
    pkt
}

/// The transport checksum field and a full recomputation of the packet as it now is.
fn field_and_full(pkt: &[u8]) -> (u16, u16) {
    let p = packet::parse(pkt).unwrap();
    let seg = &pkt[p.iph.len..p.pkt_len];
    let (proto, off) = match p.l4 {
        L4::Udp(_) => (17, 6),
        _ => (6, 16),
    };
    let field = u16::from_be_bytes([seg[off], seg[off + 1]]);
    let mut full = csum::transport_checksum(&p.iph.saddr, &p.iph.daddr, proto, seg, off).unwrap();
    if proto == 17 && full == 0 {
        full = csum::CSUM_MANGLED_0;
    }
    (field, full)
}

/// The kernel's x86 view: words summed as little-endian loads, the folded result stored
/// little-endian. Returns the bytes stored.
fn le_csum_bytes(data: &[u8]) -> [u8; 2] {
    let mut s: u64 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_le_bytes([c[0], c[1]])
        } else {
            u16::from(c[0])
        };
        s += u64::from(w);
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    (!(s as u16)).to_le_bytes()
}

/// Bit-at-a-time CRC32c, the reference for the table-driven one.
fn crc32c_bitwise(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82f6_3b78
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn fixtures() -> Vec<&'static [u8]> {
    use packet_fixtures as fx;
    vec![
        fx::TCP4_SYN,
        fx::TCP4_DATA_OPTS,
        fx::UDP4_DNS,
        fx::UDP4_NOCSUM,
        fx::SCTP4_INIT,
        fx::SCTP4_COOKIE_ABORT,
        fx::ICMP4_FRAG_NEEDED_FROM_CLIENT,
        fx::ICMP4_PORT_UNREACH_TO_CLIENT,
        fx::ICMP4_ECHO,
        fx::TCP6_SYN,
        fx::TCP6_HBH_DST,
        fx::UDP6_FRAG_FIRST,
        fx::UDP6_FRAG_NONFIRST,
        fx::ICMP6_PORT_UNREACH,
        fx::SCTP6_DATA,
    ]
}

/// Runs everything that takes a packet; none of it may panic.
fn exercise(pkt: &[u8]) {
    let _ = packet::fill_iph(Af::Inet, pkt, 0, 0);
    let _ = packet::fill_iph(Af::Inet6, pkt, 0, 0);
    let _ = ipv6::skip_exthdr(pkt, 0, pkt.first().copied().unwrap_or(0));
    for _ in ipv4::Ipv4Options::new(pkt) {}
    if let Ok(p) = packet::parse(pkt) {
        let pkt = &pkt[..p.pkt_len];
        let _ = p.ports();
        if let Ok(icmp::IcmpClass::Related(err)) = icmp::classify(pkt, &p.iph) {
            let mut c = pkt.to_vec();
            let a = if p.iph.af() == Af::Inet {
                Addr::V4([1, 2, 3, 4])
            } else {
                Addr::V6([7; 16])
            };
            let _ = icmp::nat_icmp(&mut c, &p.iph, &err, icmp::IcmpNat::In, &a, 1);
        }
        let mut c = pkt.to_vec();
        let a = if p.iph.af() == Af::Inet {
            Addr::V4([9, 9, 9, 9])
        } else {
            Addr::V6([9; 16])
        };
        let _ = nat::dnat(&mut c, &p.iph, &a, 7, nat::CsumMode::Full);
        let _ = nat::snat(&mut c, &p.iph, &a, 7, nat::CsumMode::Partial);
        if let Some(seg) = pkt.get(p.iph.len..) {
            let _ = sctp::event(seg);
            let _ = sctp::checksum_ok(seg);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_total_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
        exercise(&bytes);
    }

    #[test]
    fn parser_total_on_mutated_fixtures(
        which in 0usize..15,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let mut pkt = fixtures()[which].to_vec();
        for (at, v) in flips {
            let n = pkt.len();
            pkt[at % n] = v;
        }
        let cut = cut % (pkt.len() + 1);
        exercise(&pkt);
        exercise(&pkt[..cut]);
    }

    #[test]
    fn incremental_update_equals_full_recomputation(
        v6 in any::<bool>(), udp in any::<bool>(), zero_udp in any::<bool>(),
        s in any::<[u8; 16]>(), d in any::<[u8; 16]>(), new in any::<[u8; 16]>(),
        sp in any::<u16>(), dp in any::<u16>(), np in any::<u16>(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        source_side in any::<bool>(),
    ) {
        let pkt = build(v6, udp, &s, &d, sp, dp, &payload, zero_udp);
        let p = packet::parse(&pkt).unwrap();
        let new = if v6 { Addr::V6(new) } else { Addr::V4([new[0], new[1], new[2], new[3]]) };
        let mut out = pkt.clone();
        if source_side {
            nat::snat(&mut out, &p.iph, &new, np, nat::CsumMode::Full).unwrap();
        } else {
            nat::dnat(&mut out, &p.iph, &new, np, nat::CsumMode::Full).unwrap();
        }
        let (field, full) = field_and_full(&out);
        prop_assert_eq!(field, full);
        if !v6 {
            prop_assert!(ipv4::header_checksum_ok(&out, 0));
        }
    }

    #[test]
    fn nat_there_and_back_restores_the_packet(
        v6 in any::<bool>(), udp in any::<bool>(),
        s in any::<[u8; 16]>(), d in any::<[u8; 16]>(), new in any::<[u8; 16]>(),
        sp in any::<u16>(), dp in any::<u16>(), np in any::<u16>(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let pkt = build(v6, udp, &s, &d, sp, dp, &payload, false);
        let p = packet::parse(&pkt).unwrap();
        // The parse reads back what was built.
        prop_assert_eq!(p.ports(), Some((sp, dp)));
        prop_assert_eq!(p.pkt_len, pkt.len());
        let new = if v6 { Addr::V6(new) } else { Addr::V4([new[0], new[1], new[2], new[3]]) };
        let mut out = pkt.clone();
        nat::dnat(&mut out, &p.iph, &new, np, nat::CsumMode::Full).unwrap();
        let q = packet::parse(&out).unwrap();
        prop_assert_eq!(q.iph.daddr, new);
        nat::dnat(&mut out, &q.iph, &p.iph.daddr, dp, nat::CsumMode::Full).unwrap();
        prop_assert_eq!(out, pkt);
    }

    #[test]
    fn header_only_rewrite_equals_whole_packet_rewrite(
        v6 in any::<bool>(), udp in any::<bool>(), partial in any::<bool>(), source_side in any::<bool>(),
        s in any::<[u8; 16]>(), d in any::<[u8; 16]>(), new in any::<[u8; 16]>(),
        np in any::<u16>(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        // What the module does with a socket buffer whose payload is not linear: only the
        // headers are handed over, with the packet's length.
        let pkt = build(v6, udp, &s, &d, 1000, 2000, &payload, false);
        let p = packet::parse(&pkt).unwrap();
        let mode = if partial { nat::CsumMode::Partial } else { nat::CsumMode::Full };
        prop_assert_eq!(nat::extent(p.iph.protocol, 1, false), nat::Extent::Headers);
        let new = if v6 { Addr::V6(new) } else { Addr::V4([new[0], new[1], new[2], new[3]]) };
        let hdrs = p.iph.len + if udp { 8 } else { 20 };
        let mut whole = pkt.clone();
        let mut head = pkt[..hdrs].to_vec();
        if source_side {
            nat::snat(&mut whole, &p.iph, &new, np, mode).unwrap();
            nat::snat_headers(&mut head, pkt.len(), &p.iph, &new, np, mode, false).unwrap();
        } else {
            nat::dnat(&mut whole, &p.iph, &new, np, mode).unwrap();
            nat::dnat_headers(&mut head, pkt.len(), &p.iph, &new, np, mode, false).unwrap();
        }
        prop_assert_eq!(&whole[..hdrs], &head[..]);
    }

    #[test]
    fn partial_seed_update_equals_fresh_seed(
        v6 in any::<bool>(), udp in any::<bool>(),
        s in any::<[u8; 16]>(), d in any::<[u8; 16]>(), new in any::<[u8; 16]>(),
        payload in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        // CHECKSUM_PARTIAL: the field holds ~csum_*_magic(saddr, daddr, len, proto, 0).
        let mut pkt = build(v6, udp, &s, &d, 1000, 2000, &payload, false);
        let p = packet::parse(&pkt).unwrap();
        let proto = if udp { 17 } else { 6 };
        let off = p.iph.len + if udp { 6 } else { 16 };
        let len = (p.pkt_len - p.iph.len) as u32;
        let seed = |sa: &Addr, da: &Addr| match (sa, da) {
            (Addr::V4(a), Addr::V4(b)) => !csum::csum_tcpudp_magic(*a, *b, len, proto, 0),
            (Addr::V6(a), Addr::V6(b)) => !csum::csum_ipv6_magic(a, b, len, proto, 0),
            _ => unreachable!(),
        };
        pkt[off..off + 2].copy_from_slice(&seed(&p.iph.saddr, &p.iph.daddr).to_be_bytes());
        let new = if v6 { Addr::V6(new) } else { Addr::V4([new[0], new[1], new[2], new[3]]) };
        nat::dnat(&mut pkt, &p.iph, &new, 3000, nat::CsumMode::Partial).unwrap();
        prop_assert_eq!(u16::from_be_bytes([pkt[off], pkt[off + 1]]), seed(&p.iph.saddr, &new));
    }

    #[test]
    fn network_order_sum_stores_the_bytes_a_little_endian_kernel_stores(
        data in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let ours = csum::ip_compute_csum(&data).to_be_bytes();
        prop_assert_eq!(ours, le_csum_bytes(&data));
    }

    #[test]
    fn replace_functions_agree_with_recomputation(
        mut data in proptest::collection::vec(any::<u8>(), 20..80),
        at in any::<usize>(), new4 in any::<[u8; 4]>(), new16 in any::<[u8; 16]>(),
    ) {
        // A buffer whose first two bytes are its checksum; change a 4- and a 16-byte field.
        data[0] = 0;
        data[1] = 0;
        let c = csum::ip_compute_csum(&data);
        data[..2].copy_from_slice(&c.to_be_bytes());
        let at4 = 2 + (at % ((data.len() - 6) / 2)) * 2;
        let old4: [u8; 4] = data[at4..at4 + 4].try_into().unwrap();
        data[at4..at4 + 4].copy_from_slice(&new4);
        let upd = csum::csum_replace4(c, old4, new4);
        data[..2].copy_from_slice(&upd.to_be_bytes());
        prop_assert!(csum::csum_verifies(&data, 0));
        if data.len() >= 18 {
            let old16: [u8; 16] = data[2..18].try_into().unwrap();
            data[2..18].copy_from_slice(&new16);
            let upd = csum::inet_proto_csum_replace16(upd, &old16, &new16);
            data[..2].copy_from_slice(&upd.to_be_bytes());
            prop_assert!(csum::csum_verifies(&data, 0));
        }
    }

    #[test]
    fn csum_partial_splits_at_even_offsets(data in proptest::collection::vec(any::<u8>(), 0..100), cut in any::<usize>()) {
        let cut = (cut % (data.len() + 1)) & !1;
        let whole = csum::csum_fold(csum::csum_partial(&data, 0));
        let split = csum::csum_fold(csum::csum_partial(&data[cut..], csum::csum_partial(&data[..cut], 0)));
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn crc32c_matches_bitwise_reference(data in proptest::collection::vec(any::<u8>(), 0..200), cut in any::<usize>()) {
        prop_assert_eq!(!crc32c::crc32c(!0, &data), crc32c_bitwise(&data));
        let cut = cut % (data.len() + 1);
        let chained = crc32c::crc32c(crc32c::crc32c(!0, &data[..cut]), &data[cut..]);
        prop_assert_eq!(!chained, crc32c_bitwise(&data));
        if data.len() >= 12 {
            let mut zeroed = data.clone();
            zeroed[8..12].fill(0);
            prop_assert_eq!(crc32c::sctp_checksum(&data), crc32c_bitwise(&zeroed).to_le_bytes());
        }
    }

    #[test]
    fn ipv6_chains_are_walked_to_the_upper_layer(
        chain in proptest::collection::vec((0usize..4, 0u8..4), 0..6),
        upper in prop_oneof![Just(6u8), Just(17), Just(132), Just(58), Just(50)],
    ) {
        // Extension headers: hop-by-hop, destination options, routing, authentication, each
        // with its length rule, then `upper` with a 20-byte body.
        let kinds = [0u8, 60, 43, 51];
        let mut pkt = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
        pkt.extend_from_slice(&[0; 32]);
        pkt[6] = chain.first().map_or(upper, |&(k, _)| kinds[k]);
        let mut want = 40;
        for (i, &(k, units)) in chain.iter().enumerate() {
            let next = chain.get(i + 1).map_or(upper, |&(k2, _)| kinds[k2]);
            let len = if kinds[k] == 51 { (usize::from(units) + 2) * 4 } else { (usize::from(units) + 1) * 8 };
            let mut h = vec![0u8; len];
            h[0] = next;
            h[1] = units;
            pkt.extend_from_slice(&h);
            want += len;
        }
        pkt.extend_from_slice(&[0; 20]);
        let plen = (pkt.len() - 40) as u16;
        pkt[4..6].copy_from_slice(&plen.to_be_bytes());
        let found = ipv6::find_hdr(&pkt, 0, -1).unwrap();
        prop_assert_eq!((found.nexthdr, found.offset, found.flags), (upper, want, 0));
        prop_assert_eq!(ipv6::skip_exthdr(&pkt, 40, pkt[6]), Some((want, upper, 0)));
        // Looking for a specific header stops at it.
        if let Some(&(k, _)) = chain.last() {
            let f = ipv6::find_hdr(&pkt, 0, i32::from(kinds[k])).unwrap();
            prop_assert_eq!(f.nexthdr, kinds[k]);
        }
        // Cut anywhere inside the chain: an error, never a panic or a wrong offset.
        for cut in 40..want {
            prop_assert!(ipv6::find_hdr(&pkt[..cut], 0, -1).map_or(true, |f| f.offset <= cut));
        }
    }
}
