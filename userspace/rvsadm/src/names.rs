//! Addresses, ports and their names, converted the way ipvsadm 1.31 converts them.
//!
//! ipvsadm leans on libc for this: `inet_aton` (which accepts `10`, `10.1`, hex and octal parts),
//! `inet_pton`, `gethostbyname` (IPv4 only), `getservbyname`/`getservbyport` and `strtol`. Every
//! quirk that changes what an argument means, or what a listing prints, is reproduced here so that
//! rvsadm accepts and prints exactly what ipvsadm does. Lookups of names go through [`Names`], so
//! output formatting can be tested without DNS.

use std::net::{Ipv4Addr, Ipv6Addr, ToSocketAddrs};

use rvs_core::abi::{AF_INET, AF_INET6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};

/// C's `isspace` in the "C" locale, which `strtol` skips before a number.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// `strtol(s, &end, 10)` that must consume the whole string: leading blanks and a sign allowed,
/// at least one digit, nothing after. `None` when that fails or the value overflows a `long`.
pub fn strtol_whole(s: &str) -> Option<i64> {
    let t = s.trim_start_matches(is_c_space);
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude: i128 = digits.parse().ok()?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

/// ipvsadm's `string_to_number`: a whole decimal number within `min..=max`.
pub fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    strtol_whole(s).filter(|n| (min..=max).contains(n))
}

/// C's `atoi`: leading blanks, a sign, as many digits as there are; 0 when none.
pub fn atoi(s: &str) -> i64 {
    let t = s.trim_start_matches(is_c_space);
    let (negative, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits: String = rest
        .chars()
        .take_while(char::is_ascii_digit)
        .take(18)
        .collect();
    let value: i64 = digits.parse().unwrap_or(0);
    if negative {
        -value
    } else {
        value
    }
}

/// One part of an `inet_aton` address: decimal, `0x` hex or leading-zero octal.
fn aton_part(part: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() && radix != 16 {
        return None;
    }
    if digits.is_empty() {
        // glibc takes "0x" alone as 0.
        return Some(0);
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|v| *v <= u64::from(u32::MAX))
}

/// glibc's `inet_aton`: one to four parts, the last filling the remaining bytes; trailing blanks
/// after the address are accepted, as glibc does.
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let s = match s.find(is_c_space) {
        Some(at) => &s[..at],
        None => s,
    };
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let values: Vec<u64> = parts
        .iter()
        .map(|p| aton_part(p))
        .collect::<Option<Vec<_>>>()?;
    let (last, head) = values.split_last()?;
    if head.iter().any(|v| *v > 0xff) {
        return None;
    }
    let tail_bits = 8 * (4 - head.len() as u32);
    if tail_bits < 64 && *last >= 1u64 << tail_bits {
        return None;
    }
    let mut value: u64 = *last;
    for (i, v) in head.iter().enumerate() {
        value |= v << (24 - 8 * i as u32);
    }
    Some(Ipv4Addr::from(value as u32))
}

/// `inet_pton(AF_INET, ...)`: exactly four decimal parts.
pub fn inet_pton4(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (o, p) in octets.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if p.len() > 1 && p.starts_with('0') {
            return None;
        }
        *o = p.parse().ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

/// `inet_pton(AF_INET6, ...)`.
pub fn inet_pton6(s: &str) -> Option<Ipv6Addr> {
    s.parse().ok()
}

/// `inet_ntop(AF_INET6, ...)` as glibc writes it: RFC 5952 compression, plus the IPv4-compatible
/// form `::a.b.c.d` glibc still uses when only the last 32 bits (and not the 16 before) are set.
pub fn inet_ntop6(addr: &Ipv6Addr) -> String {
    let s = addr.segments();
    if s[..6].iter().all(|w| *w == 0) && s[6] != 0 {
        let [_, _, _, _, _, _, _, _, _, _, _, _, a, b, c, d] = addr.octets();
        return format!("::{a}.{b}.{c}.{d}");
    }
    addr.to_string()
}

/// The 16-byte `union nf_inet_addr` of an IPv4 address.
pub fn v4_bytes(addr: Ipv4Addr) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&addr.octets());
    out
}

/// `inet_ntop(af, addr)` of a 16-byte `union nf_inet_addr`.
pub fn ntop(af: u16, addr: &[u8; 16]) -> String {
    if af == AF_INET6 {
        inet_ntop6(&Ipv6Addr::from(*addr))
    } else {
        Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string()
    }
}

/// The protocol name `/etc/services` uses.
fn proto_name(proto: u16) -> Option<&'static str> {
    match proto {
        IPPROTO_TCP => Some("tcp"),
        IPPROTO_UDP => Some("udp"),
        IPPROTO_SCTP => Some("sctp"),
        _ => None,
    }
}

/// Host and service names, forward and reverse.
pub trait Names {
    /// `gethostbyname`, IPv4 results only.
    fn host_to_v4(&self, name: &str) -> Option<Ipv4Addr>;
    /// `gethostbyaddr`: the name of an address, if it has one.
    fn addr_to_host(&self, af: u16, addr: &[u8; 16]) -> Option<String>;
    /// `getservbyname(name, proto)`: the port of a service name.
    fn service_to_port(&self, name: &str, proto: u16) -> Option<u16>;
    /// `getservbyport(port, proto)`: the name of a port.
    fn port_to_service(&self, port: u16, proto: u16) -> Option<String>;
}

/// The system's resolver and `/etc/services`, as libc's name service switch reads them.
pub struct SystemNames {
    services: Vec<(String, u16, String)>,
}

impl SystemNames {
    /// Reads `/etc/services` once (a missing file simply means no service names).
    pub fn new() -> Self {
        let text = std::fs::read_to_string("/etc/services").unwrap_or_default();
        Self {
            services: parse_services(&text),
        }
    }
}

impl Default for SystemNames {
    fn default() -> Self {
        Self::new()
    }
}

/// `(name or alias, port, protocol)` for every entry of an `/etc/services` text.
pub fn parse_services(text: &str) -> Vec<(String, u16, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let (Some(name), Some(port_proto)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((port, proto)) = port_proto.split_once('/') else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        out.push((name.to_string(), port, proto.to_string()));
        for alias in fields {
            out.push((alias.to_string(), port, proto.to_string()));
        }
    }
    out
}

impl Names for SystemNames {
    fn host_to_v4(&self, name: &str) -> Option<Ipv4Addr> {
        let addrs = (name, 0).to_socket_addrs().ok()?;
        addrs.into_iter().find_map(|a| match a.ip() {
            std::net::IpAddr::V4(v4) => Some(v4),
            std::net::IpAddr::V6(_) => None,
        })
    }

    fn addr_to_host(&self, af: u16, addr: &[u8; 16]) -> Option<String> {
        let ip = if af == AF_INET {
            std::net::IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]))
        } else {
            std::net::IpAddr::V6(Ipv6Addr::from(*addr))
        };
        let name = dns_lookup::lookup_addr(&ip).ok()?;
        // getnameinfo falls back to the numeric form where gethostbyaddr fails: keep "no name".
        if name.parse::<std::net::IpAddr>().is_ok() {
            None
        } else {
            Some(name)
        }
    }

    fn service_to_port(&self, name: &str, proto: u16) -> Option<u16> {
        let proto = proto_name(proto)?;
        self.services
            .iter()
            .find(|(n, _, p)| n == name && p == proto)
            .map(|(_, port, _)| *port)
    }

    fn port_to_service(&self, port: u16, proto: u16) -> Option<String> {
        let proto = proto_name(proto)?;
        // The first entry of a port is its official name, as getservbyport returns it.
        self.services
            .iter()
            .find(|(_, p, pr)| *p == port && pr == proto)
            .map(|(name, _, _)| name.clone())
    }
}

/// What `parse_service` found: the address (and family) always, the port when one was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostPort {
    /// `AF_INET` or `AF_INET6`.
    pub af: u16,
    /// The address, network order.
    pub addr: [u8; 16],
    /// The port, when the text had one.
    pub port: Option<u16>,
}

/// ipvsadm's `parse_service`: `host[:port]` or `[v6addr]:port` (a bare IPv6 address has no port),
/// the host a name or address, the port a number or a service name of `proto`. `None` is
/// `SERVICE_NONE`.
pub fn parse_host_port(text: &str, proto: u16, names: &dyn Names) -> Option<HostPort> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut buf = text;
    let mut port_text: Option<&str> = None;
    if let Some(inner) = buf.strip_prefix('[') {
        let close = inner.find(']')?;
        let after = &inner[close + 1..];
        let port = after.strip_prefix(':')?;
        buf = &inner[..close];
        port_text = Some(port);
    }
    let (af, addr) = if let Some(v6) = inet_pton6(buf) {
        (AF_INET6, v6.octets())
    } else {
        // ipvsadm looks for the port again in what is left, so "[1.2.3.4]:80" loses its port.
        port_text = None;
        let host = match buf.rfind(':') {
            Some(at) => {
                port_text = Some(&buf[at + 1..]);
                &buf[..at]
            }
            None => buf,
        };
        let v4 = inet_aton(host).or_else(|| names.host_to_v4(host))?;
        (AF_INET, v4_bytes(v4))
    };
    let port = match port_text {
        None => None,
        Some(p) => match string_to_number(p, 0, 65535) {
            Some(n) => Some(n as u16),
            None => Some(names.service_to_port(p, proto)?),
        },
    };
    Some(HostPort { af, addr, port })
}

/// ipvsadm's `addrport_to_anyname`: `addr:port`, brackets around anything but IPv4, names unless
/// `numeric`.
pub fn addrport(
    af: u16,
    addr: &[u8; 16],
    port: u16,
    proto: u16,
    numeric: bool,
    names: &dyn Names,
) -> String {
    let (open, close) = if af == AF_INET { ("", "") } else { ("[", "]") };
    let out = if numeric {
        format!("{open}{}{close}:{port}", ntop(af, addr))
    } else {
        let host = names
            .addr_to_host(af, addr)
            .unwrap_or_else(|| ntop(af, addr));
        let port = names
            .port_to_service(port, proto)
            .unwrap_or_else(|| port.to_string());
        format!("{open}{host}{close}:{port}")
    };
    // ipvsadm formats into a 60-byte buffer.
    truncate(out, 59)
}

/// `s` cut to at most `max` bytes (on a character boundary), as C's fixed buffers cut it.
pub fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
    }
    s
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Names without DNS: `localhost` and a few services.
    pub struct FixedNames;

    impl Names for FixedNames {
        fn host_to_v4(&self, name: &str) -> Option<Ipv4Addr> {
            (name == "localhost").then_some(Ipv4Addr::LOCALHOST)
        }
        fn addr_to_host(&self, af: u16, addr: &[u8; 16]) -> Option<String> {
            (af == AF_INET && addr[..4] == [127, 0, 0, 1]).then(|| "localhost".to_string())
        }
        fn service_to_port(&self, name: &str, _proto: u16) -> Option<u16> {
            match name {
                "http" => Some(80),
                "domain" => Some(53),
                _ => None,
            }
        }
        fn port_to_service(&self, port: u16, _proto: u16) -> Option<String> {
            match port {
                80 => Some("http".into()),
                53 => Some("domain".into()),
                _ => None,
            }
        }
    }

    #[test]
    fn inet_aton_accepts_what_glibc_accepts() {
        for (text, want) in [
            ("1.2.3.4", Some([1, 2, 3, 4])),
            ("10", Some([0, 0, 0, 10])),
            ("10.1", Some([10, 0, 0, 1])),
            ("10.1.258", Some([10, 1, 1, 2])),
            ("0x7f.1", Some([127, 0, 0, 1])),
            ("010.0.0.1", Some([8, 0, 0, 1])),
            ("1.2.3.4 trailing", Some([1, 2, 3, 4])),
            ("1.2.3.256", None),
            ("1.2.3.4.5", None),
            ("1..2", None),
            ("abc", None),
            ("08", None),
        ] {
            assert_eq!(inet_aton(text).map(|a| a.octets()), want, "{text}");
            println!("inet_aton {text:?} ok");
        }
    }

    #[test]
    fn numbers_parse_like_strtol() {
        assert_eq!(string_to_number(" +12", 0, 20), Some(12));
        assert_eq!(string_to_number("12 ", 0, 20), None);
        assert_eq!(string_to_number("", 0, 20), None);
        assert_eq!(string_to_number("-1", 0, 20), None);
        assert_eq!(string_to_number("99999999999999999999", 0, 20), None);
        assert_eq!(atoi("64abc"), 64);
        assert_eq!(atoi("x"), 0);
    }

    #[test]
    fn host_port_forms() {
        let n = FixedNames;
        let hp = parse_host_port("10.0.0.1:80", IPPROTO_TCP, &n).unwrap();
        assert_eq!((hp.af, hp.port), (AF_INET, Some(80)));
        let hp = parse_host_port("[2001:db8::1]:http", IPPROTO_TCP, &n).unwrap();
        assert_eq!((hp.af, hp.port), (AF_INET6, Some(80)));
        let hp = parse_host_port("::1:80", IPPROTO_TCP, &n).unwrap();
        assert_eq!((hp.af, hp.port), (AF_INET6, None));
        let hp = parse_host_port("[1.2.3.4]:80", IPPROTO_TCP, &n).unwrap();
        assert_eq!((hp.af, hp.port), (AF_INET, None));
        assert!(parse_host_port("1234", IPPROTO_TCP, &n).is_none());
        assert!(parse_host_port("[::1]80", IPPROTO_TCP, &n).is_none());
        assert!(parse_host_port("1.2.3.4:xyz", IPPROTO_TCP, &n).is_none());
        let hp = parse_host_port("localhost", IPPROTO_TCP, &n).unwrap();
        assert_eq!(hp.addr[..4], [127, 0, 0, 1]);
    }

    #[test]
    fn ntop6_like_glibc() {
        for (text, want) in [
            ("2001:db8::1", "2001:db8::1"),
            ("::1", "::1"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ] {
            assert_eq!(inet_ntop6(&text.parse().unwrap()), want);
        }
    }

    #[test]
    fn services_file() {
        let s = parse_services("http 80/tcp www # web\nhttp 80/udp\n# x\ndomain 53/udp\n");
        assert_eq!(s.len(), 4);
        assert_eq!(s[1], ("www".to_string(), 80, "tcp".to_string()));
    }
}
