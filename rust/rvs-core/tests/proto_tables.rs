//! The protocol tables checked against IPVS itself: when the kernel source is at hand
//! (`RVS_KERNEL_SRC`, which `make test` always sets, else the cached build tree under
//! /var/lib/rvs/kernel), the transition,
//! timeout, name and activity tables are read out of `ip_vs_proto_tcp.c` and
//! `ip_vs_proto_sctp.c` and compared entry by entry with rvs-core's. Then property tests over
//! random packet sequences check the active/inactive accounting invariants.

use proptest::prelude::*;
use rvs_core::proto::sctp::{SctpData, SctpEvent, SctpState, SCTP_STATES};
use rvs_core::proto::tcp::{TcpData, TcpFlags, TcpState, TCP_STATES, TCP_STATES_DOS};
use rvs_core::proto::{new_conn_flags, Activity, Direction, CONN_F_INACTIVE, CONN_F_NOOUTPUT};
use std::collections::HashMap;
use std::path::PathBuf;

fn ipvs_dir() -> Option<PathBuf> {
    if let Ok(src) = std::env::var("RVS_KERNEL_SRC") {
        // Given explicitly (as `make test` does), the source must be there: no silent skip.
        let p = PathBuf::from(&src).join("net/netfilter/ipvs");
        assert!(p.is_dir(), "RVS_KERNEL_SRC={src} has no net/netfilter/ipvs");
        return Some(p);
    }
    let mut dirs: Vec<_> = std::fs::read_dir("/var/lib/rvs/kernel")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("net/netfilter/ipvs"))
        .filter(|p| p.join("ip_vs_proto_tcp.c").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// The text of `static ... NAME[...] = { ... };` in `src`.
fn block<'a>(src: &'a str, name: &str) -> &'a str {
    let start = src
        .find(&format!("{name}["))
        .unwrap_or_else(|| panic!("{name} not found"));
    let rest = &src[start..];
    let open = rest.find('{').unwrap();
    let end = rest.find("};").unwrap();
    &rest[open..end]
}

/// `#define sXX IP_VS_..._S_YYY` → "sXX" → "YYY".
fn defines(src: &str, prefix: &str) -> HashMap<String, String> {
    src.lines()
        .filter_map(|l| l.strip_prefix("#define s"))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let short = format!("s{}", it.next()?);
            let long = it.next()?.strip_prefix(prefix)?.to_string();
            Some((short, long))
        })
        .collect()
}

/// Rows of sXX tokens in a table block, in order, with comments stripped.
fn rows(block: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in block.lines() {
        let line = strip_comments(line);
        let toks: Vec<String> = line
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|t| t.starts_with('s') && t.len() == 3)
            .map(str::to_string)
            .collect();
        if !toks.is_empty() {
            out.push(toks);
        }
    }
    out
}

fn strip_comments(line: &str) -> String {
    let mut s = line.to_string();
    while let (Some(a), Some(b)) = (s.find("/*"), s.find("*/")) {
        if b < a {
            break;
        }
        s.replace_range(a..b + 2, " ");
    }
    s
}

/// `[IP_VS_X_S_NAME] = expr,` entries of a designated-initializer table.
fn entries(block: &str, prefix: &str) -> Vec<(String, String)> {
    block
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix('[')?;
            let (key, val) = l.split_once(']')?;
            let key = key.strip_prefix(prefix)?.to_string();
            let val = val
                .trim()
                .strip_prefix('=')?
                .trim()
                .trim_end_matches(',')
                .trim()
                .to_string();
            Some((key, val))
        })
        .collect()
}

/// Evaluates a timeout expression of the C tables in seconds (HZ = 1).
fn eval(expr: &str) -> u32 {
    let e = expr
        .replace("IP_VS_SCTP_MAX_RTO", "((60 + 1) * HZ)")
        .replace("HZ", "1");
    let toks: Vec<char> = e.chars().filter(|c| !c.is_whitespace()).collect();
    fn sum(t: &[char], i: &mut usize) -> u32 {
        let mut v = prod(t, i);
        while t.get(*i) == Some(&'+') {
            *i += 1;
            v += prod(t, i);
        }
        v
    }
    fn prod(t: &[char], i: &mut usize) -> u32 {
        let mut v = atom(t, i);
        while t.get(*i) == Some(&'*') {
            *i += 1;
            v *= atom(t, i);
        }
        v
    }
    fn atom(t: &[char], i: &mut usize) -> u32 {
        if t.get(*i) == Some(&'(') {
            *i += 1;
            let v = sum(t, i);
            *i += 1;
            return v;
        }
        let mut v = 0;
        while let Some(d) = t.get(*i).and_then(|c| c.to_digit(10)) {
            v = v * 10 + d;
            *i += 1;
        }
        v
    }
    let mut i = 0;
    sum(&toks, &mut i)
}

fn tcp_by_c_name(name: &str) -> TcpState {
    let i = [
        "NONE",
        "ESTABLISHED",
        "SYN_SENT",
        "SYN_RECV",
        "FIN_WAIT",
        "TIME_WAIT",
        "CLOSE",
        "CLOSE_WAIT",
        "LAST_ACK",
        "LISTEN",
        "SYNACK",
    ]
    .iter()
    .position(|n| *n == name)
    .unwrap_or_else(|| panic!("unknown TCP state {name}"));
    TcpState::ALL[i]
}

fn sctp_by_c_name(name: &str) -> SctpState {
    let i = [
        "NONE",
        "INIT1",
        "INIT",
        "COOKIE_SENT",
        "COOKIE_REPLIED",
        "COOKIE_WAIT",
        "COOKIE",
        "COOKIE_ECHOED",
        "ESTABLISHED",
        "SHUTDOWN_SENT",
        "SHUTDOWN_RECEIVED",
        "SHUTDOWN_ACK_SENT",
        "REJECTED",
        "CLOSED",
    ]
    .iter()
    .position(|n| *n == name)
    .unwrap_or_else(|| panic!("unknown SCTP state {name}"));
    SctpState::ALL[i]
}

#[test]
fn tcp_tables_match_ip_vs_proto_tcp_c() {
    let Some(dir) = ipvs_dir() else {
        println!("skipped: no kernel source (set RVS_KERNEL_SRC)");
        return;
    };
    let src = std::fs::read_to_string(dir.join("ip_vs_proto_tcp.c")).unwrap();
    let defs = defines(&src, "IP_VS_TCP_S_");
    for (name, ours) in [
        ("tcp_states", &TCP_STATES),
        ("tcp_states_dos", &TCP_STATES_DOS),
    ] {
        let rows = rows(block(&src, &format!("static struct tcp_states_t {name}")));
        // The column-header comments are stripped, so the rows are exactly the 12 table rows.
        assert_eq!(rows.len(), 12, "{name}");
        for (r, row) in rows.iter().enumerate() {
            assert_eq!(row.len(), 11, "{name} row {r}");
            for (c, tok) in row.iter().enumerate() {
                let want = tcp_by_c_name(&defs[tok]);
                assert_eq!(ours[r][c], want, "{name}[{r}][{c}]");
            }
        }
        println!("{name}: 12x11 entries equal to {}", dir.display());
    }
    let timeouts = entries(block(&src, "static const int tcp_timeouts"), "IP_VS_TCP_S_");
    let names = entries(
        block(&src, "static const char *const tcp_state_name_table"),
        "IP_VS_TCP_S_",
    );
    let active = entries(
        block(&src, "static const bool tcp_state_active_table"),
        "IP_VS_TCP_S_",
    );
    let data = TcpData::new();
    let mut checked = 0;
    for (state, expr) in timeouts.iter().filter(|(k, _)| k != "LAST") {
        let s = tcp_by_c_name(state);
        assert_eq!(data.timeout(s), eval(expr), "timeout {state}");
        let name = &names.iter().find(|(k, _)| k == state).unwrap().1;
        assert_eq!(format!("\"{}\"", s.name()), *name);
        let act = &active.iter().find(|(k, _)| k == state).unwrap().1;
        assert_eq!(s.is_active().to_string(), *act, "active {state}");
        checked += 1;
    }
    assert_eq!(checked, 11);
}

#[test]
fn sctp_tables_match_ip_vs_proto_sctp_c() {
    let Some(dir) = ipvs_dir() else {
        println!("skipped: no kernel source (set RVS_KERNEL_SRC)");
        return;
    };
    let src = std::fs::read_to_string(dir.join("ip_vs_proto_sctp.c")).unwrap();
    let defs = defines(&src, "IP_VS_SCTP_S_");
    let rows = rows(block(&src, "static const __u8 sctp_states\n\t"));
    assert_eq!(rows.len(), 30);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 14);
        for (c, tok) in row.iter().enumerate() {
            let want = sctp_by_c_name(&defs[tok]);
            assert_eq!(
                SCTP_STATES[i / 10][i % 10][c],
                want,
                "sctp_states[{}][{}][{c}]",
                i / 10,
                i % 10
            );
        }
    }
    println!("sctp_states: 3x10x14 entries equal to {}", dir.display());
    let timeouts = entries(
        block(&src, "static const int sctp_timeouts"),
        "IP_VS_SCTP_S_",
    );
    let names = entries(
        block(&src, "static const char *sctp_state_name_table"),
        "IP_VS_SCTP_S_",
    );
    let data = SctpData::new();
    let mut checked = 0;
    for (state, expr) in timeouts.iter().filter(|(k, _)| k != "LAST") {
        let s = sctp_by_c_name(state);
        assert_eq!(data.timeout(s), eval(expr), "timeout {state}");
        let name = &names.iter().find(|(k, _)| k == state).unwrap().1;
        assert_eq!(format!("\"{}\"", s.name()), *name);
        checked += 1;
    }
    assert_eq!(checked, 14);
    // sctp_events[]: every listed chunk type maps to the event IPVS gives it.
    let events = entries(block(&src, "static __u8 sctp_events"), "SCTP_CID_");
    let cid = |n: &str| match n {
        "DATA" => 0,
        "INIT" => 1,
        "INIT_ACK" => 2,
        "SACK" => 3,
        "HEARTBEAT" => 4,
        "HEARTBEAT_ACK" => 5,
        "ABORT" => 6,
        "SHUTDOWN" => 7,
        "SHUTDOWN_ACK" => 8,
        "ERROR" => 9,
        "COOKIE_ECHO" => 10,
        "COOKIE_ACK" => 11,
        "ECN_ECNE" => 12,
        "ECN_CWR" => 13,
        "SHUTDOWN_COMPLETE" => 14,
        other => panic!("chunk {other}"),
    };
    assert_eq!(events.len(), 15);
    for (chunk, ev) in events {
        let want = format!("ipvssctp{:?}", SctpEvent::from_chunk_type(cid(&chunk))).to_lowercase();
        assert_eq!(ev.replace('_', "").to_lowercase(), want, "chunk {chunk}");
    }
}

fn tcp_flags() -> impl Strategy<Value = TcpFlags> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>())
        .prop_map(|(syn, fin, rst, ack)| TcpFlags { syn, fin, rst, ack })
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![Just(Direction::Input), Just(Direction::Output)]
}

proptest! {
    #[test]
    fn tcp_accounting_follows_the_state(
        fwd in prop_oneof![Just(0u32), Just(2), Just(3)],
        secure in any::<bool>(),
        seq in proptest::collection::vec((direction(), tcp_flags()), 1..40),
    ) {
        let mut data = TcpData::new();
        data.timeout_change(secure);
        let mut state = TcpState::None;
        let mut flags = new_conn_flags(fwd);
        let mut active = 0i32;
        let mut changed = false;
        for (dir, th) in seq {
            let t = data.transition(state, flags, true, dir, th);
            active += match t.activity {
                Activity::Activated => 1,
                Activity::Deactivated => -1,
                Activity::Unchanged => 0,
            };
            prop_assert!(active == 0 || active == 1);
            prop_assert_eq!(active == 1, t.flags & CONN_F_INACTIVE == 0);
            prop_assert_eq!(t.timeout_secs, data.timeout(t.state));
            // NOOUTPUT only ever clears, and only on output.
            if flags & CONN_F_NOOUTPUT != 0 && t.flags & CONN_F_NOOUTPUT == 0 {
                prop_assert_eq!(dir, Direction::Output);
            }
            prop_assert!(t.flags & CONN_F_NOOUTPUT <= flags & CONN_F_NOOUTPUT);
            changed |= t.state != state;
            if changed {
                prop_assert_eq!(t.state.is_active(), active == 1);
            }
            state = t.state;
            flags = t.flags;
        }
    }

    #[test]
    fn sctp_accounting_follows_the_state(
        fwd in prop_oneof![Just(0u32), Just(3)],
        seq in proptest::collection::vec((direction(), 0u8..20), 1..40),
    ) {
        let data = SctpData::new();
        let mut state = SctpState::None;
        let mut flags = new_conn_flags(fwd);
        let mut active = 0i32;
        let mut changed = false;
        for (dir, chunk) in seq {
            let t = data.transition(state, flags, true, dir, SctpEvent::from_chunk_type(chunk));
            active += match t.activity {
                Activity::Activated => 1,
                Activity::Deactivated => -1,
                Activity::Unchanged => 0,
            };
            prop_assert_eq!(active == 1, t.flags & CONN_F_INACTIVE == 0);
            changed |= t.state != state;
            if changed {
                prop_assert_eq!(t.state == SctpState::Established, active == 1);
            }
            state = t.state;
            flags = t.flags;
        }
    }
}
