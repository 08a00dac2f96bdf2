//! Tests of the sync wire formats: exact layouts, ip_vs's rejections one by one, round trips
//! and arbitrary input.

use super::*;
use proptest::prelude::*;
use std::{panic, println, vec, vec::Vec};

fn v4(a: [u8; 4]) -> [u8; 16] {
    let mut x = [0u8; 16];
    x[..4].copy_from_slice(&a);
    x
}

/// An established TCP connection client 10.0.0.2:40000 → VIP 10.0.0.1:80 → 10.0.1.1:8080 (DR).
fn tcp_conn() -> SyncConn<'static> {
    SyncConn {
        af: AF_INET,
        protocol: 6,
        flags: conn_flag::DROUTE | conn_flag::HASHED,
        state: 1,
        cport: 40000,
        vport: 80,
        dport: 8080,
        fwmark: 0,
        timeout: 900,
        caddr: v4([10, 0, 0, 2]),
        vaddr: v4([10, 0, 0, 1]),
        daddr: v4([10, 0, 1, 1]),
        ..SyncConn::default()
    }
}

fn message(version: Version, syncid: u32, conns: &[SyncConn<'_>]) -> Vec<u8> {
    let mut buf = [0u8; 1472];
    let mut w = MessageWriter::new(&mut buf, version, syncid).unwrap();
    for c in conns {
        w.push(c).unwrap();
    }
    w.as_bytes().to_vec()
}

fn items(bytes: &[u8], syncid: u32) -> Vec<Item<'_>> {
    Message::parse(bytes, syncid).unwrap().items().collect()
}

/// What the backup stores for a connection the master sent.
fn stored(c: &SyncConn<'_>) -> Item<'static> {
    let mut c = SyncConn {
        pe_data: None,
        pe_name: None,
        ..*c
    };
    c.flags = (c.flags & conn_flag::BACKUP_MASK) | conn_flag::SYNC;
    Item::Conn(c)
}

#[test]
fn v1_layout_is_ip_vs_sync_v4() {
    let m = message(Version::V1, 7, &[tcp_conn()]);
    #[rustfmt::skip]
    let want: [u8; 44] = [
        0, 7, 0, 44, 1, 1, 0, 0,               // reserved, syncid, size, nr_conns, version, spare
        0, 6, 0, 36,                           // type, protocol, ver_size
        0, 0, 0, 3,                            // flags (HASHED cleared)
        0, 1, 0x9c, 0x40, 0, 80, 0x1f, 0x90,   // state, cport, vport, dport
        0, 0, 0, 0, 0, 0, 3, 0x84,             // fwmark, timeout
        10, 0, 0, 2, 10, 0, 0, 1, 10, 0, 1, 1, // caddr, vaddr, daddr
    ];
    assert_eq!(m, want);
    assert_eq!(items(&m, 7), [stored(&tcp_conn())]);
    println!("v1 layout: 44 bytes as struct ip_vs_sync_mesg + ip_vs_sync_v4");
}

#[test]
fn v0_layout_is_ip_vs_sync_conn_v0() {
    let m = message(Version::V0, 7, &[tcp_conn()]);
    #[rustfmt::skip]
    let want: [u8; 28] = [
        1, 7, 0, 28,                           // nr_conns, syncid, size
        0, 6, 0x9c, 0x40, 0, 80, 0x1f, 0x90,   // reserved, protocol, cport, vport, dport
        10, 0, 0, 2, 10, 0, 0, 1, 10, 0, 1, 1, // caddr, vaddr, daddr
        0, 3, 0, 1,                            // flags, state
    ];
    assert_eq!(m, want);
    let mut expect = tcp_conn();
    expect.timeout = 0;
    assert_eq!(items(&m, 0), [stored(&expect)]);
    println!("v0 layout: 28 bytes as struct ip_vs_sync_mesg_v0 + ip_vs_sync_conn_v0");
}

#[test]
fn entries_are_padded_to_four_bytes() {
    let pe = SyncConn {
        flags: conn_flag::TEMPLATE | conn_flag::MASQ,
        protocol: 17,
        state: 0,
        pe_data: Some(b"call-1"),
        pe_name: Some(b"sip"),
        ..tcp_conn()
    };
    // 36 + 8 + 5 = 49 bytes: the next entry starts 3 bytes of padding later, at 8 + 52.
    assert_eq!(v1_entry_len(&pe), 49);
    let m = message(Version::V1, 1, &[pe, tcp_conn()]);
    assert_eq!(m.len(), 8 + 52 + 36);
    assert_eq!(&m[8 + 49..8 + 52], &[0, 0, 0]);
    let got = items(&m, 1);
    let Item::Conn(first) = got[0] else { panic!() };
    assert_eq!(first.pe_data, Some(&b"call-1"[..]));
    assert_eq!(first.pe_name, Some(&b"sip"[..]));
    assert_eq!(got[1], stored(&tcp_conn()));
    println!("padding: an entry of 49 bytes is followed by 3 zero bytes");
}

#[test]
fn header_checks() {
    let m = message(Version::V1, 7, &[tcp_conn()]);
    assert_eq!(
        Message::parse(&m[..3], 0).unwrap_err(),
        Reason::HeaderTooShort
    );
    assert_eq!(Message::parse(&m[..40], 0).unwrap_err(), Reason::BadSize);
    let mut longer = m.clone();
    longer.push(0);
    assert_eq!(Message::parse(&longer, 0).unwrap_err(), Reason::BadSize);
    assert_eq!(Message::parse(&m, 8).unwrap_err(), Reason::OtherSyncId);
    assert!(Message::parse(&m, 7).is_ok());
    assert!(Message::parse(&m, 0).is_ok());
    // A version-1 header with spare != 0 is read as version 0 with nr_conns = 0: nothing.
    let mut spare = m.clone();
    spare[7] = 1;
    let msg = Message::parse(&spare, 0).unwrap();
    assert_eq!(msg.version, Version::V0);
    assert_eq!(msg.items().count(), 0);
    println!("header: short, size mismatch, syncid filter, spare != 0 handled as ip_vs");
}

#[test]
fn fatal_errors_drop_the_rest_of_the_message() {
    let two = message(Version::V1, 0, &[tcp_conn(), tcp_conn()]);
    // Second entry's version nibble set.
    let mut bad = two.clone();
    bad[8 + 36 + 2] |= 0x10;
    assert_eq!(
        items(&bad, 0),
        [stored(&tcp_conn()), Item::Fatal(Reason::EntryVersion)]
    );
    // An entry size past the end.
    let mut bad = two.clone();
    bad[8 + 36 + 3] = 37;
    assert_eq!(items(&bad, 0)[1], Item::Fatal(Reason::EntryPastEnd));
    // An entry size below the address block.
    let mut bad = two.clone();
    bad[8 + 3] = 20;
    assert_eq!(items(&bad, 0), [Item::Fatal(Reason::EntryTruncated)]);
    // An unknown type.
    let mut bad = two.clone();
    bad[8] = 2;
    assert_eq!(items(&bad, 0), [Item::Fatal(Reason::BadType)]);
    // nr_conns larger than what is there.
    let mut bad = two.clone();
    bad[4] = 3;
    assert_eq!(items(&bad, 0)[2], Item::Fatal(Reason::EntryTooShort));
    // Type with bit 0 set is IPv6 whatever the other bits: 36 bytes are too short for it.
    let mut bad = two;
    bad[8] = 0x81;
    assert_eq!(items(&bad, 0), [Item::Fatal(Reason::EntryTruncated)]);
    println!("fatal: version, size past end, truncated, type, nr_conns too large");
}

/// A message with one v4 entry followed by `opts` as its options.
fn with_options(opts: &[u8]) -> Vec<u8> {
    let mut m = message(Version::V1, 0, &[tcp_conn()]);
    m.extend_from_slice(opts);
    let entry = (36 + opts.len()) as u16;
    m[8 + 2..8 + 4].copy_from_slice(&entry.to_be_bytes());
    let size = m.len() as u16;
    m[2..4].copy_from_slice(&size.to_be_bytes());
    m
}

#[test]
fn options_as_ip_vs_proc_sync_conn() {
    let seq = [1u8; 24];
    let mut twice = vec![1, 24];
    twice.extend_from_slice(&seq);
    twice.extend_from_slice(&[1, 24]);
    twice.extend_from_slice(&seq);
    let cases: &[(&[u8], Item<'_>)] = &[
        (&[9], Item::Fatal(Reason::BadOption)),
        (&[9, 0], Item::Fatal(Reason::BadOption)),
        (&[9, 3, 1, 2], Item::Fatal(Reason::BadOption)),
        (&[1, 2, 0, 0], Item::Fatal(Reason::BadSeqOption)),
        (&twice, Item::Fatal(Reason::BadSeqOption)),
        (
            &[3, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            Item::Fatal(Reason::BadPeName),
        ),
        (&[2, 1, 0, 2, 1, 0], Item::Fatal(Reason::BadPeData)),
        // Unknown mandatory: the entry goes, even with garbage after it.
        (&[9, 1, 0, 0xff], Item::Skip(Reason::UnknownOption)),
        // Unknown optional: skipped, the entry stays.
        (&[9 | OPT_F_PARAM, 2, 0, 0], stored(&tcp_conn())),
        // PE data without a name, or with an engine rvs lacks.
        (&[2, 1, 0x41], Item::Skip(Reason::BadPe)),
        (
            &[2, 1, 0x41, 3, 3, b'f', b't', b'p'],
            Item::Skip(Reason::BadPe),
        ),
    ];
    for (opts, want) in cases {
        let m = with_options(opts);
        assert_eq!(items(&m, 0), [*want], "options {opts:?}");
    }
    // Sequence data decodes big-endian.
    let mut opt = vec![1u8 | OPT_F_PARAM, 24];
    for v in 1u32..=6 {
        opt.extend_from_slice(&v.to_be_bytes());
    }
    let m = with_options(&opt);
    let [Item::Conn(c)] = items(&m, 0)[..] else {
        panic!()
    };
    let s = c.seq.unwrap();
    assert_eq!((s[0].init_seq, s[0].previous_delta, s[1].delta), (1, 3, 5));
    println!("options: {} malformed/unknown cases as ip_vs", cases.len());
}

#[test]
fn per_entry_checks_skip_only_that_entry() {
    let cases = [
        (conn_flag::ONE_PACKET, 1, 6, Reason::BadFlags),
        (
            conn_flag::NO_CPORT | conn_flag::TEMPLATE,
            0,
            6,
            Reason::BadFlags,
        ),
        (0, 11, 6, Reason::BadState),
        (0, 2, 17, Reason::BadState),
        (0, 14, 132, Reason::BadState),
        (0, 0, 50, Reason::BadProtocol),
        (conn_flag::TEMPLATE, 2, 0, Reason::BadState),
    ];
    for (flags, state, protocol, reason) in cases {
        let bad = SyncConn {
            flags,
            state,
            protocol,
            ..tcp_conn()
        };
        for version in [Version::V1, Version::V0] {
            let m = message(version, 0, &[bad, tcp_conn()]);
            let mut good = tcp_conn();
            if version == Version::V0 {
                good.timeout = 0;
            }
            assert_eq!(items(&m, 0), [Item::Skip(reason), stored(&good)]);
        }
    }
    // A template of a fwmark service (protocol IPPROTO_IP) is fine.
    let tpl = SyncConn {
        flags: conn_flag::TEMPLATE,
        protocol: 0,
        state: 1,
        ..tcp_conn()
    };
    assert_eq!(items(&message(Version::V1, 0, &[tpl]), 0), [stored(&tpl)]);
    println!(
        "per-entry: {} invalid entries skipped, the next one kept",
        cases.len()
    );
}

#[test]
fn v0_refuses_ipv6_and_writer_fills_up() {
    let mut buf = [0u8; 8 + 36 + 36 + 35];
    let mut w = MessageWriter::new(&mut buf, Version::V1, 0).unwrap();
    let v6 = SyncConn {
        af: AF_INET6,
        ..tcp_conn()
    };
    w.push(&tcp_conn()).unwrap();
    w.push(&tcp_conn()).unwrap();
    assert_eq!(w.push(&tcp_conn()), Err(EncodeError::Full));
    assert_eq!(w.push(&v6), Err(EncodeError::Full));
    assert_eq!(w.nr_conns(), 2);
    assert_eq!(w.as_bytes().len(), 80);
    let mut buf = [0u8; 100];
    let mut w = MessageWriter::new(&mut buf, Version::V0, 0).unwrap();
    assert_eq!(w.push(&v6), Err(EncodeError::Unsendable));
    println!("writer: full at the buffer's end; v0 cannot carry IPv6");
}

fn arb_conn() -> impl Strategy<Value = (SyncConn<'static>, Option<Vec<u8>>, bool)> {
    let flags = prop_oneof![
        Just(0u32),
        Just(conn_flag::TEMPLATE),
        Just(conn_flag::NO_CPORT),
        Just(conn_flag::INACTIVE | conn_flag::SEQ_MASK),
    ];
    (
        any::<bool>(),
        prop_oneof![Just(6u8), Just(17u8), Just(132u8)],
        flags,
        0u32..8,
        any::<(u16, u16, u16, u32, u32)>(),
        any::<([u8; 16], [u8; 16], [u8; 16])>(),
        proptest::option::of(any::<[u32; 6]>()),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 1..=255)),
        any::<bool>(),
    )
        .prop_map(|(v6, protocol, flags, fwd, ports, addrs, seq, pe, named)| {
            let alen = if v6 { 16 } else { 4 };
            let mut a = [addrs.0, addrs.1, addrs.2];
            for x in &mut a {
                x[alen..].fill(0);
            }
            let tpl = flags & conn_flag::TEMPLATE != 0;
            let states = if tpl {
                CTPL_S_LAST
            } else {
                num_states(protocol).unwrap()
            };
            let state = ports.3 as u16 % states;
            let c = SyncConn {
                af: if v6 { AF_INET6 } else { AF_INET },
                protocol,
                flags: flags | (fwd & 7),
                state,
                cport: ports.0,
                vport: ports.1,
                dport: ports.2,
                fwmark: ports.3,
                timeout: ports.4,
                caddr: a[0],
                vaddr: a[1],
                daddr: a[2],
                seq: seq.map(|s| {
                    [
                        Seq {
                            init_seq: s[0],
                            delta: s[1],
                            previous_delta: s[2],
                        },
                        Seq {
                            init_seq: s[3],
                            delta: s[4],
                            previous_delta: s[5],
                        },
                    ]
                }),
                pe_data: None,
                pe_name: None,
            };
            (c, pe, named)
        })
}

proptest! {
    #[test]
    fn v1_round_trip(conns in proptest::collection::vec(arb_conn(), 0..40), syncid in any::<u8>()) {
        let mut buf = vec![0u8; 1472];
        let mut w = MessageWriter::new(&mut buf, Version::V1, u32::from(syncid)).unwrap();
        let mut sent = Vec::new();
        for (c, pe, named) in &conns {
            let mut c = *c;
            c.pe_data = pe.as_deref();
            c.pe_name = if *named { Some(&b"sip"[..]) } else { None };
            match w.push(&c) {
                Ok(()) => sent.push(c),
                Err(EncodeError::Full) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        let bytes = w.as_bytes().to_vec();
        let msg = Message::parse(&bytes, u32::from(syncid)).unwrap();
        prop_assert_eq!(msg.version, Version::V1);
        prop_assert_eq!(usize::from(msg.nr_conns), sent.len());
        let got: Vec<_> = msg.items().collect();
        prop_assert_eq!(got.len(), sent.len());
        for (g, s) in got.iter().zip(&sent) {
            let mut want = *s;
            want.flags = (s.flags & conn_flag::BACKUP_MASK) | conn_flag::SYNC;
            if s.pe_data.is_some() && s.pe_name.is_none() {
                prop_assert_eq!(*g, Item::Skip(Reason::BadPe));
                continue;
            }
            if s.pe_data.is_none() {
                want.pe_name = None;
            }
            prop_assert_eq!(*g, Item::Conn(want));
        }
    }

    #[test]
    fn v0_round_trip(conns in proptest::collection::vec(arb_conn(), 0..70), syncid in any::<u8>()) {
        let mut buf = vec![0u8; 1472];
        let mut w = MessageWriter::new(&mut buf, Version::V0, u32::from(syncid)).unwrap();
        let mut sent = Vec::new();
        for (c, _, _) in &conns {
            let mut c = SyncConn { fwmark: 0, timeout: 0, ..*c };
            if c.af != AF_INET {
                prop_assert_eq!(w.push(&c), Err(EncodeError::Unsendable));
                continue;
            }
            if c.flags & conn_flag::SEQ_MASK == 0 {
                c.seq = None;
            } else if c.seq.is_none() {
                c.seq = Some([Seq::default(); 2]);
            }
            match w.push(&c) {
                Ok(()) => sent.push(c),
                Err(EncodeError::Full) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        let bytes = w.as_bytes().to_vec();
        let msg = Message::parse(&bytes, 0).unwrap();
        prop_assert_eq!(msg.version, Version::V0);
        let got: Vec<_> = msg.items().collect();
        prop_assert_eq!(got.len(), sent.len());
        for (g, s) in got.iter().zip(&sent) {
            prop_assert_eq!(*g, stored(s));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), syncid in 0u32..3) {
        if let Ok(m) = Message::parse(&bytes, syncid) {
            let mut n = 0;
            let mut fatal = 0;
            for item in m.items() {
                n += 1;
                if let Item::Fatal(_) = item { fatal += 1; }
            }
            prop_assert!(n <= usize::from(m.nr_conns));
            prop_assert!(fatal <= 1);
        }
    }

    #[test]
    fn mutated_messages_never_panic(
        conns in proptest::collection::vec(arb_conn(), 1..10),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut buf = vec![0u8; 1472];
        let mut w = MessageWriter::new(&mut buf, Version::V1, 0).unwrap();
        for (c, pe, _) in &conns {
            let c = SyncConn { pe_data: pe.as_deref(), pe_name: Some(b"sip"), ..*c };
            let _ = w.push(&c);
        }
        let mut bytes = w.as_bytes().to_vec();
        for (at, v) in flips {
            let n = bytes.len();
            bytes[at % n] ^= v;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        // Fix the size so the walk reaches the entries.
        if bytes.len() >= 4 {
            let n = bytes.len() as u16;
            bytes[2..4].copy_from_slice(&n.to_be_bytes());
        }
        if let Ok(m) = Message::parse(&bytes, 0) {
            for item in m.items() {
                if let Item::Conn(c) = item {
                    prop_assert!(c.flags & conn_flag::SYNC != 0);
                    prop_assert!(c.flags & !(conn_flag::BACKUP_MASK | conn_flag::SYNC) == 0);
                }
            }
        }
    }
}

fn vars() -> SyncVars {
    SyncVars {
        threshold: 3,
        period: 50,
        refresh_period: 0,
        retries: 0,
        persist_mode: false,
    }
}

fn tcp_view(state: u16, old_state: u16) -> ConnView {
    ConnView {
        flags: 0,
        protocol: 6,
        state,
        old_state,
        in_persistence: false,
        timeout: 900 * 250,
    }
}

#[test]
fn sync_needed_follows_threshold_and_period() {
    let v = vars();
    let est = tcp_view(1, 1);
    let yes = |n: Needed| matches!(n, Needed::Maybe { .. });
    assert!(yes(sync_needed(&v, &est, 3, 0, 1000, 250)));
    assert!(!yes(sync_needed(&v, &est, 4, 0, 1000, 250)));
    assert!(yes(sync_needed(&v, &est, 53, 0, 1000, 250)));
    // SYN_RECV is never synced.
    assert!(!yes(sync_needed(&v, &tcp_view(3, 0), 3, 0, 1000, 250)));
    // A change to FIN_WAIT is forced whatever the packet count.
    assert_eq!(
        sync_needed(&v, &tcp_view(4, 1), 17, 0, 1000, 250),
        Needed::Maybe {
            endtime: (1000 + 900 * 250) & !3,
            force: true
        }
    );
    // Templates go with every controlled connection's message (period > 0).
    let tpl = ConnView {
        flags: conn_flag::TEMPLATE,
        ..est
    };
    assert!(yes(sync_needed(&v, &tpl, 17, 0, 1000, 250)));
    // sync_persist_mode: connections under a template are not synced.
    let pm = SyncVars {
        persist_mode: true,
        ..v
    };
    let under = ConnView {
        in_persistence: true,
        ..est
    };
    assert_eq!(sync_needed(&pm, &under, 3, 0, 1000, 250), Needed::No);
    // Period 0 and no refresh: only at the threshold.
    let once = SyncVars { period: 0, ..v };
    assert!(yes(sync_needed(&once, &est, 3, 0, 1000, 250)));
    assert!(!yes(sync_needed(&once, &est, 53, 0, 1000, 250)));
    println!("sync_needed: threshold/period, states, force, templates, persist mode");
}

#[test]
fn sync_needed_refresh_period_limits_rate() {
    let v = SyncVars {
        period: 0,
        refresh_period: 30 * 250,
        retries: 1,
        ..vars()
    };
    let c = tcp_view(1, 1);
    let now = 100_000u64;
    let n = (now + u64::from(c.timeout)) & !3;
    // Just synced (endtime = n): within the refresh period, and too early for a retry.
    assert_eq!(sync_needed(&v, &c, 9, n, now, 250), Needed::No);
    // After refresh/8 a retry is due, counted in the low bits.
    let later = now + 30 * 250 / 8 + 1;
    let Needed::Maybe { endtime, .. } = sync_needed(&v, &c, 9, n, later, 250) else {
        panic!()
    };
    assert_eq!(endtime & 3, 1);
    // Retries exhausted.
    assert_eq!(sync_needed(&v, &c, 9, n | 1, later, 250), Needed::No);
    // Long after: the difference exceeds the period, a new message.
    assert!(matches!(
        sync_needed(&v, &c, 9, n, now + 60 * 250, 250),
        Needed::Maybe { .. }
    ));
    println!("sync_needed: refresh period and retries");
}

#[test]
fn resume_continues_a_kept_message() {
    for version in [Version::V1, Version::V0] {
        let mut buf = [0u8; 200];
        let mut w = MessageWriter::new(&mut buf, version, 3).unwrap();
        w.push(&tcp_conn()).unwrap();
        let mut w = MessageWriter::resume(&mut buf, version).unwrap();
        assert_eq!(w.nr_conns(), 1);
        w.push(&tcp_conn()).unwrap();
        let bytes = w.as_bytes().to_vec();
        assert_eq!(Message::parse(&bytes, 3).unwrap().items().count(), 2);
        let other = if version == Version::V1 {
            Version::V0
        } else {
            Version::V1
        };
        assert!(MessageWriter::resume(&mut buf, other).is_none());
    }
    println!("resume: a kept buffer takes more entries; the other version's is refused");
}

#[test]
fn resync_request_is_a_no_op_for_ip_vs_backups() {
    let r = resync_request(7);
    assert_eq!(&r[..8], &[0, 7, 0, 16, 0, 1, 0, 0]);
    assert_eq!(&r[8..], b"rvsR\x01\0\0\0");
    // What an ip_vs (or rvs) backup makes of it: a valid message with no entries.
    let m = Message::parse(&r, 7).unwrap();
    assert_eq!(
        (m.version, m.nr_conns, m.items().count()),
        (Version::V1, 0, 0)
    );
    assert!(is_resync_request(&r, 7));
    assert!(!is_resync_request(&r, 8));
    assert!(is_resync_request(&resync_request(0), 8));
    let mut bad = r;
    bad[12] = 2;
    assert!(!is_resync_request(&bad, 7));
    assert!(!is_resync_request(&r[..15], 7));
    assert!(!is_resync_request(
        &message(Version::V1, 7, &[tcp_conn()]),
        7
    ));
    println!("resync request: 16 bytes, ignored by backups, recognised by masters of its sync id");
}

#[test]
fn state_synced_is_sync_needed_state_filter() {
    for state in 0..16u16 {
        let v = ConnView {
            state,
            old_state: state,
            ..tcp_view(state, state)
        };
        let needed = sync_needed(&vars(), &v, 3, 0, 1000, 250) != Needed::No;
        assert_eq!(state_synced(6, state, false), needed, "tcp state {state}");
    }
    assert!(state_synced(17, 0, false));
    assert!(state_synced(6, 3, true));
    println!("state_synced: the TCP states sync_needed syncs");
}
