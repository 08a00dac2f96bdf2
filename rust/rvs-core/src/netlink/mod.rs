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
