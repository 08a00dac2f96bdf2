//! The FTP application helper for NAT services (ip_vs_ftp.c, with ip_vs_app.c's TCP part).
//!
//! With the `ftp_ports` module parameter (ip_vs_ftp's `ports`, e.g. `ftp_ports=21`), every NAT
//! connection whose virtual port is one of them is an FTP control connection
//! ([`crate::conn::Conn::app`]); it keeps conntrack (`IP_VS_CONN_F_NFCT`), and its packets are
//! read once it is ESTABLISHED:
//!
//! - from the client ([`pkt_in`], before the destination is rewritten): `PASV`/`EPSV` make the
//!   next `227`/`229` reply expected; `PORT`/`EPRT` give the client's address and port, and a
//!   connection entry is made for the real server's data connection from port 20 (vport - 1)
//!   back to the client, so its packets leave from the virtual address;
//! - from the real server ([`pkt_out`], before the source is rewritten): the `227`/`229` reply
//!   to a passive command names the real server's address and port; an entry for the client's
//!   data connection to the virtual address and that port is made, its client port unknown
//!   (`IP_VS_CONN_F_NO_CPORT`, filled by the first packet: [`fill_cport`]), and the reply's text
//!   is replaced by the virtual address with conntrack's NAT mangling
//!   (`nf_nat_mangle_tcp_packet`), which also shifts the sequence numbers of the packets after it.
//!
//! Data connections are controlled by their control connection, which therefore outlives them
//! (`ip_vs_control_add`), and start in state LISTEN (`ip_vs_tcp_conn_listen`). A service whose
//! port is the FTP port (or one of `ftp_ports`) holds conntrack's hooks in its namespace while it
//! has NAT real servers (`ip_vs_register_conntrack`), so control connections have conntrack
//! entries to mangle with. As in ip_vs, a passive reply that cannot be mangled (no conntrack
//! entry, or memory) is dropped. ip_vs_app.c's own sequence shifting (`IP_VS_CONN_F_IN_SEQ` /
//! `OUT_SEQ`) is never used by the FTP helper, which always mangles through conntrack, so rvs
//! has none.

use core::sync::atomic::Ordering::Relaxed;

use crate::{
    conn::{self, Conn, TCP},
    hooks::Pkt,
    kapi::{
        conntab::{self, Ref},
        param,
        pernet::Net,
        rcu::{self, Guard},
        skb::Skb,
        HZ,
    },
    netns::Netns,
    nfct::inet_addr,
    rvs_core::{
        abi::{conn_flag, AF_INET, AF_INET6},
        packet::csum::transport_checksum_ok,
        proto::{
            ftp::{self, AddrPort, Passive},
            tcp::TcpState,
        },
    },
    xmit,
};

pub(crate) use crate::rvs_core::proto::ftp::ACTIVE;

/// `FTPPORT`: ip_vs takes conntrack's hooks for NAT services on this port even without its
/// FTP helper.
const FTPPORT: u16 = 21;

/// Whether `port` is one of the FTP helper's (`ftp_ports`).
pub(crate) fn is_ftp_port(port: u16) -> bool {
    port != 0 && param::ftp_ports().contains(&port)
}

/// Whether a NAT service of `protocol` on `port` holds conntrack's hooks
/// (`ip_vs_register_conntrack`): the FTP port, as in ip_vs (for any protocol), and the helper's
/// other TCP ports, which ip_vs forgets (its helper then drops passive replies unless something
/// else turned conntrack on).
pub(crate) fn needs_conntrack(protocol: u16, port: u16) -> bool {
    port == FTPPORT || (protocol == u16::from(TCP) && is_ftp_port(port))
}

/// The first `ftp_ports` entry given twice, if any: ip_vs_ftp fails to load then (`-EEXIST`).
pub(crate) fn duplicate_port() -> Option<u16> {
    let ports = param::ftp_ports();
    ports
        .iter()
        .enumerate()
        .find(|&(i, &p)| p != 0 && ports[..i].contains(&p))
        .map(|(_, &p)| p)
}

/// The checks before an application helper reads a packet: the whole packet linear and
/// writable (`skb_ensure_writable(skb, skb->len)`), and its TCP checksum right unless the
/// stack vouches for it (`tcp_csum_check`). False: drop it.
fn prepare(skb: &mut Skb, p: &Pkt) -> bool {
    let len = skb.len() as usize;
    if !skb.make_writable(len) {
        return false;
    }
    if !skb.csum_unverified() {
        return true;
    }
    let Some(seg) = skb.network().get(p.l4off..len) else {
        return false;
    };
    transport_checksum_ok(
        &xmit::addr_of(p.af, &p.saddr),
        &xmit::addr_of(p.af, &p.daddr),
        TCP,
        seg,
    )
}

/// The TCP payload (`ip_vs_ftp_data_ptr` to `skb_tail_pointer`) and its offset from the
/// transport header; `None` when there is none.
fn payload<'a>(skb: &'a Skb, p: &Pkt) -> Option<(usize, &'a [u8])> {
    let pkt = skb.network().get(..skb.len() as usize)?;
    let th = pkt.get(p.l4off..)?;
    let doff = usize::from(th.get(12)? >> 4) * 4;
    if doff < 20 {
        return None;
    }
    let data = th.get(doff..)?;
    (!data.is_empty()).then_some((doff, data))
}

/// `ip_vs_tcp_conn_listen`: an expected data connection waits in state LISTEN, with that
/// state's timeout.
fn listen(ns: &Netns, n: &Ref<Conn>, guard: &Guard) {
    let (state, secs) = ns.proto(guard).tcp.conn_listen();
    n.set_state_raw(state as u16);
    n.set_timeout(secs.saturating_mul(HZ));
}

/// `ip_vs_conn_new` + `ip_vs_control_add` for a data connection of control connection `c`:
/// bound to `c`'s real server (at address `daddr`, as the control connection's text named
/// it), kept in the table while `c` lives. `None` when it cannot be made.
#[allow(clippy::too_many_arguments)]
fn data_conn(
    ns: &Netns,
    c: &Conn,
    flags: u32,
    caddr: [u8; 16],
    cport: u16,
    vport: u16,
    daddr: [u8; 16],
    dport: u16,
    guard: &Guard,
) -> Option<Ref<Conn>> {
    let dest = c.dest.as_ref()?;
    // The control connection's own reference, found again by its key.
    let control = ns
        .conns()
        .lookup(&c.in_key(), guard)
        .filter(|r| core::ptr::eq::<Conn>(&**r, c));
    let mut n = Conn::bound(
        c.af,
        TCP,
        inet_addr(c.af, &caddr),
        cport,
        c.vaddr,
        vport,
        dport,
        flags | conn_flag::NFCT,
        dest,
        control,
    )
    // ip_vs takes the mark of the control connection's packet at hand: the same flow's.
    .with_fwmark(c.fwmark);
    n.daddr = inet_addr(c.daf, &daddr);
    let (state, secs) = ns.proto(guard).tcp.conn_listen();
    n.set_state_raw(state as u16);
    let keys = [n.in_key(), n.out_key()];
    // Counted before it can be found (and unlinked): its unlink, or the packet that gives it
    // its client port, uncounts it. An insertion that fails half way leaves the entry to expire
    // (and uncount itself); one that fails at once leaves the count one too high, which only
    // costs a second lookup of packets that match nothing.
    if flags & conn_flag::NO_CPORT != 0 {
        ns.no_cport().fetch_add(1, Relaxed);
    }
    ns.conns().insert(n, &keys, secs.saturating_mul(HZ)).ok()
}

/// `ip_vs_ftp_in`: a client's packet on an FTP control connection, on its way to the real
/// server (before the destination is rewritten). False: drop it.
pub(crate) fn pkt_in(ns: &Netns, skb: &mut Skb, c: &Conn, p: &Pkt) -> bool {
    if c.app().is_none() {
        return true;
    }
    if !prepare(skb, p) {
        return false;
    }
    if c.state() != TcpState::Established as u16 {
        return true;
    }
    let Some((_, data)) = payload(skb, p) else {
        return true;
    };
    match ftp::scan_passive(data, c.af) {
        Passive::Mode(m) => {
            c.set_app_state(m);
            return true;
        }
        Passive::Ignore => return true,
        Passive::None => {}
    }
    let port = if c.af == AF_INET {
        ftp::get_addrport(
            data,
            ftp::CLIENT_PORT,
            Some(b' '),
            false,
            ftp::ACTIVE,
            c.af,
            [0; 16],
        )
    } else {
        AddrPort::NoMatch
    };
    let found = match port {
        AddrPort::Found(f) => f,
        _ => match ftp::get_addrport(
            data,
            ftp::CLIENT_EPRT,
            Some(b' '),
            true,
            ftp::EPRT,
            c.af,
            [0; 16],
        ) {
            AddrPort::Found(f) => f,
            _ => return true,
        },
    };
    // Passive mode off.
    c.set_app_state(ftp::ACTIVE);
    let guard = rcu::read_lock();
    let vport = c.vport.wrapping_sub(1);
    let n = match conn_in_get(
        ns,
        c.af,
        TCP,
        &found.addr,
        found.port,
        &c.vaddr,
        vport,
        true,
        &guard,
    ) {
        Some(n) => n,
        None => {
            match data_conn(
                ns,
                c,
                0,
                found.addr,
                found.port,
                vport,
                c.daddr,
                c.dport.wrapping_sub(1),
                &guard,
            ) {
                Some(n) => n,
                None => return c.dest.is_none(),
            }
        }
    };
    listen(ns, &n, &guard);
    n.put();
    true
}

/// `ip_vs_ftp_out`: a real server's packet on an FTP control connection, on its way to the
/// client (before the source is rewritten). False: drop it.
pub(crate) fn pkt_out(ns: &Netns, skb: &mut Skb, c: &Conn, p: &Pkt) -> bool {
    let Some(mode) = c.app() else {
        return true;
    };
    if !prepare(skb, p) {
        return false;
    }
    if c.state() != TcpState::Established as u16 {
        return true;
    }
    if mode != ftp::PASV && mode != ftp::EPSV {
        return true;
    }
    let Some((_, data)) = payload(skb, p) else {
        return true;
    };
    let parsed = if mode == ftp::PASV {
        ftp::get_addrport(
            data,
            ftp::SERVER_PASV,
            Some(b'('),
            false,
            ftp::PASV,
            c.af,
            [0; 16],
        )
    } else {
        // The address is usually left out; a different one is allowed, so preset it.
        ftp::get_addrport(
            data,
            ftp::SERVER_EPSV,
            Some(b'('),
            true,
            ftp::EPSV,
            c.af,
            c.daddr,
        )
    };
    let AddrPort::Found(found) = parsed else {
        return true;
    };
    let guard = rcu::read_lock();
    let from = inet_addr(c.af, &found.addr);
    // An entry made for this reply already (a retransmission)?
    let key = conn::key(c.af, TCP, conntab::DIR_OUT, &from, found.port, &c.caddr, 0);
    let existing = ns
        .conns()
        .lookup(&key, &guard)
        .filter(|n| !n.is_invalid() && n.flags() & conn_flag::NO_CPORT != 0);
    let n = match existing {
        Some(n) => n,
        None => match data_conn(
            ns,
            c,
            conn_flag::NO_CPORT,
            c.caddr,
            0,
            found.port,
            from,
            found.port,
            &guard,
        ) {
            Some(n) => n,
            None => return c.dest.is_none(),
        },
    };
    // The virtual address and port replace the real server's.
    let rep = if mode == ftp::PASV {
        ftp::pasv_reply(&n.vaddr, n.vport)
    } else {
        ftp::epsv_reply(n.vport)
    };
    let mangled = skb.nat_mangle_tcp(
        p.l4off,
        found.start,
        found.end - found.start,
        rep.as_bytes(),
    ) == 1;
    if mangled {
        skb.ct_expect_related(
            &inet_addr(n.af, &n.caddr),
            &inet_addr(n.af, &n.vaddr),
            TCP,
            0,
            n.vport,
        );
    }
    // Not in passive mode any more, whatever happened to the reply (as ip_vs).
    c.set_app_state(ftp::ACTIVE);
    listen(ns, &n, &guard);
    n.put();
    mangled
}

/// `ip_vs_conn_in_get`: the connection a client's packet belongs to, looked up again with
/// client port 0 while connections wait for theirs; such a connection gets the packet's port
/// when `fill` (`ip_vs_conn_fill_cport`, see [`fill_cport`]: ip_vs fills it as the packet is
/// sent, rvs as it is found), else it is returned as it is.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conn_in_get(
    ns: &Netns,
    af: u16,
    protocol: u8,
    saddr: &[u8; 16],
    sport: u16,
    daddr: &[u8; 16],
    dport: u16,
    fill: bool,
    guard: &Guard,
) -> Option<Ref<Conn>> {
    let key = conn::key(af, protocol, conntab::DIR_IN, saddr, sport, daddr, dport);
    if let Some(c) = ns.conns().lookup(&key, guard) {
        return Some(c);
    }
    if sport == 0 || ns.no_cport().load(Relaxed) == 0 {
        return None;
    }
    let zero = conn::key(af, protocol, conntab::DIR_IN, saddr, 0, daddr, dport);
    let c = ns.conns().lookup(&zero, guard)?;
    if c.is_invalid() || c.flags() & conn_flag::NO_CPORT == 0 {
        return None;
    }
    if !fill {
        return Some(c);
    }
    fill_cport(ns, c, sport)
}

/// `ip_vs_conn_fill_cport`: the first packet of a passive data connection gives its client
/// port. ip_vs re-keys the entry in place; rvs's keys are fixed, so the entry hands over to a
/// copy with the port (same real server, state, controller and counters), which takes its place in
/// the table, and expires. Only the caller that clears `NO_CPORT` makes the copy.
fn fill_cport(ns: &Netns, old: Ref<Conn>, cport: u16) -> Option<Ref<Conn>> {
    if !old.claim_no_cport() {
        return None;
    }
    ns.no_cport().fetch_sub(1, Relaxed);
    // The copy has the port; the no-client-port lookups pass over the invalidated original.
    old.invalidate();
    let dest = old.dest.as_ref()?;
    let flags = old.flags() & !conn_flag::NO_CPORT;
    let mut n = Conn::bound(
        old.af,
        old.protocol,
        old.caddr,
        cport,
        old.vaddr,
        old.vport,
        old.dport,
        flags,
        dest,
        old.control.as_ref().map(|r| r.clone_ref()),
    )
    .with_fwmark(old.fwmark);
    n.daf = old.daf;
    n.daddr = old.daddr;
    n.set_state_raw(old.state());
    if let Some(a) = old.app() {
        n.set_app_state(a);
    }
    let keys = [n.in_key(), n.out_key()];
    let timeout = old.timeout();
    old.expire_now();
    drop(old);
    ns.conns().insert(n, &keys, timeout).ok()
}

/// rvs's `ip_vs_nfct_expect_callback` (called through [`crate::kapi::nfct`]): conntrack made an
/// entry of family `l3num` for a connection an FTP expectation of ours announced; its original
/// tuple is `s:sport -> d:dport`. For a real server's connection to the client (an "out" entry)
/// the reply goes to the virtual address and port instead (`Some((true, ..))`: change the reply's
/// destination); for the client's connection to the virtual service (an "in" entry) the reply
/// comes from the real server (`Some((false, ..))`: change its source). Only for NAT.
#[allow(clippy::too_many_arguments)]
pub(crate) fn expected(
    net: &Net,
    l3num: u16,
    protonum: u8,
    s: &[u8; 16],
    sport: u16,
    d: &[u8; 16],
    dport: u16,
) -> Option<(bool, [u8; 16], u16)> {
    let ns = Netns::of(net)?;
    let af = if l3num == AF_INET6 { AF_INET6 } else { AF_INET };
    let (s, d) = (inet_addr(af, s), inet_addr(af, d));
    let guard = rcu::read_lock();
    let out = conn::key(af, protonum, conntab::DIR_OUT, &s, sport, &d, dport);
    let (c, reply_dst) = match ns.conns().lookup(&out, &guard) {
        Some(c) => (c, true),
        None => (
            conn_in_get(ns, af, protonum, &s, sport, &d, dport, false, &guard)?,
            false,
        ),
    };
    if c.fwd() != conn_flag::MASQ {
        return None;
    }
    Some(if reply_dst {
        (true, c.vaddr, c.vport)
    } else {
        (false, c.daddr, c.dport)
    })
}
