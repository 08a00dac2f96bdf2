//! Byte-exact fixtures: what ipvsadm 1.31 (libnl 3.7) really sends, and what the kernel really
//! answers to the controller, checked against the codec in both directions.
//!
//! The ipvsadm messages were captured from Debian's `/sbin/ipvsadm` 1:1.31-1+b1 with
//! `LD_PRELOAD` stubs for `genl_ctrl_resolve` (family id 0x1c), `nl_recvmsgs_default` and
//! `sendmsg` (hex dump of each message); the controller exchanges were recorded from the running
//! kernel (strace of ipvsadm, and a raw `NETLINK_GENERIC` socket). Sequence numbers and port ids
//! are the capture's; every other byte is built by the codec and must match. In the other
//! direction, the reply bytes of `replies_that_ipvsadm_lists` were fed to the same ipvsadm by a
//! stub playing the kernel, and it listed them correctly. Netlink is host-endian, so these
//! little-endian captures only run on little-endian hosts.
#![cfg(target_endian = "little")]

use rvs_core::abi::{self, cmd, cmd_attr, conn_flag, daemon_state, svc_flag, tunnel_type};
use rvs_core::netlink::attr::NLA_F_NESTED;
use rvs_core::netlink::ipvs::{netmask_v4, IfName, PeName, SchedName};
use rvs_core::netlink::msg::{
    self, ctrl, encode_get_family, nlm_flag, Family, GenlWriter, Messages, NlMsgHdr, Received,
};
use rvs_core::netlink::{
    AttrWriter, Daemon, DaemonParse, Dest, DestParse, Error, McastGroup, Request, Service,
    ServiceFlags, ServiceParse, Timeouts,
};

const FAMILY: u16 = 0x1c;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Builds a request with the fixture's sequence number and port id and the codec's everything
/// else, and checks it equals the fixture byte for byte.
fn check_request(
    name: &str,
    fixture: &str,
    command: u8,
    extra_flags: u16,
    fill: impl FnOnce(&mut AttrWriter<'_>) -> Result<(), Error>,
) -> Vec<u8> {
    let want = hex(fixture);
    let header = NlMsgHdr::parse(&want).unwrap();
    let mut buf = [0u8; 512];
    let mut w = GenlWriter::request(
        &mut buf,
        FAMILY,
        extra_flags,
        header.seq,
        header.pid,
        command,
        abi::IPVS_GENL_VERSION,
    )
    .unwrap();
    fill(w.attrs()).unwrap();
    let len = w.finish().unwrap();
    assert_eq!(hex_of(&buf[..len]), hex_of(&want), "{name}");
    println!("fixture {name}: {len} bytes identical to ipvsadm's");
    want
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> [u8; 16] {
    let mut addr = [0u8; 16];
    addr[..4].copy_from_slice(&[a, b, c, d]);
    addr
}

fn sched(name: &str) -> SchedName {
    SchedName::new(name.as_bytes()).unwrap()
}

/// The service ipvsadm fills for `-t 10.0.0.1:80` in destination and delete commands.
fn vip_tcp_80(sched_name: &str) -> Service {
    Service {
        af: abi::AF_INET,
        protocol: abi::IPPROTO_TCP,
        addr: v4(10, 0, 0, 1),
        port: 80,
        sched_name: sched(sched_name),
        flags: ServiceFlags::all(0),
        timeout: 0,
        netmask: u32::MAX,
        ..Service::default()
    }
}

const ADD_SERVICE: &str = "680000001c0005007840026ba5010090010100005400018006000100020000000600020006000000140003000a000001000000000000000000000000060004000050000007000600727200000c00070000000000ffffffff080008000000000008000900ffffffff";

#[test]
fn ipvsadm_add_service_tcp_rr() {
    // ipvsadm -A -t 10.0.0.1:80 -s rr
    let svc = vip_tcp_80("rr");
    let bytes = check_request(
        "-A -t 10.0.0.1:80 -s rr",
        ADD_SERVICE,
        cmd::NEW_SERVICE,
        0,
        |w| svc.encode(w, cmd_attr::SERVICE | NLA_F_NESTED),
    );
    let req = Request::parse(&bytes).unwrap();
    assert_eq!(req.genl.cmd, cmd::NEW_SERVICE);
    assert_eq!(
        req.header.flags,
        nlm_flag::REQUEST | nlm_flag::ACK,
        "libnl asks for an ack"
    );
    let decoded = req
        .cmd_attrs()
        .unwrap()
        .service(ServiceParse::Full)
        .unwrap();
    assert_eq!(decoded, svc);
    assert_eq!(decoded.flags.apply(0), 0);
}

#[test]
fn ipvsadm_add_dest_masq_weight_2() {
    // ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.2:80 -m -w 2
    let fixture = "c80000001c0005007840026ba8010090050100005400018006000100020000000600020006000000140003000a000001000000000000000000000000060004000050000005000600000000000c00070000000000ffffffff080008000000000008000900ffffffff6000028006000b000200000014000100c0a8010200000000000000000000000006000200005000000800030000000000080004000200000005000d000000000006000e000000000006000f000000000008000500000000000800060000000000";
    let svc = vip_tcp_80("");
    let dest = Dest {
        af: abi::AF_INET,
        addr: v4(192, 168, 1, 2),
        port: 80,
        fwd_method: conn_flag::MASQ,
        weight: 2,
        ..Dest::default()
    };
    let bytes = check_request("-a ... -m -w 2", fixture, cmd::NEW_DEST, 0, |w| {
        svc.encode(w, cmd_attr::SERVICE | NLA_F_NESTED)?;
        dest.encode_request(w, cmd_attr::DEST | NLA_F_NESTED)
    });
    let attrs = Request::parse(&bytes).unwrap().cmd_attrs().unwrap();
    assert_eq!(attrs.service(ServiceParse::Identity).unwrap().port, 80);
    let mut decoded = attrs.dest(DestParse::Full).unwrap();
    assert_eq!(decoded, dest);
    decoded
        .resolve_af(abi::AF_INET, cmd::NEW_DEST, false)
        .unwrap();
    decoded.check_limits().unwrap();
}

#[test]
fn ipvsadm_add_fwmark_service_persistent() {
    // ipvsadm -A -f 42 -s wlc -p 300 -M 255.255.255.0
    let fixture = "4c0000001c0005007840026bab01009001010000380001800600010002000000080005002a00000008000600776c63000c00070001000000ffffffff080008002c01000008000900ffffff00";
    let svc = Service {
        af: abi::AF_INET,
        protocol: abi::IPPROTO_TCP,
        fwmark: 42,
        sched_name: sched("wlc"),
        flags: ServiceFlags::all(svc_flag::PERSISTENT),
        timeout: 300,
        netmask: netmask_v4(24),
        ..Service::default()
    };
    let bytes = check_request(
        "-A -f 42 -p 300 -M /24",
        fixture,
        cmd::NEW_SERVICE,
        0,
        |w| svc.encode(w, cmd_attr::SERVICE | NLA_F_NESTED),
    );
    let decoded = Request::parse(&bytes)
        .unwrap()
        .cmd_attrs()
        .unwrap()
        .service(ServiceParse::Full)
        .unwrap();
    // The kernel forces IPPROTO_TCP on fwmark services.
    assert_eq!(decoded, svc);
    assert_eq!(decoded.netmask.to_ne_bytes(), [255, 255, 255, 0]);
}

#[test]
fn ipvsadm_add_ipv6_service_with_pe_and_sched_flags() {
    // ipvsadm -A -u [2001:db8::1]:53 -s sh -b sh-port,sh-fallback --pe sip -p 60
    let fixture = "700000001c0005007840026bae010090010100005c000180060001000a00000006000200110000001400030020010db80000000000000000000000010600040000350000070006007368000008000b00736970000c00070019000000ffffffff080008003c0000000800090080000000";
    let mut addr = [0u8; 16];
    addr[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    addr[15] = 1;
    let svc = Service {
        af: abi::AF_INET6,
        protocol: abi::IPPROTO_UDP,
        addr,
        port: 53,
        sched_name: sched("sh"),
        pe_name: Some(PeName::new(b"sip").unwrap()),
        flags: ServiceFlags::all(
            svc_flag::PERSISTENT | svc_flag::SCHED_SH_FALLBACK | svc_flag::SCHED_SH_PORT,
        ),
        timeout: 60,
        // IPv6 persistence: the prefix length as a plain integer.
        netmask: 128,
        ..Service::default()
    };
    let bytes = check_request(
        "-A -u [2001:db8::1]:53 --pe sip",
        fixture,
        cmd::NEW_SERVICE,
        0,
        |w| svc.encode(w, cmd_attr::SERVICE | NLA_F_NESTED),
    );
    let decoded = Request::parse(&bytes)
        .unwrap()
        .cmd_attrs()
        .unwrap()
        .service(ServiceParse::Full)
        .unwrap();
    assert_eq!(decoded, svc);
}

#[test]
fn ipvsadm_delete_dest_and_add_gue_dest() {
    // ipvsadm -d -t 10.0.0.1:80 -r 192.168.1.2:80 (ipvsadm fills its defaults: droute, weight 1)
    let del = "c80000001c0005007840026bb4010090070100005400018006000100020000000600020006000000140003000a000001000000000000000000000000060004000050000005000600000000000c00070000000000ffffffff080008000000000008000900ffffffff6000028006000b000200000014000100c0a8010200000000000000000000000006000200005000000800030003000000080004000100000005000d000000000006000e000000000006000f000000000008000500000000000800060000000000";
    let svc = vip_tcp_80("");
    let dest = Dest {
        af: abi::AF_INET,
        addr: v4(192, 168, 1, 2),
        port: 80,
        fwd_method: conn_flag::DROUTE,
        weight: 1,
        ..Dest::default()
    };
    let bytes = check_request("-d ... -r 192.168.1.2:80", del, cmd::DEL_DEST, 0, |w| {
        svc.encode(w, cmd_attr::SERVICE | NLA_F_NESTED)?;
        dest.encode_request(w, cmd_attr::DEST | NLA_F_NESTED)
    });
    let id = Request::parse(&bytes)
        .unwrap()
        .cmd_attrs()
        .unwrap()
        .dest(DestParse::Identity)
        .unwrap();
    assert_eq!((id.addr, id.port, id.af), (dest.addr, 80, abi::AF_INET));

    // ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.3 -i -w 5 -x 100 -y 10 --tun-type gue
    //         --tun-port 6080 --tun-nocsum
    let gue = "c80000001c0005007840026bb7010090050100005400018006000100020000000600020006000000140003000a000001000000000000000000000000060004000050000005000600000000000c00070000000000ffffffff080008000000000008000900ffffffff6000028006000b000200000014000100c0a8010300000000000000000000000006000200005000000800030002000000080004000500000005000d000100000006000e0017c0000006000f00000000000800050064000000080006000a000000";
    let tunnel = Dest {
        af: abi::AF_INET,
        addr: v4(192, 168, 1, 3),
        port: 80,
        fwd_method: conn_flag::TUNNEL,
        weight: 5,
        u_threshold: 100,
        l_threshold: 10,
        tun_type: tunnel_type::GUE,
        tun_port: 6080,
        ..Dest::default()
    };
    let bytes = check_request("-a ... -i --tun-type gue", gue, cmd::NEW_DEST, 0, |w| {
        svc.encode(w, cmd_attr::SERVICE | NLA_F_NESTED)?;
        tunnel.encode_request(w, cmd_attr::DEST | NLA_F_NESTED)
    });
    let decoded = Request::parse(&bytes)
        .unwrap()
        .cmd_attrs()
        .unwrap()
        .dest(DestParse::Full)
        .unwrap();
    assert_eq!(decoded, tunnel);
    decoded.check_limits().unwrap();
}

#[test]
fn ipvsadm_service_commands_without_payload_change() {
    // ipvsadm -D -t 10.0.0.1:80 and ipvsadm -Z -t 10.0.0.1:80 send the same service nest.
    let del = "680000001c0005007840026bba010090030100005400018006000100020000000600020006000000140003000a000001000000000000000000000000060004000050000005000600000000000c00070000000000ffffffff080008000000000008000900ffffffff";
    let zero = "680000001c0005007840026bcc010090100100005400018006000100020000000600020006000000140003000a000001000000000000000000000000060004000050000005000600000000000c00070000000000ffffffff080008000000000008000900ffffffff";
    let svc = vip_tcp_80("");
    for (name, fixture, command) in [
        ("-D -t 10.0.0.1:80", del, cmd::DEL_SERVICE),
        ("-Z -t 10.0.0.1:80", zero, cmd::ZERO),
    ] {
        let bytes = check_request(name, fixture, command, 0, |w| {
            svc.encode(w, cmd_attr::SERVICE | NLA_F_NESTED)
        });
        let attrs = Request::parse(&bytes).unwrap().cmd_attrs().unwrap();
        assert!(attrs.has_service());
        assert_eq!(
            attrs.service(ServiceParse::Identity).unwrap().addr,
            v4(10, 0, 0, 1)
        );
    }
    // Commands with no attributes at all.
    for (name, fixture, command, flags) in [
        (
            "-Z",
            "140000001c0005007840026bc901009010010000",
            cmd::ZERO,
            0,
        ),
        (
            "-C",
            "140000001c0005007840026bcf01009011010000",
            cmd::FLUSH,
            0,
        ),
        (
            "init",
            "140000001c0005007840026ba501406d0f010000",
            cmd::GET_INFO,
            0,
        ),
        (
            "-L --timeout",
            "140000001c0005007840026bd50100900d010000",
            cmd::GET_CONFIG,
            0,
        ),
        (
            "-L -n",
            "140000001c0005037840026bd201009004010000",
            cmd::GET_SERVICE,
            nlm_flag::DUMP,
        ),
        (
            "-L --daemon",
            "140000001c0005037840026bd80100900b010000",
            cmd::GET_DAEMON,
            nlm_flag::DUMP,
        ),
    ] {
        let bytes = check_request(name, fixture, command, flags, |_| Ok(()));
        let req = Request::parse(&bytes).unwrap();
        assert_eq!(req.is_dump(), flags == nlm_flag::DUMP, "{name}");
        assert!(!req.cmd_attrs().unwrap().has_service());
    }
}

#[test]
fn ipvsadm_set_timeouts() {
    // ipvsadm --set 900 120 300
    let fixture =
        "2c0000001c0005007840026bbd0100900c01000008000400840300000800050078000000080006002c010000";
    let t = Timeouts {
        tcp: Some(900),
        tcp_fin: Some(120),
        udp: Some(300),
    };
    let bytes = check_request("--set 900 120 300", fixture, cmd::SET_CONFIG, 0, |w| {
        t.encode(w)
    });
    let decoded = Request::parse(&bytes)
        .unwrap()
        .cmd_attrs()
        .unwrap()
        .timeouts()
        .unwrap();
    assert_eq!(decoded, t);
    decoded.check(250).unwrap();
}

#[test]
fn ipvsadm_sync_daemons() {
    // ipvsadm --start-daemon master --mcast-interface eth0 --syncid 5
    let master = "340000001c0005007840026bc0010090090100002000038008000100010000000900020065746830000000000800030005000000";
    let d = Daemon {
        state: daemon_state::MASTER,
        mcast_ifn: IfName::new(b"eth0").unwrap(),
        syncid: 5,
        ..Daemon::default()
    };
    let bytes = check_request("--start-daemon master", master, cmd::NEW_DAEMON, 0, |w| {
        d.encode_request(w, cmd_attr::DAEMON | NLA_F_NESTED)
    });
    let attrs = Request::parse(&bytes).unwrap().cmd_attrs().unwrap();
    assert_eq!(attrs.daemon(DaemonParse::Start).unwrap(), d);

    // ipvsadm --start-daemon backup --mcast-interface eth1 --mcast-group 224.0.0.81
    //         --mcast-port 8848 --mcast-ttl 3 --sync-maxlen 1400
    let backup = "540000001c0005007840026bc301009009010000400003800800010002000000090002006574683100000000080003000000000006000400780500000600070090220000050008000300000008000500e0000051";
    let d = Daemon {
        state: daemon_state::BACKUP,
        mcast_ifn: IfName::new(b"eth1").unwrap(),
        syncid: 0,
        sync_maxlen: 1400,
        mcast_group: McastGroup::V4([224, 0, 0, 81]),
        mcast_port: 8848,
        mcast_ttl: 3,
    };
    let bytes = check_request(
        "--start-daemon backup ...",
        backup,
        cmd::NEW_DAEMON,
        0,
        |w| d.encode_request(w, cmd_attr::DAEMON | NLA_F_NESTED),
    );
    let attrs = Request::parse(&bytes).unwrap().cmd_attrs().unwrap();
    assert_eq!(attrs.daemon(DaemonParse::Start).unwrap(), d);

    // ipvsadm --stop-daemon master: an empty interface name and sync id 0 ride along.
    let stop = "300000001c0005007840026bc60100900a0100001c000380080001000100000005000200000000000800030000000000";
    let d = Daemon {
        state: daemon_state::MASTER,
        ..Daemon::default()
    };
    let bytes = check_request("--stop-daemon master", stop, cmd::DEL_DAEMON, 0, |w| {
        d.encode_request(w, cmd_attr::DAEMON | NLA_F_NESTED)
    });
    let attrs = Request::parse(&bytes).unwrap().cmd_attrs().unwrap();
    assert_eq!(
        attrs.daemon(DaemonParse::Stop).unwrap().state,
        daemon_state::MASTER
    );
    // Starting with that nest would fail: the interface name is present but the kernel's
    // strscpy gives "", which start_sync_thread refuses later, not the parser.
    assert_eq!(
        attrs.daemon(DaemonParse::Start).unwrap().mcast_ifn,
        IfName::empty()
    );
}

#[test]
fn controller_family_lookup_as_libnl_sends_it() {
    // strace of ipvsadm: genl_ctrl_resolve(sock, "IPVS").
    let want = hex("20000000100005008740026b2403c06303010000090002004950565300000000");
    let header = NlMsgHdr::parse(&want).unwrap();
    let mut buf = [0u8; 64];
    let len = encode_get_family(&mut buf, b"IPVS", header.seq, header.pid).unwrap();
    assert_eq!(&buf[..len], &want[..]);
    println!("fixture CTRL_CMD_GETFAMILY \"IPVS\": {len} bytes identical to libnl's");
}

#[test]
fn controller_replies_from_the_running_kernel() {
    // GETFAMILY "nlctrl": the family message, then the capped ack.
    let reply = hex("880000001000000001000000ae030000010200000b0002006e6c6374726c000006000100100000000800030002000000080004000000000008000500000000002c000600140001000800010003000000080002000e00000014000200080001000a000000080002000c0000001c0007001800010008000200100000000b0001006e6f746966790000");
    let ack = hex("240000000200000101000000ae03000000000000200000001000050001000000ae030000");
    let mut buf = reply.clone();
    buf.extend_from_slice(&ack);
    let received: Vec<Received<'_>> = Messages::new(&buf)
        .map(|m| m.unwrap().classify().unwrap())
        .collect();
    let Received::Genl { genl, attrs, .. } = received[0] else {
        panic!("expected a family message, got {:?}", received[0]);
    };
    assert_eq!(genl.cmd, ctrl::CMD_NEWFAMILY);
    let family = Family::decode(attrs).unwrap();
    assert_eq!(family.id, ctrl::GENL_ID_CTRL);
    assert_eq!(family.version, 2);
    let Received::Ack { request, .. } = received[1] else {
        panic!("expected an ack, got {:?}", received[1]);
    };
    assert_eq!(request.seq, 1);
    println!(
        "kernel NEWFAMILY nlctrl: id {:#x}, version {}",
        family.id, family.version
    );

    // GETFAMILY "IPVS" without ip_vs: -ENOENT with the request copied back. Our write_ack
    // produces the same bytes.
    let req = hex("200000001000050002000000ae03000003010000090002004950565300000000");
    let enoent = hex("340000000200000002000000ae030000feffffff200000001000050002000000ae03000003010000090002004950565300000000");
    let got = msg::Message::parse(&enoent).unwrap().classify().unwrap();
    assert!(matches!(got, Received::Error { errno: 2, .. }), "{got:?}");
    let mut out = [0u8; 128];
    let len = msg::write_ack(&mut out, &req, 2).unwrap();
    assert_eq!(&out[..len], &enoent[..]);
    let mut ok = [0u8; 64];
    let len = msg::write_ack(
        &mut ok,
        &hex("200000001000050001000000ae030000030100000b0002006e6c6374726c0000"),
        0,
    )
    .unwrap();
    assert_eq!(&ok[..len], &ack[..]);

    // A FAMILY_ID of 1 byte with NETLINK_EXT_ACK, uncapped then capped (NETLINK_CAP_ACK).
    for capped in [
        "84000000020000020400000028040000deffffff1c00000010000500040000002804000003010000050001001000000027000100417474726962757465206661696c656420706f6c6963792076616c69646174696f6e00000800020014000000240004800c00040000000000000000000c000500ffff0000000000000800010003000000",
        "78000000020000030500000028040000deffffff1c00000010000500050000002804000027000100417474726962757465206661696c656420706f6c6963792076616c69646174696f6e00000800020014000000240004800c00040000000000000000000c000500ffff0000000000000800010003000000",
    ] {
        let bytes = hex(capped);
        let got = msg::Message::parse(&bytes).unwrap().classify().unwrap();
        assert!(matches!(got, Received::Error { errno: 34, .. }), "{got:?}");
        assert_eq!(
            got.ext_ack_message(),
            Some(&b"Attribute failed policy validation"[..])
        );
    }
    println!("kernel errors: ENOENT and ERANGE with extended ack decoded");
}

#[test]
fn dump_of_services_as_the_kernel_frames_it() {
    // Two NEW_SERVICE messages with NLM_F_MULTI then NLMSG_DONE, as ip_vs_genl_dump_services and
    // netlink_dump_done frame them, parsed back as rvsadm does.
    let mut svc = vip_tcp_80("rr");
    svc.flags = ServiceFlags::all(svc_flag::HASHED);
    svc.stats = Some(Default::default());
    svc.stats64 = Some(Default::default());
    let mut other = svc;
    other.port = 443;
    other.sched_name = sched("wlc");
    let mut buf = vec![0u8; 1024];
    let mut at = 0;
    for s in [&svc, &other] {
        let header = NlMsgHdr {
            len: 0,
            kind: FAMILY,
            flags: nlm_flag::MULTI,
            seq: 7,
            pid: 4242,
        };
        let genl = msg::GenlMsgHdr {
            cmd: cmd::NEW_SERVICE,
            version: abi::IPVS_GENL_VERSION,
            reserved: 0,
        };
        let mut w = GenlWriter::new(&mut buf[at..], header, genl).unwrap();
        s.encode(w.attrs(), cmd_attr::SERVICE).unwrap();
        at += w.finish().unwrap();
    }
    at += msg::write_done(&mut buf[at..], 7, 4242).unwrap();
    let mut seen = Vec::new();
    let mut done = false;
    for m in Messages::new(&buf[..at]) {
        match m.unwrap().classify().unwrap() {
            Received::Genl {
                header,
                genl,
                attrs,
            } => {
                assert_eq!(header.flags & nlm_flag::MULTI, nlm_flag::MULTI);
                assert_eq!(genl.cmd, cmd::NEW_SERVICE);
                let attrs = rvs_core::netlink::CmdAttrs::parse(attrs).unwrap();
                seen.push(attrs.service(ServiceParse::Reply).unwrap());
            }
            Received::Done { errno, .. } => {
                assert_eq!(errno, 0);
                done = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(done);
    assert_eq!(seen, vec![svc, other]);
    println!("dump: {} services then NLMSG_DONE", seen.len());
}

/// Replies built by the codec as the module sends them for `ipvsadm -L -n`, `--timeout`,
/// `--daemon` and `GET_INFO` (sequence numbers and port ids 0). Fed to the real ipvsadm 1.31 by
/// an `LD_PRELOAD` stub playing the kernel (it answers each request with these bytes, patching
/// `nlmsg_seq`/`nlmsg_pid`), ipvsadm printed:
///
/// ```text
/// IP Virtual Server version 1.2.1 (size=4096)
/// Prot LocalAddress:Port Scheduler Flags
///   -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
/// TCP  10.0.0.1:80 rr
///   -> 192.168.1.2:8080             Masq    2      3          4
///   -> 192.168.1.3:8080             Route   1      5          6
/// FWM  42 wlc persistent 300 mask 255.255.255.0
///   ...
/// Timeout (tcp tcpfin udp): 900 120 300
/// master sync daemon (mcast=eth0, syncid=5, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)
/// ```
///
/// and `--stats`/`--rate` showed 12 345 300 45678 123456 / 1 7 6 900 2400 on every line. So
/// these bytes are known-good for ipvsadm; a change to the reply encoders must keep them.
#[test]
fn replies_that_ipvsadm_lists() {
    use rvs_core::netlink::ipvs::netmask_v4;
    use rvs_core::netlink::{Info, Stats};

    fn genl(buf: &mut Vec<u8>, flags: u16, command: u8, fill: impl FnOnce(&mut AttrWriter<'_>)) {
        let mut tmp = [0u8; 1024];
        let h = NlMsgHdr {
            len: 0,
            kind: FAMILY,
            flags,
            seq: 0,
            pid: 0,
        };
        let g = msg::GenlMsgHdr {
            cmd: command,
            version: abi::IPVS_GENL_VERSION,
            reserved: 0,
        };
        let mut w = GenlWriter::new(&mut tmp, h, g).unwrap();
        fill(w.attrs());
        let n = w.finish().unwrap();
        buf.extend_from_slice(&tmp[..n]);
    }
    fn ack(buf: &mut Vec<u8>) {
        let mut req = NlMsgHdr {
            len: 20,
            kind: FAMILY,
            flags: 5,
            seq: 0,
            pid: 0,
        }
        .to_bytes()
        .to_vec();
        req.extend_from_slice(&[0; 4]);
        let mut tmp = [0u8; 64];
        let n = msg::write_ack(&mut tmp, &req, 0).unwrap();
        buf.extend_from_slice(&tmp[..n]);
    }
    fn done(buf: &mut Vec<u8>) {
        let mut tmp = [0u8; 32];
        let n = msg::write_done(&mut tmp, 0, 0).unwrap();
        buf.extend_from_slice(&tmp[..n]);
    }

    let stats = Stats {
        conns: 12,
        inpkts: 345,
        outpkts: 300,
        inbytes: 45678,
        outbytes: 123456,
        cps: 1,
        inpps: 7,
        outpps: 6,
        inbps: 900,
        outbps: 2400,
    };
    let web = Service {
        flags: ServiceFlags::all(svc_flag::HASHED),
        stats: Some(stats),
        stats64: Some(stats),
        ..vip_tcp_80("rr")
    };
    let fw = Service {
        af: abi::AF_INET,
        protocol: abi::IPPROTO_TCP,
        fwmark: 42,
        sched_name: sched("wlc"),
        flags: ServiceFlags::all(svc_flag::HASHED | svc_flag::PERSISTENT),
        timeout: 300,
        netmask: netmask_v4(24),
        stats: Some(stats),
        stats64: Some(stats),
        ..Service::default()
    };
    let masq = Dest {
        addr: v4(192, 168, 1, 2),
        port: 8080,
        af: abi::AF_INET,
        weight: 2,
        active_conns: 3,
        inact_conns: 4,
        stats: Some(stats),
        stats64: Some(stats),
        ..Dest::default()
    };
    let route = Dest {
        addr: v4(192, 168, 1, 3),
        port: 8080,
        af: abi::AF_INET,
        fwd_method: conn_flag::DROUTE,
        weight: 1,
        u_threshold: 100,
        l_threshold: 10,
        active_conns: 5,
        inact_conns: 6,
        stats: Some(stats),
        stats64: Some(stats),
        ..Dest::default()
    };
    let daemon = Daemon {
        state: daemon_state::MASTER,
        mcast_ifn: IfName::new(b"eth0").unwrap(),
        syncid: 5,
        sync_maxlen: 1472,
        mcast_group: McastGroup::V4([224, 0, 0, 81]),
        mcast_port: 8848,
        mcast_ttl: 1,
    };

    let mut info = Vec::new();
    genl(&mut info, 0, cmd::SET_INFO, |w| {
        Info::IPVS.encode(w).unwrap()
    });
    ack(&mut info);
    let mut services = Vec::new();
    for s in [&web, &fw] {
        genl(&mut services, nlm_flag::MULTI, cmd::NEW_SERVICE, |w| {
            s.encode(w, cmd_attr::SERVICE).unwrap()
        });
    }
    done(&mut services);
    let mut dests = Vec::new();
    for d in [&masq, &route] {
        genl(&mut dests, nlm_flag::MULTI, cmd::NEW_DEST, |w| {
            d.encode_reply(w, cmd_attr::DEST).unwrap()
        });
    }
    done(&mut dests);
    let mut config = Vec::new();
    let t = Timeouts {
        tcp: Some(900),
        tcp_fin: Some(120),
        udp: Some(300),
    };
    genl(&mut config, 0, cmd::SET_CONFIG, |w| t.encode(w).unwrap());
    ack(&mut config);
    let mut daemons = Vec::new();
    genl(&mut daemons, nlm_flag::MULTI, cmd::NEW_DAEMON, |w| {
        daemon.encode_reply(w, cmd_attr::DAEMON).unwrap()
    });
    done(&mut daemons);

    for (name, got, want) in [
        ("GET_INFO reply", info, INFO_REPLY),
        ("GET_SERVICE dump", services, SERVICE_DUMP),
        ("GET_DEST dump", dests, DEST_DUMP),
        ("GET_CONFIG reply", config, CONFIG_REPLY),
        ("GET_DAEMON dump", daemons, DAEMON_DUMP),
    ] {
        assert_eq!(hex_of(&got), want, "{name}");
        println!(
            "reply {name}: {} bytes, as ipvsadm 1.31 listed them",
            got.len()
        );
    }
}

const INFO_REPLY: &str = concat!(
        "240000001c00000000000000000000000e01000008000100010201000800020000100000240000000200000100000000",
        "0000000000000000140000001c0005000000000000000000",
    );
const SERVICE_DUMP: &str = concat!(
        "400100001c0002000000000000000000010100002c01010006000100020000000600020006000000140003000a000001",
        "000000000000000000000000060004000050000007000600727200000c00070002000000ffffffff0800080000000000",
        "08000900ffffffff5c000a00080001000c0000000800020059010000080003002c0100000c0004006eb2000000000000",
        "0c00050040e2010000000000080006000100000008000700070000000800080006000000080009008403000008000a00",
        "600900007c000c000c0001000c000000000000000c00020059010000000000000c0003002c010000000000000c000400",
        "6eb20000000000000c00050040e20100000000000c00060001000000000000000c00070007000000000000000c000800",
        "06000000000000000c00090084030000000000000c000a006009000000000000240100001c0002000000000000000000",
        "01010000100101000600010002000000080005002a00000008000600776c63000c00070003000000ffffffff08000800",
        "2c01000008000900ffffff005c000a00080001000c0000000800020059010000080003002c0100000c0004006eb20000",
        "000000000c00050040e20100000000000800060001000000080007000700000008000800060000000800090084030000",
        "08000a00600900007c000c000c0001000c000000000000000c00020059010000000000000c0003002c01000000000000",
        "0c0004006eb20000000000000c00050040e20100000000000c00060001000000000000000c0007000700000000000000",
        "0c00080006000000000000000c00090084030000000000000c000a006009000000000000140000000300020000000000",
        "0000000000000000",
    );
const DEST_DUMP: &str = concat!(
        "640100001c0002000000000000000000050100005001020014000100c0a8010200000000000000000000000006000200",
        "1f9000000800030000000000080004000200000005000d000000000006000e000000000006000f000000000008000500",
        "00000000080006000000000008000700030000000800080004000000080009000000000006000b00020000005c000a00",
        "080001000c0000000800020059010000080003002c0100000c0004006eb20000000000000c00050040e2010000000000",
        "080006000100000008000700070000000800080006000000080009008403000008000a00600900007c000c000c000100",
        "0c000000000000000c00020059010000000000000c0003002c010000000000000c0004006eb20000000000000c000500",
        "40e20100000000000c00060001000000000000000c00070007000000000000000c00080006000000000000000c000900",
        "84030000000000000c000a006009000000000000640100001c0002000000000000000000050100005001020014000100",
        "c0a80103000000000000000000000000060002001f9000000800030003000000080004000100000005000d0000000000",
        "06000e000000000006000f00000000000800050064000000080006000a00000008000700050000000800080006000000",
        "080009000000000006000b00020000005c000a00080001000c0000000800020059010000080003002c0100000c000400",
        "6eb20000000000000c00050040e201000000000008000600010000000800070007000000080008000600000008000900",
        "8403000008000a00600900007c000c000c0001000c000000000000000c00020059010000000000000c0003002c010000",
        "000000000c0004006eb20000000000000c00050040e20100000000000c00060001000000000000000c00070007000000",
        "000000000c00080006000000000000000c00090084030000000000000c000a0060090000000000001400000003000200",
        "000000000000000000000000",
    );
const CONFIG_REPLY: &str = concat!(
        "2c0000001c00000000000000000000000c01000008000400840300000800050078000000080006002c01000024000000",
        "02000001000000000000000000000000140000001c0005000000000000000000",
    );
const DAEMON_DUMP: &str = concat!(
        "540000001c00020000000000000000000901000040000300080001000100000009000200657468300000000008000300",
        "0500000006000400c00500000600070090220000050008000100000008000500e0000051140000000300020000000000",
        "0000000000000000",
    );
