//! Netlink attributes (`struct nlattr` TLVs): walking, validating and writing them on byte slices.
//!
//! The reader follows `lib/nlattr.c` exactly as IPVS uses it: `nla_for_each_attr` stops at the
//! first header that does not fit, attribute types are masked with `NLA_TYPE_MASK` (so
//! `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER` are accepted and ignored), unknown types are skipped,
//! the last occurrence of a type wins, and a [`Policy`] is checked with the liberal rules of
//! `nla_parse_nested_deprecated`: too-short fixed-size attributes are `-ERANGE`, longer ones are
//! accepted, NUL strings and binaries have a maximum length. The writer appends into a slice the
//! caller owns, padding every attribute to 4 bytes as `nla_put` does, and reports
//! [`Error::MessageSize`] instead of growing.

use super::Error;

/// Size of an attribute header (`NLA_HDRLEN`).
pub const NLA_HDRLEN: usize = 4;
/// Alignment of attributes (`NLA_ALIGNTO`).
pub const NLA_ALIGNTO: usize = 4;
/// Type flag: the payload is a stream of attributes.
pub const NLA_F_NESTED: u16 = 1 << 15;
/// Type flag: the payload is in network byte order.
pub const NLA_F_NET_BYTEORDER: u16 = 1 << 14;
/// Mask of the attribute type proper (`NLA_TYPE_MASK`).
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// `NLA_ALIGN(len)`, or `None` if it overflows.
pub fn nla_align(len: usize) -> Option<usize> {
    Some(len.checked_add(NLA_ALIGNTO - 1)? & !(NLA_ALIGNTO - 1))
}

/// One attribute: its type as sent (flags included) and its payload (`nla_len - NLA_HDRLEN` bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    raw_type: u16,
    payload: &'a [u8],
}

impl<'a> Attr<'a> {
    /// An attribute of `raw_type` carrying `payload`.
    pub const fn new(raw_type: u16, payload: &'a [u8]) -> Self {
        Self { raw_type, payload }
    }

    /// The type without the flag bits (`nla_type`).
    pub const fn kind(&self) -> u16 {
        self.raw_type & NLA_TYPE_MASK
    }

    /// The type as found on the wire, flags included.
    pub const fn raw_type(&self) -> u16 {
        self.raw_type
    }

    /// Whether the sender set `NLA_F_NESTED` (IPVS neither requires nor sets it).
    pub const fn has_nested_flag(&self) -> bool {
        self.raw_type & NLA_F_NESTED != 0
    }

    /// Whether the sender set `NLA_F_NET_BYTEORDER`.
    pub const fn has_net_byteorder_flag(&self) -> bool {
        self.raw_type & NLA_F_NET_BYTEORDER != 0
    }

    /// The payload (`nla_data`, `nla_len` bytes).
    pub const fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The attributes nested in the payload.
    pub const fn nested(&self) -> Attrs<'a> {
        Attrs::new(self.payload)
    }

    fn array<const N: usize>(&self) -> Result<[u8; N], Error> {
        match self.payload.get(..N) {
            Some(bytes) => {
                let mut out = [0u8; N];
                out.copy_from_slice(bytes);
                Ok(out)
            }
            None => Err(Error::Range),
        }
    }

    /// `nla_get_u8`; `-ERANGE` if the payload is shorter than the value.
    pub fn get_u8(&self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }

    /// `nla_get_u16`: host byte order.
    pub fn get_u16(&self) -> Result<u16, Error> {
        Ok(u16::from_ne_bytes(self.array()?))
    }

    /// `nla_get_be16`, converted to host order.
    pub fn get_be16(&self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// `nla_get_u32`: host byte order.
    pub fn get_u32(&self) -> Result<u32, Error> {
        Ok(u32::from_ne_bytes(self.array()?))
    }

    /// `nla_get_u64`: host byte order.
    pub fn get_u64(&self) -> Result<u64, Error> {
        Ok(u64::from_ne_bytes(self.array()?))
    }

    /// `nla_memcpy` into `N` bytes: copies what there is and zero-fills the rest, as IPVS does
    /// for addresses and flags shorter than their type.
    pub fn copy_padded<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        for (dst, src) in out.iter_mut().zip(self.payload) {
            *dst = *src;
        }
        out
    }

    /// The C string at the start of the payload (up to the first NUL, or the whole payload).
    pub fn c_str(&self) -> &'a [u8] {
        let end = self
            .payload
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(self.payload.len());
        self.payload.get(..end).unwrap_or(&[])
    }
}

/// Iterator over a stream of attributes (`nla_for_each_attr`).
///
/// It stops at the first attribute whose header does not fit or whose length is below
/// `NLA_HDRLEN` or beyond the stream; [`Attrs::leftover`] then tells how many bytes were left,
/// which the kernel only warns about.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Attrs<'a> {
    /// Attributes in `stream`.
    pub const fn new(stream: &'a [u8]) -> Self {
        Self { rest: stream }
    }

    /// Bytes not consumed by the attributes walked so far.
    pub const fn leftover(&self) -> usize {
        self.rest.len()
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Attr<'a>;

    fn next(&mut self) -> Option<Attr<'a>> {
        let header = self.rest.get(..NLA_HDRLEN)?;
        let len = usize::from(u16::from_ne_bytes([*header.first()?, *header.get(1)?]));
        let raw_type = u16::from_ne_bytes([*header.get(2)?, *header.get(3)?]);
        if len < NLA_HDRLEN || len > self.rest.len() {
            return None;
        }
        let payload = self.rest.get(NLA_HDRLEN..len)?;
        // `nla_next` skips the aligned length; past the end the walk is over.
        let next = nla_align(len).unwrap_or(usize::MAX);
        self.rest = self.rest.get(next..).unwrap_or(&[]);
        Some(Attr { raw_type, payload })
    }
}

/// One entry of an `nla_policy` table, as far as IPVS and the controller use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// No type (`NLA_UNSPEC`, also every entry a C table leaves out): at least `min_len` bytes.
    Unspec {
        /// The entry's `.len` (0 accepts anything).
        min_len: u16,
    },
    /// `NLA_U8`.
    U8,
    /// `NLA_U16`.
    U16,
    /// `NLA_U32`.
    U32,
    /// `NLA_U64`.
    U64,
    /// `NLA_FLAG`: no payload.
    Flag,
    /// `NLA_NESTED` without a nested policy: empty, or at least one attribute header.
    Nested,
    /// `NLA_NUL_STRING`: a NUL within the first `max_len + 1` bytes, at most `max_len` characters.
    NulString {
        /// The entry's `.len` (0: no maximum).
        max_len: u16,
    },
    /// `NLA_STRING`: at least one byte, at most `max_len` characters (a final NUL not counted).
    String {
        /// The entry's `.len` (0: no maximum).
        max_len: u16,
    },
    /// `NLA_BINARY`: at most `max_len` bytes.
    Binary {
        /// The entry's `.len` (0: no maximum).
        max_len: u16,
    },
}

impl Policy {
    /// Checks `attr` as `validate_nla` does under `NL_VALIDATE_LIBERAL` (what the `_deprecated`
    /// parsers and `GENL_DONT_VALIDATE_STRICT` select): the errno is the kernel's.
    pub fn validate(self, attr: &Attr<'_>) -> Result<(), Error> {
        let payload = attr.payload();
        let len = payload.len();
        let fixed = |size: usize| {
            if len < size {
                Err(Error::Range)
            } else {
                Ok(())
            }
        };
        match self {
            Policy::Unspec { min_len } => fixed(usize::from(min_len)),
            Policy::U8 => fixed(1),
            Policy::U16 => fixed(2),
            Policy::U32 => fixed(4),
            Policy::U64 => fixed(8),
            Policy::Flag => {
                if len > 0 {
                    Err(Error::Range)
                } else {
                    Ok(())
                }
            }
            Policy::Nested => {
                if len != 0 && len < NLA_HDRLEN {
                    Err(Error::Range)
                } else {
                    Ok(())
                }
            }
            Policy::NulString { max_len } => {
                let max = usize::from(max_len);
                let scan = if max > 0 { len.min(max + 1) } else { len };
                let head = payload.get(..scan).unwrap_or(&[]);
                if scan == 0 || !head.contains(&0) {
                    return Err(Error::Invalid);
                }
                check_string(payload, max)
            }
            Policy::String { max_len } => check_string(payload, usize::from(max_len)),
            Policy::Binary { max_len } => {
                if max_len > 0 && len > usize::from(max_len) {
                    Err(Error::Range)
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// The `NLA_STRING` part of `validate_nla`, shared with `NLA_NUL_STRING` (which falls through).
fn check_string(payload: &[u8], max: usize) -> Result<(), Error> {
    let Some(last) = payload.last() else {
        return Err(Error::Range);
    };
    if max > 0 {
        let chars = if *last == 0 {
            payload.len().saturating_sub(1)
        } else {
            payload.len()
        };
        if chars > max {
            return Err(Error::Range);
        }
    }
    Ok(())
}

/// The attributes of one stream indexed by type (the `tb[]` array of `nla_parse`), `N` being
/// `maxtype + 1`.
#[derive(Clone, Copy, Debug)]
pub struct AttrTable<'a, const N: usize> {
    slots: [Option<Attr<'a>>; N],
}

impl<'a, const N: usize> AttrTable<'a, N> {
    /// Parses `stream` against `policy` like `nla_parse_deprecated`: types 0 and above `N - 1`
    /// are skipped, every other attribute must pass its policy entry, the last one of a type
    /// wins, and bytes left after the last whole attribute are ignored.
    pub fn parse(stream: &'a [u8], policy: &[Policy; N]) -> Result<Self, Error> {
        let mut slots = [None; N];
        for attr in Attrs::new(stream) {
            let index = usize::from(attr.kind());
            if index == 0 {
                continue;
            }
            let (Some(entry), Some(slot)) = (policy.get(index), slots.get_mut(index)) else {
                continue;
            };
            entry.validate(&attr)?;
            *slot = Some(attr);
        }
        Ok(Self { slots })
    }

    /// The attribute of type `kind`, if present.
    pub fn get(&self, kind: u16) -> Option<Attr<'a>> {
        self.slots.get(usize::from(kind)).copied().flatten()
    }
}

/// An open nested attribute, returned by [`AttrWriter::nest_start`].
#[derive(Debug)]
#[must_use = "a nest must be ended or cancelled"]
pub struct Nest {
    start: usize,
}

/// Appends attributes into a caller-provided buffer (the `nla_put_*` family).
///
/// Every attribute is padded to [`NLA_ALIGNTO`] with zeros. A write that does not fit leaves the
/// buffer as it was and returns [`Error::MessageSize`], as `nla_put` returns `-EMSGSIZE`.
#[derive(Debug)]
pub struct AttrWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> AttrWriter<'b> {
    /// A writer filling `buf` from its start.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// A writer that keeps the first `len` bytes of `buf` (a header written before) and appends
    /// after them; `len` is clamped to the buffer.
    pub fn with_prefix(buf: &'b mut [u8], len: usize) -> Self {
        let len = len.min(buf.len());
        Self { buf, len }
    }

    /// Bytes written so far (prefix included).
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// The whole underlying buffer, for a caller that patches a header it wrote itself.
    pub(super) fn buffer_mut(&mut self) -> &mut [u8] {
        self.buf
    }

    /// Reserves `nla_total_size(payload_len)` bytes for an attribute header and payload, zeroed,
    /// and returns the offset of the header.
    fn reserve(&mut self, raw_type: u16, payload_len: usize) -> Result<usize, Error> {
        let attr_len = payload_len
            .checked_add(NLA_HDRLEN)
            .ok_or(Error::MessageSize)?;
        let nla_len = u16::try_from(attr_len).map_err(|_| Error::MessageSize)?;
        let total = nla_align(attr_len).ok_or(Error::MessageSize)?;
        let start = self.len;
        let end = start.checked_add(total).ok_or(Error::MessageSize)?;
        let area = self.buf.get_mut(start..end).ok_or(Error::MessageSize)?;
        area.fill(0);
        let mut header = [0u8; NLA_HDRLEN];
        for (dst, src) in header.iter_mut().zip(
            nla_len
                .to_ne_bytes()
                .into_iter()
                .chain(raw_type.to_ne_bytes()),
        ) {
            *dst = src;
        }
        for (dst, src) in area.iter_mut().zip(header) {
            *dst = src;
        }
        self.len = end;
        Ok(start)
    }

    /// `nla_put`: an attribute of `raw_type` carrying `payload`.
    pub fn put(&mut self, raw_type: u16, payload: &[u8]) -> Result<(), Error> {
        let start = self.reserve(raw_type, payload.len())?;
        let from = start.checked_add(NLA_HDRLEN).ok_or(Error::MessageSize)?;
        let to = from.checked_add(payload.len()).ok_or(Error::MessageSize)?;
        self.buf
            .get_mut(from..to)
            .ok_or(Error::MessageSize)?
            .copy_from_slice(payload);
        Ok(())
    }

    /// `nla_put_u8`.
    pub fn put_u8(&mut self, raw_type: u16, value: u8) -> Result<(), Error> {
        self.put(raw_type, &[value])
    }

    /// `nla_put_u16`: host byte order.
    pub fn put_u16(&mut self, raw_type: u16, value: u16) -> Result<(), Error> {
        self.put(raw_type, &value.to_ne_bytes())
    }

    /// `nla_put_be16`: `value` (host order) written in network byte order.
    pub fn put_be16(&mut self, raw_type: u16, value: u16) -> Result<(), Error> {
        self.put(raw_type, &value.to_be_bytes())
    }

    /// `nla_put_u32`: host byte order.
    pub fn put_u32(&mut self, raw_type: u16, value: u32) -> Result<(), Error> {
        self.put(raw_type, &value.to_ne_bytes())
    }

    /// `nla_put_u64_64bit` as on x86_64 and arm64 (efficient unaligned access: no pad attribute).
    pub fn put_u64(&mut self, raw_type: u16, value: u64) -> Result<(), Error> {
        self.put(raw_type, &value.to_ne_bytes())
    }

    /// `nla_put_string`: the bytes followed by one NUL.
    pub fn put_string(&mut self, raw_type: u16, value: &[u8]) -> Result<(), Error> {
        let start = self.reserve(raw_type, value.len().saturating_add(1))?;
        let from = start.checked_add(NLA_HDRLEN).ok_or(Error::MessageSize)?;
        let to = from.checked_add(value.len()).ok_or(Error::MessageSize)?;
        // The reserved area is zeroed, so the terminating NUL is already there.
        self.buf
            .get_mut(from..to)
            .ok_or(Error::MessageSize)?
            .copy_from_slice(value);
        Ok(())
    }

    /// `nla_nest_start_noflag` (or `nla_nest_start` when `raw_type` carries [`NLA_F_NESTED`]).
    pub fn nest_start(&mut self, raw_type: u16) -> Result<Nest, Error> {
        let start = self.reserve(raw_type, 0)?;
        Ok(Nest { start })
    }

    /// `nla_nest_end`: sets the nest's length to everything appended since it started.
    pub fn nest_end(&mut self, nest: Nest) -> Result<(), Error> {
        let len = self.len.checked_sub(nest.start).ok_or(Error::MessageSize)?;
        let nla_len = u16::try_from(len).map_err(|_| Error::MessageSize)?;
        let end = nest.start.checked_add(2).ok_or(Error::MessageSize)?;
        self.buf
            .get_mut(nest.start..end)
            .ok_or(Error::MessageSize)?
            .copy_from_slice(&nla_len.to_ne_bytes());
        Ok(())
    }

    /// `nla_nest_cancel`: drops the nest and everything appended since it started.
    pub fn nest_cancel(&mut self, nest: Nest) {
        self.len = nest.start.min(self.len);
    }

    /// Runs `fill` inside a nest of `raw_type`; on error the nest is cancelled, as the kernel's
    /// fill functions do with `nla_nest_cancel` on `nla_put_failure`.
    pub fn nested<F>(&mut self, raw_type: u16, fill: F) -> Result<(), Error>
    where
        F: FnOnce(&mut Self) -> Result<(), Error>,
    {
        let nest = self.nest_start(raw_type)?;
        match fill(self) {
            Ok(()) => self.nest_end(nest),
            Err(e) => {
                self.nest_cancel(nest);
                Err(e)
            }
        }
    }
}
