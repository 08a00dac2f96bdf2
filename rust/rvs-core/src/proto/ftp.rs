//! The FTP helper's parsers (`ip_vs_ftp.c`): what the NAT FTP application helper reads in an FTP
//! control connection, and the text it writes back.
//!
//! - Client to server ([`scan_passive`], then [`get_addrport`] with `PORT` / `EPRT`): a `PASV`
//!   or `EPSV` command switches the connection to passive mode (the server's next `227`/`229`
//!   reply is parsed); a `PORT` or `EPRT` command gives the address and port the real server will
//!   connect back to.
//! - Server to client ([`get_addrport`] with `227 ` / `229 `): the address and port the client
//!   should connect to, replaced by the virtual address ([`pasv_reply`], [`epsv_reply`]).
//!
//! Byte for byte as the kernel, `in4_pton`/`in6_pton` (net/core/utils.c) included: every read
//! stays below the end of the payload, and a match that the payload ends in the middle of is
//! [`AddrPort::Partial`].

use super::super::abi::{AF_INET, AF_INET6};

/// `IP_VS_FTP_ACTIVE` (= `IP_VS_FTP_PORT`): no passive reply expected.
pub const ACTIVE: u8 = 0;
/// `IP_VS_FTP_PASV`: the client sent `PASV`; a `227` reply is expected.
pub const PASV: u8 = 1;
/// `IP_VS_FTP_EPRT`.
pub const EPRT: u8 = 2;
/// `IP_VS_FTP_EPSV`: the client sent `EPSV`; a `229` reply is expected.
pub const EPSV: u8 = 3;

/// `SERVER_STRING_PASV`.
pub const SERVER_PASV: &[u8] = b"227 ";
/// `SERVER_STRING_EPSV`.
pub const SERVER_EPSV: &[u8] = b"229 ";
/// `CLIENT_STRING_PORT`.
pub const CLIENT_PORT: &[u8] = b"PORT";
/// `CLIENT_STRING_EPRT`.
pub const CLIENT_EPRT: &[u8] = b"EPRT";

/// An address and port found in a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// The address (IPv4 in the first 4 bytes, the rest as given in `preset`).
    pub addr: [u8; 16],
    /// The port (host order).
    pub port: u16,
    /// Where the text to replace starts and ends (offsets in the payload).
    pub start: usize,
    /// One past the replaced text.
    pub end: usize,
}

/// What `ip_vs_ftp_get_addrport` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrPort {
    /// 0: the payload does not start with the pattern.
    NoMatch,
    /// -1: it does, but what follows is cut short or malformed.
    Partial,
    /// 1: the address and port.
    Found(Found),
}

/// `strncasecmp(a, b, n) == 0` for the ASCII patterns used here.
fn starts_with_ci(data: &[u8], pattern: &[u8]) -> bool {
    data.len() >= pattern.len()
        && data
            .iter()
            .zip(pattern)
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

/// `ip_vs_ftp_get_addrport`: the address and port after `pattern` at the start of `data`: the
/// old `h1,h2,h3,h4,p1,p2` form (`ext` false; after optional `skip` characters, an opening
/// one optional when the address starts at once), or the extended `<d>af<d>addr<d>port<d>` form
/// (`ext` true), where `EPSV` replies may leave out the family and address (then `preset` is
/// the address). Only addresses of family `af` are accepted.
pub fn get_addrport(
    data: &[u8],
    pattern: &[u8],
    skip: Option<u8>,
    ext: bool,
    mode: u8,
    af: u16,
    preset: [u8; 16],
) -> AddrPort {
    let limit = data.len();
    if limit < pattern.len() {
        // A partial match?
        return if starts_with_ci(pattern, data) {
            AddrPort::Partial
        } else {
            AddrPort::NoMatch
        };
    }
    if !starts_with_ci(data, pattern) {
        return AddrPort::NoMatch;
    }
    let at = |i: usize| data.get(i).copied();
    let mut s = pattern.len();
    if let Some(skip) = skip {
        let mut found = false;
        loop {
            let Some(c) = at(s) else {
                return AddrPort::Partial;
            };
            if !found {
                // "(" is optional for the old format: the address may start at once.
                if !ext && c.is_ascii_digit() {
                    break;
                }
                if c == skip {
                    found = true;
                }
            } else if c != skip {
                break;
            }
            s += 1;
        }
    }
    if !ext {
        let mut p = [0u8; 6];
        let mut i = 0;
        let mut d = s;
        loop {
            let Some(c) = at(d) else {
                return AddrPort::Partial;
            };
            if c.is_ascii_digit() {
                let Some(pi) = p.get_mut(i) else {
                    return AddrPort::Partial;
                };
                let val = u32::from(*pi) * 10 + u32::from(c - b'0');
                if val > 255 {
                    return AddrPort::Partial;
                }
                *pi = val as u8;
            } else if c == b',' && i < 5 {
                // p[i] = 0 for the next number: p starts zeroed and each entry is set once.
                i += 1;
            } else {
                // An unexpected character or the terminator.
                break;
            }
            d += 1;
        }
        if i != 5 {
            return AddrPort::Partial;
        }
        let mut addr = [0u8; 16];
        addr[..4].copy_from_slice(&p[..4]);
        return AddrPort::Found(Found {
            addr,
            port: u16::from_be_bytes([p[4], p[5]]),
            start: s,
            end: d,
        });
    }
    let start = s;
    let Some(edelim) = at(s) else {
        return AddrPort::Partial;
    };
    s += 1;
    if !(33..=126).contains(&edelim) {
        return AddrPort::Partial;
    }
    let Some(c) = at(s) else {
        return AddrPort::Partial;
    };
    let mut addr = preset;
    if c == edelim {
        // The family is usually left out of EPSV replies...
        if mode != EPSV {
            return AddrPort::Partial;
        }
        s += 1;
        // ...and then the address too.
        if at(s) != Some(edelim) {
            return AddrPort::Partial;
        }
        s += 1;
    } else {
        // Only an address of the same family.
        if af == AF_INET6 && c != b'2' {
            return AddrPort::Partial;
        }
        if af == AF_INET && c != b'1' {
            return AddrPort::Partial;
        }
        s += 1;
        if at(s) != Some(edelim) {
            return AddrPort::Partial;
        }
        s += 1;
        if s == limit {
            return AddrPort::Partial;
        }
        let rest = data.get(s..).unwrap_or(&[]);
        let end = if af == AF_INET6 {
            match in6_pton(rest, i32::from(edelim)) {
                Ok((a, end)) => {
                    addr = a;
                    end
                }
                Err(_) => return AddrPort::Partial,
            }
        } else {
            match in4_pton(rest, i32::from(edelim)) {
                Ok((a, end)) => {
                    addr[..4].copy_from_slice(&a);
                    end
                }
                Err(_) => return AddrPort::Partial,
            }
        };
        s += end;
        if at(s) != Some(edelim) {
            return AddrPort::Partial;
        }
        s += 1;
    }
    let mut hport: u32 = 0;
    loop {
        let Some(c) = at(s) else {
            return AddrPort::Partial;
        };
        if !c.is_ascii_digit() {
            break;
        }
        hport = hport * 10 + u32::from(c - b'0');
        if hport > 65535 {
            return AddrPort::Partial;
        }
        s += 1;
    }
    if hport == 0 || at(s) != Some(edelim) {
        return AddrPort::Partial;
    }
    s += 1;
    AddrPort::Found(Found {
        addr,
        port: hport as u16,
        start,
        end: s,
    })
}

/// What [`scan_passive`] found in a client's packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Passive {
    /// `PASV\r\n` or `EPSV[ 1|2]\r\n`: the new mode ([`PASV`] or [`EPSV`]).
    Mode(u8),
    /// An `EPSV` for another family (or `EPSV ALL`): nothing to do with this packet.
    Ignore,
    /// Neither: look for `PORT`/`EPRT` at the payload's start.
    None,
}

/// The first loop of `ip_vs_ftp_in`: a `PASV\r\n` (IPv4 only) or `EPSV` command anywhere in
/// the payload.
pub fn scan_passive(data: &[u8], af: u16) -> Passive {
    let limit = data.len();
    let mut i = 0;
    while limit >= 6 && i <= limit - 6 {
        let d = data.get(i..).unwrap_or(&[]);
        let at = |k: usize| d.get(k).copied();
        if af == AF_INET && starts_with_ci(d, b"PASV\r\n") {
            return Passive::Mode(PASV);
        }
        // EPSV or EPSV<space><net-prt>.
        if starts_with_ci(d, b"EPSV") && (at(4) == Some(b' ') || at(4) == Some(b'\r')) {
            if at(4) == Some(b' ') {
                let proto = at(5);
                if at(6) != Some(b'\r') {
                    return Passive::Ignore;
                }
                let proto = proto.unwrap_or(0);
                let same = (af == AF_INET6 && proto == b'2') || (af == AF_INET && proto == b'1');
                if !same {
                    return Passive::Ignore;
                }
            }
            return Passive::Mode(EPSV);
        }
        i += 1;
    }
    Passive::None
}

/// A reply's replacement text, at most 23 bytes (`char buf[24]`).
#[derive(Clone, Copy)]
pub struct Reply {
    buf: [u8; 24],
    len: usize,
}

impl Reply {
    /// The text.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

impl core::fmt::Write for Reply {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // snprintf's truncation: never more than 23 bytes.
        for &c in s.as_bytes() {
            if self.len + 1 >= self.buf.len() {
                break;
            }
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = c;
            }
            self.len += 1;
        }
        Ok(())
    }
}

/// `"%u,%u,%u,%u,%u,%u"` of the virtual address and port: the `227` reply's new text.
pub fn pasv_reply(vaddr: &[u8; 16], vport: u16) -> Reply {
    let mut r = Reply {
        buf: [0; 24],
        len: 0,
    };
    let _ = core::fmt::Write::write_fmt(
        &mut r,
        format_args!(
            "{},{},{},{},{},{}",
            vaddr[0],
            vaddr[1],
            vaddr[2],
            vaddr[3],
            vport >> 8,
            vport & 0xff
        ),
    );
    r
}

/// `"|||%u|"`: the `229` reply's new text (the client uses the virtual address).
pub fn epsv_reply(vport: u16) -> Reply {
    let mut r = Reply {
        buf: [0; 24],
        len: 0,
    };
    let _ = core::fmt::Write::write_fmt(&mut r, format_args!("|||{vport}|"));
    r
}

const IN6PTON_XDIGIT: u32 = 0x0001_0000;
const IN6PTON_DIGIT: u32 = 0x0002_0000;
const IN6PTON_COLON_MASK: u32 = 0x0070_0000;
const IN6PTON_COLON_1: u32 = 0x0010_0000;
const IN6PTON_COLON_2: u32 = 0x0020_0000;
const IN6PTON_COLON_1_2: u32 = 0x0040_0000;
const IN6PTON_DOT: u32 = 0x0080_0000;
const IN6PTON_DELIM: u32 = 0x1000_0000;
const IN6PTON_NULL: u32 = 0x2000_0000;
const IN6PTON_UNKNOWN: u32 = 0x4000_0000;

/// `xdigit2bin`.
fn xdigit2bin(c: u8, delim: i32) -> u32 {
    if i32::from(c) == delim || c == 0 {
        return IN6PTON_DELIM;
    }
    if c == b':' {
        return IN6PTON_COLON_MASK;
    }
    if c == b'.' {
        return IN6PTON_DOT;
    }
    let val = match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'a'..=b'f' => Some(u32::from(c - b'a') + 10),
        b'A'..=b'F' => Some(u32::from(c - b'A') + 10),
        _ => None,
    };
    if let Some(val) = val {
        return val | IN6PTON_XDIGIT | if val < 10 { IN6PTON_DIGIT } else { 0 };
    }
    if delim == -1 {
        return IN6PTON_DELIM;
    }
    IN6PTON_UNKNOWN
}

/// `in4_pton(src, srclen, dst, delim, &end)`: the address and the offset `end` points at, or
/// `Err(end)`. The end of `src` reads as a NUL.
pub fn in4_pton(src: &[u8], delim: i32) -> Result<([u8; 4], usize), usize> {
    let mut dbuf = [0u8; 4];
    let mut d = 0;
    let mut i = 0;
    let mut w: u32 = 0;
    let mut s = 0;
    loop {
        let c = xdigit2bin(src.get(s).copied().unwrap_or(0), delim);
        if c & (IN6PTON_DIGIT | IN6PTON_DOT | IN6PTON_DELIM | IN6PTON_COLON_MASK) == 0 {
            return Err(s);
        }
        if c & (IN6PTON_DOT | IN6PTON_DELIM | IN6PTON_COLON_MASK) != 0 {
            if w == 0 {
                return Err(s);
            }
            // d < 4 here: the check below stops the loop at 4 words.
            let Some(slot) = dbuf.get_mut(d) else {
                return Err(s);
            };
            *slot = (w & 0xff) as u8;
            d += 1;
            w = 0;
            i += 1;
            if c & (IN6PTON_DELIM | IN6PTON_COLON_MASK) != 0 {
                if i != 4 {
                    return Err(s);
                }
                break;
            }
        } else {
            // The flag bits stay in `w` (so "0" is a digit seen, not `w == 0`); the kernel's
            // int arithmetic wraps (-fno-strict-overflow), and the low 16 bits are the value.
            w = w.wrapping_mul(10).wrapping_add(c);
            if w & 0xffff > 255 {
                return Err(s);
            }
        }
        if i >= 4 {
            return Err(s);
        }
        s += 1;
    }
    Ok((dbuf, s))
}

/// `in6_pton(src, srclen, dst, delim, &end)`, as [`in4_pton`].
pub fn in6_pton(src: &[u8], delim: i32) -> Result<([u8; 16], usize), usize> {
    let mut dbuf = [0u8; 16];
    let mut d: usize = 0;
    let mut dc: Option<usize> = None;
    let mut tok: Option<usize> = None;
    let mut state = IN6PTON_COLON_1_2 | IN6PTON_XDIGIT | IN6PTON_NULL;
    let mut w: u32 = 0;
    let mut s: usize = 0;
    loop {
        let c = xdigit2bin(src.get(s).copied().unwrap_or(0), delim);
        if c & state == 0 {
            return Err(s);
        }
        if c & (IN6PTON_DELIM | IN6PTON_COLON_MASK) != 0 {
            // One 16-bit word.
            if state & IN6PTON_NULL == 0 {
                let Some(word) = dbuf.get_mut(d..d + 2) else {
                    return Err(s);
                };
                word.copy_from_slice(&(w as u16).to_be_bytes());
                d += 2;
            }
            w = 0;
            if c & IN6PTON_DELIM != 0 {
                break;
            }
            state = match state & IN6PTON_COLON_MASK {
                IN6PTON_COLON_2 => {
                    dc = Some(d);
                    let mut st = IN6PTON_XDIGIT | IN6PTON_DELIM;
                    if d >= dbuf.len() {
                        st |= IN6PTON_NULL;
                    }
                    st
                }
                x if x == IN6PTON_COLON_1 | IN6PTON_COLON_1_2 => IN6PTON_XDIGIT | IN6PTON_COLON_2,
                IN6PTON_COLON_1 => IN6PTON_XDIGIT,
                IN6PTON_COLON_1_2 => IN6PTON_COLON_2,
                _ => 0,
            };
            tok = Some(s + 1);
        } else if c & IN6PTON_DOT != 0 {
            // An embedded IPv4 address, from the start of the current word.
            let from = tok.unwrap_or(s);
            let Some(slot) = dbuf.get_mut(d..d + 4) else {
                return Err(s);
            };
            match in4_pton(src.get(from..).unwrap_or(&[]), delim) {
                Ok((a, end)) => {
                    slot.copy_from_slice(&a);
                    d += 4;
                    s = from + end;
                    break;
                }
                Err(end) => return Err(from + end),
            }
        } else {
            w = (w << 4) | (c & 0xff);
            state = IN6PTON_COLON_1 | IN6PTON_DELIM;
            if w & 0xf000 == 0 {
                state |= IN6PTON_XDIGIT;
            }
            if dc.is_none() && d + 2 < dbuf.len() {
                state |= IN6PTON_COLON_1_2;
                state &= !IN6PTON_DELIM;
            }
            if d + 2 >= dbuf.len() {
                state &= !(IN6PTON_COLON_1 | IN6PTON_COLON_1_2);
            }
        }
        // cont:
        if (dc.is_some() && d + 4 < dbuf.len()) || d + 4 == dbuf.len() {
            state |= IN6PTON_DOT;
        }
        if d >= dbuf.len() {
            state &= !(IN6PTON_XDIGIT | IN6PTON_COLON_MASK);
        }
        s += 1;
    }
    let mut dst = [0u8; 16];
    match dc {
        Some(dc) => {
            // The words after "::" go to the end, zeros in between.
            let tail = d.saturating_sub(dc);
            if let (Some(to), Some(from)) = (dst.get_mut(16 - tail.min(16)..), dbuf.get(dc..d)) {
                to.copy_from_slice(from);
            }
            if let (Some(to), Some(from)) = (dst.get_mut(..dc), dbuf.get(..dc)) {
                to.copy_from_slice(from);
            }
        }
        None => dst = dbuf,
    }
    Ok((dst, s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{format, vec};

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut o = [0u8; 16];
        o[..4].copy_from_slice(&a);
        o
    }

    #[test]
    fn pasv_reply_is_parsed() {
        let d = b"227 Entering Passive Mode (192,168,100,2,195,80).\r\n";
        let AddrPort::Found(f) =
            get_addrport(d, SERVER_PASV, Some(b'('), false, PASV, AF_INET, [0; 16])
        else {
            panic!("not found");
        };
        assert_eq!(f.addr, v4([192, 168, 100, 2]));
        assert_eq!(f.port, 195 * 256 + 80);
        assert_eq!(&d[f.start..f.end], b"192,168,100,2,195,80");
    }

    #[test]
    fn pasv_without_parenthesis_and_in_lower_case() {
        let d = b"227 entering passive mode 10,0,0,1,4,1\r\n";
        // The skip loop stops at the first digit... which is the reply code's? No: it starts
        // after the pattern, at "entering".
        let r = get_addrport(d, SERVER_PASV, Some(b'('), false, PASV, AF_INET, [0; 16]);
        assert_eq!(
            r,
            AddrPort::Found(Found {
                addr: v4([10, 0, 0, 1]),
                port: 1025,
                start: 26,
                end: 38
            })
        );
        // "227 " matches case-insensitively only for letters; a different code is no match.
        assert_eq!(
            get_addrport(
                b"228 x",
                SERVER_PASV,
                Some(b'('),
                false,
                PASV,
                AF_INET,
                [0; 16]
            ),
            AddrPort::NoMatch
        );
    }

    #[test]
    fn short_and_malformed() {
        assert_eq!(
            get_addrport(
                b"22",
                SERVER_PASV,
                Some(b'('),
                false,
                PASV,
                AF_INET,
                [0; 16]
            ),
            AddrPort::Partial
        );
        assert_eq!(
            get_addrport(
                b"21",
                SERVER_PASV,
                Some(b'('),
                false,
                PASV,
                AF_INET,
                [0; 16]
            ),
            AddrPort::NoMatch
        );
        assert_eq!(
            get_addrport(
                b"227 (1,2,3,4,5",
                SERVER_PASV,
                Some(b'('),
                false,
                PASV,
                AF_INET,
                [0; 16]
            ),
            AddrPort::Partial
        );
        assert_eq!(
            get_addrport(
                b"227 (1,2,3,4,5)",
                SERVER_PASV,
                Some(b'('),
                false,
                PASV,
                AF_INET,
                [0; 16]
            ),
            AddrPort::Partial
        );
        assert_eq!(
            get_addrport(
                b"227 (256,2,3,4,5,6)",
                SERVER_PASV,
                Some(b'('),
                false,
                PASV,
                AF_INET,
                [0; 16]
            ),
            AddrPort::Partial
        );
        // Seven numbers: the seventh comma ends the parse with i == 5.
        assert!(matches!(
            get_addrport(
                b"227 (1,2,3,4,5,6,7)",
                SERVER_PASV,
                Some(b'('),
                false,
                PASV,
                AF_INET,
                [0; 16]
            ),
            AddrPort::Found(Found {
                port: 0x0506,
                end: 16,
                ..
            })
        ));
    }

    #[test]
    fn port_command() {
        let d = b"PORT 10,0,0,2,200,10\r\n";
        assert_eq!(
            get_addrport(d, CLIENT_PORT, Some(b' '), false, ACTIVE, AF_INET, [0; 16]),
            AddrPort::Found(Found {
                addr: v4([10, 0, 0, 2]),
                port: 200 * 256 + 10,
                start: 5,
                end: 20
            })
        );
    }

    #[test]
    fn epsv_reply_without_address_keeps_the_preset() {
        let preset = v4([192, 168, 100, 2]);
        let d = b"229 Entering Extended Passive Mode (|||50123|)\r\n";
        let AddrPort::Found(f) =
            get_addrport(d, SERVER_EPSV, Some(b'('), true, EPSV, AF_INET, preset)
        else {
            panic!()
        };
        assert_eq!(f.addr, preset);
        assert_eq!(f.port, 50123);
        assert_eq!(&d[f.start..f.end], b"|||50123|");
        // Port 0 and ports above 65535 are refused.
        for bad in [
            &b"229 (|||0|)"[..],
            b"229 (|||65536|)",
            b"229 (|||123)",
            b"229 (||123|)",
        ] {
            assert_eq!(
                get_addrport(bad, SERVER_EPSV, Some(b'('), true, EPSV, AF_INET, preset),
                AddrPort::Partial,
                "{:?}",
                core::str::from_utf8(bad)
            );
        }
    }

    #[test]
    fn eprt_commands() {
        let d = b"EPRT |1|10.0.0.2|6446|\r\n";
        assert_eq!(
            get_addrport(d, CLIENT_EPRT, Some(b' '), true, EPRT, AF_INET, [0; 16]),
            AddrPort::Found(Found {
                addr: v4([10, 0, 0, 2]),
                port: 6446,
                start: 5,
                end: 22
            })
        );
        // The wrong family for the connection.
        assert_eq!(
            get_addrport(d, CLIENT_EPRT, Some(b' '), true, EPRT, AF_INET6, [0; 16]),
            AddrPort::Partial
        );
        let d6 = b"EPRT !2!2001:db8::2!5282!\r\n";
        let AddrPort::Found(f) =
            get_addrport(d6, CLIENT_EPRT, Some(b' '), true, EPRT, AF_INET6, [0; 16])
        else {
            panic!()
        };
        assert_eq!(
            f.addr,
            "2001:db8::2"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
        );
        assert_eq!(f.port, 5282);
        // The family may be left out only in EPSV replies.
        assert_eq!(
            get_addrport(
                b"EPRT |||5282|",
                CLIENT_EPRT,
                Some(b' '),
                true,
                EPRT,
                AF_INET,
                [0; 16]
            ),
            AddrPort::Partial
        );
    }

    #[test]
    fn passive_commands() {
        assert_eq!(scan_passive(b"PASV\r\n", AF_INET), Passive::Mode(PASV));
        assert_eq!(scan_passive(b"pasv\r\n", AF_INET), Passive::Mode(PASV));
        assert_eq!(scan_passive(b"PASV\r\n", AF_INET6), Passive::None);
        assert_eq!(scan_passive(b"xxEPSV\r\n", AF_INET6), Passive::Mode(EPSV));
        assert_eq!(scan_passive(b"EPSV 1\r\n", AF_INET), Passive::Mode(EPSV));
        assert_eq!(scan_passive(b"EPSV 2\r\n", AF_INET), Passive::Ignore);
        assert_eq!(scan_passive(b"EPSV 2\r\n", AF_INET6), Passive::Mode(EPSV));
        assert_eq!(scan_passive(b"EPSV ALL\r\n", AF_INET), Passive::Ignore);
        // "EPSV 1" at the very end: data[6] would be past the payload.
        assert_eq!(scan_passive(b"EPSV 1", AF_INET), Passive::Ignore);
        assert_eq!(scan_passive(b"PASV", AF_INET), Passive::None);
        assert_eq!(scan_passive(b"RETR x\r\n", AF_INET), Passive::None);
    }

    #[test]
    fn replies() {
        assert_eq!(
            pasv_reply(&v4([10, 0, 0, 1]), 50123).as_bytes(),
            b"10,0,0,1,195,203"
        );
        assert_eq!(
            pasv_reply(&v4([255, 255, 255, 255]), 65535).as_bytes(),
            b"255,255,255,255,255,255"
        );
        assert_eq!(epsv_reply(21).as_bytes(), b"|||21|");
    }

    #[test]
    fn pton() {
        assert_eq!(
            in4_pton(b"1.2.3.4|", i32::from(b'|')),
            Ok(([1, 2, 3, 4], 7))
        );
        assert_eq!(in4_pton(b"1.2.3.4", i32::from(b'|')), Ok(([1, 2, 3, 4], 7)));
        assert!(in4_pton(b"1.2.3|", i32::from(b'|')).is_err());
        assert!(in4_pton(b"1.2.3.256|", i32::from(b'|')).is_err());
        assert!(in4_pton(b"1..3.4|", i32::from(b'|')).is_err());
        assert!(in4_pton(b"1.2.3.4.5|", i32::from(b'|')).is_err());
        // Zero octets are digits seen; an empty one is not.
        assert_eq!(
            in4_pton(b"10.0.0.1|", i32::from(b'|')),
            Ok(([10, 0, 0, 1], 8))
        );
        assert_eq!(
            in4_pton(b"0.0.0.0|", i32::from(b'|')),
            Ok(([0, 0, 0, 0], 7))
        );
        assert_eq!(
            in4_pton(b"000000000001.2.3.4|", i32::from(b'|')),
            Ok(([1, 2, 3, 4], 18))
        );
        assert!(in4_pton(b".1.2.3|", i32::from(b'|')).is_err());
        let p6 = |s: &str| in6_pton(s.as_bytes(), i32::from(b'|')).map(|(a, _)| a);
        let std6 = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
        for s in [
            "2001:db8::2",
            "::1",
            "fe80::1:2:3",
            "1:2:3:4:5:6:7:8",
            "::ffff:10.0.0.1",
            "64:ff9b::192.0.2.33",
            "1::",
        ] {
            assert_eq!(p6(&format!("{s}|")), Ok(std6(s)), "{s}");
        }
        for bad in ["1:2:3:4:5:6:7:8:9|", "1:::2|", "12345::|", "g::|", "1:2|"] {
            assert!(p6(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_payload_never_panics(
            d in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
            af in proptest::sample::select(vec![AF_INET, AF_INET6]),
        ) {
            for (pat, skip, ext, mode) in [
                (SERVER_PASV, Some(b'('), false, PASV),
                (SERVER_EPSV, Some(b'('), true, EPSV),
                (CLIENT_PORT, Some(b' '), false, ACTIVE),
                (CLIENT_EPRT, Some(b' '), true, EPRT),
            ] {
                if let AddrPort::Found(f) = get_addrport(&d, pat, skip, ext, mode, af, [7; 16]) {
                    proptest::prop_assert!(f.start <= f.end && f.end <= d.len());
                    proptest::prop_assert!(f.port != 0 || !ext);
                }
            }
            let _ = scan_passive(&d, af);
        }

        #[test]
        fn ipv6_text_round_trips(a in proptest::prelude::any::<[u8; 16]>()) {
            let s = format!("{}|", std::net::Ipv6Addr::from(a));
            proptest::prop_assert_eq!(in6_pton(s.as_bytes(), i32::from(b'|')), Ok((a, s.len() - 1)));
        }

        #[test]
        fn pasv_reply_round_trips(a in proptest::prelude::any::<[u8; 4]>(), port in 1u16..) {
            let mut v = [0u8; 16];
            v[..4].copy_from_slice(&a);
            let text = pasv_reply(&v, port);
            let mut d = b"227 Entering Passive Mode (".to_vec();
            d.extend_from_slice(text.as_bytes());
            d.extend_from_slice(b")\r\n");
            let r = get_addrport(&d, SERVER_PASV, Some(b'('), false, PASV, AF_INET, [0; 16]);
            let AddrPort::Found(f) = r else { return Err(proptest::test_runner::TestCaseError::fail("no")) };
            proptest::prop_assert_eq!(f.addr, v);
            proptest::prop_assert_eq!(f.port, port);
            proptest::prop_assert_eq!(&d[f.start..f.end], text.as_bytes());
        }
    }
}
