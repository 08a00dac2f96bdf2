//! Packet parsing and NAT rewriting on real-shaped packets (see `packet_fixtures/`): what the
//! director reads from each packet, and that every checksum it leaves behind is exactly what a
//! full recomputation gives.

mod packet_fixtures;

use packet_fixtures as fx;
use rvs_core::packet::{
    self, csum, icmp, ipv4, ipv6, nat, sctp, Addr, Af, Parsed, HDR_ICMP, HDR_INVERSE,
    IP6_FH_F_FRAG, L4,
};
use rvs_core::proto::sctp::SctpEvent;
use rvs_core::proto::tcp::TcpFlags;

const CLIENT: [u8; 4] = [10, 0, 0, 2];
const VIP: [u8; 4] = [192, 168, 1, 100];
const RS1: [u8; 4] = [172, 16, 0, 2];
const VIP6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64];
const RS16: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn parse(pkt: &[u8]) -> Parsed {
    packet::parse(pkt).expect("fixture parses")
}

/// The transport checksum field and what a full recomputation over the packet gives.
fn field_and_full(pkt: &[u8]) -> (u16, u16) {
    let p = parse(pkt);
    let seg = &pkt[p.iph.len..p.pkt_len];
    let (proto, off) = match p.l4 {
        L4::Tcp(_) => (6, 16),
        L4::Udp(_) => (17, 6),
        other => panic!("not TCP/UDP: {other:?}"),
    };
    let field = u16::from_be_bytes([seg[off], seg[off + 1]]);
    let mut full = csum::transport_checksum(&p.iph.saddr, &p.iph.daddr, proto, seg, off).unwrap();
    if proto == 17 && full == 0 {
        full = csum::CSUM_MANGLED_0;
    }
    (field, full)
}

#[test]
fn ipv4_header_checksum_of_a_published_header() {
    // The header used as the worked example of the IPv4 header checksum (checksum 0xb861).
    let mut h = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    ipv4::ip_send_check(&mut h, 0).unwrap();
    println!("ip_send_check: {:02x}{:02x}", h[10], h[11]);
    assert_eq!(&h[10..12], &[0xb8, 0x61]);
    assert!(ipv4::header_checksum_ok(&h, 0));
}

#[test]
fn tcp_syn_from_client_to_vip() {
    let p = parse(fx::TCP4_SYN);
    println!("tcp4 syn: {p:?}");
    assert_eq!(p.iph.saddr, Addr::V4(CLIENT));
    assert_eq!(p.iph.daddr, Addr::V4(VIP));
    assert_eq!((p.iph.protocol, p.iph.len, p.pkt_len), (6, 20, 40));
    assert_eq!(p.ports(), Some((43210, 80)));
    let L4::Tcp(th) = p.l4 else { panic!() };
    assert_eq!(
        th.flags(),
        TcpFlags {
            syn: true,
            ..TcpFlags::default()
        }
    );
    // The independent builder's checksum is the one rvs-core computes.
    let (field, full) = field_and_full(fx::TCP4_SYN);
    assert_eq!(field, full);
    assert!(ipv4::header_checksum_ok(fx::TCP4_SYN, 0));
}

#[test]
fn ipv4_options_are_skipped_and_listed() {
    let p = parse(fx::TCP4_DATA_OPTS);
    assert_eq!(p.iph.len, 28);
    assert_eq!(p.ports(), Some((43210, 80)));
    let opts: Vec<_> = ipv4::Ipv4Options::new(fx::TCP4_DATA_OPTS).collect();
    println!("options: {opts:?}");
    assert_eq!(opts.len(), 3); // NOP, NOP, Router Alert; then End of Options
    assert_eq!(
        opts[2],
        Ok(ipv4::Ipv4Option {
            kind: 0x94,
            data: &[0, 0]
        })
    );
}

#[test]
fn nat_of_tcp_udp_leaves_exactly_the_full_checksum() {
    for (name, pkt) in [
        ("tcp4_syn", fx::TCP4_SYN),
        ("tcp4_opts", fx::TCP4_DATA_OPTS),
        ("udp4_dns", fx::UDP4_DNS),
    ] {
        let p = parse(pkt);
        let mut out = pkt.to_vec();
        nat::dnat(&mut out, &p.iph, &Addr::V4(RS1), 8080, nat::CsumMode::Full).unwrap();
        let q = parse(&out);
        assert_eq!(q.iph.daddr, Addr::V4(RS1));
        assert_eq!(q.ports().map(|p| p.1), Some(8080));
        let (field, full) = field_and_full(&out);
        println!("{name}: dnat -> RS1:8080, checksum {field:#06x} (full {full:#06x})");
        assert_eq!(field, full);
        assert!(ipv4::header_checksum_ok(&out, 0));
        // And the reply path back to the virtual service.
        nat::snat(&mut out, &q.iph, &Addr::V4(VIP), 80, nat::CsumMode::Full).unwrap();
        let (field, full) = field_and_full(&out);
        assert_eq!(field, full);
    }
}

#[test]
fn udp_without_checksum_gets_a_full_one() {
    let p = parse(fx::UDP4_NOCSUM);
    let L4::Udp(uh) = p.l4 else { panic!() };
    assert_eq!(uh.check, 0);
    let mut out = fx::UDP4_NOCSUM.to_vec();
    nat::dnat(&mut out, &p.iph, &Addr::V4(RS1), 53, nat::CsumMode::Full).unwrap();
    let (field, full) = field_and_full(&out);
    println!("udp no checksum: after dnat {field:#06x}");
    assert_ne!(field, 0);
    assert_eq!(field, full);
}

#[test]
fn partial_checksum_seed_follows_the_address() {
    // A CHECKSUM_PARTIAL packet carries ~csum_tcpudp_magic(saddr, daddr, len, proto, 0).
    let p = parse(fx::TCP4_SYN);
    let mut pkt = fx::TCP4_SYN.to_vec();
    let len = (p.pkt_len - p.iph.len) as u32;
    let seed = !csum::csum_tcpudp_magic(CLIENT, VIP, len, 6, 0);
    pkt[36..38].copy_from_slice(&seed.to_be_bytes());
    nat::dnat(
        &mut pkt,
        &p.iph,
        &Addr::V4(RS1),
        8080,
        nat::CsumMode::Partial,
    )
    .unwrap();
    let want = !csum::csum_tcpudp_magic(CLIENT, RS1, len, 6, 0);
    assert_eq!(u16::from_be_bytes([pkt[36], pkt[37]]), want);
}

#[test]
fn sctp_crc32c_and_events() {
    let p = parse(fx::SCTP4_INIT);
    let seg = &fx::SCTP4_INIT[p.iph.len..];
    assert!(sctp::checksum_ok(seg), "the Python CRC32c agrees");
    assert_eq!(sctp::event(seg), Some(SctpEvent::Init));
    let L4::Sctp(sh) = p.l4 else { panic!() };
    assert_eq!((sh.source, sh.dest, sh.first_chunk), (5000, 3868, Some(1)));
    let mut out = fx::SCTP4_INIT.to_vec();
    nat::dnat(&mut out, &p.iph, &Addr::V4(RS1), 3869, nat::CsumMode::Full).unwrap();
    assert!(sctp::checksum_ok(&out[20..]));
    assert_eq!(parse(&out).ports(), Some((5000, 3869)));
    // Same port: IPVS leaves the CRC alone.
    let mut same = fx::SCTP4_INIT.to_vec();
    nat::dnat(&mut same, &p.iph, &Addr::V4(RS1), 3868, nat::CsumMode::Full).unwrap();
    assert_eq!(&same[20..], &fx::SCTP4_INIT[20..]);

    let p = parse(fx::SCTP4_COOKIE_ABORT);
    assert_eq!(
        sctp::event(&fx::SCTP4_COOKIE_ABORT[p.iph.len..]),
        Some(SctpEvent::Abort)
    );
    let p = parse(fx::SCTP6_DATA);
    let seg = &fx::SCTP6_DATA[p.iph.len..];
    assert!(sctp::checksum_ok(seg));
    assert_eq!(sctp::event(seg), Some(SctpEvent::Data));
}

#[test]
fn icmp_frag_needed_from_outside_about_a_reply() {
    // A router between director and client says the real server's reply (NATed to VIP in the
    // real path; here addressed to RS1 as in the director's LOCAL_IN view) was too big.
    let p = parse(fx::ICMP4_FRAG_NEEDED_FROM_CLIENT);
    let icmp::IcmpClass::Related(err) =
        icmp::classify(fx::ICMP4_FRAG_NEEDED_FROM_CLIENT, &p.iph).unwrap()
    else {
        panic!("related")
    };
    println!("icmp error: {err:?}");
    assert_eq!(
        (err.icmp.icmp_type, err.icmp.code, err.icmp.frag_mtu()),
        (3, 4, 1400)
    );
    assert_eq!(err.inner.hdr_flags, HDR_ICMP | HDR_INVERSE);
    assert_eq!(
        (err.inner.off, err.inner.len, err.inner.protocol),
        (28, 48, 6)
    );
    assert_eq!(err.inner.saddr, Addr::V4(RS1));
    assert_eq!(err.ports, Some((80, 43210)));
    assert!(icmp::checksum_ok(fx::ICMP4_FRAG_NEEDED_FROM_CLIENT, &p.iph));

    let mut out = fx::ICMP4_FRAG_NEEDED_FROM_CLIENT.to_vec();
    icmp::nat_icmp(
        &mut out,
        &p.iph,
        &err,
        icmp::IcmpNat::In,
        &Addr::V4([172, 16, 0, 3]),
        8080,
    )
    .unwrap();
    let q = parse(&out);
    assert_eq!(q.iph.daddr, Addr::V4([172, 16, 0, 3]));
    assert!(ipv4::header_checksum_ok(&out, 0));
    assert!(ipv4::header_checksum_ok(&out, 28));
    assert!(icmp::checksum_ok(&out, &q.iph));
    let icmp::IcmpClass::Related(err2) = icmp::classify(&out, &q.iph).unwrap() else {
        panic!()
    };
    assert_eq!(err2.inner.saddr, Addr::V4([172, 16, 0, 3]));
    assert_eq!(err2.ports, Some((8080, 43210)));
}

#[test]
fn icmp_error_from_real_server_is_rewritten_to_the_vip() {
    let p = parse(fx::ICMP4_PORT_UNREACH_TO_CLIENT);
    let icmp::IcmpClass::Related(err) =
        icmp::classify(fx::ICMP4_PORT_UNREACH_TO_CLIENT, &p.iph).unwrap()
    else {
        panic!()
    };
    let mut out = fx::ICMP4_PORT_UNREACH_TO_CLIENT.to_vec();
    icmp::nat_icmp(
        &mut out,
        &p.iph,
        &err,
        icmp::IcmpNat::Out,
        &Addr::V4(VIP),
        80,
    )
    .unwrap();
    let q = parse(&out);
    assert_eq!(q.iph.saddr, Addr::V4(VIP));
    assert!(icmp::checksum_ok(&out, &q.iph));
    let icmp::IcmpClass::Related(e) = icmp::classify(&out, &q.iph).unwrap() else {
        panic!()
    };
    assert_eq!((e.inner.daddr, e.ports), (Addr::V4(VIP), Some((43210, 80))));
}

#[test]
fn echo_is_not_related() {
    let p = parse(fx::ICMP4_ECHO);
    assert_eq!(
        icmp::classify(fx::ICMP4_ECHO, &p.iph),
        Ok(icmp::IcmpClass::NotRelated)
    );
    assert!(icmp::checksum_ok(fx::ICMP4_ECHO, &p.iph));
}

#[test]
fn ipv6_extension_headers_and_fragments() {
    let p = parse(fx::TCP6_SYN);
    assert_eq!((p.iph.af(), p.iph.len, p.iph.protocol), (Af::Inet6, 40, 6));
    assert_eq!(
        field_and_full(fx::TCP6_SYN).0,
        field_and_full(fx::TCP6_SYN).1
    );

    let p = parse(fx::TCP6_HBH_DST);
    println!("hbh+dst: len {} proto {}", p.iph.len, p.iph.protocol);
    assert_eq!((p.iph.len, p.iph.protocol, p.iph.flags), (56, 6, 0));
    assert_eq!(p.ports(), Some((43210, 443)));
    let mut out = fx::TCP6_HBH_DST.to_vec();
    nat::dnat(&mut out, &p.iph, &Addr::V6(RS16), 8443, nat::CsumMode::Full).unwrap();
    let (field, full) = field_and_full(&out);
    assert_eq!(field, full);

    let p = parse(fx::UDP6_FRAG_FIRST);
    assert_eq!(
        (p.iph.len, p.iph.protocol, p.iph.fragoffs, p.iph.flags),
        (48, 17, 0, IP6_FH_F_FRAG)
    );
    assert_eq!(p.ports(), Some((5353, 53)));

    // A non-first fragment: the protocol after the fragment header, its offset, and (as the
    // kernel's ipv6_find_hdr leaves it) the transport offset still at the IPv6 header.
    let p = parse(fx::UDP6_FRAG_NONFIRST);
    assert_eq!(
        (p.iph.len, p.iph.protocol, p.iph.fragoffs, p.iph.flags),
        (0, 17, 512, IP6_FH_F_FRAG)
    );
    assert_eq!(p.l4, L4::Fragment);
    assert_eq!(p.ports(), None);
    // skip_exthdr stops at the fragment header of a non-first fragment.
    assert_eq!(
        ipv6::skip_exthdr(fx::UDP6_FRAG_NONFIRST, 40, 44),
        Some((40, 44, 512))
    );
    // Rewriting it changes only the address.
    let mut out = fx::UDP6_FRAG_NONFIRST.to_vec();
    nat::dnat(&mut out, &p.iph, &Addr::V6(RS16), 9, nat::CsumMode::Full).unwrap();
    assert_eq!(&out[48..], &fx::UDP6_FRAG_NONFIRST[48..]);
    assert_eq!(&out[24..40], &RS16);
}

#[test]
fn icmpv6_error_with_embedded_udp() {
    let p = parse(fx::ICMP6_PORT_UNREACH);
    assert!(icmp::checksum_ok(fx::ICMP6_PORT_UNREACH, &p.iph));
    let icmp::IcmpClass::Related(err) = icmp::classify(fx::ICMP6_PORT_UNREACH, &p.iph).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (err.inner.off, err.inner.len, err.inner.protocol),
        (48, 88, 17)
    );
    assert_eq!(err.ports, Some((53, 5353)));
    let mut out = fx::ICMP6_PORT_UNREACH.to_vec();
    icmp::nat_icmp(
        &mut out,
        &p.iph,
        &err,
        icmp::IcmpNat::Out,
        &Addr::V6(VIP6),
        53,
    )
    .unwrap();
    let q = parse(&out);
    assert_eq!(q.iph.saddr, Addr::V6(VIP6));
    assert_eq!(q.iph.daddr, Addr::V6(RS16));
    assert!(icmp::checksum_ok(&out, &q.iph));
}

#[test]
fn malformed_packets_are_errors() {
    assert_eq!(packet::parse(&[]), Err(packet::PacketError::Truncated));
    assert_eq!(packet::parse(&[0x55]), Err(packet::PacketError::BadVersion));
    let mut short = fx::TCP4_SYN.to_vec();
    short[0] = 0x44; // IHL 4
    assert_eq!(
        packet::parse(&short),
        Err(packet::PacketError::BadHeaderLength)
    );
    let cut = &fx::TCP4_SYN[..39];
    assert_eq!(packet::parse(cut), Err(packet::PacketError::BadLength));
    // A TCP header cut short inside a valid IP packet.
    let mut trunc = fx::TCP4_SYN[..30].to_vec();
    trunc[3] = 30;
    ipv4::ip_send_check(&mut trunc, 0).unwrap();
    assert_eq!(parse(&trunc).l4, L4::Truncated);
    assert_eq!(parse(&trunc).ports(), None);
    // Ethernet padding past the total length is ignored.
    let mut padded = fx::TCP4_SYN.to_vec();
    padded.extend_from_slice(&[0; 6]);
    assert_eq!(parse(&padded).pkt_len, 40);
    // An IPv6 extension header running past the packet.
    let mut bad = fx::TCP6_HBH_DST.to_vec();
    bad[41] = 200;
    assert_eq!(packet::parse(&bad), Err(packet::PacketError::BadExtHeader));
    // fill_iph of an IPv4 header embedded nowhere.
    assert_eq!(
        packet::fill_iph(Af::Inet, &[0x45; 10], 0, 0),
        Err(packet::PacketError::Truncated)
    );
}

#[test]
fn decrease_ttl_keeps_the_header_valid() {
    let mut pkt = fx::TCP4_SYN.to_vec();
    // From TTL 64 down to 1: callers drop a packet whose TTL would reach 0, as ip_forward does.
    for _ in 0..63 {
        ipv4::decrease_ttl(&mut pkt).unwrap();
        assert!(ipv4::header_checksum_ok(&pkt, 0));
    }
}

/// The full checksum of a captured loopback packet, whose field holds the CHECKSUM_PARTIAL seed.
fn full_of_captured(pkt: &[u8]) -> (u16, u16, u16) {
    let p = parse(pkt);
    let seg = &pkt[p.iph.len..p.pkt_len];
    let (proto, off) = match p.l4 {
        L4::Tcp(_) => (6, 16),
        L4::Udp(_) => (17, 6),
        other => panic!("{other:?}"),
    };
    let len = seg.len() as u32;
    let seed = match (p.iph.saddr, p.iph.daddr) {
        (Addr::V4(s), Addr::V4(d)) => !csum::csum_tcpudp_magic(s, d, len, proto, 0),
        (Addr::V6(s), Addr::V6(d)) => !csum::csum_ipv6_magic(&s, &d, len, proto, 0),
        _ => unreachable!(),
    };
    let field = u16::from_be_bytes([seg[off], seg[off + 1]]);
    let full = csum::transport_checksum(&p.iph.saddr, &p.iph.daddr, proto, seg, off).unwrap();
    (field, seed, full)
}

#[test]
fn captured_loopback_packets_partial_seeds_and_full_checksums() {
    // tcpdump reported each "incorrect -> correct" pair; the correct value is the full checksum.
    for (name, pkt, ports, want_full) in [
        (
            "tcp4 syn",
            fx::CAPTURED_TCP4_SYN_PARTIAL,
            (44530, 47001),
            0x7222,
        ),
        (
            "tcp4 psh",
            fx::CAPTURED_TCP4_PSH_PARTIAL,
            (44530, 47001),
            0x8a9b,
        ),
        ("udp4", fx::CAPTURED_UDP4_PARTIAL, (46339, 47002), 0xbd87),
        ("udp6", fx::CAPTURED_UDP6_PARTIAL, (60283, 47002), 0x4617),
    ] {
        let (field, seed, full) = full_of_captured(pkt);
        println!("{name}: field {field:#06x} = seed {seed:#06x}, full {full:#06x}");
        assert_eq!(parse(pkt).ports(), Some(ports));
        assert_eq!(field, seed, "{name}: the kernel's CHECKSUM_PARTIAL seed");
        assert_eq!(full, want_full, "{name}: tcpdump's checksum");
    }
    let L4::Tcp(th) = parse(fx::CAPTURED_TCP4_SYN_PARTIAL).l4 else {
        panic!()
    };
    assert_eq!(
        th.flags(),
        TcpFlags {
            syn: true,
            ..TcpFlags::default()
        }
    );
    assert_eq!(th.doff, 40);

    // NAT of a CHECKSUM_PARTIAL packet keeps a valid seed for the new addresses.
    let p = parse(fx::CAPTURED_TCP4_SYN_PARTIAL);
    let mut out = fx::CAPTURED_TCP4_SYN_PARTIAL.to_vec();
    nat::dnat(
        &mut out,
        &p.iph,
        &Addr::V4(RS1),
        8080,
        nat::CsumMode::Partial,
    )
    .unwrap();
    let (field, seed, _) = full_of_captured(&out);
    assert_eq!(field, seed);
}

#[test]
fn captured_kernel_icmp_errors() {
    let p = parse(fx::CAPTURED_ICMP4_PORT_UNREACH);
    assert!(icmp::checksum_ok(fx::CAPTURED_ICMP4_PORT_UNREACH, &p.iph));
    let icmp::IcmpClass::Related(err) =
        icmp::classify(fx::CAPTURED_ICMP4_PORT_UNREACH, &p.iph).unwrap()
    else {
        panic!()
    };
    println!("icmp4: {err:?}");
    assert_eq!(
        (err.icmp.icmp_type, err.icmp.code, err.inner.protocol),
        (3, 3, 17)
    );
    assert_eq!(err.ports, Some((46339, 47002)));
    assert!(
        err.tunnel_candidate,
        "an embedded UDP header may be a GUE tunnel's"
    );

    let p = parse(fx::CAPTURED_ICMP6_PORT_UNREACH);
    assert!(icmp::checksum_ok(fx::CAPTURED_ICMP6_PORT_UNREACH, &p.iph));
    let icmp::IcmpClass::Related(err) =
        icmp::classify(fx::CAPTURED_ICMP6_PORT_UNREACH, &p.iph).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (err.icmp.icmp_type, err.icmp.code, err.inner.protocol),
        (1, 4, 17)
    );
    assert_eq!(err.ports, Some((60283, 47002)));
    let mut out = fx::CAPTURED_ICMP6_PORT_UNREACH.to_vec();
    icmp::nat_icmp(
        &mut out,
        &p.iph,
        &err,
        icmp::IcmpNat::In,
        &Addr::V6(RS16),
        53,
    )
    .unwrap();
    let q = parse(&out);
    assert!(icmp::checksum_ok(&out, &q.iph));
}
