//! Every listing rvsadm prints: ipvsadm 1.31's tables and rules byte for byte, and the JSON
//! forms rvsadm adds.
//!
//! The text forms follow ipvsadm's printf formats (`print_title`, `print_service_entry`,
//! `print_largenum`, `print_conn`, `list_timeout`, `list_daemon`), including its truncations
//! (service names to 33 bytes, real servers to 28, except IPv6) and its sort, which is glibc's
//! merge sort driven by ipvsadm's comparators, wrap-around subtraction included, so that entries
//! come out in exactly ipvsadm's order. Nothing here talks to the kernel: callers hand in the
//! decoded services, destinations, daemons and timeouts.

use std::fmt::Write;

use rvs_core::abi::{
    conn_flag, daemon_state, svc_flag, tunnel_type, AF_INET, AF_INET6, IPPROTO_SCTP, IPPROTO_TCP,
    IPPROTO_UDP,
};
use rvs_core::netlink::{Daemon, Dest, Info, McastGroup, Service, Stats, Timeouts};
use serde_json::{json, Value};

use crate::cli::Format;
use crate::names::{self, Names};

/// `"IP Virtual Server version %d.%d.%d (size=%d)\n"`.
pub fn header(info: &Info) -> String {
    let v = info.version;
    format!(
        "IP Virtual Server version {}.{}.{} (size={})\n",
        (v >> 16) & 0xff,
        (v >> 8) & 0xff,
        v & 0xff,
        info.conn_tab_size as i32
    )
}

/// ipvsadm's `print_title`.
pub fn title(f: &Format) -> String {
    if f.stats {
        format!(
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        )
    } else if f.rate {
        format!(
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        )
    } else if f.thresholds {
        format!(
            "{:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        )
    } else if f.persistent_conn {
        format!(
            "{:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn"
        )
    } else if f.tun_info {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n".to_string()
    } else if !f.rule {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n".to_string()
    } else {
        String::new()
    }
}

/// ipvsadm's `print_largenum`: 9 columns, scaled to K/M/G/T unless `exact`.
fn largenum(out: &mut String, n: u64, exact: bool) {
    if exact {
        let digits = n.to_string();
        let width = if digits.len() <= 8 {
            9
        } else {
            digits.len() + 1
        };
        let _ = write!(out, "{n:>width$}");
    } else if n < 100_000_000 {
        let _ = write!(out, "{n:>9}");
    } else if n < 1_000_000_000 {
        let _ = write!(out, "{:>8}K", n / 1000);
    } else if n < 100_000_000_000 {
        let _ = write!(out, "{:>8}M", n / 1_000_000);
    } else if n < 100_000_000_000_000 {
        let _ = write!(out, "{:>8}G", n / 1_000_000_000);
    } else {
        let _ = write!(out, "{:>8}T", n / 1_000_000_000_000);
    }
}

fn protocol_name(proto: u16) -> &'static str {
    match proto {
        IPPROTO_TCP => "TCP",
        IPPROTO_UDP => "UDP",
        IPPROTO_SCTP => "SCTP",
        _ => "?",
    }
}

fn protocol_option(proto: u16) -> &'static str {
    match proto {
        IPPROTO_TCP => "-t",
        IPPROTO_UDP => "-u",
        IPPROTO_SCTP => "--sctp-service",
        _ => "--xxx-service",
    }
}

/// The forwarding method's column (`fwd_name`); printf's `(null)` for methods it has no name for.
fn fwd_name(method: u32) -> &'static str {
    match method & conn_flag::FWD_MASK {
        conn_flag::MASQ => "Masq",
        conn_flag::LOCALNODE => "Local",
        conn_flag::TUNNEL => "Tunnel",
        conn_flag::DROUTE => "Route",
        _ => "(null)",
    }
}

/// The forwarding method's option in rules (`fwd_switch`); local node is saved as `-g`.
fn fwd_switch(method: u32) -> &'static str {
    match method & conn_flag::FWD_MASK {
        conn_flag::MASQ => "-m",
        conn_flag::TUNNEL => "-i",
        conn_flag::LOCALNODE | conn_flag::DROUTE => "-g",
        _ => "(null)",
    }
}

const TUN_NAMES: [&str; 3] = ["ipip", "gue", "gre"];
const TUN_FLAG_NAMES: [&str; 3] = ["-c", "+c", "r+c"];
const TUN_FLAG_OPTS: [&str; 3] = ["--tun-nocsum", "--tun-csum", "--tun-remcsum"];

fn tun_flag_index(flags: u16) -> usize {
    usize::from(flags).min(2)
}

/// `fwd_tun_info`: the TunnelInfo column, `None` for `n/a`.
fn tun_info(d: &Dest) -> Option<String> {
    if d.fwd_method & conn_flag::FWD_MASK != conn_flag::TUNNEL {
        return None;
    }
    let flags = TUN_FLAG_NAMES[tun_flag_index(d.tun_flags)];
    match d.tun_type {
        tunnel_type::IPIP => Some("ipip".to_string()),
        tunnel_type::GUE => Some(format!("gue:{}:{flags}", d.tun_port)),
        tunnel_type::GRE => Some(format!("gre:{flags}")),
        _ => None,
    }
}

/// `print_sched_flags`: the names of the scheduler flags that mean something to `sched`.
fn sched_flags(svc: &Service) -> String {
    let sched = svc.sched_name.as_str().unwrap_or("");
    let f = svc.flags.flags;
    let names: &[(u32, &str)] = match sched {
        "sh" => &[
            (svc_flag::SCHED_SH_FALLBACK, "sh-fallback"),
            (svc_flag::SCHED_SH_PORT, "sh-port"),
        ],
        "mh" => &[
            (svc_flag::SCHED_MH_FALLBACK, "mh-fallback"),
            (svc_flag::SCHED_MH_PORT, "mh-port"),
        ],
        _ => &[
            (svc_flag::SCHED1, "flag-1"),
            (svc_flag::SCHED2, "flag-2"),
            (svc_flag::SCHED3, "flag-3"),
        ],
    };
    names
        .iter()
        .filter(|(bit, _)| f & bit != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

const SCHED_FLAGS: u32 = svc_flag::SCHED1 | svc_flag::SCHED2 | svc_flag::SCHED3;

/// The statistics ipvsadm shows for a service: the 64-bit nest when present.
pub fn service_stats(svc: &Service) -> Stats {
    svc.stats64.or(svc.stats).unwrap_or_default()
}

/// The statistics ipvsadm shows for a destination: libipvs reads the 64-bit nest with its 32-bit
/// parser, so counters and rates keep only their low 32 bits (bytes stay whole).
pub fn dest_stats(d: &Dest) -> Stats {
    d.stats64.or(d.stats).unwrap_or_default().to_user()
}

fn mask_text(netmask: u32) -> String {
    let [a, b, c, d] = netmask.to_ne_bytes();
    format!("{a}.{b}.{c}.{d}")
}

/// The service's name as ipvsadm builds it: `-t addr:port` in rules, `TCP  addr:port` in tables.
pub fn service_name(svc: &Service, f: &Format, names: &dyn Names) -> String {
    // Debian's ipvsadm 1.31 prints fwmarks with %d.
    let mark = svc.fwmark as i32;
    if svc.fwmark != 0 {
        let v6 = svc.af == AF_INET6;
        return match (f.rule, v6) {
            (true, true) => format!("-f {mark} -6"),
            (true, false) => format!("-f {mark}"),
            (false, true) => format!("FWM  {mark} IPv6"),
            (false, false) => format!("FWM  {mark}"),
        };
    }
    let vname = names::addrport(svc.af, &svc.addr, svc.port, svc.protocol, f.numeric, names);
    if f.rule {
        format!("{} {vname}", protocol_option(svc.protocol))
    } else {
        let name = format!("{:<4} {vname}", protocol_name(svc.protocol));
        if svc.af != AF_INET6 {
            names::truncate(name, 33)
        } else {
            name
        }
    }
}

/// ipvsadm's `print_service_entry`: the service line and its destinations, sorted unless
/// `--nosort`.
pub fn service_entry(
    out: &mut String,
    svc: &Service,
    dests: &mut [Dest],
    f: &Format,
    names: &dyn Names,
) {
    let svc_name = service_name(svc, f, names);
    let flags = svc.flags.flags;
    let pe = svc.pe_name.as_ref().and_then(|p| p.as_str()).unwrap_or("");
    let sched = svc.sched_name.as_str().unwrap_or("");
    if f.rule {
        let _ = write!(out, "-A {svc_name} -s {sched}");
        if flags & svc_flag::PERSISTENT != 0 {
            let _ = write!(out, " -p {}", svc.timeout);
            if svc.af == AF_INET && svc.netmask != u32::MAX {
                let _ = write!(out, " -M {}", mask_text(svc.netmask));
            }
            if svc.af == AF_INET6 && svc.netmask != 128 {
                let _ = write!(out, " -M {}", svc.netmask as i32);
            }
        }
        if !pe.is_empty() {
            let _ = write!(out, " --pe {pe}");
        }
        if flags & svc_flag::ONEPACKET != 0 {
            out.push_str(" -o");
        }
        if flags & SCHED_FLAGS != 0 {
            let _ = write!(out, " -b {}", sched_flags(svc));
        }
    } else if f.stats || f.rate {
        let s = service_stats(svc);
        let _ = write!(out, "{svc_name:<33}");
        let values = if f.stats {
            [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes]
        } else {
            [s.cps, s.inpps, s.outpps, s.inbps, s.outbps]
        };
        for v in values {
            largenum(out, v, f.exact);
        }
    } else {
        let _ = write!(out, "{svc_name} {sched}");
        if flags & SCHED_FLAGS != 0 {
            let _ = write!(out, " ({})", sched_flags(svc));
        }
        if flags & svc_flag::PERSISTENT != 0 {
            let _ = write!(out, " persistent {}", svc.timeout);
            if svc.af == AF_INET && svc.netmask != u32::MAX {
                let _ = write!(out, " mask {}", mask_text(svc.netmask));
            }
            if svc.af == AF_INET6 && svc.netmask != 128 {
                let _ = write!(out, " mask {}", svc.netmask as i32);
            }
            if !pe.is_empty() {
                let _ = write!(out, " pe {pe}");
            }
        }
        if flags & svc_flag::ONEPACKET != 0 {
            out.push_str(" ops");
        }
    }
    out.push('\n');
    if !f.nosort {
        sort_dests(dests);
    }
    for d in dests.iter() {
        dest_line(out, &svc_name, svc.protocol, d, f, names);
    }
}

fn dest_line(
    out: &mut String,
    svc_name: &str,
    proto: u16,
    d: &Dest,
    f: &Format,
    names: &dyn Names,
) {
    let mut dname = names::addrport(d.af, &d.addr, d.port, proto, f.numeric, names);
    if !f.rule && d.af != AF_INET6 {
        dname = names::truncate(dname, 28);
    }
    let fwd = d.fwd_method & conn_flag::FWD_MASK;
    if f.rule {
        let switch = fwd_switch(d.fwd_method);
        let w = d.weight;
        let _ = write!(out, "-a {svc_name} -r {dname} {switch} -w {w}");
        if fwd == conn_flag::TUNNEL {
            let opt = TUN_FLAG_OPTS[tun_flag_index(d.tun_flags)];
            match d.tun_type {
                tunnel_type::GRE => {
                    let _ = write!(out, " --tun-type gre {opt}");
                }
                tunnel_type::GUE => {
                    let _ = write!(out, " --tun-type gue --tun-port {} {opt}", d.tun_port);
                }
                tunnel_type::IPIP => out.push_str(" --tun-type ipip"),
                _ => {}
            }
        }
        out.push('\n');
    } else if f.stats {
        let s = dest_stats(d);
        let _ = write!(out, "  -> {dname:<28}");
        for v in [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes] {
            largenum(out, v, f.exact);
        }
        out.push('\n');
    } else if f.rate {
        let s = dest_stats(d);
        let _ = write!(
            out,
            "  -> {dname:<28} {:>8} {:>8} {:>8}",
            s.cps, s.inpps, s.outpps
        );
        largenum(out, s.inbps, f.exact);
        largenum(out, s.outbps, f.exact);
        out.push('\n');
    } else if f.thresholds {
        let _ = writeln!(
            out,
            "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
            d.u_threshold, d.l_threshold, d.active_conns, d.inact_conns
        );
    } else if f.persistent_conn {
        let _ = writeln!(
            out,
            "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
            d.weight as u32, d.persist_conns, d.active_conns, d.inact_conns
        );
    } else if f.tun_info {
        let ti = tun_info(d).unwrap_or_else(|| "n/a".to_string());
        let _ = writeln!(
            out,
            "  -> {dname:<28} {:<7} {ti:<13} {:<6} {:<10} {:<10}",
            fwd_name(d.fwd_method),
            d.weight,
            d.active_conns,
            d.inact_conns
        );
    } else {
        let _ = writeln!(
            out,
            "  -> {dname:<28} {:<7} {:<6} {:<10} {:<10}",
            fwd_name(d.fwd_method),
            d.weight,
            d.active_conns,
            d.inact_conns
        );
    }
}

/// glibc's `qsort` (its merge sort, `msort_with_tmp`), so that a comparator that is not a total
/// order, like ipvsadm's wrap-around subtractions, still puts entries where ipvsadm puts them.
pub fn glibc_msort<T: Clone>(v: &mut [T], cmp: &dyn Fn(&T, &T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    glibc_msort(&mut v[..n1], cmp);
    glibc_msort(&mut v[n1..], cmp);
    let mut merged = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&v[i], &v[j]) <= 0 {
            merged.push(v[i].clone());
            i += 1;
        } else {
            merged.push(v[j].clone());
            j += 1;
        }
    }
    merged.extend_from_slice(&v[i..n1]);
    merged.extend_from_slice(&v[j..n]);
    v.clone_from_slice(&merged);
}

/// `ntohl(a) - ntohl(b)` on the address words, as ipvsadm subtracts them (unsigned, then read as
/// `int`).
fn addr_cmp(af: u16, a: &[u8; 16], b: &[u8; 16]) -> i32 {
    let words = if af == AF_INET6 { 4 } else { 1 };
    for i in 0..words {
        let wa = u32::from_be_bytes([a[4 * i], a[4 * i + 1], a[4 * i + 2], a[4 * i + 3]]);
        let wb = u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
        let r = wa.wrapping_sub(wb) as i32;
        if r != 0 {
            return r;
        }
    }
    0
}

/// `ipvs_cmp_services`.
pub fn cmp_services(a: &Service, b: &Service) -> i32 {
    let r = a.fwmark.wrapping_sub(b.fwmark) as i32;
    if r != 0 {
        return r;
    }
    let r = i32::from(a.af) - i32::from(b.af);
    if r != 0 {
        return r;
    }
    let r = i32::from(a.protocol) - i32::from(b.protocol);
    if r != 0 {
        return r;
    }
    let r = addr_cmp(a.af, &a.addr, &b.addr);
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// `ipvs_cmp_dests`.
pub fn cmp_dests(a: &Dest, b: &Dest) -> i32 {
    let r = addr_cmp(a.af, &a.addr, &b.addr);
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// Services in ipvsadm's listing order.
pub fn sort_services(services: &mut [Service]) {
    glibc_msort(services, &cmp_services);
}

/// Destinations in ipvsadm's listing order.
pub fn sort_dests(dests: &mut [Dest]) {
    glibc_msort(dests, &cmp_dests);
}

/// `list_timeout`.
pub fn timeouts(t: &Timeouts) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp.unwrap_or(0) as i32,
        t.tcp_fin.unwrap_or(0) as i32,
        t.udp.unwrap_or(0) as i32
    )
}

fn group_text(g: &McastGroup) -> Option<String> {
    match g {
        McastGroup::Default => None,
        McastGroup::V4(a) => Some(std::net::Ipv4Addr::from(*a).to_string()),
        McastGroup::V6(a) => Some(names::inet_ntop6(&std::net::Ipv6Addr::from(*a))),
    }
}

fn daemon_role(state: u32) -> Option<&'static str> {
    if state & daemon_state::MASTER != 0 {
        Some("master")
    } else if state & daemon_state::BACKUP != 0 {
        Some("backup")
    } else {
        None
    }
}

/// `list_daemon`: the first two daemons of the dump, in dump order.
pub fn daemons(list: &[Daemon]) -> String {
    let mut out = String::new();
    for d in list.iter().take(2) {
        let Some(role) = daemon_role(d.state) else {
            continue;
        };
        let ifn = d.mcast_ifn.as_str().unwrap_or("");
        let _ = write!(
            out,
            "{role} sync daemon (mcast={ifn}, syncid={}",
            d.syncid as i32
        );
        if d.sync_maxlen != 0 {
            let _ = write!(out, ", maxlen={}", d.sync_maxlen);
        }
        if let Some(g) = group_text(&d.mcast_group) {
            let _ = write!(out, ", group={g}");
        }
        if d.mcast_port != 0 {
            let _ = write!(out, ", port={}", d.mcast_port);
        }
        if d.mcast_ttl != 0 {
            let _ = write!(out, ", ttl={}", d.mcast_ttl);
        }
        out.push_str(")\n");
    }
    out
}

/// One connection of `/proc/net/ip_vs_conn`, read as ipvsadm's `sscanf` reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conn {
    /// Protocol name as the kernel wrote it.
    pub protocol: String,
    /// Client, virtual and destination address families and addresses.
    pub caddr: (u16, [u8; 16]),
    /// Client port.
    pub cport: u16,
    /// Virtual address.
    pub vaddr: (u16, [u8; 16]),
    /// Virtual port.
    pub vport: u16,
    /// Destination address.
    pub daddr: (u16, [u8; 16]),
    /// Destination port.
    pub dport: u16,
    /// State name.
    pub state: String,
    /// Seconds left.
    pub expires: u32,
    /// Persistence engine name and data, when the line has them.
    pub pe: Option<(String, String)>,
}

fn hex_u16(t: &str) -> Option<u16> {
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let digits: String = t.chars().take_while(char::is_ascii_hexdigit).collect();
    if digits.is_empty() {
        return None;
    }
    // %hX keeps the low 16 bits of what it reads.
    u64::from_str_radix(&digits, 16)
        .ok()
        .map(|v| v as u16)
        .or(Some(u16::MAX))
}

/// An address column: IPv6 text, dotted IPv4, or the hex IPv4 ip_vs writes.
fn conn_addr(t: &str) -> (u16, [u8; 16]) {
    if let Some(v6) = names::inet_pton6(t) {
        (AF_INET6, v6.octets())
    } else if let Some(v4) = names::inet_pton4(t) {
        (AF_INET, names::v4_bytes(v4))
    } else {
        let digits: String = t.chars().take_while(char::is_ascii_hexdigit).collect();
        let v = u64::from_str_radix(&digits, 16).unwrap_or(0) as u32;
        (AF_INET, names::v4_bytes(std::net::Ipv4Addr::from(v)))
    }
}

/// Parses one line of the connection file; `None` for a line ipvsadm could not use.
pub fn parse_conn(line: &str) -> Option<Conn> {
    let t: Vec<&str> = line.split_whitespace().collect();
    if t.len() < 9 {
        return None;
    }
    let caddr = conn_addr(t[1]);
    // ipvsadm takes the virtual address in the client's family.
    let vaddr = if caddr.0 == AF_INET6 {
        (
            AF_INET6,
            names::inet_pton6(t[3])
                .map(|a| a.octets())
                .unwrap_or([0; 16]),
        )
    } else {
        conn_addr(t[3])
    };
    Some(Conn {
        protocol: t[0].to_string(),
        caddr,
        cport: hex_u16(t[2])?,
        vaddr,
        vport: hex_u16(t[4])?,
        daddr: conn_addr(t[5]),
        dport: hex_u16(t[6])?,
        state: t[7].to_string(),
        expires: names::atoi(t[8]) as u32,
        pe: match (t.get(9), t.get(10)) {
            (Some(n), Some(d)) => Some((n.to_string(), d.to_string())),
            _ => None,
        },
    })
}

/// The header of `-L -c`.
pub fn conn_title(f: &Format) -> String {
    if f.persistent_conn {
        format!(
            "IPVS connection entries\npro expire {:<11} {:<18} {:<18} {:<18} {:<16} {}\n",
            "state", "source", "virtual", "destination", "pe name", "pe_data"
        )
    } else {
        format!(
            "IPVS connection entries\npro expire {:<11} {:<18} {:<18} {}\n",
            "state", "source", "virtual", "destination"
        )
    }
}

fn conn_proto(name: &str) -> u16 {
    match name {
        "TCP" => IPPROTO_TCP,
        "UDP" => IPPROTO_UDP,
        "SCTP" => IPPROTO_SCTP,
        _ => 0,
    }
}

/// ipvsadm's `print_conn` for one parsed connection.
pub fn conn_line(c: &Conn, f: &Format, names: &dyn Names) -> String {
    let proto = conn_proto(&c.protocol);
    let name = |(af, addr): (u16, [u8; 16]), port| {
        names::addrport(af, &addr, port, proto, f.numeric, names)
    };
    let (cname, vname, dname) = (
        name(c.caddr, c.cport),
        name(c.vaddr, c.vport),
        name(c.daddr, c.dport),
    );
    let expire = format!("{:02}:{:02}", c.expires / 60, c.expires % 60);
    match (&c.pe, f.persistent_conn) {
        (Some((pe_name, pe_data)), true) => format!(
            "{:<3} {expire:<6} {:<11} {cname:<18} {vname:<18} {dname:<16} {pe_name:<18} {pe_data}\n",
            c.protocol, c.state
        ),
        _ => format!(
            "{:<3} {expire:<6} {:<11} {cname:<18} {vname:<18} {dname}\n",
            c.protocol, c.state
        ),
    }
}

fn stats_json(s: &Stats) -> Value {
    json!({
        "conns": s.conns, "inpkts": s.inpkts, "outpkts": s.outpkts,
        "inbytes": s.inbytes, "outbytes": s.outbytes,
        "cps": s.cps, "inpps": s.inpps, "outpps": s.outpps,
        "inbps": s.inbps, "outbps": s.outbps,
    })
}

fn af_name(af: u16) -> &'static str {
    if af == AF_INET6 {
        "inet6"
    } else {
        "inet"
    }
}

fn fwd_json(method: u32) -> &'static str {
    match method & conn_flag::FWD_MASK {
        conn_flag::MASQ => "masq",
        conn_flag::LOCALNODE => "local",
        conn_flag::TUNNEL => "tunnel",
        conn_flag::DROUTE => "route",
        _ => "unknown",
    }
}

/// A destination as JSON.
pub fn dest_json(d: &Dest) -> Value {
    let tun_flags = ["nocsum", "csum", "remcsum"][tun_flag_index(d.tun_flags)];
    let tunnel = (d.fwd_method & conn_flag::FWD_MASK == conn_flag::TUNNEL).then(|| {
        json!({
            "type": TUN_NAMES.get(usize::from(d.tun_type)).copied().unwrap_or("unknown"),
            "port": d.tun_port,
            "flags": tun_flags,
        })
    });
    json!({
        "family": af_name(d.af),
        "address": names::ntop(d.af, &d.addr),
        "port": d.port,
        "forward": fwd_json(d.fwd_method),
        "weight": d.weight,
        "u_threshold": d.u_threshold,
        "l_threshold": d.l_threshold,
        "active_conns": d.active_conns,
        "inact_conns": d.inact_conns,
        "persist_conns": d.persist_conns,
        "tunnel": tunnel,
        "stats": stats_json(&d.stats64.or(d.stats).unwrap_or_default()),
    })
}

/// A service and its destinations as JSON.
pub fn service_json(svc: &Service, dests: &[Dest]) -> Value {
    let flags = svc.flags.flags;
    let mut v = json!({
        "family": af_name(svc.af),
        "scheduler": svc.sched_name.as_str().unwrap_or(""),
        "sched_flags": sched_flags(svc).split(',').filter(|s| !s.is_empty()).collect::<Vec<_>>(),
        "persistent": flags & svc_flag::PERSISTENT != 0,
        "timeout": svc.timeout,
        "one_packet": flags & svc_flag::ONEPACKET != 0,
        "pe": svc.pe_name.as_ref().and_then(|p| p.as_str()),
        "flags": flags,
        "stats": stats_json(&service_stats(svc)),
        "destinations": dests.iter().map(dest_json).collect::<Vec<_>>(),
    });
    if svc.fwmark != 0 {
        v["fwmark"] = json!(svc.fwmark);
    } else {
        v["protocol"] = json!(protocol_name(svc.protocol).to_lowercase());
        v["address"] = json!(names::ntop(svc.af, &svc.addr));
        v["port"] = json!(svc.port);
    }
    v["netmask"] = if svc.af == AF_INET6 {
        json!(svc.netmask)
    } else {
        json!(mask_text(svc.netmask))
    };
    v
}

/// `-L --json`: the version header's facts and every service.
pub fn list_json(info: Option<&Info>, entries: &[(Service, Vec<Dest>)]) -> Value {
    let mut v = json!({
        "services": entries.iter().map(|(s, d)| service_json(s, d)).collect::<Vec<_>>(),
    });
    if let Some(info) = info {
        let ver = info.version;
        v["version"] = json!(format!(
            "{}.{}.{}",
            (ver >> 16) & 0xff,
            (ver >> 8) & 0xff,
            ver & 0xff
        ));
        v["conn_tab_size"] = json!(info.conn_tab_size);
    }
    v
}

/// `-L --timeout --json`.
pub fn timeouts_json(t: &Timeouts) -> Value {
    json!({
        "tcp": t.tcp.unwrap_or(0),
        "tcpfin": t.tcp_fin.unwrap_or(0),
        "udp": t.udp.unwrap_or(0),
    })
}

/// `-L --daemon --json`.
pub fn daemons_json(list: &[Daemon]) -> Value {
    let items: Vec<Value> = list
        .iter()
        .filter_map(|d| {
            Some(json!({
                "role": daemon_role(d.state)?,
                "mcast_interface": d.mcast_ifn.as_str().unwrap_or(""),
                "syncid": d.syncid,
                "sync_maxlen": d.sync_maxlen,
                "mcast_group": group_text(&d.mcast_group),
                "mcast_port": d.mcast_port,
                "mcast_ttl": d.mcast_ttl,
            }))
        })
        .collect();
    json!({ "daemons": items })
}

/// `-L -c --json`.
pub fn conns_json(conns: &[Conn]) -> Value {
    let endpoint = |(af, addr): (u16, [u8; 16]), port: u16| json!({ "address": names::ntop(af, &addr), "port": port });
    let items: Vec<Value> = conns
        .iter()
        .map(|c| {
            json!({
                "protocol": c.protocol.to_lowercase(),
                "state": c.state,
                "expires": c.expires,
                "client": endpoint(c.caddr, c.cport),
                "virtual": endpoint(c.vaddr, c.vport),
                "destination": endpoint(c.daddr, c.dport),
                "pe_name": c.pe.as_ref().map(|p| p.0.clone()),
                "pe_data": c.pe.as_ref().map(|p| p.1.clone()),
            })
        })
        .collect();
    json!({ "connections": items })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::tests::FixedNames;
    use rvs_core::abi::{cmd, cmd_attr, tunnel_flag};
    use rvs_core::netlink::msg::GenlWriter;
    use rvs_core::netlink::{GenlMsgHdr, NlMsgHdr, ServiceFlags};

    fn v4(a: [u8; 4]) -> [u8; 16] {
        names::v4_bytes(std::net::Ipv4Addr::from(a))
    }

    fn v6(text: &str) -> [u8; 16] {
        text.parse::<std::net::Ipv6Addr>().unwrap().octets()
    }

    fn sched(name: &str) -> rvs_core::netlink::ipvs::SchedName {
        rvs_core::netlink::Name::new(name.as_bytes()).unwrap()
    }

    fn stats(base: u64) -> Stats {
        Stats {
            conns: base,
            inpkts: base * 7,
            outpkts: base * 5,
            inbytes: base * 1000,
            outbytes: base * 123_456,
            cps: base / 3,
            inpps: base / 2,
            outpps: base / 4,
            inbps: base * 11,
            outbps: base * 13,
        }
    }

    fn svc(af: u16, proto: u16, addr: [u8; 16], port: u16, s: &str, flags: u32) -> Service {
        Service {
            af,
            protocol: proto,
            addr,
            port,
            sched_name: sched(s),
            flags: ServiceFlags::all(flags | svc_flag::HASHED),
            netmask: if af == AF_INET6 { 128 } else { u32::MAX },
            stats: Some(stats(12).to_user()),
            stats64: Some(stats(12)),
            ..Service::default()
        }
    }

    fn dest(af: u16, addr: [u8; 16], port: u16, fwd: u32, weight: i32) -> Dest {
        Dest {
            af,
            addr,
            port,
            fwd_method: fwd,
            weight,
            stats: Some(stats(3).to_user()),
            stats64: Some(stats(3)),
            ..Dest::default()
        }
    }

    /// A kernel's tables in dump (hash) order, covering every kind of service, destination and
    /// flag ipvsadm prints, and numbers in every `print_largenum` range.
    fn scenario() -> Vec<(Service, Vec<Dest>)> {
        let mut web = svc(
            AF_INET,
            IPPROTO_TCP,
            v4([207, 175, 44, 110]),
            8080,
            "rr",
            svc_flag::PERSISTENT,
        );
        web.timeout = 360;
        web.netmask = u32::from_ne_bytes([255, 255, 255, 0]);
        web.stats64 = Some(Stats {
            conns: 99_999_999,
            inpkts: 123_456_789,
            outpkts: 12_345_678_901,
            inbytes: 98_765_432_109_876,
            outbytes: 123_456_789_012_345_678,
            ..stats(1)
        });
        let mut rs2 = dest(AF_INET, v4([172, 16, 0, 2]), 8080, conn_flag::MASQ, 1);
        (rs2.u_threshold, rs2.l_threshold) = (100, 50);
        (rs2.active_conns, rs2.inact_conns, rs2.persist_conns) = (3, 9, 4);
        rs2.stats64 = Some(Stats {
            conns: (1 << 32) + 5,
            inbytes: 5_000_000_000,
            ..stats(4)
        });
        let mut rs3 = dest(AF_INET, v4([172, 16, 0, 3]), 8080, conn_flag::MASQ, 0);
        (rs3.active_conns, rs3.inact_conns) = (2, 7);

        let dns = svc(
            AF_INET,
            IPPROTO_UDP,
            v4([10, 0, 0, 5]),
            53,
            "sh",
            svc_flag::SCHED_SH_FALLBACK | svc_flag::SCHED_SH_PORT | svc_flag::ONEPACKET,
        );
        let mut fwm = svc(AF_INET, IPPROTO_TCP, [0; 16], 0, "wlc", 0);
        fwm.fwmark = 1;
        let mut gue = dest(AF_INET, v4([192, 168, 10, 1]), 0, conn_flag::TUNNEL, 1);
        (gue.tun_type, gue.tun_port, gue.tun_flags) = (tunnel_type::GUE, 6080, tunnel_flag::NOCSUM);
        let mut gre = dest(AF_INET, v4([192, 168, 10, 2]), 0, conn_flag::TUNNEL, 2);
        (gre.tun_type, gre.tun_flags) = (tunnel_type::GRE, tunnel_flag::CSUM);
        let ipip = dest(AF_INET, v4([192, 168, 10, 3]), 0, conn_flag::TUNNEL, 3);
        let mut remcsum = dest(AF_INET, v4([192, 168, 10, 4]), 0, conn_flag::TUNNEL, 4);
        (remcsum.tun_type, remcsum.tun_port, remcsum.tun_flags) =
            (tunnel_type::GUE, 7000, tunnel_flag::REMCSUM);

        let mut six = svc(
            AF_INET6,
            IPPROTO_TCP,
            v6("2001:db8::80"),
            80,
            "rr",
            svc_flag::PERSISTENT,
        );
        six.timeout = 100;
        six.netmask = 64;
        six.pe_name = Some(rvs_core::netlink::Name::new(b"sip").unwrap());
        let mut fwm6 = svc(
            AF_INET6,
            IPPROTO_TCP,
            [0; 16],
            0,
            "mh",
            svc_flag::SCHED_MH_FALLBACK,
        );
        fwm6.fwmark = 2;
        let sctp = svc(
            AF_INET,
            IPPROTO_SCTP,
            v4([10, 0, 0, 9]),
            3868,
            "wrr",
            svc_flag::SCHED1 | svc_flag::SCHED3,
        );
        // 192.168.x and 10.x are more than 2^31 apart: ipvsadm's subtraction wraps.
        let tls = svc(AF_INET, IPPROTO_TCP, v4([192, 168, 1, 1]), 443, "lc", 0);
        let plain = svc(AF_INET, IPPROTO_TCP, v4([10, 0, 0, 1]), 80, "wlc", 0);
        vec![
            (
                sctp,
                vec![dest(AF_INET, v4([10, 2, 0, 1]), 3868, conn_flag::DROUTE, 1)],
            ),
            (web, vec![rs3, rs2]),
            (
                fwm6,
                vec![dest(AF_INET6, v6("2001:db8::7"), 0, conn_flag::DROUTE, 1)],
            ),
            (
                dns,
                vec![dest(AF_INET, v4([10, 1, 0, 1]), 53, conn_flag::DROUTE, 1)],
            ),
            (fwm, vec![remcsum, ipip, gre, gue]),
            (
                six,
                vec![
                    dest(AF_INET6, v6("2001:db8::a0a0"), 80, conn_flag::MASQ, 1),
                    dest(
                        AF_INET6,
                        v6("2001:db8::1:0:0:0:9"),
                        8080,
                        conn_flag::MASQ,
                        65535,
                    ),
                ],
            ),
            (
                tls,
                vec![
                    dest(AF_INET, v4([200, 0, 0, 1]), 443, conn_flag::LOCALNODE, 1),
                    dest(AF_INET, v4([10, 0, 0, 1]), 443, conn_flag::DROUTE, 1),
                    dest(AF_INET, v4([100, 0, 0, 1]), 443, conn_flag::DROUTE, 1),
                ],
            ),
            (
                plain,
                vec![dest(AF_INET6, v6("2001:db8::9"), 80, conn_flag::TUNNEL, 1)],
            ),
        ]
    }

    fn daemons_scenario() -> Vec<Daemon> {
        vec![
            Daemon {
                state: daemon_state::MASTER,
                mcast_ifn: rvs_core::netlink::Name::new(b"eth0").unwrap(),
                syncid: 0,
                sync_maxlen: 1472,
                mcast_group: McastGroup::V4([224, 0, 0, 81]),
                mcast_port: 8848,
                mcast_ttl: 1,
            },
            Daemon {
                state: daemon_state::BACKUP,
                mcast_ifn: rvs_core::netlink::Name::new(b"eth1").unwrap(),
                syncid: 5,
                sync_maxlen: 1400,
                mcast_group: McastGroup::V6(v6("ff02::81")),
                mcast_port: 9000,
                mcast_ttl: 3,
            },
        ]
    }

    const INFO: Info = Info {
        version: 0x0001_0201,
        conn_tab_size: 4096,
    };

    /// One reply message of `command` as the kernel frames it.
    fn message<F>(command: u8, fill: F) -> String
    where
        F: FnOnce(&mut rvs_core::netlink::AttrWriter<'_>) -> Result<(), rvs_core::netlink::Error>,
    {
        let mut buf = [0u8; 2048];
        let header = NlMsgHdr {
            kind: 42,
            flags: 2,
            ..NlMsgHdr::default()
        };
        let genl = GenlMsgHdr {
            cmd: command,
            version: 1,
            reserved: 0,
        };
        let mut w = GenlWriter::new(&mut buf, header, genl).unwrap();
        fill(w.attrs()).unwrap();
        let len = w.finish().unwrap();
        buf[..len].iter().map(|b| format!("{b:02x}")).collect()
    }

    fn service_msg(s: &Service) -> String {
        message(cmd::NEW_SERVICE, |w| s.encode(w, cmd_attr::SERVICE))
    }

    fn dests_msgs(dests: &[Dest]) -> String {
        dests
            .iter()
            .map(|d| message(cmd::NEW_DEST, |w| d.encode_reply(w, cmd_attr::DEST)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The kernel's answers, one line per request, for `ipvsadm -L`/`-S` over [`scenario`].
    fn list_replies(sort: bool) -> String {
        let entries = scenario();
        let mut lines = vec![message(cmd::SET_INFO, |w| INFO.encode(w))];
        lines.push(
            entries
                .iter()
                .map(|(s, _)| service_msg(s))
                .collect::<Vec<_>>()
                .join(" "),
        );
        // ipvsadm sorts the services, then asks for each one's destinations in that order.
        let mut order: Vec<usize> = (0..entries.len()).collect();
        if sort {
            glibc_msort(&mut order, &|a, b| {
                cmp_services(&entries[*a].0, &entries[*b].0)
            });
        }
        for i in order {
            lines.push(dests_msgs(&entries[i].1));
        }
        lines.join("\n") + "\n"
    }

    /// Writes the stub's reply files (`cargo test -- --ignored write_stub_replies`), from which
    /// `tests/fixtures/list/*.out` were captured with Debian's ipvsadm 1.31.
    #[test]
    #[ignore]
    fn write_stub_replies() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/list");
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(format!("{dir}/replies-all.txt"), list_replies(true)).unwrap();
        std::fs::write(format!("{dir}/replies-nosort.txt"), list_replies(false)).unwrap();
        let (web, web_dests) = &scenario()[1];
        let one = [
            message(cmd::SET_INFO, |w| INFO.encode(w)),
            service_msg(web),
            dests_msgs(web_dests),
        ];
        std::fs::write(format!("{dir}/replies-one.txt"), one.join("\n") + "\n").unwrap();
        let timeouts = Timeouts {
            tcp: Some(900),
            tcp_fin: Some(120),
            udp: Some(300),
        };
        let t = [
            message(cmd::SET_INFO, |w| INFO.encode(w)),
            message(cmd::SET_CONFIG, |w| timeouts.encode(w)),
        ];
        std::fs::write(format!("{dir}/replies-timeout.txt"), t.join("\n") + "\n").unwrap();
        let d = [
            message(cmd::SET_INFO, |w| INFO.encode(w)),
            daemons_scenario()
                .iter()
                .map(|d| message(cmd::NEW_DAEMON, |w| d.encode_reply(w, cmd_attr::DAEMON)))
                .collect::<Vec<_>>()
                .join(" "),
        ];
        std::fs::write(format!("{dir}/replies-daemon.txt"), d.join("\n") + "\n").unwrap();
    }

    /// What rvsadm prints for `args` over the scenario, built as main.rs builds it.
    fn render(args: &str) -> String {
        let words: Vec<String> = args.split_whitespace().map(str::to_string).collect();
        let Ok(crate::cli::Parsed::Run(inv)) =
            crate::cli::parse("ipvsadm", &words, false, &FixedNames)
        else {
            panic!("{args}");
        };
        let mut f = inv.format;
        let mut out = String::new();
        if inv.command == crate::cli::Command::Save {
            f.rule = true;
        }
        if inv.has(crate::cli::optc::TIMEOUT) {
            return timeouts(&Timeouts {
                tcp: Some(900),
                tcp_fin: Some(120),
                udp: Some(300),
            });
        }
        if inv.has(crate::cli::optc::DAEMON) {
            return daemons(&daemons_scenario());
        }
        if inv.has(crate::cli::optc::SERVICE) {
            let (web, mut dests) = scenario()[1].clone();
            out.push_str(&title(&f));
            service_entry(&mut out, &web, &mut dests, &f, &FixedNames);
            return out;
        }
        if !f.rule {
            out.push_str(&header(&INFO));
        }
        let mut entries = scenario();
        if !f.nosort {
            glibc_msort(&mut entries, &|a, b| cmp_services(&a.0, &b.0));
        }
        out.push_str(&title(&f));
        for (s, mut d) in entries {
            service_entry(&mut out, &s, &mut d, &f, &FixedNames);
        }
        out
    }

    /// Every listing in `tests/fixtures/list/cases.txt` is byte-identical to what Debian's
    /// ipvsadm 1.31 printed for the same kernel answers.
    #[test]
    fn listings_match_ipvsadm() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/list");
        let cases = std::fs::read_to_string(format!("{dir}/cases.txt")).unwrap();
        let mut n = 0;
        for line in cases.lines().filter(|l| !l.is_empty()) {
            let (name, rest) = line.split_once('|').unwrap();
            let (_replies, args) = rest.split_once('|').unwrap();
            let want = std::fs::read_to_string(format!("{dir}/{name}.out")).unwrap();
            let got = render(args);
            assert_eq!(got, want, "ipvsadm {args}");
            println!("ok: ipvsadm {args} ({} lines)", want.lines().count());
            n += 1;
        }
        assert!(n >= 12);
    }

    /// `-S` then `-R`: every saved line parses back (as `-R` reads it) to the service or
    /// destination it was saved from, except what ipvsadm does not save (thresholds, statistics)
    /// or saves differently (a local-node destination comes back as direct routing).
    #[test]
    fn save_restore_round_trip() {
        let f = Format {
            numeric: true,
            rule: true,
            ..Format::default()
        };
        let mut saved = String::new();
        for (s, mut d) in scenario() {
            service_entry(&mut saved, &s, &mut d, &f, &FixedNames);
        }
        let mut services = Vec::new();
        let mut dests: Vec<(Service, Dest)> = Vec::new();
        for line in saved.lines() {
            let words = crate::cli::restore_words(line);
            let Ok(crate::cli::Parsed::Run(inv)) =
                crate::cli::parse("ipvsadm", &words, true, &FixedNames)
            else {
                panic!("{line} does not restore");
            };
            match inv.command {
                crate::cli::Command::AddService => services.push(inv.svc),
                crate::cli::Command::AddDest => dests.push((inv.svc, inv.dest)),
                other => panic!("{line}: {other:?}"),
            }
        }
        let entries = scenario();
        assert_eq!(services.len(), entries.len());
        for (got, (want, want_dests)) in services.iter().zip(&entries) {
            let same_id = |a: &Service, b: &Service| {
                (a.af, a.protocol, a.addr, a.port, a.fwmark)
                    == (b.af, b.protocol, b.addr, b.port, b.fwmark)
            };
            assert!(same_id(got, want), "{got:?}");
            assert_eq!(got.sched_name, want.sched_name);
            assert_eq!(got.flags.flags, want.flags.flags & !svc_flag::HASHED);
            assert_eq!((got.timeout, got.netmask), (want.timeout, want.netmask));
            assert_eq!(got.pe_name, want.pe_name);
            let restored: Vec<&Dest> = dests
                .iter()
                .filter(|(s, _)| same_id(s, want))
                .map(|(_, d)| d)
                .collect();
            assert_eq!(restored.len(), want_dests.len());
            for w in want_dests {
                let fwd = if w.fwd_method == conn_flag::LOCALNODE {
                    conn_flag::DROUTE
                } else {
                    w.fwd_method
                };
                assert!(
                    restored
                        .iter()
                        .any(|d| (d.af, d.addr, d.port, d.fwd_method, d.weight)
                            == (w.af, w.addr, w.port, fwd, w.weight)
                            && (d.tun_type, d.tun_port, d.tun_flags)
                                == (w.tun_type, w.tun_port, w.tun_flags)),
                    "{w:?} not restored"
                );
            }
            println!("ok: {} restored", service_name(want, &f, &FixedNames));
        }
    }

    #[test]
    fn largenum_ranges() {
        let cases = [
            (99_999_999, false, " 99999999"),
            (100_000_000, false, "  100000K"),
            (1_000_000_000, false, "     1000M"),
            (100_000_000_000, false, "   100G"),
            (100_000_000_000_000, false, "   100T"),
            (123_456_789_012, true, " 123456789012"),
            (5, true, "        5"),
        ];
        for (n, exact, want) in cases {
            let mut s = String::new();
            largenum(&mut s, n, exact);
            assert_eq!(s.trim_start(), want.trim_start(), "{n}");
            assert!(s.len() >= 9);
        }
    }

    #[test]
    fn connections_like_print_conn() {
        let f = Format {
            numeric: true,
            ..Format::default()
        };
        let c = parse_conn("TCP 0A000002 A8CA 0A000001 0050 AC100002 1F90 ESTABLISHED     899")
            .unwrap();
        assert_eq!(
            conn_line(&c, &f, &FixedNames),
            "TCP 14:59  ESTABLISHED 10.0.0.2:43210     10.0.0.1:80        172.16.0.2:8080\n"
        );
        let c = parse_conn(
            "UDP 2001:0db8:0000:0000:0000:0000:0000:0002 13C4 2001:0db8:0000:0000:0000:0000:0000:0001 13C4 2001:0db8:0000:0000:0000:0000:0000:0003 13C4 UDP             299 sip a84b@pc33",
        )
        .unwrap();
        let pf = Format {
            persistent_conn: true,
            ..f
        };
        assert_eq!(
            conn_line(&c, &pf, &FixedNames),
            "UDP 04:59  UDP         [2001:db8::2]:5060 [2001:db8::1]:5060 [2001:db8::3]:5060 sip                a84b@pc33\n"
        );
        assert_eq!(
            conn_title(&f),
            "IPVS connection entries\npro expire state       source             virtual            destination\n"
        );
        assert!(parse_conn("").is_none());
    }

    #[test]
    fn json_listings() {
        let entries = scenario();
        let v = list_json(Some(&INFO), &entries);
        assert_eq!(v["version"], "1.2.1");
        assert_eq!(v["services"][1]["netmask"], "255.255.255.0");
        assert_eq!(v["services"][4]["destinations"][0]["tunnel"]["type"], "gue");
        assert_eq!(v["services"][2]["fwmark"], 2);
        let d = daemons_json(&daemons_scenario());
        assert_eq!(d["daemons"][1]["mcast_group"], "ff02::81");
        assert_eq!(timeouts_json(&Timeouts::default())["udp"], 0);
        let c = conns_json(&[
            parse_conn("TCP 0A000002 A8CA 0A000001 0050 AC100002 1F90 NONE 1").unwrap(),
        ]);
        assert_eq!(c["connections"][0]["client"]["port"], 43210);
    }
}
