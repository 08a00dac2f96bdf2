//! Fuzzes every decode entry point of rvs-core's IPVS netlink codec with arbitrary bytes.
//!
//! The input is read as a receive buffer of messages (what rvsadm gets from the kernel), as one
//! request (what the module gets from userspace), and as bare attribute streams and nests (what
//! the module's handlers and rvsadm's dump parsers see). Beyond "never panics", whatever decodes
//! as a reply must survive encode → decode unchanged, so the encoders and decoders agree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rvs_core::netlink::msg::{Family, Messages, Received};
use rvs_core::netlink::{
    AttrWriter, Attrs, CmdAttrs, Daemon, DaemonParse, Dest, DestParse, Info, Request, Service,
    ServiceParse, Stats, StatsWidth, Timeouts,
};

fuzz_target!(|data: &[u8]| {
    for message in Messages::new(data).flatten() {
        if let Ok(received) = message.classify() {
            let _ = received.ext_ack_message();
            if let Received::Genl { attrs, .. } = received {
                top_level(attrs);
            }
        }
    }
    if let Ok(request) = Request::parse(data) {
        let _ = request.is_dump();
        if let Ok(attrs) = request.cmd_attrs() {
            commands(&attrs);
        }
    }
    top_level(data);
    nests(data);
    walk(data, 0);
});

/// A top-level attribute stream: IPVS commands, info, timeouts, the controller's family.
fn top_level(attrs: &[u8]) {
    if let Ok(cmd_attrs) = CmdAttrs::parse(attrs) {
        commands(&cmd_attrs);
    }
    if let Ok(info) = Info::decode(attrs) {
        let mut buf = [0u8; 64];
        let mut w = AttrWriter::new(&mut buf);
        info.encode(&mut w).unwrap();
        assert_eq!(Info::decode(w.as_bytes()), Ok(info));
    }
    if let Ok(timeouts) = Timeouts::decode(attrs) {
        let _ = timeouts.check(250);
        let mut buf = [0u8; 64];
        let mut w = AttrWriter::new(&mut buf);
        timeouts.encode(&mut w).unwrap();
        assert_eq!(Timeouts::decode(w.as_bytes()), Ok(timeouts));
    }
    let _ = Family::decode(attrs);
}

/// What an IPVS handler extracts from the top-level attributes.
fn commands(attrs: &CmdAttrs<'_>) {
    let _ = attrs.has_service();
    for mode in [
        ServiceParse::Identity,
        ServiceParse::Full,
        ServiceParse::Reply,
    ] {
        let _ = attrs.service(mode);
    }
    for mode in [DestParse::Identity, DestParse::Full, DestParse::Reply] {
        if let Ok(mut dest) = attrs.dest(mode) {
            let _ = dest.check_limits();
            let _ = dest.resolve_af(2, 5, false);
        }
    }
    for mode in [DaemonParse::Start, DaemonParse::Stop, DaemonParse::Reply] {
        let _ = attrs.daemon(mode);
    }
    let _ = attrs.timeouts();
}

/// The bytes as the payload of each nest, with encode → decode round trips of replies.
fn nests(nest: &[u8]) {
    let mut buf = [0u8; 4096];
    for mode in [ServiceParse::Identity, ServiceParse::Full] {
        let _ = Service::decode(nest, mode);
    }
    if let Ok(svc) = Service::decode(nest, ServiceParse::Reply) {
        let mut w = AttrWriter::new(&mut buf);
        svc.encode(&mut w, 1).unwrap();
        let again = Service::decode(w.as_bytes().get(4..).unwrap(), ServiceParse::Reply);
        assert_eq!(again, Ok(svc));
    }
    for mode in [DestParse::Identity, DestParse::Full] {
        let _ = Dest::decode(nest, mode);
    }
    if let Ok(dest) = Dest::decode(nest, DestParse::Reply) {
        let mut w = AttrWriter::new(&mut buf);
        dest.encode_reply(&mut w, 2).unwrap();
        let again = Dest::decode(w.as_bytes().get(4..).unwrap(), DestParse::Reply);
        assert_eq!(again, Ok(dest));
    }
    let _ = Daemon::decode(nest, DaemonParse::Stop);
    let _ = Daemon::decode(nest, DaemonParse::Start);
    if let Ok(daemon) = Daemon::decode(nest, DaemonParse::Reply) {
        let mut w = AttrWriter::new(&mut buf);
        daemon.encode_reply(&mut w, 3).unwrap();
        let again = Daemon::decode(w.as_bytes().get(4..).unwrap(), DaemonParse::Reply);
        assert_eq!(again, Ok(daemon));
    }
    for width in [StatsWidth::Compat, StatsWidth::Wide] {
        if let Ok(stats) = Stats::decode(nest, width) {
            let mut w = AttrWriter::new(&mut buf);
            stats.encode(&mut w, 10, width).unwrap();
            let again = Stats::decode(w.as_bytes().get(4..).unwrap(), width);
            assert_eq!(again, Ok(stats));
        }
    }
}

/// Every attribute and its payload read as a nested stream, a few levels deep.
fn walk(stream: &[u8], depth: u32) {
    let mut attrs = Attrs::new(stream);
    for attr in attrs.by_ref() {
        let _ = (
            attr.kind(),
            attr.has_nested_flag(),
            attr.has_net_byteorder_flag(),
        );
        let _ = (
            attr.get_u8(),
            attr.get_u16(),
            attr.get_be16(),
            attr.get_u32(),
            attr.get_u64(),
        );
        let _ = attr.c_str();
        if depth < 4 {
            walk(attr.payload(), depth + 1);
        }
    }
    let _ = attrs.leftover();
}
