//! Round trips for every IPVS netlink structure: whatever rvsadm or the module encodes decodes
//! back to the same value (with the kernel's normalisations: fwmark services are TCP without
//! address or port, the `STATS` nest carries 32-bit counters), and arbitrary bytes never make a
//! decoder panic.

use proptest::prelude::*;
use rvs_core::abi::{self, cmd, cmd_attr};
use rvs_core::netlink::attr::NLA_F_NESTED;
use rvs_core::netlink::ipvs::{IfName, PeName, SchedName};
use rvs_core::netlink::msg::{
    encode_dump_families, encode_get_family, nlm_flag, Family, GenlWriter, Message, Received,
};
use rvs_core::netlink::{
    AttrWriter, CmdAttrs, Daemon, DaemonParse, Dest, DestParse, Info, McastGroup, Request, Service,
    ServiceFlags, ServiceParse, Stats, StatsWidth, Timeouts,
};

fn name_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1u8..=255, 0..=max)
}

fn stats() -> impl Strategy<Value = Stats> {
    prop::array::uniform10(any::<u64>()).prop_map(|v| Stats {
        conns: v[0],
        inpkts: v[1],
        outpkts: v[2],
        inbytes: v[3],
        outbytes: v[4],
        cps: v[5],
        inpps: v[6],
        outpps: v[7],
        inbps: v[8],
        outbps: v[9],
    })
}

prop_compose! {
    fn service()(
        af in prop::sample::select(vec![abi::AF_INET, abi::AF_INET6]),
        protocol in any::<u16>(),
        addr in any::<[u8; 16]>(),
        port in any::<u16>(),
        fwmark in prop_oneof![Just(0u32), any::<u32>()],
        sched in name_bytes(15),
        pe in prop::option::of(name_bytes(16)),
        flags in any::<u32>(),
        mask in any::<u32>(),
        timeout in any::<u32>(),
        netmask in any::<u32>(),
        s32 in prop::option::of(stats()),
        s64 in prop::option::of(stats()),
    ) -> Service {
        Service {
            af,
            protocol,
            addr,
            port,
            fwmark,
            sched_name: SchedName::new(&sched).unwrap(),
            pe_name: pe.map(|p| PeName::new(&p).unwrap()),
            flags: ServiceFlags { flags, mask },
            timeout,
            netmask,
            stats: s32,
            stats64: s64,
        }
    }
}

prop_compose! {
    fn dest()(
        addr in any::<[u8; 16]>(),
        port in any::<u16>(),
        af in any::<u16>(),
        fwd_method in 0u32..8,
        weight in any::<i32>(),
        u_threshold in any::<u32>(),
        l_threshold in any::<u32>(),
        tun_type in any::<u8>(),
        tun_port in any::<u16>(),
        tun_flags in any::<u16>(),
        conns in any::<[u32; 3]>(),
        s32 in prop::option::of(stats()),
        s64 in prop::option::of(stats()),
    ) -> Dest {
        Dest {
            addr, port, af, fwd_method, weight, u_threshold, l_threshold, tun_type, tun_port,
            tun_flags,
            active_conns: conns[0],
            inact_conns: conns[1],
            persist_conns: conns[2],
            stats: s32,
            stats64: s64,
        }
    }
}

fn mcast_group() -> impl Strategy<Value = McastGroup> {
    prop_oneof![
        Just(McastGroup::Default),
        (224u8..=239, any::<[u8; 3]>()).prop_map(|(a, r)| McastGroup::V4([a, r[0], r[1], r[2]])),
        any::<[u8; 15]>().prop_map(|r| {
            let mut g = [0xffu8; 16];
            g[1..].copy_from_slice(&r);
            McastGroup::V6(g)
        }),
    ]
}

prop_compose! {
    fn daemon()(
        state in any::<u32>(),
        ifn in name_bytes(15),
        syncid in any::<u32>(),
        sync_maxlen in any::<u16>(),
        mcast_group in mcast_group(),
        mcast_port in any::<u16>(),
        mcast_ttl in any::<u8>(),
    ) -> Daemon {
        Daemon {
            state,
            mcast_ifn: IfName::new(&ifn).unwrap(),
            syncid,
            sync_maxlen,
            mcast_group,
            mcast_port,
            mcast_ttl,
        }
    }
}

/// What a service looks like after the kernel's parse: fwmark services are TCP with no address
/// or port, and the 32-bit statistics nest truncates counters and rates.
fn normalised(mut svc: Service) -> Service {
    if svc.fwmark != 0 {
        svc.protocol = abi::IPPROTO_TCP;
        svc.addr = [0; 16];
        svc.port = 0;
    }
    svc.stats = svc.stats.map(|s| s.to_user());
    svc
}

fn nest_payload(w: &AttrWriter<'_>) -> Vec<u8> {
    w.as_bytes()[4..].to_vec()
}

proptest! {
    #[test]
    fn service_round_trips(svc in service(), flagged in any::<bool>()) {
        let mut buf = [0u8; 1024];
        let mut w = AttrWriter::new(&mut buf);
        let kind = if flagged { cmd_attr::SERVICE | NLA_F_NESTED } else { cmd_attr::SERVICE };
        svc.encode(&mut w, kind).unwrap();
        let attrs = CmdAttrs::parse(w.as_bytes()).unwrap();
        let back = attrs.service(ServiceParse::Reply).unwrap();
        prop_assert_eq!(back, normalised(svc));
        // A request decodes to the same service without the statistics.
        let full = attrs.service(ServiceParse::Full).unwrap();
        prop_assert_eq!(full, Service { stats: None, stats64: None, ..normalised(svc) });
        // The identity alone is enough for Identity and not for Full.
        let mut buf = [0u8; 128];
        let mut w = AttrWriter::new(&mut buf);
        svc.encode_id(&mut w, cmd_attr::SERVICE).unwrap();
        let id = Service::decode(&nest_payload(&w), ServiceParse::Identity).unwrap();
        let n = normalised(svc);
        prop_assert_eq!((id.af, id.protocol, id.addr, id.port, id.fwmark), (n.af, n.protocol, n.addr, n.port, n.fwmark));
        prop_assert!(Service::decode(&nest_payload(&w), ServiceParse::Full).is_err());
    }

    #[test]
    fn dest_round_trips(d in dest()) {
        let mut buf = [0u8; 1024];
        let mut w = AttrWriter::new(&mut buf);
        d.encode_reply(&mut w, cmd_attr::DEST).unwrap();
        let back = Dest::decode(&nest_payload(&w), DestParse::Reply).unwrap();
        prop_assert_eq!(back, Dest { stats: d.stats.map(|s| s.to_user()), ..d });

        let mut w = AttrWriter::new(&mut buf);
        d.encode_request(&mut w, cmd_attr::DEST | NLA_F_NESTED).unwrap();
        let req = Dest::decode(&nest_payload(&w), DestParse::Full).unwrap();
        prop_assert_eq!(req, Dest { active_conns: 0, inact_conns: 0, persist_conns: 0, stats: None, stats64: None, ..d });
    }

    #[test]
    fn daemon_round_trips(d in daemon()) {
        let mut buf = [0u8; 256];
        let mut w = AttrWriter::new(&mut buf);
        d.encode_reply(&mut w, cmd_attr::DAEMON).unwrap();
        prop_assert_eq!(Daemon::decode(&nest_payload(&w), DaemonParse::Reply).unwrap(), d);
        let mut w = AttrWriter::new(&mut buf);
        d.encode_request(&mut w, cmd_attr::DAEMON).unwrap();
        prop_assert_eq!(Daemon::decode(&nest_payload(&w), DaemonParse::Start).unwrap(), d);
        let stop = Daemon::decode(&nest_payload(&w), DaemonParse::Stop).unwrap();
        prop_assert_eq!(stop, Daemon { state: d.state, ..Daemon::default() });
    }

    #[test]
    fn stats_round_trip_in_both_widths(s in stats()) {
        let mut buf = [0u8; 256];
        for (width, want) in [(StatsWidth::Wide, s), (StatsWidth::Compat, s.to_user())] {
            let mut w = AttrWriter::new(&mut buf);
            s.encode(&mut w, 10, width).unwrap();
            prop_assert_eq!(Stats::decode(&nest_payload(&w), width).unwrap(), want);
        }
    }

    #[test]
    fn info_timeouts_and_family_round_trip(
        version in any::<u32>(),
        size in any::<u32>(),
        t in (prop::option::of(any::<u32>()), prop::option::of(any::<u32>()), prop::option::of(any::<u32>())),
        id in any::<u16>(),
        name in prop::collection::vec(1u8..=255, 0..=15),
        seq in any::<u32>(),
        pid in any::<u32>(),
    ) {
        let mut buf = [0u8; 256];
        let info = Info { version, conn_tab_size: size };
        let mut w = AttrWriter::new(&mut buf);
        info.encode(&mut w).unwrap();
        prop_assert_eq!(Info::decode(w.as_bytes()).unwrap(), info);

        let timeouts = Timeouts { tcp: t.0, tcp_fin: t.1, udp: t.2 };
        let mut w = AttrWriter::new(&mut buf);
        timeouts.encode(&mut w).unwrap();
        prop_assert_eq!(Timeouts::decode(w.as_bytes()).unwrap(), timeouts);

        let family = Family { id, version, hdrsize: 0, maxattr: size };
        let mut w = AttrWriter::new(&mut buf);
        family.encode(&mut w, &name).unwrap();
        prop_assert_eq!(Family::decode(w.as_bytes()).unwrap(), family);
        prop_assert_eq!(Family::decode_name(w.as_bytes()).unwrap(), &name[..]);

        let len = encode_dump_families(&mut buf, seq, pid).unwrap();
        let m = Message::parse(&buf[..len]).unwrap();
        prop_assert_eq!((m.header.seq, m.header.pid, len), (seq, pid, 16 + 4));
        prop_assert_eq!(m.header.flags & nlm_flag::DUMP, nlm_flag::DUMP);

        let len = encode_get_family(&mut buf, &name, seq, pid).unwrap();
        let m = Message::parse(&buf[..len]).unwrap();
        prop_assert_eq!((m.header.seq, m.header.pid), (seq, pid));
        let Received::Genl { attrs, .. } = m.classify().unwrap() else { panic!("not genl") };
        let a = rvs_core::netlink::Attrs::new(attrs).next().unwrap();
        prop_assert_eq!(a.c_str(), &name[..]);
    }

    #[test]
    fn whole_requests_round_trip(
        svc in service(),
        d in dest(),
        seq in any::<u32>(),
        pid in any::<u32>(),
        command in prop::sample::select(vec![cmd::NEW_DEST, cmd::SET_DEST, cmd::DEL_DEST]),
    ) {
        let mut buf = [0u8; 2048];
        let mut w = GenlWriter::request(&mut buf, 0x1c, 0, seq, pid, command, 1).unwrap();
        svc.encode(w.attrs(), cmd_attr::SERVICE | NLA_F_NESTED).unwrap();
        d.encode_request(w.attrs(), cmd_attr::DEST | NLA_F_NESTED).unwrap();
        let len = w.finish().unwrap();
        let req = Request::parse(&buf[..len]).unwrap();
        prop_assert_eq!((req.genl.cmd, req.header.seq, req.header.pid), (command, seq, pid));
        let attrs = req.cmd_attrs().unwrap();
        let id = attrs.service(ServiceParse::Identity).unwrap();
        prop_assert_eq!(id.fwmark, svc.fwmark);
        let back = attrs.dest(DestParse::Full).unwrap();
        prop_assert_eq!((back.addr, back.port, back.weight, back.fwd_method), (d.addr, d.port, d.weight, d.fwd_method));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Request::parse(&bytes).map(|r| r.cmd_attrs());
        if let Ok(attrs) = CmdAttrs::parse(&bytes) {
            let _ = attrs.service(ServiceParse::Reply);
            let _ = attrs.dest(DestParse::Reply);
            let _ = attrs.daemon(DaemonParse::Start);
            let _ = attrs.timeouts();
        }
        let _ = Service::decode(&bytes, ServiceParse::Reply);
        let _ = Dest::decode(&bytes, DestParse::Reply);
        let _ = Daemon::decode(&bytes, DaemonParse::Reply);
        let _ = Stats::decode(&bytes, StatsWidth::Compat);
        let _ = Info::decode(&bytes);
        let _ = Family::decode(&bytes);
        for m in rvs_core::netlink::Messages::new(&bytes).flatten() {
            let _ = m.classify().map(|r| r.ext_ack_message());
        }
    }
}
