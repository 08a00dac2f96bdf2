//! The IPVS connection-synchronisation protocol (ip_vs_sync.c): the wire formats a master
//! director multicasts and a backup reads, and the master's rule for when a connection is worth
//! a message.
//!
//! Two formats exist. Version 1 (`sync_version=1`, the default) has an 8-byte header
//! (`struct ip_vs_sync_mesg`) and variable-length entries (`struct ip_vs_sync_v4`/`_v6` plus
//! options: sequence data, persistence-engine data and name), each padded to 4 bytes. Version 0
//! (`sync_version=0`) has a 4-byte header (`struct ip_vs_sync_mesg_v0`) and fixed 24-byte IPv4
//! entries, 48 bytes with sequence data. All multi-byte fields are big-endian, except version 0's
//! sequence data, which ip_vs copies in host order (`memcpy` of `sync_conn_opt`).
//!
//! Decoding follows `ip_vs_process_message`, `ip_vs_process_message_v0` and
//! `ip_vs_proc_sync_conn` check for check: a message whose size field differs from the datagram
//! is dropped; an entry that does not fit, or a malformed option, drops the rest of the message
//! ([`Item::Fatal`]; the entries before it stay applied, as in ip_vs); an entry with forbidden
//! flags, an unknown protocol or state, an unknown mandatory option or a persistence engine the
//! backup lacks is skipped alone ([`Item::Skip`]). Decoding never panics and never allocates:
//! entries borrow their option data from the datagram.

use super::abi::{conn_flag, AF_INET, AF_INET6};
use super::proto::{sctp::SCTP_S_LAST, tcp::TCP_S_LAST};

/// `IP_VS_SYNC_GROUP`: the default multicast group, 224.0.0.81.
pub const SYNC_GROUP: [u8; 4] = [224, 0, 0, 81];
/// `IP_VS_SYNC_PORT`: the default UDP port (thread *n* uses port + *n*).
pub const SYNC_PORT: u16 = 8848;
/// `SYNC_PROTO_VER`: the version byte of a version-1 header.
pub const SYNC_PROTO_VER: u8 = 1;
/// `sizeof(struct ip_vs_sync_mesg)`.
pub const MESG_LEN: usize = 8;
/// `sizeof(struct ip_vs_sync_mesg_v0)`.
pub const MESG_V0_LEN: usize = 4;
/// `sizeof(struct ip_vs_sync_v4)`.
pub const V4_LEN: usize = 36;
/// `sizeof(struct ip_vs_sync_v6)`.
pub const V6_LEN: usize = 72;
/// `SIMPLE_CONN_SIZE`: a version-0 entry.
pub const V0_CONN_LEN: usize = 24;
/// `sizeof(struct ip_vs_sync_conn_options)`: sequence data.
pub const SEQ_OPT_LEN: usize = 24;
/// `FULL_CONN_SIZE`: a version-0 entry with sequence data.
pub const V0_FULL_LEN: usize = V0_CONN_LEN + SEQ_OPT_LEN;
/// `IP_VS_PEDATA_MAXLEN`.
pub const PEDATA_MAXLEN: usize = 255;
/// `IP_VS_PENAME_MAXLEN`.
pub const PENAME_MAXLEN: usize = 16;
/// `STYPE_F_INET6`: the type bit of an IPv6 entry.
pub const STYPE_F_INET6: u8 = 1;
/// `SVER_SHIFT`, `SVER_MASK`: the entry version and size in `ver_size`.
const SVER_SHIFT: u16 = 12;
const SVER_MASK: u16 = 0x0fff;
/// Option types (`IPVS_OPT_*`) and the "optional" bit (`IPVS_OPT_F_PARAM`).
pub const OPT_SEQ_DATA: u8 = 1;
/// Persistence-engine data.
pub const OPT_PE_DATA: u8 = 2;
/// Persistence-engine name.
pub const OPT_PE_NAME: u8 = 3;
/// Set in an option's type: a receiver that does not know it skips it.
pub const OPT_F_PARAM: u8 = 1 << 6;
/// `IP_VS_CTPL_S_LAST`: the number of template states.
pub const CTPL_S_LAST: u16 = 2;
/// The persistence engines a backup knows (`__ip_vs_pe_getbyname`): rvs has the SIP one.
pub const KNOWN_PE: [&[u8]; 1] = [b"sip"];

/// `struct ip_vs_seq`: TCP sequence adjustment of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Seq {
    /// `init_seq`.
    pub init_seq: u32,
    /// `delta`.
    pub delta: u32,
    /// `previous_delta`.
    pub previous_delta: u32,
}

/// One synchronised connection or template, as a message carries it. Ports are host order;
/// IPv4 addresses use the first 4 bytes of the arrays (the rest zero).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SyncConn<'a> {
    /// `AF_INET` or `AF_INET6` (version 0: always `AF_INET`).
    pub af: u16,
    /// Transport protocol (`IPPROTO_IP` for fwmark templates).
    pub protocol: u8,
    /// `IP_VS_CONN_F_*` as sent (version 0: the low 16 bits only).
    pub flags: u32,
    /// Protocol (or template) state.
    pub state: u16,
    /// Client, virtual and real-server ports.
    pub cport: u16,
    /// Virtual port.
    pub vport: u16,
    /// Real-server port.
    pub dport: u16,
    /// Firewall mark (version 1 only).
    pub fwmark: u32,
    /// Timeout in seconds (version 1 only; 0: the backup uses its protocol table).
    pub timeout: u32,
    /// Client address.
    pub caddr: [u8; 16],
    /// Virtual address (the fwmark for fwmark templates).
    pub vaddr: [u8; 16],
    /// Real-server address.
    pub daddr: [u8; 16],
    /// `in_seq`, `out_seq` (the `IPVS_OPT_SEQ_DATA` option).
    pub seq: Option<[Seq; 2]>,
    /// Persistence-engine data (`IPVS_OPT_PE_DATA`, 1..=255 bytes).
    pub pe_data: Option<&'a [u8]>,
    /// Persistence-engine name (`IPVS_OPT_PE_NAME`, 1..=16 bytes).
    pub pe_name: Option<&'a [u8]>,
}

/// Why a message, or the rest of one, was dropped; or why one entry was skipped. The numbers
/// in the names are ip_vs's `retc` codes where it has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Shorter than a version-0 header.
    HeaderTooShort,
    /// The header's size is not the datagram's.
    BadSize,
    /// Not for our sync id (not an error: ip_vs ignores it quietly).
    OtherSyncId,
    /// An entry header runs past the datagram.
    EntryTooShort,
    /// An entry's size runs past the datagram.
    EntryPastEnd,
    /// An entry version other than 0.
    EntryVersion,
    /// An unknown entry type (-10).
    BadType,
    /// The entry is shorter than its address block (-20).
    EntryTruncated,
    /// An option header, or its data, runs past the entry, or has length 0 (-30, -40).
    BadOption,
    /// Sequence data of the wrong length, or twice (-50).
    BadSeqOption,
    /// Persistence-engine data twice (-60).
    BadPeData,
    /// A persistence-engine name too long, or twice (-70).
    BadPeName,
    /// An unknown mandatory option (20).
    UnknownOption,
    /// `ONE_PACKET`, or `NO_CPORT` with `TEMPLATE` (25).
    BadFlags,
    /// A protocol the backup does not handle (30).
    BadProtocol,
    /// A state the protocol (or templates) does not have (40).
    BadState,
    /// Engine data without a name, or an engine the backup lacks (50).
    BadPe,
}

/// What the walk of a message produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// An entry that passed every check; `flags` masked to `IP_VS_CONN_F_BACKUP_MASK` with
    /// `IP_VS_CONN_F_SYNC` added, as the backup stores them.
    Conn(SyncConn<'a>),
    /// An entry that was dropped alone.
    Skip(Reason),
    /// The rest of the message was dropped; the walk ends.
    Fatal(Reason),
}

/// The wire version of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// `struct ip_vs_sync_mesg_v0`.
    V0,
    /// `struct ip_vs_sync_mesg`.
    V1,
}

/// A received datagram whose header passed the checks of `ip_vs_process_message`.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    buf: &'a [u8],
    /// The wire version.
    pub version: Version,
    /// The sender's sync id.
    pub syncid: u8,
    /// The number of entries announced.
    pub nr_conns: u8,
}

fn be16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

fn be32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Some(u32::from_be_bytes(a))
}

fn ne32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Some(u32::from_ne_bytes(a))
}

fn addr(b: &[u8], off: usize, len: usize) -> Option<[u8; 16]> {
    let mut a = [0u8; 16];
    a.get_mut(..len)?
        .copy_from_slice(b.get(off..off.checked_add(len)?)?);
    Some(a)
}

fn seq_at(b: &[u8], off: usize, read: fn(&[u8], usize) -> Option<u32>) -> Option<[Seq; 2]> {
    let one = |o: usize| -> Option<Seq> {
        Some(Seq {
            init_seq: read(b, o)?,
            delta: read(b, o.checked_add(4)?)?,
            previous_delta: read(b, o.checked_add(8)?)?,
        })
    };
    Some([one(off)?, one(off.checked_add(12)?)?])
}

/// `ip_vs_sync_validate_flags`.
fn flags_valid(flags: u32) -> bool {
    !(flags & conn_flag::NO_CPORT != 0 && flags & conn_flag::TEMPLATE != 0
        || flags & conn_flag::ONE_PACKET != 0)
}

/// `ip_vs_proto_get(protocol)->num_states`: the protocols rvs handles.
pub fn num_states(protocol: u8) -> Option<u16> {
    match protocol {
        6 => Some(TCP_S_LAST as u16),
        17 => Some(2),
        132 => Some(SCTP_S_LAST as u16),
        _ => None,
    }
}

/// The checks common to both versions, after an entry decoded: flags, protocol, state; then
/// the flags the backup keeps.
fn check_conn(mut c: SyncConn<'_>) -> Item<'_> {
    if !flags_valid(c.flags) {
        return Item::Skip(Reason::BadFlags);
    }
    c.flags = (c.flags & conn_flag::BACKUP_MASK) | conn_flag::SYNC;
    if c.flags & conn_flag::TEMPLATE == 0 {
        let Some(n) = num_states(c.protocol) else {
            return Item::Skip(Reason::BadProtocol);
        };
        if c.state >= n {
            return Item::Skip(Reason::BadState);
        }
    } else if c.state >= CTPL_S_LAST {
        return Item::Skip(Reason::BadState);
    }
    Item::Conn(c)
}

impl<'a> Message<'a> {
    /// Checks a datagram's header (`ip_vs_process_message`): long enough for a version-0
    /// header, size field equal to the datagram length, and, when `syncid` is not 0, the same
    /// sync id (only the low byte goes on the wire).
    pub fn parse(buf: &'a [u8], syncid: u32) -> Result<Self, Reason> {
        if buf.len() < MESG_V0_LEN {
            return Err(Reason::HeaderTooShort);
        }
        let size = be16(buf, 2).ok_or(Reason::HeaderTooShort)?;
        if usize::from(size) != buf.len() {
            return Err(Reason::BadSize);
        }
        let b0 = *buf.first().ok_or(Reason::HeaderTooShort)?;
        let id = *buf.get(1).ok_or(Reason::HeaderTooShort)?;
        if syncid != 0 && u32::from(id) != syncid {
            return Err(Reason::OtherSyncId);
        }
        // A version-1 header needs all 8 bytes; a shorter one is read as version 0.
        let v1 = buf.get(5) == Some(&SYNC_PROTO_VER) && b0 == 0 && be16(buf, 6) == Some(0);
        Ok(if v1 {
            Self {
                buf,
                version: Version::V1,
                syncid: id,
                nr_conns: *buf.get(4).ok_or(Reason::HeaderTooShort)?,
            }
        } else {
            Self {
                buf,
                version: Version::V0,
                syncid: id,
                nr_conns: b0,
            }
        })
    }

    /// The entries, in order, each checked.
    pub fn items(&self) -> Items<'a> {
        Items {
            buf: self.buf,
            version: self.version,
            left: self.nr_conns,
            pos: if self.version == Version::V1 {
                MESG_LEN
            } else {
                MESG_V0_LEN
            },
            done: false,
        }
    }
}

/// The walk over a message's entries (see [`Message::items`]).
#[derive(Clone, Debug)]
pub struct Items<'a> {
    buf: &'a [u8],
    version: Version,
    left: u8,
    pos: usize,
    done: bool,
}

impl<'a> Iterator for Items<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        if self.done || self.left == 0 {
            return None;
        }
        self.left -= 1;
        let item = match self.version {
            Version::V1 => self.next_v1(),
            Version::V0 => self.next_v0(),
        };
        if let Item::Fatal(_) = item {
            self.done = true;
        }
        Some(item)
    }
}

impl<'a> Items<'a> {
    /// One round of `ip_vs_process_message`'s version-1 loop.
    fn next_v1(&mut self) -> Item<'a> {
        let p = self.pos;
        let end = self.buf.len();
        if p.saturating_add(V4_LEN) > end {
            return Item::Fatal(Reason::EntryTooShort);
        }
        let Some(ver_size) = be16(self.buf, p.saturating_add(2)) else {
            return Item::Fatal(Reason::EntryTooShort);
        };
        let size = usize::from(ver_size & SVER_MASK);
        let entry_end = p.saturating_add(size);
        if entry_end > end {
            return Item::Fatal(Reason::EntryPastEnd);
        }
        if ver_size >> SVER_SHIFT != 0 {
            return Item::Fatal(Reason::EntryVersion);
        }
        let Some(entry) = self.buf.get(p..entry_end) else {
            return Item::Fatal(Reason::EntryPastEnd);
        };
        // The next entry starts on a 4-byte boundary.
        self.pos = p.saturating_add((size.saturating_add(3)) & !3);
        match decode_v1_entry(entry) {
            Ok(c) => check_v1(c),
            Err(r @ Reason::UnknownOption) => Item::Skip(r),
            Err(r) => Item::Fatal(r),
        }
    }

    /// One round of `ip_vs_process_message_v0`'s loop.
    fn next_v0(&mut self) -> Item<'a> {
        let p = self.pos;
        let b = self.buf;
        let (Some(flags), Some(state)) =
            (be16(b, p.saturating_add(20)), be16(b, p.saturating_add(22)))
        else {
            return Item::Fatal(Reason::EntryTooShort);
        };
        let flags = u32::from(flags);
        let full = flags & conn_flag::SEQ_MASK != 0;
        let len = if full { V0_FULL_LEN } else { V0_CONN_LEN };
        if p.saturating_add(len) > b.len() {
            return Item::Fatal(Reason::EntryPastEnd);
        }
        self.pos = p.saturating_add(len);
        let get = || -> Option<SyncConn<'a>> {
            Some(SyncConn {
                af: AF_INET,
                protocol: *b.get(p.checked_add(1)?)?,
                flags,
                state,
                cport: be16(b, p.checked_add(2)?)?,
                vport: be16(b, p.checked_add(4)?)?,
                dport: be16(b, p.checked_add(6)?)?,
                caddr: addr(b, p.checked_add(8)?, 4)?,
                vaddr: addr(b, p.checked_add(12)?, 4)?,
                daddr: addr(b, p.checked_add(16)?, 4)?,
                seq: if full {
                    Some(seq_at(b, p.checked_add(V0_CONN_LEN)?, ne32)?)
                } else {
                    None
                },
                ..SyncConn::default()
            })
        };
        match get() {
            Some(c) => check_conn(c),
            None => Item::Fatal(Reason::EntryPastEnd),
        }
    }
}

/// Version 1's extra check after the common ones: persistence-engine data needs a known
/// engine's name (`ip_vs_conn_fill_param_sync`). A name without data is ignored.
fn check_v1(c: SyncConn<'_>) -> Item<'_> {
    // ip_vs checks the flags, protocol and state first, then the engine.
    let checked = match check_conn(c) {
        Item::Conn(c) => c,
        other => return other,
    };
    if c.pe_data.is_some() {
        match c.pe_name {
            Some(name) if KNOWN_PE.contains(&name) => {}
            _ => return Item::Skip(Reason::BadPe),
        }
    }
    Item::Conn(checked)
}

/// Decodes one version-1 entry (`ip_vs_proc_sync_conn` up to the flag checks). `entry` is the
/// entry's bytes as its size field gives them. [`Reason::UnknownOption`] skips the entry; any
/// other error drops the rest of the message.
pub fn decode_v1_entry(entry: &[u8]) -> Result<SyncConn<'_>, Reason> {
    decode_v1(entry)
}

fn decode_v1(e: &[u8]) -> Result<SyncConn<'_>, Reason> {
    let ty = *e.first().ok_or(Reason::EntryTruncated)?;
    let (af, alen, hlen) = if ty & STYPE_F_INET6 != 0 {
        (AF_INET6, 16, V6_LEN)
    } else if ty == 0 {
        (AF_INET, 4, V4_LEN)
    } else {
        return Err(Reason::BadType);
    };
    if e.len() < hlen {
        return Err(Reason::EntryTruncated);
    }
    let t = Reason::EntryTruncated;
    let mut c = SyncConn {
        af,
        protocol: *e.get(1).ok_or(t)?,
        flags: be32(e, 4).ok_or(t)?,
        state: be16(e, 8).ok_or(t)?,
        cport: be16(e, 10).ok_or(t)?,
        vport: be16(e, 12).ok_or(t)?,
        dport: be16(e, 14).ok_or(t)?,
        fwmark: be32(e, 16).ok_or(t)?,
        timeout: be32(e, 20).ok_or(t)?,
        caddr: addr(e, 24, alen).ok_or(t)?,
        vaddr: addr(e, 24 + alen, alen).ok_or(t)?,
        daddr: addr(e, 24 + 2 * alen, alen).ok_or(t)?,
        ..SyncConn::default()
    };
    let mut p = hlen;
    while p < e.len() {
        let (Some(&ptype), Some(&plen)) = (e.get(p), e.get(p.saturating_add(1))) else {
            return Err(Reason::BadOption);
        };
        p = p.saturating_add(2);
        let plen = usize::from(plen);
        let Some(data) = e.get(p..p.saturating_add(plen)).filter(|_| plen != 0) else {
            return Err(Reason::BadOption);
        };
        match ptype & !OPT_F_PARAM {
            OPT_SEQ_DATA => {
                if plen != SEQ_OPT_LEN || c.seq.is_some() {
                    return Err(Reason::BadSeqOption);
                }
                c.seq = Some(seq_at(data, 0, be32).ok_or(Reason::BadSeqOption)?);
            }
            OPT_PE_DATA => {
                if plen > PEDATA_MAXLEN || c.pe_data.is_some() {
                    return Err(Reason::BadPeData);
                }
                c.pe_data = Some(data);
            }
            OPT_PE_NAME => {
                if plen > PENAME_MAXLEN || c.pe_name.is_some() {
                    return Err(Reason::BadPeName);
                }
                c.pe_name = Some(data);
            }
            _ => {
                if ptype & OPT_F_PARAM == 0 {
                    return Err(Reason::UnknownOption);
                }
            }
        }
        p = p.saturating_add(plen);
    }
    Ok(c)
}

/// Why an entry cannot be added to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The message has no room left (send it and start a new one), or 255 entries already.
    Full,
    /// The entry cannot be sent in this version (IPv6 in version 0; PE data too long; a PE
    /// name without data).
    Unsendable,
}

/// The length of `c`'s version-1 entry (`ip_vs_sync_conn`'s `len`), without padding.
pub fn v1_entry_len(c: &SyncConn<'_>) -> usize {
    let mut len = if c.af == AF_INET6 { V6_LEN } else { V4_LEN };
    if c.seq.is_some() {
        len += SEQ_OPT_LEN + 2;
    }
    if let Some(d) = c.pe_data {
        len += d.len() + 2;
        if let Some(n) = c.pe_name {
            len += n.len() + 2;
        }
    }
    len
}

/// The length of `c`'s version-0 entry.
pub fn v0_entry_len(c: &SyncConn<'_>) -> usize {
    if c.flags & conn_flag::SEQ_MASK != 0 {
        V0_FULL_LEN
    } else {
        V0_CONN_LEN
    }
}

/// A message being filled in a caller's buffer (ip_vs's `struct ip_vs_sync_buff`): the buffer's
/// length is the message's limit (`sync_maxlen`, or more for one entry that needs more).
#[derive(Debug)]
pub struct MessageWriter<'b> {
    buf: &'b mut [u8],
    version: Version,
    head: usize,
    nr_conns: u8,
}

impl<'b> MessageWriter<'b> {
    /// An empty message of `version` from sync id `syncid` (its low byte) in `buf`, or `None`
    /// if `buf` cannot hold the header.
    pub fn new(buf: &'b mut [u8], version: Version, syncid: u32) -> Option<Self> {
        let hlen = match version {
            Version::V1 => MESG_LEN,
            Version::V0 => MESG_V0_LEN,
        };
        let hdr = buf.get_mut(..hlen)?;
        hdr.fill(0);
        if let Some(b) = hdr.get_mut(1) {
            *b = syncid as u8;
        }
        if version == Version::V1 {
            if let Some(b) = hdr.get_mut(5) {
                *b = SYNC_PROTO_VER;
            }
        }
        let mut w = Self {
            buf,
            version,
            head: hlen,
            nr_conns: 0,
        };
        w.write_header();
        Some(w)
    }

    /// Continues a message that [`MessageWriter::new`] started in `buf` (the master keeps a
    /// buffer between packets): the size and count are read back from its header. `None` if
    /// the header is not one of `version`.
    pub fn resume(buf: &'b mut [u8], version: Version) -> Option<Self> {
        let head = usize::from(be16(buf, 2)?);
        let (nr_conns, ok) = match version {
            Version::V1 => (
                *buf.get(4)?,
                buf.first() == Some(&0) && buf.get(5) == Some(&SYNC_PROTO_VER) && head >= MESG_LEN,
            ),
            // A version-0 message always has an entry once it is kept (nr_conns > 0), which
            // is what tells it from a version-1 one.
            Version::V0 => (*buf.first()?, *buf.first()? != 0 && head >= MESG_V0_LEN),
        };
        if !ok || head > buf.len() {
            return None;
        }
        Some(Self {
            buf,
            version,
            head,
            nr_conns,
        })
    }

    fn write_header(&mut self) {
        let size = (self.head as u16).to_be_bytes();
        if let Some(s) = self.buf.get_mut(2..4) {
            s.copy_from_slice(&size);
        }
        let at = if self.version == Version::V1 { 4 } else { 0 };
        if let Some(b) = self.buf.get_mut(at) {
            *b = self.nr_conns;
        }
    }

    /// The number of entries so far.
    pub fn nr_conns(&self) -> u8 {
        self.nr_conns
    }

    /// The message so far (header and entries).
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.head).unwrap_or(&[])
    }

    /// Adds `c` (`flags` as the connection has them; `HASHED` is cleared on the wire).
    pub fn push(&mut self, c: &SyncConn<'_>) -> Result<(), EncodeError> {
        if self.nr_conns == u8::MAX {
            return Err(EncodeError::Full);
        }
        match self.version {
            Version::V1 => self.push_v1(c)?,
            Version::V0 => self.push_v0(c)?,
        }
        self.nr_conns += 1;
        self.write_header();
        Ok(())
    }

    fn push_v1(&mut self, c: &SyncConn<'_>) -> Result<(), EncodeError> {
        if c.pe_data
            .is_some_and(|d| d.is_empty() || d.len() > PEDATA_MAXLEN)
            || c.pe_name
                .is_some_and(|n| n.is_empty() || n.len() > PENAME_MAXLEN)
        {
            return Err(EncodeError::Unsendable);
        }
        let len = v1_entry_len(c);
        let pad = (4 - (self.head & 3)) & 3;
        let start = self.head + pad;
        let end = start + len;
        let e = self.buf.get_mut(self.head..end).ok_or(EncodeError::Full)?;
        e.fill(0);
        let e = e.get_mut(pad..).ok_or(EncodeError::Full)?;
        let v6 = c.af == AF_INET6;
        let alen = if v6 { 16 } else { 4 };
        let mut w = Cursor { b: e, at: 0 };
        w.u8(if v6 { STYPE_F_INET6 } else { 0 });
        w.u8(c.protocol);
        w.be16((len as u16) & SVER_MASK);
        w.be32(c.flags & !conn_flag::HASHED);
        w.be16(c.state);
        w.be16(c.cport);
        w.be16(c.vport);
        w.be16(c.dport);
        w.be32(c.fwmark);
        w.be32(c.timeout);
        w.bytes(c.caddr.get(..alen).unwrap_or(&[]));
        w.bytes(c.vaddr.get(..alen).unwrap_or(&[]));
        w.bytes(c.daddr.get(..alen).unwrap_or(&[]));
        if let Some(seq) = &c.seq {
            w.u8(OPT_SEQ_DATA);
            w.u8(SEQ_OPT_LEN as u8);
            for s in seq {
                w.be32(s.init_seq);
                w.be32(s.delta);
                w.be32(s.previous_delta);
            }
        }
        if let Some(d) = c.pe_data {
            w.u8(OPT_PE_DATA);
            w.u8(d.len() as u8);
            w.bytes(d);
            if let Some(n) = c.pe_name {
                w.u8(OPT_PE_NAME);
                w.u8(n.len() as u8);
                w.bytes(n);
            }
        }
        self.head = end;
        Ok(())
    }

    fn push_v0(&mut self, c: &SyncConn<'_>) -> Result<(), EncodeError> {
        if c.af != AF_INET {
            return Err(EncodeError::Unsendable);
        }
        let len = v0_entry_len(c);
        let end = self.head + len;
        let e = self.buf.get_mut(self.head..end).ok_or(EncodeError::Full)?;
        e.fill(0);
        let mut w = Cursor { b: e, at: 0 };
        w.u8(0);
        w.u8(c.protocol);
        w.be16(c.cport);
        w.be16(c.vport);
        w.be16(c.dport);
        w.bytes(c.caddr.get(..4).unwrap_or(&[]));
        w.bytes(c.vaddr.get(..4).unwrap_or(&[]));
        w.bytes(c.daddr.get(..4).unwrap_or(&[]));
        w.be16((c.flags & !conn_flag::HASHED) as u16);
        w.be16(c.state);
        if len == V0_FULL_LEN {
            for s in c.seq.unwrap_or_default() {
                w.bytes(&s.init_seq.to_ne_bytes());
                w.bytes(&s.delta.to_ne_bytes());
                w.bytes(&s.previous_delta.to_ne_bytes());
            }
        }
        self.head = end;
        Ok(())
    }
}

/// Writes fields one after another into a slice that was sized for them.
struct Cursor<'b> {
    b: &'b mut [u8],
    at: usize,
}

impl Cursor<'_> {
    fn bytes(&mut self, v: &[u8]) {
        if let Some(d) = self.b.get_mut(self.at..self.at.saturating_add(v.len())) {
            d.copy_from_slice(v);
        }
        self.at = self.at.saturating_add(v.len());
    }
    fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    fn be16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }
    fn be32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
}

/// rvs's full-resync request (docs/sync.md): a version-1 header announcing no entries, so
/// ip_vs backups that receive it do nothing, then 8 bytes: the magic `rvsR`, the kind (1: send me
/// everything) and three zero bytes.
pub const RESYNC_MAGIC: [u8; 4] = *b"rvsR";
/// The length of a full-resync request.
pub const RESYNC_LEN: usize = MESG_LEN + 8;
/// The kind byte of a full-resync request.
pub const RESYNC_KIND_FULL: u8 = 1;

/// A full-resync request from a backup with sync id `syncid` (its low byte).
pub fn resync_request(syncid: u32) -> [u8; RESYNC_LEN] {
    let mut m = [0u8; RESYNC_LEN];
    let head = [
        0,
        syncid as u8,
        0,
        RESYNC_LEN as u8,
        0,
        SYNC_PROTO_VER,
        0,
        0,
    ];
    for (d, s) in m.iter_mut().zip(head.iter().chain(RESYNC_MAGIC.iter())) {
        *d = *s;
    }
    if let Some(k) = m.get_mut(MESG_LEN + 4) {
        *k = RESYNC_KIND_FULL;
    }
    m
}

/// Whether `buf` is a full-resync request a master with sync id `syncid` answers: exactly the
/// request's bytes, from a backup of the same sync id (or of sync id 0, which takes all).
pub fn is_resync_request(buf: &[u8], syncid: u32) -> bool {
    let Some(id) = buf.get(1) else { return false };
    buf == resync_request(u32::from(*id)).as_slice()
        && (*id == 0 || u32::from(*id) == syncid & 0xff)
}

/// Whether a connection of `protocol` in `state` is in a state the master syncs
/// (`ip_vs_sync_conn_needed`'s state filter; other protocols and templates always are).
pub fn state_synced(protocol: u8, state: u16, template: bool) -> bool {
    use super::proto::{sctp::SctpState as S, tcp::TcpState as T};
    let bit = 1u32.checked_shl(u32::from(state)).unwrap_or(0);
    let ok = match protocol {
        _ if template => return true,
        6 => {
            1 << T::Established as u32
                | 1 << T::FinWait as u32
                | 1 << T::Close as u32
                | 1 << T::CloseWait as u32
                | 1 << T::TimeWait as u32
        }
        132 => {
            1 << S::Established as u32
                | 1 << S::ShutdownSent as u32
                | 1 << S::ShutdownReceived as u32
                | 1 << S::ShutdownAckSent as u32
                | 1 << S::Closed as u32
        }
        _ => return true,
    };
    bit & ok != 0
}

/// The sync sysctls `ip_vs_sync_conn_needed` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncVars {
    /// `sync_threshold[0]`.
    pub threshold: i32,
    /// `sync_threshold[1]` (`sync_period`).
    pub period: i32,
    /// `sync_refresh_period`, jiffies.
    pub refresh_period: u32,
    /// `sync_retries` (0..=3).
    pub retries: i32,
    /// `sync_persist_mode`.
    pub persist_mode: bool,
}

/// What the master knows about a connection when a packet passed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnView {
    /// `IP_VS_CONN_F_*`.
    pub flags: u32,
    /// Transport protocol.
    pub protocol: u8,
    /// Current and last synced state.
    pub state: u16,
    /// The state when it was last synced (`old_state`).
    pub old_state: u16,
    /// Controlled by a persistence template (`in_persistence`).
    pub in_persistence: bool,
    /// The connection's timeout, jiffies.
    pub timeout: u32,
}

/// The outcome of [`sync_needed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needed {
    /// No message.
    No,
    /// Set `old_state = state` and compare-and-swap `sync_endtime` from the value read to
    /// `endtime`; send a message if the swap succeeded or `force`.
    Maybe {
        /// The new `sync_endtime`.
        endtime: u64,
        /// A state change: send even if another CPU won the swap.
        force: bool,
    },
}

/// `ip_vs_sync_conn_needed`: whether the packet that brought `c` to `pkts` inbound packets should
/// send a sync message, given the connection's `sync_endtime` (`orig`) and the time `now`
/// (jiffies; `hz` per second).
pub fn sync_needed(v: &SyncVars, c: &ConnView, pkts: i32, orig: u64, now: u64, hz: u32) -> Needed {
    use super::proto::{sctp::SctpState as S, tcp::TcpState as T};
    const TCP_OK: u32 = 1 << T::Established as u32
        | 1 << T::FinWait as u32
        | 1 << T::Close as u32
        | 1 << T::CloseWait as u32
        | 1 << T::TimeWait as u32;
    const SCTP_OK: u32 = 1 << S::Established as u32
        | 1 << S::ShutdownSent as u32
        | 1 << S::ShutdownReceived as u32
        | 1 << S::ShutdownAckSent as u32
        | 1 << S::Closed as u32;
    let timeout = u64::from(c.timeout);
    let mut n = now.wrapping_add(timeout) & !3u64;
    let bit = 1u32.checked_shl(u32::from(c.state)).unwrap_or(0);
    let force;
    if c.flags & conn_flag::TEMPLATE != 0 {
        force = false;
    } else if v.persist_mode && c.in_persistence {
        return Needed::No;
    } else if c.protocol == 6 || c.protocol == 132 {
        let (ok, est) = if c.protocol == 6 {
            (TCP_OK, T::Established as u16)
        } else {
            (SCTP_OK, S::Established as u16)
        };
        if bit & ok == 0 {
            return Needed::No;
        }
        force = c.state != c.old_state;
        if force && c.state != est {
            return Needed::Maybe { endtime: n, force };
        }
    } else {
        force = false;
    }
    let refresh = u64::from(v.refresh_period);
    if refresh > 0 {
        let diff = n.wrapping_sub(orig) as i64;
        let min_diff = (timeout >> 1).max(10 * u64::from(hz));
        if diff.unsigned_abs() < refresh.min(min_diff) {
            let retries = (orig & 3) as i32;
            if retries >= v.retries {
                return Needed::No;
            }
            // time_before(now, orig - timeout + refresh / 8)
            let limit = orig.wrapping_sub(timeout).wrapping_add(refresh >> 3);
            if (now.wrapping_sub(limit) as i64) < 0 {
                return Needed::No;
            }
            n |= (retries + 1) as u64;
        }
    }
    if v.period > 0 {
        if c.flags & conn_flag::TEMPLATE == 0 && pkts.wrapping_rem(v.period) != v.threshold {
            return Needed::No;
        }
    } else if refresh == 0 && pkts != v.threshold {
        return Needed::No;
    }
    Needed::Maybe { endtime: n, force }
}

#[cfg(test)]
mod tests;
