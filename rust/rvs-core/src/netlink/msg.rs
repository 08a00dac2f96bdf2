//! Netlink message framing: `nlmsghdr` + `genlmsghdr`, acks and errors, multipart dumps, and the
//! generic-netlink controller's family lookup.
//!
//! A receive buffer holds one or more messages ([`Messages`], `nlmsg_ok`/`nlmsg_next`); each is
//! classified as a generic-netlink message, an ack, an error carrying the kernel's errno, or the
//! `NLMSG_DONE` that ends a dump ([`Received`]). Requests are built in place with [`GenlWriter`],
//! which patches `nlmsg_len` when finished, exactly as libnl's `nl_send_auto` completes what
//! ipvsadm puts. rvsadm resolves the `IPVS` family id with [`encode_get_family`] and
//! [`Family::decode`] the way `genl_ctrl_resolve` does.

use super::attr::{nla_align, AttrTable, AttrWriter, Policy};
use super::Error;

/// Size of `struct nlmsghdr` (`NLMSG_HDRLEN`).
pub const NLMSG_HDRLEN: usize = 16;
/// Size of `struct genlmsghdr` (`GENL_HDRLEN`).
pub const GENL_HDRLEN: usize = 4;
/// Size of the `int error` that starts `struct nlmsgerr` and the `NLMSG_DONE` payload.
const ERRNO_LEN: usize = 4;

/// `nlmsg_flags` bits (`NLM_F_*`).
pub mod nlm_flag {
    /// A request.
    pub const REQUEST: u16 = 0x01;
    /// Part of a multipart message, terminated by `NLMSG_DONE`.
    pub const MULTI: u16 = 0x02;
    /// Ask for an ack (success or error).
    pub const ACK: u16 = 0x04;
    /// Echo the request.
    pub const ECHO: u16 = 0x08;
    /// The dump was inconsistent.
    pub const DUMP_INTR: u16 = 0x10;
    /// The dump was filtered.
    pub const DUMP_FILTERED: u16 = 0x20;
    /// GET: the whole table.
    pub const ROOT: u16 = 0x100;
    /// GET: every match.
    pub const MATCH: u16 = 0x200;
    /// GET: atomic snapshot.
    pub const ATOMIC: u16 = 0x400;
    /// GET: a dump (`NLM_F_ROOT | NLM_F_MATCH`).
    pub const DUMP: u16 = ROOT | MATCH;
    /// Ack: the request was not copied back.
    pub const CAPPED: u16 = 0x100;
    /// Ack: extended-ack attributes follow.
    pub const ACK_TLVS: u16 = 0x200;
}

/// Control message types (`NLMSG_*`).
pub mod nlmsg_type {
    /// Nothing.
    pub const NOOP: u16 = 0x1;
    /// Error or ack (`struct nlmsgerr`).
    pub const ERROR: u16 = 0x2;
    /// End of a dump.
    pub const DONE: u16 = 0x3;
    /// Data lost.
    pub const OVERRUN: u16 = 0x4;
    /// First type free for families (`NLMSG_MIN_TYPE`).
    pub const MIN_TYPE: u16 = 0x10;
}

/// Extended-ack attributes after an error (`NLMSGERR_ATTR_*`).
pub mod nlmsgerr_attr {
    /// Error message string.
    pub const MSG: u16 = 1;
    /// Offset of the offending attribute in the request.
    pub const OFFS: u16 = 2;
    /// Cookie.
    pub const COOKIE: u16 = 3;
    /// Policy of the rejected attribute.
    pub const POLICY: u16 = 4;
    /// Type of a missing attribute.
    pub const MISS_TYPE: u16 = 5;
    /// Offset of the nest where an attribute is missing.
    pub const MISS_NEST: u16 = 6;
}

/// The generic-netlink controller (`GENL_ID_CTRL`, `CTRL_CMD_*`, `CTRL_ATTR_*`).
pub mod ctrl {
    /// Fixed family id of the controller.
    pub const GENL_ID_CTRL: u16 = 0x10;
    /// Size of a family-name buffer, NUL included (`GENL_NAMSIZ`).
    pub const GENL_NAMSIZ: usize = 16;
    /// Version libnl puts in controller requests.
    pub const VERSION: u8 = 1;
    /// Reply command describing a family.
    pub const CMD_NEWFAMILY: u8 = 1;
    /// Look a family up.
    pub const CMD_GETFAMILY: u8 = 3;
    /// `u16`: family id.
    pub const ATTR_FAMILY_ID: u16 = 1;
    /// NUL string: family name.
    pub const ATTR_FAMILY_NAME: u16 = 2;
    /// `u32`: family version.
    pub const ATTR_VERSION: u16 = 3;
    /// `u32`: family header size.
    pub const ATTR_HDRSIZE: u16 = 4;
    /// `u32`: highest attribute.
    pub const ATTR_MAXATTR: u16 = 5;
    /// Nested: operations.
    pub const ATTR_OPS: u16 = 6;
    /// Nested: multicast groups.
    pub const ATTR_MCAST_GROUPS: u16 = 7;
    /// Highest controller attribute this codec reads.
    pub const ATTR_MAX: u16 = 10;
}

fn read_u16(bytes: &[u8], at: usize) -> Result<u16, Error> {
    match bytes.get(at..at.checked_add(2).ok_or(Error::Invalid)?) {
        Some([a, b]) => Ok(u16::from_ne_bytes([*a, *b])),
        _ => Err(Error::Invalid),
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Result<u32, Error> {
    match bytes.get(at..at.checked_add(4).ok_or(Error::Invalid)?) {
        Some([a, b, c, d]) => Ok(u32::from_ne_bytes([*a, *b, *c, *d])),
        _ => Err(Error::Invalid),
    }
}

fn copy_into(out: &mut [u8], at: usize, bytes: &[u8]) -> Result<(), Error> {
    let end = at.checked_add(bytes.len()).ok_or(Error::MessageSize)?;
    out.get_mut(at..end)
        .ok_or(Error::MessageSize)?
        .copy_from_slice(bytes);
    Ok(())
}

/// `struct nlmsghdr`, host byte order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NlMsgHdr {
    /// `nlmsg_len`: length of the message, header included.
    pub len: u32,
    /// `nlmsg_type`: a control type or the family id.
    pub kind: u16,
    /// `nlmsg_flags` (`nlm_flag::*`).
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`: sender or destination port id.
    pub pid: u32,
}

impl NlMsgHdr {
    /// Reads the header at the start of `bytes`; `-EINVAL` if fewer than 16 bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        Ok(Self {
            len: read_u32(bytes, 0)?,
            kind: read_u16(bytes, 4)?,
            flags: read_u16(bytes, 6)?,
            seq: read_u32(bytes, 8)?,
            pid: read_u32(bytes, 12)?,
        })
    }

    /// The 16 wire bytes.
    pub fn to_bytes(self) -> [u8; NLMSG_HDRLEN] {
        let mut out = [0u8; NLMSG_HDRLEN];
        let parts: [&[u8]; 5] = [
            &self.len.to_ne_bytes(),
            &self.kind.to_ne_bytes(),
            &self.flags.to_ne_bytes(),
            &self.seq.to_ne_bytes(),
            &self.pid.to_ne_bytes(),
        ];
        for (dst, src) in out.iter_mut().zip(parts.into_iter().flatten()) {
            *dst = *src;
        }
        out
    }

    /// Whether this is a dump request (both `NLM_F_ROOT` and `NLM_F_MATCH`, as genetlink tests).
    pub const fn is_dump(&self) -> bool {
        self.flags & nlm_flag::DUMP == nlm_flag::DUMP
    }
}

/// `struct genlmsghdr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GenlMsgHdr {
    /// Command.
    pub cmd: u8,
    /// Family version.
    pub version: u8,
    /// Reserved, 0.
    pub reserved: u16,
}

impl GenlMsgHdr {
    /// Reads the header at the start of `bytes`; `-EINVAL` if fewer than 4 bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        match bytes.get(..GENL_HDRLEN) {
            Some([cmd, version, r0, r1]) => Ok(Self {
                cmd: *cmd,
                version: *version,
                reserved: u16::from_ne_bytes([*r0, *r1]),
            }),
            _ => Err(Error::Invalid),
        }
    }

    /// The 4 wire bytes.
    pub fn to_bytes(self) -> [u8; GENL_HDRLEN] {
        let [r0, r1] = self.reserved.to_ne_bytes();
        [self.cmd, self.version, r0, r1]
    }
}

/// One message cut out of a buffer: its header and the `nlmsg_len - 16` bytes after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// The header.
    pub header: NlMsgHdr,
    /// Everything after the header, up to `nlmsg_len`.
    pub payload: &'a [u8],
}

impl<'a> Message<'a> {
    /// The message at the start of `bytes` (`nlmsg_ok`): `-EINVAL` if the header is truncated,
    /// `nlmsg_len` is below the header size or beyond `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let header = NlMsgHdr::parse(bytes)?;
        let len = usize::try_from(header.len).map_err(|_| Error::Invalid)?;
        if len < NLMSG_HDRLEN {
            return Err(Error::Invalid);
        }
        let payload = bytes.get(NLMSG_HDRLEN..len).ok_or(Error::Invalid)?;
        Ok(Self { header, payload })
    }

    /// What the message is: generic-netlink data, ack, error, end of dump.
    pub fn classify(&self) -> Result<Received<'a>, Error> {
        let header = self.header;
        match header.kind {
            nlmsg_type::NOOP => Ok(Received::Noop { header }),
            nlmsg_type::OVERRUN => Ok(Received::Overrun { header }),
            nlmsg_type::DONE => {
                // The kernel always puts the dump's final status; an empty DONE means success.
                let status = if self.payload.is_empty() {
                    0
                } else {
                    read_u32(self.payload, 0)? as i32
                };
                Ok(Received::Done {
                    header,
                    errno: status.wrapping_neg(),
                })
            }
            nlmsg_type::ERROR => {
                let error = read_u32(self.payload, 0)? as i32;
                let request = NlMsgHdr::parse(self.payload.get(ERRNO_LEN..).unwrap_or(&[]))?;
                if error == 0 {
                    return Ok(Received::Ack { header, request });
                }
                let ext_ack = if header.flags & nlm_flag::ACK_TLVS == 0 {
                    &[][..]
                } else {
                    // The request is copied back whole unless the ack is capped.
                    let copied = if header.flags & nlm_flag::CAPPED != 0 {
                        NLMSG_HDRLEN
                    } else {
                        usize::try_from(request.len).unwrap_or(usize::MAX)
                    };
                    let at = nla_align(ERRNO_LEN.saturating_add(copied)).unwrap_or(usize::MAX);
                    self.payload.get(at..).unwrap_or(&[])
                };
                Ok(Received::Error {
                    header,
                    errno: error.wrapping_neg(),
                    request,
                    ext_ack,
                })
            }
            _ => {
                let genl = GenlMsgHdr::parse(self.payload)?;
                Ok(Received::Genl {
                    header,
                    genl,
                    attrs: self.payload.get(GENL_HDRLEN..).unwrap_or(&[]),
                })
            }
        }
    }
}

/// A classified message from the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received<'a> {
    /// A generic-netlink message: a reply, or one part of a dump (`NLM_F_MULTI`).
    Genl {
        /// The netlink header; `kind` is the family id.
        header: NlMsgHdr,
        /// The generic-netlink header.
        genl: GenlMsgHdr,
        /// The attribute stream after the headers.
        attrs: &'a [u8],
    },
    /// `NLMSG_ERROR` with error 0: the request succeeded.
    Ack {
        /// The netlink header.
        header: NlMsgHdr,
        /// Header of the request being acknowledged.
        request: NlMsgHdr,
    },
    /// `NLMSG_ERROR` with an error: the request failed.
    Error {
        /// The netlink header.
        header: NlMsgHdr,
        /// Positive errno (`EEXIST` = 17, ...).
        errno: i32,
        /// Header of the failed request.
        request: NlMsgHdr,
        /// Extended-ack attributes (`nlmsgerr_attr::*`), empty if none.
        ext_ack: &'a [u8],
    },
    /// `NLMSG_DONE`: the dump is over; `errno` is 0 or the positive errno it failed with.
    Done {
        /// The netlink header.
        header: NlMsgHdr,
        /// Positive errno, 0 on success.
        errno: i32,
    },
    /// `NLMSG_NOOP`.
    Noop {
        /// The netlink header.
        header: NlMsgHdr,
    },
    /// `NLMSG_OVERRUN`.
    Overrun {
        /// The netlink header.
        header: NlMsgHdr,
    },
}

impl<'a> Received<'a> {
    /// The error message string of an extended ack, if the kernel attached one.
    pub fn ext_ack_message(&self) -> Option<&'a [u8]> {
        let Received::Error { ext_ack, .. } = self else {
            return None;
        };
        super::attr::Attrs::new(ext_ack)
            .find(|a| a.kind() == nlmsgerr_attr::MSG)
            .map(|a| a.c_str())
    }
}

/// The messages of one receive buffer (`nlmsg_ok`/`nlmsg_next`); a malformed tail yields one
/// `Err(Error::Invalid)` and ends the walk.
#[derive(Clone, Debug)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Messages<'a> {
    /// The messages in `buf`.
    pub const fn new(buf: &'a [u8]) -> Self {
        Self { rest: buf }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match Message::parse(self.rest) {
            Ok(message) => {
                let len = usize::try_from(message.header.len).unwrap_or(usize::MAX);
                let next = nla_align(len).unwrap_or(usize::MAX);
                self.rest = self.rest.get(next..).unwrap_or(&[]);
                Some(Ok(message))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Builds one generic-netlink message in a caller-provided buffer.
#[derive(Debug)]
pub struct GenlWriter<'b> {
    attrs: AttrWriter<'b>,
}

impl<'b> GenlWriter<'b> {
    /// Starts a message with `header` (its `len` is filled in by [`GenlWriter::finish`]) and
    /// `genl`.
    pub fn new(buf: &'b mut [u8], header: NlMsgHdr, genl: GenlMsgHdr) -> Result<Self, Error> {
        copy_into(buf, 0, &header.to_bytes())?;
        copy_into(buf, NLMSG_HDRLEN, &genl.to_bytes())?;
        let prefix = NLMSG_HDRLEN + GENL_HDRLEN;
        Ok(Self {
            attrs: AttrWriter::with_prefix(buf, prefix),
        })
    }

    /// A request as ipvsadm sends it through libnl: `NLM_F_REQUEST | NLM_F_ACK | extra_flags`.
    pub fn request(
        buf: &'b mut [u8],
        family: u16,
        extra_flags: u16,
        seq: u32,
        pid: u32,
        cmd: u8,
        version: u8,
    ) -> Result<Self, Error> {
        let header = NlMsgHdr {
            len: 0,
            kind: family,
            flags: nlm_flag::REQUEST | nlm_flag::ACK | extra_flags,
            seq,
            pid,
        };
        let genl = GenlMsgHdr {
            cmd,
            version,
            reserved: 0,
        };
        Self::new(buf, header, genl)
    }

    /// Where the attributes go.
    pub fn attrs(&mut self) -> &mut AttrWriter<'b> {
        &mut self.attrs
    }

    /// Sets `nlmsg_len` and returns the length of the message.
    pub fn finish(mut self) -> Result<usize, Error> {
        let len = self.attrs.len();
        let len32 = u32::try_from(len).map_err(|_| Error::MessageSize)?;
        copy_into(self.attrs.buffer_mut(), 0, &len32.to_ne_bytes())?;
        Ok(len)
    }
}

/// Writes the `NLMSG_ERROR` the kernel answers to `request` (`netlink_ack` without extended
/// ack): `errno` 0 is a capped ack; otherwise the request is copied back whole. Returns the
/// length written.
pub fn write_ack(out: &mut [u8], request: &[u8], errno: i32) -> Result<usize, Error> {
    let req = Message::parse(request)?;
    let copied = if errno == 0 {
        NLMSG_HDRLEN
    } else {
        usize::try_from(req.header.len).map_err(|_| Error::Invalid)?
    };
    let body = request.get(..copied).ok_or(Error::Invalid)?;
    let len = NLMSG_HDRLEN
        .checked_add(ERRNO_LEN)
        .and_then(|l| l.checked_add(copied))
        .and_then(nla_align)
        .ok_or(Error::MessageSize)?;
    let area = out.get_mut(..len).ok_or(Error::MessageSize)?;
    area.fill(0);
    let header = NlMsgHdr {
        len: u32::try_from(len).map_err(|_| Error::MessageSize)?,
        kind: nlmsg_type::ERROR,
        flags: if errno == 0 { nlm_flag::CAPPED } else { 0 },
        seq: req.header.seq,
        pid: req.header.pid,
    };
    copy_into(area, 0, &header.to_bytes())?;
    copy_into(area, NLMSG_HDRLEN, &errno.wrapping_neg().to_ne_bytes())?;
    copy_into(area, NLMSG_HDRLEN + ERRNO_LEN, body)?;
    Ok(len)
}

/// Writes the `NLMSG_DONE` that ends a dump answered to a request of `seq` from port `pid`.
pub fn write_done(out: &mut [u8], seq: u32, pid: u32) -> Result<usize, Error> {
    let len = NLMSG_HDRLEN + ERRNO_LEN;
    let header = NlMsgHdr {
        len: len as u32,
        kind: nlmsg_type::DONE,
        flags: nlm_flag::MULTI,
        seq,
        pid,
    };
    copy_into(out, 0, &header.to_bytes())?;
    copy_into(out, NLMSG_HDRLEN, &0u32.to_ne_bytes())?;
    Ok(len)
}

/// Writes the controller request `genl_ctrl_resolve` sends to look up family `name`
/// (`CTRL_CMD_GETFAMILY` with `CTRL_ATTR_FAMILY_NAME`). Returns the length written.
pub fn encode_get_family(out: &mut [u8], name: &[u8], seq: u32, pid: u32) -> Result<usize, Error> {
    if name.len() >= ctrl::GENL_NAMSIZ || name.contains(&0) {
        return Err(Error::Range);
    }
    let mut w = GenlWriter::request(
        out,
        ctrl::GENL_ID_CTRL,
        0,
        seq,
        pid,
        ctrl::CMD_GETFAMILY,
        ctrl::VERSION,
    )?;
    w.attrs().put_string(ctrl::ATTR_FAMILY_NAME, name)?;
    w.finish()
}

/// Writes a request for every registered family (`CTRL_CMD_GETFAMILY` with `NLM_F_DUMP`): one
/// `CTRL_CMD_NEWFAMILY` reply per family, then `NLMSG_DONE`. Unlike a lookup by name, a dump never
/// makes the kernel try to load a module for a family it lacks.
pub fn encode_dump_families(out: &mut [u8], seq: u32, pid: u32) -> Result<usize, Error> {
    GenlWriter::request(
        out,
        ctrl::GENL_ID_CTRL,
        nlm_flag::DUMP,
        seq,
        pid,
        ctrl::CMD_GETFAMILY,
        ctrl::VERSION,
    )?
    .finish()
}

/// What the controller says about a family (`CTRL_CMD_NEWFAMILY`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Family {
    /// The id to put in `nlmsg_type` of the family's requests.
    pub id: u16,
    /// Family version (0 if absent).
    pub version: u32,
    /// Family header size (0 if absent).
    pub hdrsize: u32,
    /// Highest attribute (0 if absent).
    pub maxattr: u32,
}

const CTRL_POLICY: [Policy; ctrl::ATTR_MAX as usize + 1] = [
    Policy::Unspec { min_len: 0 },
    Policy::U16,
    Policy::NulString {
        max_len: ctrl::GENL_NAMSIZ as u16 - 1,
    },
    Policy::U32,
    Policy::U32,
    Policy::U32,
    Policy::Nested,
    Policy::Nested,
    Policy::Nested,
    Policy::Nested,
    Policy::Nested,
];

impl Family {
    /// Decodes the attributes of a controller reply; `CTRL_ATTR_FAMILY_ID` is required.
    pub fn decode(attrs: &[u8]) -> Result<Self, Error> {
        let table = AttrTable::parse(attrs, &CTRL_POLICY)?;
        let id = table
            .get(ctrl::ATTR_FAMILY_ID)
            .ok_or(Error::Invalid)?
            .get_u16()?;
        let u32_or_zero = |kind| match table.get(kind) {
            Some(a) => a.get_u32(),
            None => Ok(0),
        };
        Ok(Self {
            id,
            version: u32_or_zero(ctrl::ATTR_VERSION)?,
            hdrsize: u32_or_zero(ctrl::ATTR_HDRSIZE)?,
            maxattr: u32_or_zero(ctrl::ATTR_MAXATTR)?,
        })
    }

    /// The family's name in a controller reply (`CTRL_ATTR_FAMILY_NAME`, without its NUL), as a
    /// dump of every family (`CTRL_CMD_GETFAMILY` with `NLM_F_DUMP`) needs it.
    pub fn decode_name(attrs: &[u8]) -> Result<&[u8], Error> {
        let table = AttrTable::parse(attrs, &CTRL_POLICY)?;
        Ok(table
            .get(ctrl::ATTR_FAMILY_NAME)
            .ok_or(Error::Invalid)?
            .c_str())
    }

    /// Writes the attributes the controller answers about a family named `name` (for tests and
    /// a mock kernel).
    pub fn encode(&self, w: &mut AttrWriter<'_>, name: &[u8]) -> Result<(), Error> {
        w.put_string(ctrl::ATTR_FAMILY_NAME, name)?;
        w.put_u16(ctrl::ATTR_FAMILY_ID, self.id)?;
        w.put_u32(ctrl::ATTR_VERSION, self.version)?;
        w.put_u32(ctrl::ATTR_HDRSIZE, self.hdrsize)?;
        w.put_u32(ctrl::ATTR_MAXATTR, self.maxattr)
    }
}
