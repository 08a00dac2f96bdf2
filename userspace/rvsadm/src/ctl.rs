//! The control channel: IPVS generic-netlink requests to rvs or stock ip_vs.
//!
//! The socket is `netlink-sys`'s; every message is built and read with rvs-core's codec, in the
//! shape libipvs (ipvsadm 1.31) gives it: `NLM_F_REQUEST | NLM_F_ACK`, nests flagged
//! `NLA_F_NESTED` as libnl's `nla_nest_start` flags them, full service attributes even where only
//! the identity matters. Errors come back as the kernel's errno; [`strerror`] turns them into
//! ipvsadm's words for the operation that failed.

use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};
use rvs_core::abi::{self, cmd, cmd_attr};
use rvs_core::netlink::attr::{AttrWriter, NLA_F_NESTED};
use rvs_core::netlink::msg::{
    encode_dump_families, encode_get_family, nlm_flag, Family, GenlWriter,
};
use rvs_core::netlink::{
    CmdAttrs, Daemon, DaemonParse, Dest, DestParse, Info, Messages, Received, Service,
    ServiceParse, Timeouts,
};

/// Which generic-netlink family to drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyChoice {
    /// `RVS` when it is registered, else `IPVS`.
    Auto,
    /// Only `IPVS` (stock ip_vs, or rvs with `ipvs_compat=1`).
    Ipvs,
    /// Only `RVS` (rvs with `ipvs_compat=0`).
    Rvs,
}

/// A libipvs operation, for [`strerror`]'s per-operation messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Init,
    AddService,
    UpdateService,
    DelService,
    ZeroService,
    AddDest,
    UpdateDest,
    DelDest,
    StartDaemon,
    StopDaemon,
    GetServices,
    GetDests,
    GetService,
    Other,
}

/// `ipvs_strerror`: ipvsadm's message for `errno` after `op`, else the C library's.
pub fn strerror(op: Op, errno: i32) -> String {
    const EPERM: i32 = 1;
    const ENOENT: i32 = 2;
    const ESRCH: i32 = 3;
    const ENOMEM: i32 = 12;
    const EEXIST: i32 = 17;
    const EINVAL: i32 = 22;
    const ENOPROTOOPT: i32 = 92;
    const EOPNOTSUPP: i32 = 95;
    const EAFNOSUPPORT: i32 = 97;
    const EMSGSIZE: i32 = 90;
    let specific = match (op, errno) {
        (Op::AddService, EEXIST) => Some("Service already exists"),
        (Op::AddService | Op::UpdateService, ENOENT) => {
            Some("Scheduler or persistence engine not found")
        }
        (Op::UpdateService | Op::DelService | Op::ZeroService, ESRCH) => Some("No such service"),
        (Op::AddDest | Op::UpdateDest | Op::DelDest, ESRCH) => Some("Service not defined"),
        (Op::AddDest, EEXIST) => Some("Destination already exists"),
        (Op::UpdateDest | Op::DelDest, ENOENT) => Some("No such destination"),
        (Op::StartDaemon, EEXIST) => Some("Daemon has already run"),
        (Op::StopDaemon, ESRCH) => Some("No daemon is running"),
        (Op::GetServices | Op::GetDests | Op::GetService, ESRCH) => Some("No such service"),
        (_, EPERM) => Some("Permission denied (you must be root)"),
        (_, EINVAL) => {
            Some("Invalid operation.  Possibly wrong module version, address not unicast, ...")
        }
        (_, ENOPROTOOPT) => Some("Protocol not available"),
        (_, ENOMEM) => Some("Memory allocation problem"),
        (_, EOPNOTSUPP) => Some("Operation not supported with IPv6"),
        (_, EAFNOSUPPORT) => Some("Operation not supported with specified address family"),
        (_, EMSGSIZE) => Some("Module is wrong version"),
        _ => None,
    };
    match specific {
        Some(text) => text.to_string(),
        None => {
            let text = std::io::Error::from_raw_os_error(errno).to_string();
            // std appends " (os error N)" to strerror's text.
            match text.rfind(" (os error") {
                Some(at) => text[..at].to_string(),
                None => text,
            }
        }
    }
}

/// A change to the kernel's tables, with what libipvs sends for it.
#[derive(Clone, Copy, Debug)]
pub enum Mutation<'a> {
    /// `ipvs_add_service`.
    AddService(&'a Service),
    /// `ipvs_update_service`.
    UpdateService(&'a Service),
    /// `ipvs_del_service`.
    DelService(&'a Service),
    /// `ipvs_zero_service`: one service, or everything when none was named.
    Zero(&'a Service),
    /// `ipvs_flush`.
    Flush,
    /// `ipvs_add_dest`.
    AddDest(&'a Service, &'a Dest),
    /// `ipvs_update_dest`.
    UpdateDest(&'a Service, &'a Dest),
    /// `ipvs_del_dest`.
    DelDest(&'a Service, &'a Dest),
    /// `ipvs_set_timeout`.
    SetTimeouts(&'a Timeouts),
    /// `ipvs_start_daemon`.
    StartDaemon(&'a Daemon),
    /// `ipvs_stop_daemon`.
    StopDaemon(&'a Daemon),
}

impl Mutation<'_> {
    /// The generic-netlink command.
    pub fn command(&self) -> u8 {
        match self {
            Mutation::AddService(_) => cmd::NEW_SERVICE,
            Mutation::UpdateService(_) => cmd::SET_SERVICE,
            Mutation::DelService(_) => cmd::DEL_SERVICE,
            Mutation::Zero(_) => cmd::ZERO,
            Mutation::Flush => cmd::FLUSH,
            Mutation::AddDest(..) => cmd::NEW_DEST,
            Mutation::UpdateDest(..) => cmd::SET_DEST,
            Mutation::DelDest(..) => cmd::DEL_DEST,
            Mutation::SetTimeouts(_) => cmd::SET_CONFIG,
            Mutation::StartDaemon(_) => cmd::NEW_DAEMON,
            Mutation::StopDaemon(_) => cmd::DEL_DAEMON,
        }
    }

    /// The operation, for [`strerror`].
    pub fn op(&self) -> Op {
        match self {
            Mutation::AddService(_) => Op::AddService,
            Mutation::UpdateService(_) => Op::UpdateService,
            Mutation::DelService(_) => Op::DelService,
            Mutation::Zero(_) => Op::ZeroService,
            Mutation::AddDest(..) => Op::AddDest,
            Mutation::UpdateDest(..) => Op::UpdateDest,
            Mutation::DelDest(..) => Op::DelDest,
            Mutation::StartDaemon(_) => Op::StartDaemon,
            Mutation::StopDaemon(_) => Op::StopDaemon,
            Mutation::Flush | Mutation::SetTimeouts(_) => Op::Other,
        }
    }

    /// Writes the attributes libipvs writes: the whole service even where only its identity
    /// counts, nests flagged `NLA_F_NESTED` as libnl flags them.
    pub fn fill(&self, w: &mut AttrWriter<'_>) -> Result<(), rvs_core::netlink::Error> {
        let svc_nest = cmd_attr::SERVICE | NLA_F_NESTED;
        match self {
            Mutation::AddService(svc)
            | Mutation::UpdateService(svc)
            | Mutation::DelService(svc) => svc.encode(w, svc_nest),
            Mutation::Zero(svc) => {
                if svc.fwmark != 0 || svc.addr != [0; 16] || svc.port != 0 {
                    svc.encode(w, svc_nest)
                } else {
                    Ok(())
                }
            }
            Mutation::Flush => Ok(()),
            Mutation::AddDest(svc, dest)
            | Mutation::UpdateDest(svc, dest)
            | Mutation::DelDest(svc, dest) => {
                svc.encode(w, svc_nest)?;
                dest.encode_request(w, cmd_attr::DEST | NLA_F_NESTED)
            }
            Mutation::SetTimeouts(t) => t.encode(w),
            Mutation::StartDaemon(d) => d.encode_request(w, cmd_attr::DAEMON | NLA_F_NESTED),
            Mutation::StopDaemon(d) => {
                // ipvsadm sends only STATE, MCAST_IFN and SYNC_ID to stop a daemon.
                let only_id = Daemon {
                    state: d.state,
                    mcast_ifn: d.mcast_ifn,
                    syncid: d.syncid,
                    ..Daemon::default()
                };
                only_id.encode_request(w, cmd_attr::DAEMON | NLA_F_NESTED)
            }
        }
    }
}

/// Builds the whole request message of `command` for family id `family`.
pub fn encode_request<F>(
    family: u16,
    seq: u32,
    command: u8,
    flags: u16,
    fill: F,
) -> Result<Vec<u8>, Errno>
where
    F: FnOnce(&mut AttrWriter<'_>) -> Result<(), rvs_core::netlink::Error>,
{
    let mut buf = [0u8; REQUEST_BUF];
    let mut w = GenlWriter::request(
        &mut buf,
        family,
        flags,
        seq,
        0,
        command,
        abi::IPVS_GENL_VERSION,
    )?;
    fill(w.attrs())?;
    let len = w.finish()?;
    Ok(buf[..len].to_vec())
}

/// The whole service, as libipvs names a service in most requests.
fn service_nest(
    svc: &Service,
) -> impl FnOnce(&mut AttrWriter<'_>) -> Result<(), rvs_core::netlink::Error> + '_ {
    move |w| svc.encode(w, cmd_attr::SERVICE | NLA_F_NESTED)
}

/// libipvs's `ipvs_get_dests` names the service by its identity alone.
fn identity_nest(
    svc: &Service,
) -> impl FnOnce(&mut AttrWriter<'_>) -> Result<(), rvs_core::netlink::Error> + '_ {
    move |w| svc.encode_id(w, cmd_attr::SERVICE | NLA_F_NESTED)
}

/// A kernel refusal or a transport failure, as a positive errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl From<std::io::Error> for Errno {
    fn from(e: std::io::Error) -> Self {
        Errno(e.raw_os_error().unwrap_or(22))
    }
}

impl From<rvs_core::netlink::Error> for Errno {
    fn from(e: rvs_core::netlink::Error) -> Self {
        Errno(e.errno())
    }
}

/// Where requests go and replies come from: the netlink socket, or a model of the kernel in
/// tests.
pub trait Transport {
    /// Sends one request message.
    fn send(&mut self, message: &[u8]) -> std::io::Result<()>;
    /// Receives one datagram (one or more messages).
    fn recv(&mut self) -> std::io::Result<Vec<u8>>;
}

impl Transport for Socket {
    fn send(&mut self, message: &[u8]) -> std::io::Result<()> {
        Socket::send(self, message, 0).map(drop)
    }

    fn recv(&mut self) -> std::io::Result<Vec<u8>> {
        self.recv_from_full().map(|(data, _)| data)
    }
}

/// An open channel to the IPVS (or RVS) family.
pub struct Ipvs<T: Transport = Socket> {
    socket: T,
    family: u16,
    name: &'static str,
    seq: u32,
    /// The `GET_INFO` answer read when the channel opened.
    pub info: Info,
}

/// Room for one request; the largest (a destination with its service) is under 200 bytes.
const REQUEST_BUF: usize = 1024;

impl Ipvs<Socket> {
    /// Opens a socket, resolves the family (`RVS` first unless told otherwise) and reads
    /// `GET_INFO`, as `ipvs_init` does. A missing family is `ENOPROTOOPT`, ipvsadm's "Protocol
    /// not available".
    pub fn open(choice: FamilyChoice) -> Result<Self, Errno> {
        let mut socket = Socket::new(NETLINK_GENERIC)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Self::over(socket, choice)
    }
}

impl<T: Transport> Ipvs<T> {
    /// [`Ipvs::open`] over any transport.
    pub fn over(socket: T, choice: FamilyChoice) -> Result<Self, Errno> {
        let mut ipvs = Self {
            socket,
            family: 0,
            name: abi::IPVS_GENL_NAME,
            seq: 0,
            info: Info::default(),
        };
        let (name, id) = match choice {
            // The registered families first: asking for `RVS` by name when it is missing makes
            // the kernel try to load a module for it (a modprobe per command). `IPVS` is then
            // asked for by name, as ipvsadm does, which loads ip_vs if it can.
            FamilyChoice::Auto => match ipvs.registered(abi::RVS_GENL_NAME)? {
                Some(id) => (abi::RVS_GENL_NAME, Some(id)),
                None => (abi::IPVS_GENL_NAME, ipvs.resolve(abi::IPVS_GENL_NAME)?),
            },
            FamilyChoice::Ipvs => (abi::IPVS_GENL_NAME, ipvs.resolve(abi::IPVS_GENL_NAME)?),
            FamilyChoice::Rvs => (abi::RVS_GENL_NAME, ipvs.resolve(abi::RVS_GENL_NAME)?),
        };
        ipvs.family = id.ok_or(Errno(92))?;
        ipvs.name = name;
        let replies = ipvs.transact(cmd::GET_INFO, 0, |_| Ok(()))?;
        let attrs = replies.first().ok_or(Errno(22))?;
        ipvs.info = Info::decode(attrs)?;
        Ok(ipvs)
    }

    /// The family name in use (`IPVS` or `RVS`).
    pub fn family_name(&self) -> &'static str {
        self.name
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// The id of family `name` if it is registered, from a dump of every family (which, unlike
    /// [`Self::resolve`], never asks the kernel to load a module).
    fn registered(&mut self, name: &str) -> Result<Option<u16>, Errno> {
        let mut buf = [0u8; REQUEST_BUF];
        let seq = self.next_seq();
        let len = encode_dump_families(&mut buf, seq, 0)?;
        let mut id = None;
        self.ask_controller(&buf[..len], seq, |attrs| {
            if Family::decode_name(attrs)? == name.as_bytes() {
                id = Some(Family::decode(attrs)?.id);
            }
            Ok(())
        })?;
        Ok(id)
    }

    /// `genl_ctrl_resolve`: the id of family `name`, `None` if it is not registered.
    fn resolve(&mut self, name: &str) -> Result<Option<u16>, Errno> {
        let mut buf = [0u8; REQUEST_BUF];
        let seq = self.next_seq();
        let len = encode_get_family(&mut buf, name.as_bytes(), seq, 0)?;
        let mut id = None;
        self.ask_controller(&buf[..len], seq, |attrs| {
            id = Some(Family::decode(attrs)?.id);
            Ok(())
        })?;
        Ok(id)
    }

    /// Sends a controller request and hands the attributes of each reply to `each`, until its
    /// ack (or a dump's `NLMSG_DONE`). `ENOENT` (no such family) ends it with no more replies.
    fn ask_controller<F>(&mut self, request: &[u8], seq: u32, mut each: F) -> Result<(), Errno>
    where
        F: FnMut(&[u8]) -> Result<(), Errno>,
    {
        self.socket.send(request)?;
        loop {
            let data = self.socket.recv()?;
            for message in Messages::new(&data) {
                let message = message?;
                if message.header.seq != seq {
                    continue;
                }
                match message.classify()? {
                    Received::Genl { attrs, .. } => each(attrs)?,
                    Received::Ack { .. } | Received::Done { .. } => return Ok(()),
                    Received::Error { errno: 2, .. } => return Ok(()),
                    Received::Error { errno, .. } => return Err(Errno(errno)),
                    Received::Noop { .. } | Received::Overrun { .. } => {}
                }
            }
        }
    }

    /// Sends one request of `command` (a dump when `flags` has `NLM_F_DUMP`) with the attributes
    /// `fill` writes, and returns the attribute streams of the replies.
    fn transact<F>(&mut self, command: u8, flags: u16, fill: F) -> Result<Vec<Vec<u8>>, Errno>
    where
        F: FnOnce(&mut AttrWriter<'_>) -> Result<(), rvs_core::netlink::Error>,
    {
        let seq = self.next_seq();
        let request = encode_request(self.family, seq, command, flags, fill)?;
        self.socket.send(&request)?;
        let dump = flags & nlm_flag::DUMP == nlm_flag::DUMP;
        let mut replies = Vec::new();
        loop {
            let data = self.socket.recv()?;
            for message in Messages::new(&data) {
                let message = message?;
                if message.header.seq != seq {
                    continue;
                }
                match message.classify()? {
                    Received::Genl { attrs, .. } => replies.push(attrs.to_vec()),
                    Received::Ack { .. } if !dump => return Ok(replies),
                    Received::Ack { .. } => {}
                    Received::Done { errno: 0, .. } => return Ok(replies),
                    Received::Done { errno, .. } | Received::Error { errno, .. } => {
                        return Err(Errno(errno))
                    }
                    Received::Noop { .. } | Received::Overrun { .. } => {}
                }
            }
        }
    }

    /// Carries out one change (`ipvs_add_service`, `ipvs_add_dest`, ...).
    pub fn mutate(&mut self, m: &Mutation<'_>) -> Result<(), Errno> {
        self.transact(m.command(), 0, |w| m.fill(w)).map(drop)
    }

    fn decode_service(attrs: &[u8]) -> Result<Service, Errno> {
        Ok(CmdAttrs::parse(attrs)?.service(ServiceParse::Reply)?)
    }

    /// `ipvs_get_services`: every service, in the kernel's order.
    pub fn services(&mut self) -> Result<Vec<Service>, Errno> {
        let replies = self.transact(cmd::GET_SERVICE, nlm_flag::DUMP, |_| Ok(()))?;
        replies.iter().map(|a| Self::decode_service(a)).collect()
    }

    /// `ipvs_get_service`: one service by identity.
    pub fn service(&mut self, svc: &Service) -> Result<Service, Errno> {
        let replies = self.transact(cmd::GET_SERVICE, 0, service_nest(svc))?;
        let attrs = replies.first().ok_or(Errno(22))?;
        Self::decode_service(attrs)
    }

    /// `ipvs_get_dests`: the destinations of `svc`, their family filled in from the service's
    /// when the kernel leaves it out.
    pub fn dests(&mut self, svc: &Service) -> Result<Vec<Dest>, Errno> {
        let replies = self.transact(cmd::GET_DEST, nlm_flag::DUMP, identity_nest(svc))?;
        replies
            .iter()
            .map(|a| {
                let mut dest = CmdAttrs::parse(a)?.dest(DestParse::Reply)?;
                if dest.af == 0 {
                    dest.af = svc.af;
                }
                Ok(dest)
            })
            .collect()
    }

    /// `ipvs_get_timeout`.
    pub fn timeouts(&mut self) -> Result<Timeouts, Errno> {
        let replies = self.transact(cmd::GET_CONFIG, 0, |_| Ok(()))?;
        let attrs = replies.first().ok_or(Errno(22))?;
        Ok(Timeouts::decode(attrs)?)
    }

    /// `ipvs_get_daemon`: the running daemons, master first.
    pub fn daemons(&mut self) -> Result<Vec<Daemon>, Errno> {
        let replies = self.transact(cmd::GET_DAEMON, nlm_flag::DUMP, |_| Ok(()))?;
        replies
            .iter()
            .map(|a| Ok(CmdAttrs::parse(a)?.daemon(DaemonParse::Reply)?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{self, Command, Invocation, Parsed};
    use crate::names::tests::FixedNames;

    /// The request rvsadm sends for a parsed command line, as main.rs builds it.
    fn request_of(line: &str) -> Vec<u8> {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        let Ok(Parsed::Run(inv)) = cli::parse("ipvsadm", &args, false, &FixedNames) else {
            panic!("{line} does not parse");
        };
        if inv.command == Command::List {
            let id = crate::identity(&inv.svc);
            return encode_request(42, 1, cmd::GET_SERVICE, 0, service_nest(&id)).unwrap();
        }
        let m = crate::mutation(&inv).expect("a change");
        encode_request(42, 1, m.command(), 0, |w| m.fill(w)).unwrap()
    }

    /// Every request of `tests/fixtures/requests.txt`, captured from Debian's ipvsadm 1.31 (the
    /// generic-netlink header and attributes it hands to libnl), byte for byte.
    #[test]
    fn requests_match_ipvsadm_bytes() {
        let text = include_str!("../tests/fixtures/requests.txt");
        let mut cases = 0;
        for block in text.split("== ").skip(1) {
            let (line, hex) = block.split_once('\n').unwrap();
            let mut wants = hex.trim().lines();
            let want = wants.next().unwrap_or("");
            if let Some(dests) = wants.next() {
                // `-L` with a service then dumps its destinations; the stub answered the lookup
                // with an all-zero service, so that is the one named here.
                let zero = Service::default();
                let got = encode_request(42, 1, cmd::GET_DEST, 0, identity_nest(&zero)).unwrap();
                let got: String = got[16..].iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(got, dests, "GET_DEST of ipvsadm {line}");
            }
            if want.is_empty() {
                // ipvsadm refused the line before sending anything; so must rvsadm.
                let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
                assert!(
                    cli::parse("ipvsadm", &args, false, &FixedNames).is_err(),
                    "{line}"
                );
                continue;
            }
            let got: String = request_of(line)[16..]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(got, want, "ipvsadm {line}");
            println!("ok: ipvsadm {line} -> {} bytes", want.len() / 2);
            cases += 1;
        }
        assert!(cases >= 25);
    }

    /// A model of the kernel side: the controller knows only `IPVS`; IPVS keeps services and
    /// destinations in a list, answers dumps one message per datagram (so replies span many
    /// receives) and refuses like ip_vs (EEXIST, ESRCH, EPERM for the marked port).
    struct ModelKernel {
        services: Vec<(Service, Vec<Dest>)>,
        pending: std::collections::VecDeque<Vec<u8>>,
        /// The family names asked for by name (each one a module autoload when missing).
        looked_up: Vec<Vec<u8>>,
    }

    const FAMILY: u16 = 0x22;

    impl ModelKernel {
        fn new() -> Self {
            Self {
                services: Vec::new(),
                pending: Default::default(),
                looked_up: Vec::new(),
            }
        }

        fn reply<F>(&mut self, seq: u32, command: u8, multi: bool, fill: F)
        where
            F: FnOnce(&mut AttrWriter<'_>) -> Result<(), rvs_core::netlink::Error>,
        {
            let mut buf = [0u8; 2048];
            let header = rvs_core::netlink::NlMsgHdr {
                kind: FAMILY,
                flags: if multi { nlm_flag::MULTI } else { 0 },
                seq,
                ..Default::default()
            };
            let genl = rvs_core::netlink::GenlMsgHdr {
                cmd: command,
                version: 1,
                reserved: 0,
            };
            let mut w = GenlWriter::new(&mut buf, header, genl).unwrap();
            fill(w.attrs()).unwrap();
            let len = w.finish().unwrap();
            self.pending.push_back(buf[..len].to_vec());
        }

        fn ack(&mut self, request: &[u8], errno: i32) {
            let mut buf = vec![0u8; 4096];
            let len = rvs_core::netlink::msg::write_ack(&mut buf, request, errno).unwrap();
            buf.truncate(len);
            self.pending.push_back(buf);
        }

        fn done(&mut self, seq: u32) {
            let mut buf = vec![0u8; 64];
            let len = rvs_core::netlink::msg::write_done(&mut buf, seq, 0).unwrap();
            buf.truncate(len);
            self.pending.push_back(buf);
        }

        fn find(&self, id: &Service) -> Option<usize> {
            self.services.iter().position(|(s, _)| {
                (s.af, s.protocol, s.addr, s.port, s.fwmark)
                    == (id.af, id.protocol, id.addr, id.port, id.fwmark)
            })
        }

        fn handle(&mut self, request: &[u8]) {
            let header = rvs_core::netlink::NlMsgHdr::parse(request).unwrap();
            let seq = header.seq;
            if header.kind == rvs_core::netlink::msg::ctrl::GENL_ID_CTRL
                && header.flags & nlm_flag::DUMP == nlm_flag::DUMP
            {
                let family = Family {
                    id: FAMILY,
                    version: 1,
                    ..Family::default()
                };
                self.reply(seq, 1, true, |w| family.encode(w, b"IPVS"));
                self.done(seq);
                return;
            }
            if header.kind == rvs_core::netlink::msg::ctrl::GENL_ID_CTRL {
                let attrs = &request[20..];
                let name = rvs_core::netlink::Attrs::new(attrs)
                    .find(|a| a.kind() == rvs_core::netlink::msg::ctrl::ATTR_FAMILY_NAME)
                    .unwrap();
                self.looked_up.push(name.c_str().to_vec());
                if name.c_str() == b"IPVS" {
                    let family = Family {
                        id: FAMILY,
                        version: 1,
                        ..Family::default()
                    };
                    self.reply(seq, 1, false, |w| family.encode(w, b"IPVS"));
                    self.ack(request, 0);
                } else {
                    self.ack(request, 2);
                }
                return;
            }
            let req = rvs_core::netlink::Request::parse(request).unwrap();
            let attrs = req.cmd_attrs().unwrap();
            let errno = match req.genl.cmd {
                cmd::GET_INFO => {
                    self.reply(seq, cmd::SET_INFO, false, |w| Info::IPVS.encode(w));
                    0
                }
                cmd::NEW_SERVICE => {
                    let svc = attrs.service(ServiceParse::Full).unwrap();
                    if svc.port == 666 {
                        -1
                    } else if self.find(&svc).is_some() {
                        -17
                    } else {
                        self.services.push((svc, Vec::new()));
                        0
                    }
                }
                cmd::DEL_SERVICE => {
                    match self.find(&attrs.service(ServiceParse::Identity).unwrap()) {
                        Some(i) => {
                            self.services.remove(i);
                            0
                        }
                        None => -3,
                    }
                }
                cmd::NEW_DEST => {
                    let id = attrs.service(ServiceParse::Identity).unwrap();
                    let dest = attrs.dest(DestParse::Full).unwrap();
                    match self.find(&id) {
                        Some(i) => {
                            self.services[i].1.insert(0, dest);
                            0
                        }
                        None => -3,
                    }
                }
                cmd::GET_SERVICE if req.is_dump() => {
                    for (svc, _) in self.services.clone() {
                        self.reply(seq, cmd::NEW_SERVICE, true, |w| {
                            svc.encode(w, cmd_attr::SERVICE)
                        });
                    }
                    self.done(seq);
                    return;
                }
                cmd::GET_DEST => {
                    let id = attrs.service(ServiceParse::Identity).unwrap();
                    let dests = self.find(&id).map(|i| self.services[i].1.clone());
                    for d in dests.unwrap_or_default() {
                        self.reply(seq, cmd::NEW_DEST, true, |w| {
                            d.encode_reply(w, cmd_attr::DEST)
                        });
                    }
                    self.done(seq);
                    return;
                }
                _ => -95,
            };
            // write_ack takes the positive errno.
            self.ack(request, -errno);
        }
    }

    impl Transport for ModelKernel {
        fn send(&mut self, message: &[u8]) -> std::io::Result<()> {
            self.handle(message);
            Ok(())
        }

        fn recv(&mut self) -> std::io::Result<Vec<u8>> {
            self.pending
                .pop_front()
                .ok_or_else(|| std::io::Error::from_raw_os_error(11))
        }
    }

    fn words(line: &str) -> Invocation {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        match cli::parse("ipvsadm", &args, false, &FixedNames) {
            Ok(Parsed::Run(inv)) => *inv,
            _ => panic!("{line}"),
        }
    }

    #[test]
    fn talks_to_a_model_kernel() {
        let mut ipvs = Ipvs::over(ModelKernel::new(), FamilyChoice::Auto).unwrap();
        assert_eq!(ipvs.family_name(), "IPVS", "RVS is absent, so IPVS is used");
        assert_eq!(
            ipvs.socket.looked_up,
            [b"IPVS".to_vec()],
            "the absent RVS is found missing in the dump, never asked for by name"
        );
        assert_eq!(ipvs.info, Info::IPVS);
        assert_eq!(
            Ipvs::over(ModelKernel::new(), FamilyChoice::Rvs).err(),
            Some(Errno(92))
        );
        let add = words("-A -t 10.0.0.1:80 -s rr");
        ipvs.mutate(&Mutation::AddService(&add.svc)).unwrap();
        let again = ipvs.mutate(&Mutation::AddService(&add.svc)).unwrap_err();
        assert_eq!(strerror(Op::AddService, again.0), "Service already exists");
        let udp = words("-A -u 10.0.0.2:53 -s sh -p 30");
        ipvs.mutate(&Mutation::AddService(&udp.svc)).unwrap();
        for rs in ["10.1.0.1", "10.1.0.2", "10.1.0.3"] {
            let a = words(&format!("-a -t 10.0.0.1:80 -r {rs}:8080 -m -w 3"));
            ipvs.mutate(&Mutation::AddDest(&a.svc, &a.dest)).unwrap();
        }
        let missing = words("-a -t 10.9.9.9:80 -r 10.1.0.1");
        let e = ipvs
            .mutate(&Mutation::AddDest(&missing.svc, &missing.dest))
            .unwrap_err();
        assert_eq!(strerror(Op::AddDest, e.0), "Service not defined");
        let denied = words("-A -t 10.0.0.1:666");
        let e = ipvs.mutate(&Mutation::AddService(&denied.svc)).unwrap_err();
        assert_eq!(
            strerror(Op::AddService, e.0),
            "Permission denied (you must be root)"
        );

        let services = ipvs.services().unwrap();
        assert_eq!(services.len(), 2);
        assert_eq!(services[1].sched_name.as_str(), Some("sh"));
        assert_eq!(services[1].timeout, 30);
        let dests = ipvs.dests(&services[0]).unwrap();
        assert_eq!(dests.len(), 3);
        assert!(dests.iter().all(|d| d.weight == 3 && d.port == 8080));
        assert_eq!(dests[0].af, abi::AF_INET);

        let del = words("-D -u 10.0.0.2:53");
        ipvs.mutate(&Mutation::DelService(&del.svc)).unwrap();
        let e = ipvs.mutate(&Mutation::DelService(&del.svc)).unwrap_err();
        assert_eq!(strerror(Op::DelService, e.0), "No such service");
        assert_eq!(ipvs.services().unwrap().len(), 1);
        println!("model kernel: add, duplicate, dests, dumps, delete, EPERM all as ip_vs answers");
    }

    #[test]
    fn messages_are_ipvsadms() {
        assert_eq!(strerror(Op::AddService, 17), "Service already exists");
        assert_eq!(strerror(Op::AddDest, 17), "Destination already exists");
        assert_eq!(strerror(Op::DelDest, 3), "Service not defined");
        assert_eq!(strerror(Op::DelService, 3), "No such service");
        assert_eq!(
            strerror(Op::Other, 1),
            "Permission denied (you must be root)"
        );
        assert_eq!(strerror(Op::AddDest, 34), "Numerical result out of range");
        assert_eq!(strerror(Op::StartDaemon, 19), "No such device");
    }
}
