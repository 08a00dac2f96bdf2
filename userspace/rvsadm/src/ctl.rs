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
use rvs_core::netlink::msg::{encode_get_family, nlm_flag, Family, GenlWriter};
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

/// An open channel to the IPVS (or RVS) family.
pub struct Ipvs {
    socket: Socket,
    family: u16,
    name: &'static str,
    seq: u32,
    /// The `GET_INFO` answer read when the channel opened.
    pub info: Info,
}

/// Room for one request; the largest (a destination with its service) is under 200 bytes.
const REQUEST_BUF: usize = 1024;

impl Ipvs {
    /// Opens a socket, resolves the family (`RVS` first unless told otherwise) and reads
    /// `GET_INFO`, as `ipvs_init` does. A missing family is `ENOPROTOOPT`, ipvsadm's "Protocol
    /// not available".
    pub fn open(choice: FamilyChoice) -> Result<Self, Errno> {
        let mut socket = Socket::new(NETLINK_GENERIC)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        let mut ipvs = Self {
            socket,
            family: 0,
            name: abi::IPVS_GENL_NAME,
            seq: 0,
            info: Info::default(),
        };
        let candidates: &[&'static str] = match choice {
            FamilyChoice::Auto => &[abi::RVS_GENL_NAME, abi::IPVS_GENL_NAME],
            FamilyChoice::Ipvs => &[abi::IPVS_GENL_NAME],
            FamilyChoice::Rvs => &[abi::RVS_GENL_NAME],
        };
        let mut found = false;
        for name in candidates {
            if let Some(id) = ipvs.resolve(name)? {
                ipvs.family = id;
                ipvs.name = name;
                found = true;
                break;
            }
        }
        if !found {
            return Err(Errno(92));
        }
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

    /// `genl_ctrl_resolve`: the id of family `name`, `None` if it is not registered.
    fn resolve(&mut self, name: &str) -> Result<Option<u16>, Errno> {
        let mut buf = [0u8; REQUEST_BUF];
        let seq = self.next_seq();
        let len = encode_get_family(&mut buf, name.as_bytes(), seq, 0)?;
        self.socket.send(&buf[..len], 0)?;
        let mut id = None;
        loop {
            let (data, _) = self.socket.recv_from_full()?;
            for message in Messages::new(&data) {
                let message = message?;
                if message.header.seq != seq {
                    continue;
                }
                match message.classify()? {
                    Received::Genl { attrs, .. } => id = Some(Family::decode(attrs)?.id),
                    Received::Ack { .. } | Received::Done { .. } => return Ok(id),
                    Received::Error { errno: 2, .. } => return Ok(None),
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
        self.socket.send(&request, 0)?;
        let dump = flags & nlm_flag::DUMP == nlm_flag::DUMP;
        let mut replies = Vec::new();
        loop {
            let (data, _) = self.socket.recv_from_full()?;
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
        let replies = self.transact(cmd::GET_SERVICE, 0, Self::service_nest(svc))?;
        let attrs = replies.first().ok_or(Errno(22))?;
        Self::decode_service(attrs)
    }

    /// `ipvs_get_dests`: the destinations of `svc`, their family filled in from the service's
    /// when the kernel leaves it out.
    pub fn dests(&mut self, svc: &Service) -> Result<Vec<Dest>, Errno> {
        let replies = self.transact(cmd::GET_DEST, nlm_flag::DUMP, Self::identity_nest(svc))?;
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
    use crate::cli::{self, Command, Parsed};
    use crate::names::tests::FixedNames;

    /// The request rvsadm sends for a parsed command line, as main.rs builds it.
    fn request_of(line: &str) -> Vec<u8> {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        let Ok(Parsed::Run(inv)) = cli::parse("ipvsadm", &args, false, &FixedNames) else {
            panic!("{line} does not parse");
        };
        if inv.command == Command::List {
            let id = crate::identity(&inv.svc);
            return encode_request(42, 1, cmd::GET_SERVICE, 0, Ipvs::service_nest(&id)).unwrap();
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
                let got =
                    encode_request(42, 1, cmd::GET_DEST, 0, Ipvs::identity_nest(&zero)).unwrap();
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
