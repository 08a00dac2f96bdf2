//! The IPVS generic-netlink codec: one source of truth for the control ABI.
//!
//! Three layers, each usable alone and none allocating: [`attr`] walks, validates and writes
//! netlink attributes on byte slices; [`msg`] frames whole messages (`nlmsghdr` + `genlmsghdr`,
//! acks and errors, multipart dumps, the controller's family lookup); [`ipvs`] turns IPVS
//! attributes into typed services, destinations, daemons, statistics, timeouts and info and back,
//! with the kernel's policies and parse helpers (`ip_vs_genl_parse_service`,
//! `ip_vs_genl_parse_dest`, `ip_vs_genl_new_daemon`), so that a request rvs rejects is one
//! ip_vs rejects, with the same errno. The kernel module decodes requests and encodes replies with
//! it; rvsadm encodes requests and decodes replies and dumps with it.
//!
//! Both sides of `ipvsadm -A -t 10.0.0.1:80 -s rr` and of `GET_INFO`:
//!
//! ```
//! use rvs_core::abi::{cmd, cmd_attr, AF_INET, IPPROTO_TCP, IPVS_GENL_VERSION};
//! use rvs_core::netlink::ipvs::SchedName;
//! use rvs_core::netlink::msg::{encode_get_family, GenlWriter};
//! use rvs_core::netlink::{AttrWriter, Info, Request, Service, ServiceFlags, ServiceParse};
//!
//! // rvsadm: look the family up (send this, read `Family::decode` of the answer's attributes)...
//! let mut buf = [0u8; 512];
//! let lookup_len = encode_get_family(&mut buf, b"IPVS", 1, 0)?;
//! # assert_eq!(lookup_len, 32);
//! let family = 0x1c; // from the controller's reply
//! // ...then build the request in a buffer it owns.
//! let svc = Service {
//!     af: AF_INET,
//!     protocol: IPPROTO_TCP,
//!     addr: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
//!     port: 80,
//!     sched_name: SchedName::new(b"rr")?,
//!     flags: ServiceFlags::all(0),
//!     netmask: u32::MAX,
//!     ..Service::default()
//! };
//! let mut w = GenlWriter::request(&mut buf, family, 0, 2, 0, cmd::NEW_SERVICE, IPVS_GENL_VERSION)?;
//! svc.encode(w.attrs(), cmd_attr::SERVICE)?;
//! let len = w.finish()?;
//!
//! // The module: genetlink's checks, then ip_vs_genl_parse_service(full_entry = true); any
//! // error's `to_kernel()` is the negative errno to return.
//! let req = Request::parse(&buf[..len])?;
//! assert_eq!(req.genl.cmd, cmd::NEW_SERVICE);
//! let new = req.cmd_attrs()?.service(ServiceParse::Full)?;
//! assert_eq!((new.port, new.sched_name.as_bytes()), (80, &b"rr"[..]));
//!
//! // The module answering GET_INFO: the attributes to append after genlmsg_put_reply().
//! let mut reply = [0u8; 16];
//! let mut attrs = AttrWriter::new(&mut reply);
//! Info::IPVS.encode(&mut attrs)?;
//! // rvsadm reading the reply's attributes.
//! assert_eq!(Info::decode(attrs.as_bytes())?, Info::IPVS);
//! # Ok::<(), rvs_core::netlink::Error>(())
//! ```

pub mod attr;
pub mod ipvs;
pub mod msg;

pub use attr::{Attr, AttrTable, AttrWriter, Attrs, Policy};
pub use ipvs::{
    CmdAttrs, Daemon, DaemonParse, Dest, DestParse, Info, McastGroup, Name, Request, Service,
    ServiceFlags, ServiceParse, Stats, StatsWidth, Timeouts,
};
pub use msg::{GenlMsgHdr, Message, Messages, NlMsgHdr, Received};

/// Why a message could not be decoded or encoded; each maps to the errno ip_vs answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// `EINVAL`: malformed message, missing required attribute, invalid value.
    Invalid,
    /// `ERANGE`: an attribute shorter than its type, or a string or binary over its maximum.
    Range,
    /// `EOPNOTSUPP`: a command without a handler for the requested mode (do or dump).
    NotSupported,
    /// `EAFNOSUPPORT`: an address family IPVS does not handle.
    AddressFamily,
    /// `EMSGSIZE`: the output buffer is full.
    MessageSize,
}

impl Error {
    /// The positive errno value (`EINVAL` = 22, ...).
    pub const fn errno(self) -> i32 {
        match self {
            Error::Invalid => 22,
            Error::Range => 34,
            Error::NotSupported => 95,
            Error::AddressFamily => 97,
            Error::MessageSize => 90,
        }
    }

    /// The value a kernel handler returns: the negated errno.
    pub const fn to_kernel(self) -> i32 {
        -self.errno()
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = match self {
            Error::Invalid => "invalid argument",
            Error::Range => "attribute out of range",
            Error::NotSupported => "operation not supported",
            Error::AddressFamily => "address family not supported",
            Error::MessageSize => "message too long for its buffer",
        };
        f.write_str(text)
    }
}
