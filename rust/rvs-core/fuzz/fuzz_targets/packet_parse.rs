//! Fuzzes rvs-core's packet parser and rewriters with arbitrary bytes.
//!
//! Beyond "never panics", it checks the invariants the data path relies on: a NAT rewrite of a
//! packet whose checksums verified leaves checksums that verify (the incremental update agrees
//! with a full recomputation), an ICMP error NAT leaves valid IP and ICMP checksums, and the
//! state machines accept whatever the parser extracts.
//!
//! Input layout: the first 18 bytes choose the rewrite (16 address bytes, 2 port bytes); the rest
//! is the packet. The whole input is also parsed as a packet on its own.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rvs_core::packet::{self, csum, icmp, ipv4, ipv6, nat, sctp, Addr, Af, Parsed, L4};
use rvs_core::proto::{self, sctp::SctpData, tcp::TcpData, tcp::TcpState, Direction};

fuzz_target!(|data: &[u8]| {
    exercise(data, [0; 16], 0);
    if let Some((params, pkt)) = data.split_at_checked(18) {
        let mut addr = [0u8; 16];
        addr.copy_from_slice(&params[..16]);
        let port = u16::from_be_bytes([params[16], params[17]]);
        exercise(pkt, addr, port);
    }
});

fn exercise(pkt: &[u8], addr: [u8; 16], port: u16) {
    // The raw walkers take any offset and target.
    let off = usize::from(addr[0]);
    let _ = ipv6::find_hdr(pkt, off, i32::from(addr[1] as i8));
    let _ = ipv6::skip_exthdr(pkt, off, addr[2]);
    let _ = packet::fill_iph(Af::Inet, pkt, off, 0);
    let _ = packet::fill_iph(Af::Inet6, pkt, off, 0);
    let _ = proto::sctp::SctpEvent::from_chunks(pkt);
    let _ = icmp::gue_decap(pkt, off);
    let _ = icmp::gre_decap(pkt, off);

    let Ok(parsed) = packet::parse(pkt) else {
        return;
    };
    let pkt = &pkt[..parsed.pkt_len];
    let iph = parsed.iph;
    assert!(iph.len <= pkt.len() || matches!(parsed.l4, L4::Truncated | L4::Other | L4::Fragment));
    if iph.af() == Af::Inet {
        for opt in ipv4::Ipv4Options::new(pkt) {
            if opt.is_err() {
                break;
            }
        }
    }
    state_machines(&parsed, pkt);

    let new = match iph.af() {
        Af::Inet => Addr::V4([addr[0], addr[1], addr[2], addr[3]]),
        Af::Inet6 => Addr::V6(addr),
    };
    for mode in [nat::CsumMode::Full, nat::CsumMode::Partial] {
        let mut copy = pkt.to_vec();
        let ok_before = transport_ok(&parsed, pkt);
        if nat::dnat(&mut copy, &iph, &new, port, mode).is_ok() && mode == nat::CsumMode::Full {
            check_rewritten(&parsed, &copy, ok_before);
        }
        let mut copy = pkt.to_vec();
        if nat::snat(&mut copy, &iph, &new, port, mode).is_ok() && mode == nat::CsumMode::Full {
            check_rewritten(&parsed, &copy, ok_before);
        }
    }

    if let L4::Icmp(_) = parsed.l4 {
        if let Ok(icmp::IcmpClass::Related(err)) = icmp::classify(pkt, &iph) {
            for dir in [icmp::IcmpNat::In, icmp::IcmpNat::Out] {
                let mut copy = pkt.to_vec();
                if icmp::nat_icmp(&mut copy, &iph, &err, dir, &new, port).is_ok() {
                    let reparsed = packet::parse(&copy).expect("rewritten ICMP error parses");
                    assert!(
                        icmp::checksum_ok(&copy, &reparsed.iph),
                        "ICMP checksum after NAT"
                    );
                    if iph.af() == Af::Inet {
                        assert!(ipv4::header_checksum_ok(&copy, 0));
                        assert!(ipv4::header_checksum_ok(&copy, err.inner.off));
                    }
                }
            }
        }
    }
}

/// Whether the transport checksum of a parsed packet verifies (None: nothing to check).
fn transport_ok(parsed: &Parsed, pkt: &[u8]) -> Option<bool> {
    let seg = pkt.get(parsed.iph.len..)?;
    let (s, d) = (parsed.iph.saddr, parsed.iph.daddr);
    match parsed.l4 {
        L4::Tcp(_) => Some(csum::transport_checksum_ok(&s, &d, 6, seg)),
        L4::Udp(h) if h.check != 0 => Some(csum::transport_checksum_ok(&s, &d, 17, seg)),
        // A UDP packet without checksum gets a full one: it must verify afterwards.
        L4::Udp(_) => Some(true),
        L4::Sctp(_) => Some(sctp::checksum_ok(seg)),
        _ => None,
    }
}

fn check_rewritten(before: &Parsed, copy: &[u8], ok_before: Option<bool>) {
    let after = packet::parse(copy).expect("a rewritten packet parses");
    assert_eq!(after.iph.protocol, before.iph.protocol);
    if before.iph.af() == Af::Inet {
        // ip_send_check always leaves a valid header checksum.
        assert!(
            ipv4::header_checksum_ok(copy, 0),
            "IPv4 header checksum after NAT"
        );
    }
    if ok_before == Some(true) && before.v4_frag.is_none() && before.iph.fragoffs == 0 {
        let seg = &copy[after.iph.len..];
        let (s, d) = (after.iph.saddr, after.iph.daddr);
        let ok = match after.l4 {
            L4::Tcp(_) => csum::transport_checksum_ok(&s, &d, 6, seg),
            L4::Udp(h) => h.check != 0 && csum::transport_checksum_ok(&s, &d, 17, seg),
            L4::Sctp(_) => sctp::checksum_ok(seg),
            _ => true,
        };
        assert!(ok, "transport checksum after NAT: {:?}", after.l4);
    }
}

fn state_machines(parsed: &Parsed, pkt: &[u8]) {
    let flags = proto::new_conn_flags(3);
    match parsed.l4 {
        L4::Tcp(h) => {
            let mut data = TcpData::new();
            for secure in [false, true] {
                data.timeout_change(secure);
                for s in TcpState::ALL {
                    for dir in [Direction::Input, Direction::Output] {
                        let t = data.transition(s, flags, true, dir, h.flags());
                        assert_eq!(t.timeout_secs, data.timeout(t.state));
                    }
                }
            }
        }
        L4::Sctp(_) => {
            if let Some(ev) = sctp::event(&pkt[parsed.iph.len..]) {
                let data = SctpData::new();
                for s in proto::sctp::SctpState::ALL {
                    let _ = data.transition(s, flags, true, Direction::Input, ev);
                }
            }
        }
        _ => {}
    }
}
