//! The control plane: IPVS's generic-netlink family, answered by rvs.
//!
//! With `ipvs_compat=1` the family is called `IPVS` (version 1), exactly as ip_vs registers it,
//! so stock ipvsadm and keepalived find rvs; with `ipvs_compat=0` it is called `RVS` and rvs can
//! sit beside ip_vs. Every command requires CAP_NET_ADMIN in the namespace's user namespace and
//! acts on the requester's network namespace only, as in ip_vs.
//!
//! Requests are decoded and replies encoded by rvs-core's codec (`rvs_core::netlink`), which
//! reproduces ip_vs's parsers and their errno; the handlers here follow `ip_vs_genl_set_cmd`,
//! `ip_vs_genl_get_cmd` and the dump functions step by step. NEW_DAEMON, DEL_DAEMON and
//! GET_DAEMON drive the connection sync daemon ([`crate::sync`]).

use kernel::{
    error::code::{EINVAL, ENODEV, ESRCH},
    error::Result,
    ThisModule,
};

use crate::{
    kapi::genl::{self, DoIt, Dump, DumpIt, Family, Policy, Request, SmallOp, Spec},
    netns::Netns,
    rvs_core::{
        abi::{self, cmd, cmd_attr},
        netlink::{self, AttrWriter, DaemonParse, DestParse, Info, ServiceParse},
    },
    svc::{codec_err, ProtoData, SvcKey},
};

/// Room for the attributes of one reply or dump entry: a service or destination with both
/// statistics nests takes about 350 bytes.
const ENTRY_ROOM: usize = 768;

/// Encodes attributes with `fill` into `buf` and returns them.
fn encode<'b>(
    buf: &'b mut [u8; ENTRY_ROOM],
    fill: impl FnOnce(&mut AttrWriter<'_>) -> core::result::Result<(), netlink::Error>,
) -> Result<&'b [u8]> {
    let mut w = AttrWriter::new(&mut buf[..]);
    fill(&mut w).map_err(codec_err)?;
    let len = w.as_bytes().len();
    Ok(&buf[..len])
}

/// The namespace state and the decoded request of a command.
fn begin<'a>(req: &Request<'a>) -> Result<(&'a Netns, netlink::Request<'a>)> {
    let netns = Netns::of(req.net()).ok_or(ENODEV)?;
    let msg = netlink::Request::parse(req.bytes()).map_err(codec_err)?;
    Ok((netns, msg))
}

/// `ip_vs_genl_set_cmd`: NEW/SET/DEL_SERVICE, NEW/SET/DEL_DEST, SET_CONFIG, ZERO, FLUSH.
struct SetCmd;

impl DoIt for SetCmd {
    fn doit(req: &Request<'_>) -> Result {
        let (netns, msg) = begin(req)?;
        let attrs = msg.cmd_attrs().map_err(codec_err)?;
        let command = msg.genl.cmd;
        let mut ctl = netns.lock();
        match command {
            cmd::FLUSH => {
                ctl.flush(netns.table())?;
                netns.set_conn_out(ctl.has_pe());
                return ctl.sync_hooks(req.net());
            }
            cmd::SET_CONFIG => {
                ctl.set_timeouts(&attrs.timeouts().map_err(codec_err)?)?;
                return netns.publish_proto(ProtoData::with(&ctl.timeouts()));
            }
            cmd::ZERO if !attrs.has_service() => {
                netns.stats().zero();
                return ctl.zero(None);
            }
            _ => {}
        }
        let mode = if matches!(command, cmd::NEW_SERVICE | cmd::SET_SERVICE) {
            ServiceParse::Full
        } else {
            ServiceParse::Identity
        };
        let svc = attrs.service(mode).map_err(codec_err)?;
        let key = SvcKey::of(&svc);
        let svc_af = ctl.af(&key);
        if command != cmd::NEW_SERVICE && svc_af.is_none() {
            return Err(ESRCH);
        }
        let dest = match (command, svc_af) {
            (cmd::NEW_DEST | cmd::SET_DEST | cmd::DEL_DEST, Some(svc_af)) => {
                let dmode = if command == cmd::DEL_DEST {
                    DestParse::Identity
                } else {
                    DestParse::Full
                };
                let mut dest = attrs.dest(dmode).map_err(codec_err)?;
                let syncing = netns.sync().state() != 0;
                dest.resolve_af(svc_af, command, syncing)
                    .map_err(codec_err)?;
                Some(dest)
            }
            _ => None,
        };
        let r = match (command, dest) {
            (cmd::NEW_SERVICE, _) => {
                ctl.add_service(&svc, netns.table())?;
                if svc.af == abi::AF_INET6 {
                    req.net().enable_ipv6_defrag()?;
                }
                ctl.sync_hooks(req.net())
            }
            (cmd::SET_SERVICE, _) => ctl.edit_service(&svc),
            (cmd::DEL_SERVICE, _) => {
                ctl.del_service(&key, netns.table())?;
                ctl.sync_hooks(req.net())
            }
            (cmd::NEW_DEST, Some(d)) => {
                ctl.add_dest(&key, &d, req.net())?;
                if d.af == abi::AF_INET6 {
                    req.net().enable_ipv6_defrag()?;
                }
                Ok(())
            }
            (cmd::SET_DEST, Some(d)) => ctl.edit_dest(&key, &d, req.net()),
            (cmd::DEL_DEST, Some(d)) => ctl.del_dest(&key, &d),
            (cmd::ZERO, _) => ctl.zero(Some(&key)),
            _ => Err(EINVAL),
        };
        netns.set_conn_out(ctl.has_pe());
        r
    }
}

/// `ip_vs_genl_set_daemon`: NEW_DAEMON (`ip_vs_genl_new_daemon`, `start_sync_thread`) and
/// DEL_DAEMON (`ip_vs_genl_del_daemon`, `stop_sync_thread`). A missing or malformed daemon
/// nest is `-EINVAL`; the daemon answers `-EEXIST` (role running), `-ESRCH` (role not
/// running), `-ENODEV` (no such interface), `-EINVAL` (no such role).
struct SetDaemon;

impl DoIt for SetDaemon {
    fn doit(req: &Request<'_>) -> Result {
        let (netns, msg) = begin(req)?;
        let attrs = msg.cmd_attrs().map_err(codec_err)?;
        if msg.genl.cmd == cmd::NEW_DAEMON {
            let daemon = attrs.daemon(DaemonParse::Start).map_err(|_| EINVAL)?;
            // The sync protocol cannot carry connections to a destination of another family.
            if netns.lock().has_mixed_af_dests() {
                return Err(EINVAL);
            }
            netns.sync().start(netns, req.net(), daemon)
        } else {
            let daemon = attrs.daemon(DaemonParse::Stop).map_err(|_| EINVAL)?;
            netns.sync().stop(daemon.state)
        }
    }
}

/// `ip_vs_genl_get_cmd`: GET_SERVICE, GET_CONFIG, GET_INFO.
struct GetCmd;

impl DoIt for GetCmd {
    fn doit(req: &Request<'_>) -> Result {
        let (netns, msg) = begin(req)?;
        let attrs = msg.cmd_attrs().map_err(codec_err)?;
        let command = msg.genl.cmd;
        let reply_cmd = netlink::ipvs::reply_cmd(command).ok_or(EINVAL)?;
        let mut buf = [0u8; ENTRY_ROOM];
        let ctl = netns.lock();
        let bytes = match command {
            cmd::GET_SERVICE => {
                let svc = attrs.service(ServiceParse::Identity).map_err(codec_err)?;
                let found = ctl.service_msg(&SvcKey::of(&svc)).ok_or(ESRCH)?;
                encode(&mut buf, |w| found.encode(w, cmd_attr::SERVICE))?
            }
            cmd::GET_CONFIG => {
                let t = ctl.timeouts();
                let t = netlink::Timeouts {
                    tcp: Some(t.tcp),
                    tcp_fin: Some(t.tcp_fin),
                    udp: Some(t.udp),
                };
                encode(&mut buf, |w| t.encode(w))?
            }
            _ => {
                let info = Info {
                    conn_tab_size: netns.conn_tab_size(),
                    ..Info::IPVS
                };
                encode(&mut buf, |w| info.encode(w))?
            }
        };
        let mut reply = req.reply(reply_cmd)?;
        reply.put_bytes(bytes)?;
        drop(ctl);
        reply.send()
    }
}

/// `ip_vs_genl_dump_services`.
struct DumpServices;

impl DumpIt for DumpServices {
    fn dumpit(dump: &mut Dump<'_>) -> Result {
        let netns = Netns::of(dump.request().net()).ok_or(ENODEV)?;
        let ctl = netns.lock();
        let mut buf = [0u8; ENTRY_ROOM];
        while let Some(svc) = ctl.service_msg_at(dump.position()) {
            let bytes = encode(&mut buf, |w| svc.encode(w, cmd_attr::SERVICE))?;
            if !dump.add(cmd::NEW_SERVICE, bytes)? {
                break;
            }
        }
        Ok(())
    }
}

/// `ip_vs_genl_dump_dests`: a request that does not parse or names no existing service dumps
/// nothing, as in ip_vs.
struct DumpDests;

impl DumpIt for DumpDests {
    fn dumpit(dump: &mut Dump<'_>) -> Result {
        let netns = Netns::of(dump.request().net()).ok_or(ENODEV)?;
        let ctl = netns.lock();
        let key = netlink::Request::parse(dump.request().bytes())
            .and_then(|msg| msg.cmd_attrs())
            .and_then(|attrs| attrs.service(ServiceParse::Identity));
        let Ok(svc) = key else {
            return Ok(());
        };
        let Some(dests) = ctl.dests(&SvcKey::of(&svc)) else {
            return Ok(());
        };
        let mut buf = [0u8; ENTRY_ROOM];
        while let Some(dest) = dests.get(dump.position()) {
            let msg = dest.to_msg();
            let bytes = encode(&mut buf, |w| msg.encode_reply(w, cmd_attr::DEST))?;
            if !dump.add(cmd::NEW_DEST, bytes)? {
                break;
            }
        }
        Ok(())
    }
}

/// `ip_vs_genl_dump_daemons`: the running master, then the running backup.
struct DumpDaemons;

impl DumpIt for DumpDaemons {
    fn dumpit(dump: &mut Dump<'_>) -> Result {
        let netns = Netns::of(dump.request().net()).ok_or(ENODEV)?;
        let running = netns.sync().configs();
        let mut buf = [0u8; ENTRY_ROOM];
        for daemon in running.iter().flatten().skip(dump.position()) {
            let bytes = encode(&mut buf, |w| daemon.encode_reply(w, cmd_attr::DAEMON))?;
            if !dump.add(cmd::NEW_DAEMON, bytes)? {
                break;
            }
        }
        Ok(())
    }
}

/// The commands rvs answers, in ip_vs's order.
static OPS: [SmallOp; 16] = [
    SmallOp::doit::<SetCmd>(cmd::NEW_SERVICE),
    SmallOp::doit::<SetCmd>(cmd::SET_SERVICE),
    SmallOp::doit::<SetCmd>(cmd::DEL_SERVICE),
    SmallOp::doit_dumpit::<GetCmd, DumpServices>(cmd::GET_SERVICE),
    SmallOp::doit::<SetCmd>(cmd::NEW_DEST),
    SmallOp::doit::<SetCmd>(cmd::SET_DEST),
    SmallOp::doit::<SetCmd>(cmd::DEL_DEST),
    SmallOp::dumpit::<DumpDests>(cmd::GET_DEST),
    SmallOp::doit::<SetDaemon>(cmd::NEW_DAEMON),
    SmallOp::doit::<SetDaemon>(cmd::DEL_DAEMON),
    SmallOp::dumpit::<DumpDaemons>(cmd::GET_DAEMON),
    SmallOp::doit::<SetCmd>(cmd::SET_CONFIG),
    SmallOp::doit::<GetCmd>(cmd::GET_CONFIG),
    SmallOp::doit::<GetCmd>(cmd::GET_INFO),
    SmallOp::doit::<SetCmd>(cmd::ZERO),
    SmallOp::doit::<SetCmd>(cmd::FLUSH),
];

static FAMILY: Family = Family::new();

/// The family name rvs registers under the given `ipvs_compat` setting.
pub(crate) fn family_name(ipvs_compat: bool) -> &'static str {
    if ipvs_compat {
        abi::IPVS_GENL_NAME
    } else {
        abi::RVS_GENL_NAME
    }
}

/// Registers the family; dropping the result unregisters it.
pub(crate) fn register(
    module: &'static ThisModule,
    ipvs_compat: bool,
) -> Result<genl::Registration> {
    let spec = Spec {
        name: family_name(ipvs_compat),
        version: abi::IPVS_GENL_VERSION,
        policy: Policy::ipvs_cmd(),
        ops: &OPS,
        resv_start_op: cmd::FLUSH + 1,
    };
    FAMILY.register(&spec, module)
}
