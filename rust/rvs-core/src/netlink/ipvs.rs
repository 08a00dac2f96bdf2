//! Typed IPVS netlink structures: services, destinations, sync daemons, statistics, timeouts and
//! info, decoded with ip_vs's own rules and encoded in ip_vs's (or ipvsadm's) attribute order.
//!
//! Decoding reproduces `ip_vs_ctl.c`: the policy tables (`ip_vs_cmd_policy`, `ip_vs_svc_policy`,
//! `ip_vs_dest_policy`, `ip_vs_daemon_policy`) checked the liberal way, then the parse helpers'
//! required attributes and conversions. Errors carry the errno the kernel would answer: the
//! top-level policy's own (`-ERANGE` for a short `u32`), but `-EINVAL` for anything wrong inside a
//! service, destination or daemon nest, because `ip_vs_genl_parse_service`, `_parse_dest` and
//! `ip_vs_genl_set_daemon` turn every nested parse failure into `-EINVAL`. Byte orders follow the
//! ABI: ports (`PORT`, `TUN_PORT`) are big-endian on the wire and host-order in the structures;
//! addresses stay in network order; everything else is host order.

use super::super::abi::{
    self, cmd, cmd_attr, conn_flag, daemon_attr, dest_attr, info_attr, stats_attr, svc_attr,
};
use super::attr::{Attr, AttrTable, AttrWriter, Policy};
use super::msg::{nlm_flag, GenlMsgHdr};
use super::msg::{Message, NlMsgHdr, GENL_HDRLEN};
use super::Error;

const ANY: Policy = Policy::Unspec { min_len: 0 };
/// `sizeof(union nf_inet_addr)`.
const ADDR_LEN: usize = 16;

/// `ip_vs_cmd_policy`.
const CMD_POLICY: [Policy; cmd_attr::MAX as usize + 1] = [
    ANY,
    Policy::Nested,
    Policy::Nested,
    Policy::Nested,
    Policy::U32,
    Policy::U32,
    Policy::U32,
];

/// `ip_vs_svc_policy` (`STATS64` has no entry, so anything passes).
const SVC_POLICY: [Policy; svc_attr::MAX as usize + 1] = [
    ANY,
    Policy::U16,
    Policy::U16,
    Policy::Binary {
        max_len: ADDR_LEN as u16,
    },
    Policy::U16,
    Policy::U32,
    Policy::NulString {
        max_len: abi::IP_VS_SCHEDNAME_MAXLEN as u16 - 1,
    },
    Policy::Binary { max_len: 8 },
    Policy::U32,
    Policy::U32,
    Policy::Nested,
    Policy::NulString {
        max_len: abi::IP_VS_PENAME_MAXLEN as u16,
    },
    ANY,
];

/// `ip_vs_dest_policy` (`STATS64` has no entry).
const DEST_POLICY: [Policy; dest_attr::MAX as usize + 1] = [
    ANY,
    Policy::Binary {
        max_len: ADDR_LEN as u16,
    },
    Policy::U16,
    Policy::U32,
    Policy::U32,
    Policy::U32,
    Policy::U32,
    Policy::U32,
    Policy::U32,
    Policy::U32,
    Policy::Nested,
    Policy::U16,
    ANY,
    Policy::U8,
    Policy::U16,
    Policy::U16,
];

/// `ip_vs_daemon_policy` (`MCAST_GROUP6` is `{ .len = sizeof(struct in6_addr) }`: a minimum).
const DAEMON_POLICY: [Policy; daemon_attr::MAX as usize + 1] = [
    ANY,
    Policy::U32,
    Policy::NulString {
        max_len: abi::IP_VS_IFNAME_MAXLEN as u16 - 1,
    },
    Policy::U32,
    Policy::U16,
    Policy::U32,
    Policy::Unspec { min_len: 16 },
    Policy::U16,
    Policy::U8,
];

/// libipvs's `ipvs_stats_policy`: 32-bit counters and rates, 64-bit bytes.
const STATS_POLICY: [Policy; stats_attr::MAX as usize + 1] = [
    ANY,
    Policy::U32,
    Policy::U32,
    Policy::U32,
    Policy::U64,
    Policy::U64,
    Policy::U32,
    Policy::U32,
    Policy::U32,
    Policy::U32,
    Policy::U32,
    ANY,
];

/// libipvs's `ipvs_stats64_policy`: everything 64-bit.
const STATS64_POLICY: [Policy; stats_attr::MAX as usize + 1] = [
    ANY,
    Policy::U64,
    Policy::U64,
    Policy::U64,
    Policy::U64,
    Policy::U64,
    Policy::U64,
    Policy::U64,
    Policy::U64,
    Policy::U64,
    Policy::U64,
    ANY,
];

/// libipvs's `ipvs_info_policy`.
const INFO_POLICY: [Policy; abi::INFO_ATTR_MAX as usize + 1] = [ANY, Policy::U32, Policy::U32];

/// A name of at most `N` bytes without NUL: scheduler, persistence engine, interface.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

/// A scheduler name (`IP_VS_SCHEDNAME_MAXLEN - 1` characters).
pub type SchedName = Name<15>;
/// A persistence-engine name (`IP_VS_PENAME_MAXLEN` characters).
pub type PeName = Name<16>;
/// A network interface name (`IP_VS_IFNAME_MAXLEN - 1` characters).
pub type IfName = Name<15>;

impl<const N: usize> Name<N> {
    /// The empty name.
    pub const fn empty() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
        }
    }

    /// `bytes` as a name: `-ERANGE` if longer than `N`, `-EINVAL` if it contains a NUL.
    pub fn new(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > N {
            return Err(Error::Range);
        }
        if bytes.contains(&0) {
            return Err(Error::Invalid);
        }
        let mut name = Self::empty();
        for (dst, src) in name.bytes.iter_mut().zip(bytes) {
            *dst = *src;
        }
        name.len = bytes.len();
        Ok(name)
    }

    /// The characters, without NUL.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// The name as UTF-8, if it is.
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(self.as_bytes()).ok()
    }

    /// Whether the name is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const N: usize> Default for Name<N> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<const N: usize> core::fmt::Debug for Name<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.as_str() {
            Some(s) => write!(f, "{s:?}"),
            None => write!(f, "{:?}", self.as_bytes()),
        }
    }
}

/// The C string of a validated NUL-string attribute, as a name.
fn name_of<const N: usize>(attr: Attr<'_>) -> Result<Name<N>, Error> {
    Name::new(attr.c_str()).map_err(|_| Error::Invalid)
}

/// `struct ip_vs_flags`: which service flags to set (`flags`) among those to change (`mask`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ServiceFlags {
    /// New values of the bits in `mask`.
    pub flags: u32,
    /// Bits to change; ipvsadm and the kernel send `0xffffffff`.
    pub mask: u32,
}

impl ServiceFlags {
    /// All flags replaced by `flags` (what ipvsadm sends).
    pub const fn all(flags: u32) -> Self {
        Self {
            flags,
            mask: u32::MAX,
        }
    }

    /// The service's flags after applying these to `old` (`(old & ~mask) | (flags & mask)`, with
    /// `old` = 0 for a new service).
    pub const fn apply(&self, old: u32) -> u32 {
        (old & !self.mask) | (self.flags & self.mask)
    }

    fn to_bytes(self) -> [u8; 8] {
        let [a, b, c, d] = self.flags.to_ne_bytes();
        let [e, f, g, h] = self.mask.to_ne_bytes();
        [a, b, c, d, e, f, g, h]
    }

    fn from_bytes(bytes: [u8; 8]) -> Self {
        let [a, b, c, d, e, f, g, h] = bytes;
        Self {
            flags: u32::from_ne_bytes([a, b, c, d]),
            mask: u32::from_ne_bytes([e, f, g, h]),
        }
    }
}

/// Counters and rates of a service, destination or the whole table (`struct ip_vs_kstats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    /// Connections scheduled.
    pub conns: u64,
    /// Packets client → real server.
    pub inpkts: u64,
    /// Packets real server → client.
    pub outpkts: u64,
    /// Bytes client → real server.
    pub inbytes: u64,
    /// Bytes real server → client.
    pub outbytes: u64,
    /// Connections per second.
    pub cps: u64,
    /// Incoming packets per second.
    pub inpps: u64,
    /// Outgoing packets per second.
    pub outpps: u64,
    /// Incoming bytes per second.
    pub inbps: u64,
    /// Outgoing bytes per second.
    pub outbps: u64,
}

/// Which statistics nest: `STATS` (32-bit counters and rates, `(u32)` truncated, 64-bit bytes) or
/// `STATS64` (everything 64-bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsWidth {
    /// `IPVS_*_ATTR_STATS`.
    Compat,
    /// `IPVS_*_ATTR_STATS64`.
    Wide,
}

impl Stats {
    /// Decodes a statistics nest the way libipvs does: every counter and rate required
    /// (`-EINVAL` if one is missing), `PAD` ignored.
    pub fn decode(nest: &[u8], width: StatsWidth) -> Result<Self, Error> {
        let policy = match width {
            StatsWidth::Compat => &STATS_POLICY,
            StatsWidth::Wide => &STATS64_POLICY,
        };
        let table = AttrTable::parse(nest, policy)?;
        let get = |kind: u16, wide: bool| -> Result<u64, Error> {
            let attr = table.get(kind).ok_or(Error::Invalid)?;
            if wide {
                attr.get_u64()
            } else {
                attr.get_u32().map(u64::from)
            }
        };
        let wide = width == StatsWidth::Wide;
        Ok(Self {
            conns: get(stats_attr::CONNS, wide)?,
            inpkts: get(stats_attr::INPKTS, wide)?,
            outpkts: get(stats_attr::OUTPKTS, wide)?,
            inbytes: get(stats_attr::INBYTES, true)?,
            outbytes: get(stats_attr::OUTBYTES, true)?,
            cps: get(stats_attr::CPS, wide)?,
            inpps: get(stats_attr::INPPS, wide)?,
            outpps: get(stats_attr::OUTPPS, wide)?,
            inbps: get(stats_attr::INBPS, wide)?,
            outbps: get(stats_attr::OUTBPS, wide)?,
        })
    }

    /// Writes a statistics nest of `nest_type` as `ip_vs_genl_fill_stats` (`Compat`) or
    /// `ip_vs_genl_fill_stats64` (`Wide`) does.
    pub fn encode(
        &self,
        w: &mut AttrWriter<'_>,
        nest_type: u16,
        width: StatsWidth,
    ) -> Result<(), Error> {
        w.nested(nest_type, |w| {
            let put = |w: &mut AttrWriter<'_>, kind: u16, value: u64| match width {
                // The compat nest truncates, as the kernel's `(u32)` casts do.
                StatsWidth::Compat => w.put_u32(kind, value as u32),
                StatsWidth::Wide => w.put_u64(kind, value),
            };
            put(w, stats_attr::CONNS, self.conns)?;
            put(w, stats_attr::INPKTS, self.inpkts)?;
            put(w, stats_attr::OUTPKTS, self.outpkts)?;
            w.put_u64(stats_attr::INBYTES, self.inbytes)?;
            w.put_u64(stats_attr::OUTBYTES, self.outbytes)?;
            put(w, stats_attr::CPS, self.cps)?;
            put(w, stats_attr::INPPS, self.inpps)?;
            put(w, stats_attr::OUTPPS, self.outpps)?;
            put(w, stats_attr::INBPS, self.inbps)?;
            put(w, stats_attr::OUTBPS, self.outbps)
        })
    }

    /// The values the 32-bit `STATS` nest and the sockopt `struct ip_vs_stats_user` carry:
    /// counters and rates truncated to 32 bits, bytes kept (`ip_vs_export_stats_user`).
    pub const fn to_user(self) -> Self {
        Self {
            conns: self.conns as u32 as u64,
            inpkts: self.inpkts as u32 as u64,
            outpkts: self.outpkts as u32 as u64,
            inbytes: self.inbytes,
            outbytes: self.outbytes,
            cps: self.cps as u32 as u64,
            inpps: self.inpps as u32 as u64,
            outpps: self.outpps as u32 as u64,
            inbps: self.inbps as u32 as u64,
            outbps: self.outbps as u32 as u64,
        }
    }
}

/// Decodes an optional statistics nest of a reply (`-EINVAL` if present and malformed).
fn reply_stats(attr: Option<Attr<'_>>, width: StatsWidth) -> Result<Option<Stats>, Error> {
    match attr {
        Some(a) => Stats::decode(a.payload(), width)
            .map(Some)
            .map_err(|_| Error::Invalid),
        None => Ok(None),
    }
}

fn is_af_valid(af: u16) -> bool {
    af == abi::AF_INET || af == abi::AF_INET6
}

/// How much of a service nest to require, as `ip_vs_genl_parse_service`'s `full_entry`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceParse {
    /// Only the identity: `AF` and `FWMARK` or `PROTOCOL` + `ADDR` + `PORT` (DEL_SERVICE,
    /// GET_SERVICE, the service of destination commands, ZERO, GET_DEST dumps).
    Identity,
    /// The identity plus `SCHED_NAME`, `FLAGS`, `TIMEOUT`, `NETMASK` (NEW_SERVICE,
    /// SET_SERVICE).
    Full,
    /// A service from a reply or dump: `Full` plus the statistics nests when present.
    Reply,
}

/// A virtual service (`struct ip_vs_service_user_kern` plus the reply-only statistics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Service {
    /// Address family (`AF_INET` or `AF_INET6`).
    pub af: u16,
    /// IP protocol; `IPPROTO_TCP` for fwmark services, as the kernel forces.
    pub protocol: u16,
    /// Virtual address, network order; IPv4 in the first 4 bytes.
    pub addr: [u8; 16],
    /// Virtual port, host order (big-endian on the wire).
    pub port: u16,
    /// Firewall mark; non-zero makes a fwmark service (`PROTOCOL`/`ADDR`/`PORT` not sent).
    pub fwmark: u32,
    /// Scheduler name (`"none"` in replies for a service without scheduler).
    pub sched_name: SchedName,
    /// Persistence engine; `None` when the attribute is absent.
    pub pe_name: Option<PeName>,
    /// Flags and the mask of those to change.
    pub flags: ServiceFlags,
    /// Persistence timeout, seconds.
    pub timeout: u32,
    /// The `__be32 netmask` as the kernel holds it (`u32::from_ne_bytes` of the wire bytes): for
    /// IPv4 the mask in network order, for IPv6 the prefix length as a plain integer.
    pub netmask: u32,
    /// 32-bit statistics nest (replies only).
    pub stats: Option<Stats>,
    /// 64-bit statistics nest (replies only).
    pub stats64: Option<Stats>,
}

/// `netmask` for an IPv4 service persisting on a `/prefix` (`ipvsadm -M`).
pub fn netmask_v4(prefix: u8) -> u32 {
    let mask = match prefix {
        0 => 0,
        p if p >= 32 => u32::MAX,
        p => u32::MAX << (32 - u32::from(p)),
    };
    u32::from_ne_bytes(mask.to_be_bytes())
}

impl Service {
    /// Decodes a service nest (the payload of `IPVS_CMD_ATTR_SERVICE`) as
    /// `ip_vs_genl_parse_service` does: any policy violation or missing attribute is `-EINVAL`,
    /// an address family other than IPv4/IPv6 is `-EAFNOSUPPORT`.
    ///
    /// The module must still reject `AF_INET6` itself when IPv6 is disabled, and apply
    /// [`ServiceFlags::apply`] to the existing service's flags for SET_SERVICE.
    pub fn decode(nest: &[u8], mode: ServiceParse) -> Result<Self, Error> {
        let table = AttrTable::parse(nest, &SVC_POLICY).map_err(|_| Error::Invalid)?;
        let af = table.get(svc_attr::AF);
        let fwmark = table.get(svc_attr::FWMARK);
        let protocol = table.get(svc_attr::PROTOCOL);
        let addr = table.get(svc_attr::ADDR);
        let port = table.get(svc_attr::PORT);
        let Some(af) = af else {
            return Err(Error::Invalid);
        };
        if fwmark.is_none() && (port.is_none() || protocol.is_none() || addr.is_none()) {
            return Err(Error::Invalid);
        }
        let mut svc = Self {
            af: af.get_u16()?,
            ..Self::default()
        };
        if !is_af_valid(svc.af) {
            return Err(Error::AddressFamily);
        }
        match (fwmark, protocol, addr, port) {
            (Some(mark), ..) => {
                svc.protocol = abi::IPPROTO_TCP;
                svc.fwmark = mark.get_u32()?;
            }
            (None, Some(protocol), Some(addr), Some(port)) => {
                svc.protocol = protocol.get_u16()?;
                svc.addr = addr.copy_padded();
                svc.port = port.get_be16()?;
            }
            _ => return Err(Error::Invalid),
        }
        if mode == ServiceParse::Identity {
            return Ok(svc);
        }
        let (Some(sched), Some(flags), Some(timeout), Some(netmask)) = (
            table.get(svc_attr::SCHED_NAME),
            table.get(svc_attr::FLAGS),
            table.get(svc_attr::TIMEOUT),
            table.get(svc_attr::NETMASK),
        ) else {
            return Err(Error::Invalid);
        };
        svc.flags = ServiceFlags::from_bytes(flags.copy_padded());
        svc.sched_name = name_of(sched)?;
        svc.pe_name = match table.get(svc_attr::PE_NAME) {
            Some(pe) => Some(name_of(pe)?),
            None => None,
        };
        svc.timeout = timeout.get_u32()?;
        svc.netmask = netmask.get_u32()?;
        if mode == ServiceParse::Reply {
            svc.stats = reply_stats(table.get(svc_attr::STATS), StatsWidth::Compat)?;
            svc.stats64 = reply_stats(table.get(svc_attr::STATS64), StatsWidth::Wide)?;
        }
        Ok(svc)
    }

    /// Whether the service asks for no scheduler (`"none"`, which `ip_vs_add_service` and
    /// `ip_vs_edit_service` do not look up).
    pub fn has_no_scheduler(&self) -> bool {
        self.sched_name.as_bytes() == b"none"
    }

    /// Whether a persistence engine is asked for (`PE_NAME` present and not empty).
    pub fn wants_pe(&self) -> bool {
        self.pe_name.is_some_and(|pe| !pe.is_empty())
    }

    /// The netmask check of `ip_vs_add_service`/`ip_vs_edit_service`: an IPv6 service's prefix
    /// length must be 1..=128 (`-EINVAL`). The kernel runs it after looking up the scheduler and
    /// the persistence engine (`-ENOENT`), so the module should too.
    pub fn check_netmask(&self) -> Result<(), Error> {
        if self.af == abi::AF_INET6 && !(1..=128).contains(&self.netmask) {
            return Err(Error::Invalid);
        }
        Ok(())
    }

    fn encode_identity(&self, w: &mut AttrWriter<'_>) -> Result<(), Error> {
        w.put_u16(svc_attr::AF, self.af)?;
        if self.fwmark != 0 {
            w.put_u32(svc_attr::FWMARK, self.fwmark)
        } else {
            w.put_u16(svc_attr::PROTOCOL, self.protocol)?;
            w.put(svc_attr::ADDR, &self.addr)?;
            w.put_be16(svc_attr::PORT, self.port)
        }
    }

    /// Writes the whole service as a nest of `nest_type` (`cmd_attr::SERVICE`, with
    /// `NLA_F_NESTED` or not), in the order both `ip_vs_genl_fill_service` and ipvsadm use:
    /// `AF`, `FWMARK` or `PROTOCOL`/`ADDR`/`PORT`, `SCHED_NAME`, `PE_NAME` (if set), `FLAGS`,
    /// `TIMEOUT`, `NETMASK`, then `STATS` and `STATS64` if set.
    pub fn encode(&self, w: &mut AttrWriter<'_>, nest_type: u16) -> Result<(), Error> {
        w.nested(nest_type, |w| {
            self.encode_identity(w)?;
            w.put_string(svc_attr::SCHED_NAME, self.sched_name.as_bytes())?;
            if let Some(pe) = &self.pe_name {
                w.put_string(svc_attr::PE_NAME, pe.as_bytes())?;
            }
            w.put(svc_attr::FLAGS, &self.flags.to_bytes())?;
            w.put_u32(svc_attr::TIMEOUT, self.timeout)?;
            w.put_u32(svc_attr::NETMASK, self.netmask)?;
            if let Some(stats) = &self.stats {
                stats.encode(w, svc_attr::STATS, StatsWidth::Compat)?;
            }
            if let Some(stats) = &self.stats64 {
                stats.encode(w, svc_attr::STATS64, StatsWidth::Wide)?;
            }
            Ok(())
        })
    }

    /// Writes only the identity (`AF` and `FWMARK` or `PROTOCOL`/`ADDR`/`PORT`) as a nest of
    /// `nest_type`: enough for every command but NEW/SET_SERVICE.
    pub fn encode_id(&self, w: &mut AttrWriter<'_>, nest_type: u16) -> Result<(), Error> {
        w.nested(nest_type, |w| self.encode_identity(w))
    }
}

/// How much of a destination nest to require, as `ip_vs_genl_parse_dest`'s `full_entry`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestParse {
    /// `ADDR` and `PORT` (DEL_DEST).
    Identity,
    /// Plus `FWD_METHOD`, `WEIGHT`, `U_THRESH`, `L_THRESH` (NEW_DEST, SET_DEST).
    Full,
    /// A destination from a dump: `Full` plus connection counts and statistics when present.
    Reply,
}

/// A real server (`struct ip_vs_dest_user_kern` plus the reply-only counters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Dest {
    /// Address, network order; IPv4 in the first 4 bytes.
    pub addr: [u8; 16],
    /// Port, host order (big-endian on the wire).
    pub port: u16,
    /// Address family; 0 when absent, meaning the service's (see [`Dest::resolve_af`]).
    pub af: u16,
    /// Forwarding method (`conn_flag::MASQ`, `LOCALNODE`, `TUNNEL`, `DROUTE`), masked with
    /// `conn_flag::FWD_MASK`.
    pub fwd_method: u32,
    /// Weight; negative values come from `u32` above `i32::MAX` and are refused by
    /// [`Dest::check_limits`].
    pub weight: i32,
    /// Upper connection threshold, 0 for none.
    pub u_threshold: u32,
    /// Lower connection threshold.
    pub l_threshold: u32,
    /// Tunnel type (`tunnel_type::*`).
    pub tun_type: u8,
    /// GUE port, host order (big-endian on the wire).
    pub tun_port: u16,
    /// Tunnel flags (`tunnel_flag::*`).
    pub tun_flags: u16,
    /// Active connections (replies only).
    pub active_conns: u32,
    /// Inactive connections (replies only).
    pub inact_conns: u32,
    /// Persistence templates (replies only).
    pub persist_conns: u32,
    /// 32-bit statistics nest (replies only).
    pub stats: Option<Stats>,
    /// 64-bit statistics nest (replies only).
    pub stats64: Option<Stats>,
}

impl Dest {
    /// Decodes a destination nest (the payload of `IPVS_CMD_ATTR_DEST`) as
    /// `ip_vs_genl_parse_dest` does: any policy violation or missing attribute is `-EINVAL`.
    pub fn decode(nest: &[u8], mode: DestParse) -> Result<Self, Error> {
        let table = AttrTable::parse(nest, &DEST_POLICY).map_err(|_| Error::Invalid)?;
        let (Some(addr), Some(port)) = (table.get(dest_attr::ADDR), table.get(dest_attr::PORT))
        else {
            return Err(Error::Invalid);
        };
        let mut dest = Self {
            addr: addr.copy_padded(),
            port: port.get_be16()?,
            ..Self::default()
        };
        if let Some(af) = table.get(dest_attr::ADDR_FAMILY) {
            dest.af = af.get_u16()?;
        }
        if mode == DestParse::Identity {
            return Ok(dest);
        }
        let (Some(fwd), Some(weight), Some(upper), Some(lower)) = (
            table.get(dest_attr::FWD_METHOD),
            table.get(dest_attr::WEIGHT),
            table.get(dest_attr::U_THRESH),
            table.get(dest_attr::L_THRESH),
        ) else {
            return Err(Error::Invalid);
        };
        dest.fwd_method = fwd.get_u32()? & conn_flag::FWD_MASK;
        dest.weight = weight.get_u32()? as i32;
        dest.u_threshold = upper.get_u32()?;
        dest.l_threshold = lower.get_u32()?;
        if let Some(a) = table.get(dest_attr::TUN_TYPE) {
            dest.tun_type = a.get_u8()?;
        }
        if let Some(a) = table.get(dest_attr::TUN_PORT) {
            dest.tun_port = a.get_be16()?;
        }
        if let Some(a) = table.get(dest_attr::TUN_FLAGS) {
            dest.tun_flags = a.get_u16()?;
        }
        if mode == DestParse::Reply {
            let count = |kind| match table.get(kind) {
                Some(a) => a.get_u32(),
                None => Ok(0),
            };
            dest.active_conns = count(dest_attr::ACTIVE_CONNS)?;
            dest.inact_conns = count(dest_attr::INACT_CONNS)?;
            dest.persist_conns = count(dest_attr::PERSIST_CONNS)?;
            dest.stats = reply_stats(table.get(dest_attr::STATS), StatsWidth::Compat)?;
            dest.stats64 = reply_stats(table.get(dest_attr::STATS64), StatsWidth::Wide)?;
        }
        Ok(dest)
    }

    /// Completes the address family the way `ip_vs_genl_set_cmd` does after parsing: absent
    /// means the service's; it must be valid (`-EAFNOSUPPORT`); a family other than the
    /// service's is only allowed for tunneling and while no sync daemon runs (`-EINVAL`),
    /// except for DEL_DEST.
    pub fn resolve_af(
        &mut self,
        svc_af: u16,
        command: u8,
        sync_running: bool,
    ) -> Result<(), Error> {
        if self.af == 0 {
            self.af = svc_af;
        }
        if !is_af_valid(self.af) {
            return Err(Error::AddressFamily);
        }
        if self.af != svc_af && command != cmd::DEL_DEST {
            if sync_running {
                return Err(Error::Invalid);
            }
            if self.fwd_method != conn_flag::TUNNEL {
                return Err(Error::Invalid);
            }
        }
        Ok(())
    }

    /// The value checks of `ip_vs_add_dest` and `ip_vs_edit_dest`, in their order: weight below
    /// 0 or lower threshold above upper is `-ERANGE`; upper threshold above `INT_MAX` or a GUE
    /// tunnel without port is `-EINVAL`.
    pub fn check_limits(&self) -> Result<(), Error> {
        if self.weight < 0 || self.l_threshold > self.u_threshold {
            return Err(Error::Range);
        }
        if self.u_threshold > i32::MAX as u32 {
            return Err(Error::Invalid);
        }
        if self.tun_type == abi::tunnel_type::GUE && self.tun_port == 0 {
            return Err(Error::Invalid);
        }
        Ok(())
    }

    /// Writes the destination as ipvsadm 1.31 sends it: `ADDR_FAMILY`, `ADDR`, `PORT`,
    /// `FWD_METHOD`, `WEIGHT`, `TUN_TYPE`, `TUN_PORT`, `TUN_FLAGS`, `U_THRESH`, `L_THRESH`.
    pub fn encode_request(&self, w: &mut AttrWriter<'_>, nest_type: u16) -> Result<(), Error> {
        w.nested(nest_type, |w| {
            w.put_u16(dest_attr::ADDR_FAMILY, self.af)?;
            w.put(dest_attr::ADDR, &self.addr)?;
            w.put_be16(dest_attr::PORT, self.port)?;
            w.put_u32(dest_attr::FWD_METHOD, self.fwd_method & conn_flag::FWD_MASK)?;
            w.put_u32(dest_attr::WEIGHT, self.weight as u32)?;
            w.put_u8(dest_attr::TUN_TYPE, self.tun_type)?;
            w.put_be16(dest_attr::TUN_PORT, self.tun_port)?;
            w.put_u16(dest_attr::TUN_FLAGS, self.tun_flags)?;
            w.put_u32(dest_attr::U_THRESH, self.u_threshold)?;
            w.put_u32(dest_attr::L_THRESH, self.l_threshold)
        })
    }

    /// Writes the destination as `ip_vs_genl_fill_dest` does for a dump: `ADDR`, `PORT`,
    /// `FWD_METHOD`, `WEIGHT`, `TUN_TYPE`, `TUN_PORT`, `TUN_FLAGS`, `U_THRESH`, `L_THRESH`,
    /// `ACTIVE_CONNS`, `INACT_CONNS`, `PERSIST_CONNS`, `ADDR_FAMILY`, `STATS`, `STATS64`.
    pub fn encode_reply(&self, w: &mut AttrWriter<'_>, nest_type: u16) -> Result<(), Error> {
        w.nested(nest_type, |w| {
            w.put(dest_attr::ADDR, &self.addr)?;
            w.put_be16(dest_attr::PORT, self.port)?;
            w.put_u32(dest_attr::FWD_METHOD, self.fwd_method & conn_flag::FWD_MASK)?;
            w.put_u32(dest_attr::WEIGHT, self.weight as u32)?;
            w.put_u8(dest_attr::TUN_TYPE, self.tun_type)?;
            w.put_be16(dest_attr::TUN_PORT, self.tun_port)?;
            w.put_u16(dest_attr::TUN_FLAGS, self.tun_flags)?;
            w.put_u32(dest_attr::U_THRESH, self.u_threshold)?;
            w.put_u32(dest_attr::L_THRESH, self.l_threshold)?;
            w.put_u32(dest_attr::ACTIVE_CONNS, self.active_conns)?;
            w.put_u32(dest_attr::INACT_CONNS, self.inact_conns)?;
            w.put_u32(dest_attr::PERSIST_CONNS, self.persist_conns)?;
            w.put_u16(dest_attr::ADDR_FAMILY, self.af)?;
            if let Some(stats) = &self.stats {
                stats.encode(w, dest_attr::STATS, StatsWidth::Compat)?;
            }
            if let Some(stats) = &self.stats64 {
                stats.encode(w, dest_attr::STATS64, StatsWidth::Wide)?;
            }
            Ok(())
        })
    }
}

/// The multicast group of a sync daemon.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum McastGroup {
    /// Not given: the kernel's default group.
    #[default]
    Default,
    /// `MCAST_GROUP`: an IPv4 group, network order.
    V4([u8; 4]),
    /// `MCAST_GROUP6`: an IPv6 group.
    V6([u8; 16]),
}

/// Which daemon command a nest belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DaemonParse {
    /// NEW_DAEMON (`ip_vs_genl_new_daemon`): `STATE`, `MCAST_IFN`, `SYNC_ID` required, groups
    /// must be multicast.
    Start,
    /// DEL_DAEMON (`ip_vs_genl_del_daemon`): only `STATE`, required; the rest is ignored.
    Stop,
    /// A daemon from a GET_DAEMON dump: as `Start`.
    Reply,
}

/// A sync daemon's configuration (`struct ipvs_sync_daemon_cfg` and its state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Daemon {
    /// `daemon_state::MASTER` or `daemon_state::BACKUP`.
    pub state: u32,
    /// Multicast interface.
    pub mcast_ifn: IfName,
    /// Sync id.
    pub syncid: u32,
    /// Sync message payload size, 0 for the default.
    pub sync_maxlen: u16,
    /// Multicast group.
    pub mcast_group: McastGroup,
    /// Base UDP port, host order; 0 for the default.
    pub mcast_port: u16,
    /// Multicast TTL; 0 for the default.
    pub mcast_ttl: u8,
}

impl Daemon {
    /// Decodes a daemon nest (the payload of `IPVS_CMD_ATTR_DAEMON`) as `ip_vs_genl_set_daemon`
    /// and its helpers do: every failure is `-EINVAL`.
    pub fn decode(nest: &[u8], mode: DaemonParse) -> Result<Self, Error> {
        let table = AttrTable::parse(nest, &DAEMON_POLICY).map_err(|_| Error::Invalid)?;
        let state = table.get(daemon_attr::STATE).ok_or(Error::Invalid)?;
        let mut daemon = Self {
            state: state.get_u32()?,
            ..Self::default()
        };
        if mode == DaemonParse::Stop {
            return Ok(daemon);
        }
        let (Some(ifn), Some(syncid)) = (
            table.get(daemon_attr::MCAST_IFN),
            table.get(daemon_attr::SYNC_ID),
        ) else {
            return Err(Error::Invalid);
        };
        daemon.mcast_ifn = name_of(ifn)?;
        daemon.syncid = syncid.get_u32()?;
        if let Some(a) = table.get(daemon_attr::SYNC_MAXLEN) {
            daemon.sync_maxlen = a.get_u16()?;
        }
        if let Some(a) = table.get(daemon_attr::MCAST_GROUP) {
            let group: [u8; 4] = a.copy_padded();
            // ipv4_is_multicast: 224.0.0.0/4.
            if group[0] & 0xf0 != 0xe0 {
                return Err(Error::Invalid);
            }
            daemon.mcast_group = McastGroup::V4(group);
        } else if let Some(a) = table.get(daemon_attr::MCAST_GROUP6) {
            let group: [u8; 16] = a.copy_padded();
            // ipv6_addr_type & IPV6_ADDR_MULTICAST: ff00::/8.
            if group[0] != 0xff {
                return Err(Error::Invalid);
            }
            daemon.mcast_group = McastGroup::V6(group);
        }
        if let Some(a) = table.get(daemon_attr::MCAST_PORT) {
            daemon.mcast_port = a.get_u16()?;
        }
        if let Some(a) = table.get(daemon_attr::MCAST_TTL) {
            daemon.mcast_ttl = a.get_u8()?;
        }
        Ok(daemon)
    }

    fn encode_with(&self, w: &mut AttrWriter<'_>, nest_type: u16, all: bool) -> Result<(), Error> {
        w.nested(nest_type, |w| {
            w.put_u32(daemon_attr::STATE, self.state)?;
            w.put_string(daemon_attr::MCAST_IFN, self.mcast_ifn.as_bytes())?;
            w.put_u32(daemon_attr::SYNC_ID, self.syncid)?;
            if all || self.sync_maxlen != 0 {
                w.put_u16(daemon_attr::SYNC_MAXLEN, self.sync_maxlen)?;
            }
            if all || self.mcast_port != 0 {
                w.put_u16(daemon_attr::MCAST_PORT, self.mcast_port)?;
            }
            if all || self.mcast_ttl != 0 {
                w.put_u8(daemon_attr::MCAST_TTL, self.mcast_ttl)?;
            }
            match &self.mcast_group {
                McastGroup::Default => Ok(()),
                McastGroup::V4(group) => w.put(daemon_attr::MCAST_GROUP, group),
                McastGroup::V6(group) => w.put(daemon_attr::MCAST_GROUP6, group),
            }
        })
    }

    /// Writes the daemon as ipvsadm does for `--start-daemon`/`--stop-daemon`: `STATE`,
    /// `MCAST_IFN`, `SYNC_ID`, then `SYNC_MAXLEN`, `MCAST_PORT`, `MCAST_TTL` when non-zero and
    /// the group when given.
    pub fn encode_request(&self, w: &mut AttrWriter<'_>, nest_type: u16) -> Result<(), Error> {
        self.encode_with(w, nest_type, false)
    }

    /// Writes the daemon as `ip_vs_genl_fill_daemon` does: every scalar, then the group.
    pub fn encode_reply(&self, w: &mut AttrWriter<'_>, nest_type: u16) -> Result<(), Error> {
        self.encode_with(w, nest_type, true)
    }
}

/// Connection timeouts, seconds (`SET_CONFIG` request, `GET_CONFIG` reply); `None` or 0 leaves a
/// timeout unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timeouts {
    /// TCP ESTABLISHED.
    pub tcp: Option<u32>,
    /// TCP FIN_WAIT.
    pub tcp_fin: Option<u32>,
    /// UDP.
    pub udp: Option<u32>,
}

impl Timeouts {
    /// The checks of `ip_vs_set_timeout`: each value, read as `int`, within `0..=INT_MAX / hz`
    /// (`-EINVAL` otherwise).
    pub fn check(&self, hz: u32) -> Result<(), Error> {
        let limit = (i32::MAX as u32).checked_div(hz).ok_or(Error::Invalid)?;
        for value in [self.tcp, self.tcp_fin, self.udp].into_iter().flatten() {
            if value > limit {
                return Err(Error::Invalid);
            }
        }
        Ok(())
    }

    /// Writes the top-level `TIMEOUT_TCP`, `TIMEOUT_TCP_FIN`, `TIMEOUT_UDP` that are set.
    pub fn encode(&self, w: &mut AttrWriter<'_>) -> Result<(), Error> {
        if let Some(v) = self.tcp {
            w.put_u32(cmd_attr::TIMEOUT_TCP, v)?;
        }
        if let Some(v) = self.tcp_fin {
            w.put_u32(cmd_attr::TIMEOUT_TCP_FIN, v)?;
        }
        if let Some(v) = self.udp {
            w.put_u32(cmd_attr::TIMEOUT_UDP, v)?;
        }
        Ok(())
    }

    /// Decodes a top-level attribute stream (a `GET_CONFIG` reply or `SET_CONFIG` request).
    pub fn decode(attrs: &[u8]) -> Result<Self, Error> {
        CmdAttrs::parse(attrs)?.timeouts()
    }
}

/// The `GET_INFO` reply (command `SET_INFO`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Info {
    /// `IP_VS_VERSION_CODE`.
    pub version: u32,
    /// Connection-table size.
    pub conn_tab_size: u32,
}

impl Info {
    /// What ip_vs answers with its default table size.
    pub const IPVS: Self = Self {
        version: abi::IP_VS_VERSION_CODE,
        conn_tab_size: abi::CONN_TAB_DEFAULT_SIZE,
    };

    /// Decodes the reply's top-level attributes; both are required, as in libipvs.
    pub fn decode(attrs: &[u8]) -> Result<Self, Error> {
        let table = AttrTable::parse(attrs, &INFO_POLICY)?;
        let get = |kind| table.get(kind).ok_or(Error::Invalid)?.get_u32();
        Ok(Self {
            version: get(info_attr::VERSION)?,
            conn_tab_size: get(info_attr::CONN_TAB_SIZE)?,
        })
    }

    /// Writes `VERSION` then `CONN_TAB_SIZE`, as `ip_vs_genl_get_cmd` does.
    pub fn encode(&self, w: &mut AttrWriter<'_>) -> Result<(), Error> {
        w.put_u32(info_attr::VERSION, self.version)?;
        w.put_u32(info_attr::CONN_TAB_SIZE, self.conn_tab_size)
    }
}

/// The top-level attributes of an IPVS message, checked against `ip_vs_cmd_policy`.
#[derive(Clone, Copy, Debug)]
pub struct CmdAttrs<'a> {
    table: AttrTable<'a, { cmd_attr::MAX as usize + 1 }>,
}

impl<'a> CmdAttrs<'a> {
    /// Parses an attribute stream as genetlink does for IPVS doit requests (liberal): a nest of
    /// 1 to 3 bytes or a timeout shorter than 4 bytes is `-ERANGE`.
    pub fn parse(attrs: &'a [u8]) -> Result<Self, Error> {
        Ok(Self {
            table: AttrTable::parse(attrs, &CMD_POLICY)?,
        })
    }

    /// The raw top-level attribute of `kind` (`cmd_attr::*`).
    pub fn get(&self, kind: u16) -> Option<Attr<'a>> {
        self.table.get(kind)
    }

    /// Whether a service nest is present (ZERO without one zeroes everything).
    pub fn has_service(&self) -> bool {
        self.get(cmd_attr::SERVICE).is_some()
    }

    /// The service nest decoded with `mode`; absent is `-EINVAL`.
    pub fn service(&self, mode: ServiceParse) -> Result<Service, Error> {
        let nest = self.get(cmd_attr::SERVICE).ok_or(Error::Invalid)?;
        Service::decode(nest.payload(), mode)
    }

    /// The destination nest decoded with `mode`; absent is `-EINVAL`.
    pub fn dest(&self, mode: DestParse) -> Result<Dest, Error> {
        let nest = self.get(cmd_attr::DEST).ok_or(Error::Invalid)?;
        Dest::decode(nest.payload(), mode)
    }

    /// The daemon nest decoded with `mode`; absent is `-EINVAL`.
    pub fn daemon(&self, mode: DaemonParse) -> Result<Daemon, Error> {
        let nest = self.get(cmd_attr::DAEMON).ok_or(Error::Invalid)?;
        Daemon::decode(nest.payload(), mode)
    }

    /// The timeouts present at top level.
    pub fn timeouts(&self) -> Result<Timeouts, Error> {
        let get = |kind| match self.get(kind) {
            Some(a) => a.get_u32().map(Some),
            None => Ok(None),
        };
        Ok(Timeouts {
            tcp: get(cmd_attr::TIMEOUT_TCP)?,
            tcp_fin: get(cmd_attr::TIMEOUT_TCP_FIN)?,
            udp: get(cmd_attr::TIMEOUT_UDP)?,
        })
    }
}

/// Whether ip_vs registers a handler for `command` as a dump (`dump`) or a doit.
pub const fn has_handler(command: u8, dump: bool) -> bool {
    if dump {
        matches!(command, cmd::GET_SERVICE | cmd::GET_DEST | cmd::GET_DAEMON)
    } else {
        matches!(
            command,
            cmd::NEW_SERVICE
                ..=cmd::DEL_DEST
                    | cmd::NEW_DAEMON
                    | cmd::DEL_DAEMON
                    | cmd::SET_CONFIG
                    | cmd::GET_CONFIG
                    | cmd::GET_INFO
                    | cmd::ZERO
                    | cmd::FLUSH
        ) && command != cmd::GET_DEST
    }
}

/// The reply command of a doit `GET_*` request (`ip_vs_genl_get_cmd`).
pub const fn reply_cmd(request: u8) -> Option<u8> {
    match request {
        cmd::GET_SERVICE => Some(cmd::NEW_SERVICE),
        cmd::GET_INFO => Some(cmd::SET_INFO),
        cmd::GET_CONFIG => Some(cmd::SET_CONFIG),
        _ => None,
    }
}

/// A whole IPVS request message, checked as `genl_family_rcv_msg` checks it before calling an
/// IPVS handler.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The netlink header.
    pub header: NlMsgHdr,
    /// The generic-netlink header.
    pub genl: GenlMsgHdr,
    /// The attribute stream after the headers.
    pub attrs: &'a [u8],
}

/// `resv_start_op` of the IPVS family: commands from here on get the strict header check.
const RESV_START_OP: u8 = cmd::FLUSH + 1;

impl<'a> Request<'a> {
    /// Parses one request: a truncated header or a message shorter than `nlmsghdr` +
    /// `genlmsghdr` is `-EINVAL`; a command without a handler for the mode (dump or doit) is
    /// `-EOPNOTSUPP`; for a doit the top-level attributes must pass `ip_vs_cmd_policy`. Dumps
    /// are not validated here (`GENL_DONT_VALIDATE_DUMP`): their handlers call
    /// [`Request::cmd_attrs`] and treat a failure as an empty dump.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let message = Message::parse(bytes)?;
        let genl = GenlMsgHdr::parse(message.payload)?;
        let attrs = message.payload.get(GENL_HDRLEN..).unwrap_or(&[]);
        let header = message.header;
        if genl.cmd >= RESV_START_OP {
            let mut flags = header.flags;
            if header.is_dump() {
                flags &= !nlm_flag::DUMP;
            }
            if genl.reserved != 0
                || flags & !(nlm_flag::REQUEST | nlm_flag::ACK | nlm_flag::ECHO) != 0
            {
                return Err(Error::Invalid);
            }
        }
        if !has_handler(genl.cmd, header.is_dump()) {
            return Err(Error::NotSupported);
        }
        if !header.is_dump() {
            CmdAttrs::parse(attrs)?;
        }
        Ok(Self {
            header,
            genl,
            attrs,
        })
    }

    /// Whether this is a dump request.
    pub const fn is_dump(&self) -> bool {
        self.header.is_dump()
    }

    /// The top-level attributes (`ip_vs_cmd_policy`, liberal).
    pub fn cmd_attrs(&self) -> Result<CmdAttrs<'a>, Error> {
        CmdAttrs::parse(self.attrs)
    }
}
