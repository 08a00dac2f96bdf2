//! The packet path: what the netfilter hooks do (ip_vs_core.c).
//!
//! - [`in_hook`] (`ip_vs_in_hook`, LOCAL_IN and LOCAL_OUT): packets from clients. A packet of a
//!   known connection goes to that connection's real server; a packet that may start a
//!   connection to a virtual service is scheduled (`ip_vs_schedule`, persistence included), a
//!   connection entry is created, and the packet is transmitted by the destination's forwarding
//!   method ([`crate::xmit`]).
//! - [`out_hook`] (`ip_vs_out_hook`, LOCAL_IN, FORWARD and LOCAL_OUT): replies of real servers.
//!   For NAT the source goes back to the virtual address and port (`handle_response`).
//!
//! Everything runs under RCU, in softirq (or with bottom halves disabled), and never sleeps.

use core::sync::atomic::Ordering::Relaxed;

use kernel::{alloc::KBox, sync::Arc};

use crate::kapi::conntab::Timed;

use crate::{
    conn::{self, Conn, PeData, IP, SCTP, TCP, UDP},
    ftp,
    kapi::{
        conntab::{self, Ref},
        netfilter::{HookPoint, HookState},
        rcu::{self, Guard},
        route,
        skb::{Skb, Stolen, Verdict},
        HZ,
    },
    netns::Netns,
    nfct,
    rvs_core::{
        abi::{conn_flag, daemon_state, svc_flag, tunnel_type, AF_INET, AF_INET6},
        packet::{
            fill_iph,
            icmp::{self, IcmpClass, IcmpNat},
            Addr, Af, Iph, V4Fields, HDR_ICMP,
        },
        proto::{
            sctp,
            sctp::SctpEvent,
            sip::{self, PEDATA_MAXLEN},
            tcp,
            tcp::TcpFlags,
            Direction,
        },
        sched,
    },
    svc::{Dest, Service},
    xmit,
};

/// `FTPDATA`: the port of active FTP data connections, never scheduled.
const FTPDATA: u16 = 20;
/// `FTPPORT`.
const FTPPORT: u16 = 21;
/// `IPPROTO_ICMP`, `IPPROTO_ICMPV6`.
const ICMP: u8 = 1;
const ICMPV6: u8 = 58;

/// What the packet path needs of a packet's headers (`struct ip_vs_iphdr` + ports).
pub(crate) struct Pkt {
    pub(crate) af: u16,
    pub(crate) protocol: u8,
    pub(crate) saddr: [u8; 16],
    pub(crate) daddr: [u8; 16],
    pub(crate) sport: u16,
    pub(crate) dport: u16,
    /// Offset of the transport header.
    pub(crate) l4off: usize,
    /// An IPv6 non-first fragment (`fragoffs`).
    pub(crate) fragment: bool,
    /// TCP flags byte, if a full TCP header is there.
    pub(crate) tcp_flags: Option<u8>,
    /// The first SCTP chunk type, if there is one.
    pub(crate) sctp_chunk: Option<u8>,
    /// The UDP checksum field (0: none).
    pub(crate) udp_check: u16,
    /// The addresses and ports are those of an ICMP error's embedded packet, turned round to
    /// the client → virtual service direction (`ip_vs_iph_icmp` with `IP_VS_HDR_INVERSE`):
    /// `schedule_icmp` schedules on them.
    pub(crate) icmp: bool,
    /// The packet's firewall mark (`skb->mark`).
    pub(crate) mark: u32,
}

impl Pkt {
    fn ipv6(&self) -> bool {
        self.af == AF_INET6
    }

    /// ICMP for IPv4, ICMPv6 for IPv6: where IPVS looks for errors about connections.
    fn is_icmp(&self) -> bool {
        if self.ipv6() {
            self.protocol == ICMPV6
        } else {
            self.protocol == ICMP
        }
    }
}

fn addr16(a: &crate::rvs_core::packet::Addr) -> [u8; 16] {
    use crate::rvs_core::packet::Addr;
    // Built whole: a copy of a variable length would be a call to memset and memcpy per address.
    match *a {
        Addr::V4([a, b, c, d]) => [a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        Addr::V6(x) => x,
    }
}

/// How many bytes from the network header the packet path reads headers from: the IP header
/// with any IPv6 extension headers, and the start of the transport header.
const HEADER_BYTES: usize = 256;

/// Reads the IP header and the ports of a packet without changing it (as ip_vs's
/// `skb_header_pointer`): in place when its linear part holds them, the usual case, else from a
/// copy of its first bytes (pulling bytes into the head would break a GSO packet's layout).
fn headers(skb: &mut Skb, ipv6: bool) -> Option<Pkt> {
    let mark = skb.mark();
    let want = (skb.len() as usize).min(HEADER_BYTES);
    let lin = skb.network();
    let head = &lin[..lin.len().min(want)];
    // A prefix of the bytes the copy would hold: the same answer whenever what is read lies in it.
    if let Some(p) = parse_headers(head, ipv6, mark) {
        if head.len() == want || p.l4off + l4_bytes(p.protocol) <= head.len() {
            return Some(p);
        }
    } else if head.len() == want {
        return None;
    }
    let mut buf = [0u8; HEADER_BYTES];
    let n = skb.copy_prefix(&mut buf);
    parse_headers(buf.get(..n)?, ipv6, mark)
}

/// The transport-header bytes [`parse_headers`] reads for `protocol`.
fn l4_bytes(protocol: u8) -> usize {
    match protocol {
        TCP => 20,
        SCTP => 16,
        UDP => 8,
        _ => 4,
    }
}

/// [`headers`] of the packet whose first bytes are `head`.
#[inline]
fn parse_headers(head: &[u8], ipv6: bool, mark: u32) -> Option<Pkt> {
    let (protocol, saddr, daddr, l4off, fragment) = if ipv6 {
        let iph = fill_iph(Af::Inet6, head, 0, 0).ok()?;
        let (s, d) = (addr16(&iph.saddr), addr16(&iph.daddr));
        (iph.protocol, s, d, iph.len, iph.fragoffs != 0)
    } else {
        // `fill_iph`'s IPv4 fields without its general form (every packet takes this path,
        // twice at LOCAL_IN), and never a "fragment" (IPv4 fragments are reassembled, or
        // gathered, before).
        let v4 = V4Fields::of(head.first_chunk::<20>()?);
        // Whole-word copies: an array built byte by byte compiles to a store per byte.
        let (mut s, mut d) = ([0u8; 16], [0u8; 16]);
        s[..4].copy_from_slice(&v4.saddr);
        d[..4].copy_from_slice(&v4.daddr);
        (v4.protocol, s, d, v4.ihl, false)
    };
    let l4 = head.get(l4off..).unwrap_or(&[]);
    let (sport, dport) = if fragment {
        (0, 0)
    } else {
        match l4 {
            [a, b, c, d, ..] => (u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d])),
            _ => (0, 0),
        }
    };
    let tcp_flags = if protocol == TCP && !fragment && l4.len() >= 20 {
        l4.get(13).copied()
    } else {
        None
    };
    let sctp_chunk = if protocol == SCTP && !fragment && l4.len() >= 16 {
        l4.get(12).copied()
    } else {
        None
    };
    let udp_check = match l4 {
        [_, _, _, _, _, _, a, b, ..] if protocol == UDP => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    Some(Pkt {
        af: if ipv6 { AF_INET6 } else { AF_INET },
        protocol,
        saddr,
        daddr,
        sport,
        dport,
        l4off,
        fragment,
        tcp_flags,
        sctp_chunk,
        udp_check,
        icmp: false,
        mark,
    })
}

/// `is_new_conn`: a TCP SYN or an SCTP INIT.
fn is_new_conn(p: &Pkt) -> bool {
    match p.protocol {
        TCP => p.tcp_flags.is_some_and(|f| f & 0x02 != 0),
        SCTP => p.sctp_chunk == Some(1),
        _ => false,
    }
}

/// `ip_vs_in_hook`.
pub(crate) fn in_hook(mut skb: Skb, st: &HookState<'_>) -> Verdict {
    if skb.ipvs_property() {
        return Verdict::Accept(skb);
    }
    if (!skb.is_for_host() && st.hook != HookPoint::LocalOut) || !skb.has_dst() {
        return Verdict::Accept(skb);
    }
    let guard = rcu::read_lock();
    let Some(ns) = Netns::of_rcu(st.net, &guard) else {
        return Verdict::Accept(skb);
    };
    if backup_only(ns) {
        return Verdict::Accept(skb);
    }
    let Some(p) = headers(&mut skb, st.ipv6) else {
        return Verdict::Accept(skb);
    };
    if p.is_icmp() {
        match in_icmp(ns, skb, st, &p) {
            Ok(v) => return v,
            // Not an error about a connection (echo requests to the VIP, ...): the stack's.
            Err(s) => skb = s,
        }
    }
    match p.protocol {
        TCP | UDP | SCTP => {}
        _ => {
            // Not a protocol IPVS balances: mark it if asked, so a tunnelled copy is not
            // handled twice (`ignore_tunneled`).
            if ns.vars().ignore_tunneled() != 0 {
                skb.set_ipvs_property();
            }
            return Verdict::Accept(skb);
        }
    }
    let mut cp = if p.fragment && p.sport == 0 {
        None
    } else {
        ftp::conn_in_get(
            ns, p.af, p.protocol, &p.saddr, p.sport, &p.daddr, p.dport, true, &guard,
        )
    };

    // A new connection's first packet that hits an old entry (conn_reuse_mode).
    if let Some(c) = &cp {
        if !p.fragment && is_new_conn(&p) {
            let vars = ns.vars();
            let nodest = vars.expire_nodest_conn() != 0
                && c.dest.as_ref().is_some_and(|d| d.weight.load(Relaxed) == 0);
            let reuse = vars.conn_reuse_mode() as u32;
            let controlled = c.control.is_some();
            let expected = reuse != 0
                && match c.protocol {
                    TCP => tcp::is_new_conn_expected(
                        tcp::TcpState::from_raw(c.state()).unwrap_or(tcp::TcpState::None),
                        c.flags(),
                        reuse,
                        controlled,
                    ),
                    SCTP => sctp::is_new_conn_expected(
                        sctp::SctpState::from_raw(c.state()).unwrap_or(sctp::SctpState::None),
                        controlled,
                    ),
                    _ => false,
                };
            // An FTP control connection that still controls data connections (ip_vs's
            // `n_control`; rvs counts the references besides the table's and ours, which
            // the data connections hold) and keeps a confirmed conntrack entry is not
            // rescheduled: the packet goes to it.
            let old_ct = (nodest || expected) && nfct::uses_old_conntrack(&skb);
            let controls = c.app().is_some() && c.others() > 0;
            let resched = nodest || (expected && (!controls || !old_ct));
            if resched {
                // The old entry is rescheduled — unless its conntrack entry is confirmed:
                // then the packet is dropped, the old entry expires now (if it controls
                // nothing), and the client's retransmission starts afresh.
                if let Some(old) = cp.take() {
                    if !old_ct {
                        old.forget_conntrack();
                    }
                    old.invalidate();
                    if !controls {
                        old.expire_now();
                    }
                }
                if old_ct {
                    return Verdict::Drop(skb);
                }
            }
        }
    }

    // The destination went away (deleted): drop, or expire the entry (expire_nodest_conn).
    if let Some(c) = &cp {
        if c.dest.as_ref().is_some_and(|d| !d.available.load(Relaxed)) {
            if ns.vars().expire_nodest_conn() != 0 {
                let old_ct = nfct::uses_old_conntrack(&skb);
                if let Some(old) = cp.take() {
                    if !old_ct {
                        old.forget_conntrack();
                    }
                    old.invalidate();
                    old.expire_now();
                }
                if old_ct {
                    return Verdict::Drop(skb);
                }
            } else {
                return Verdict::Drop(skb);
            }
        }
    }

    let c = match cp {
        Some(c) => c,
        None => {
            if p.fragment {
                return Verdict::Accept(skb);
            }
            match try_to_schedule(ns, &mut skb, &p, &guard) {
                Scheduled::Conn(c) => c,
                Scheduled::OnePacket(c) => {
                    return one_packet(ns, skb, st, &p, c);
                }
                Scheduled::Accept => return Verdict::Accept(skb),
                Scheduled::Drop => return Verdict::Drop(skb),
                Scheduled::Leave(svc) => return leave(ns, skb, st, &p, &svc),
            }
        }
    };

    in_stats(ns, &c, skb.len(), &guard);
    if let Some(t) = set_state(ns, &c, &p, Direction::Input, &guard) {
        c.set_timeout(t);
    }
    let verdict = xmit::transmit(ns, skb, st, &c, &p, &guard);
    let pkts = c.in_pkts.fetch_add(1, Relaxed).wrapping_add(1);
    if ns.sync().state() & daemon_state::MASTER != 0 {
        crate::sync::sync_conn(ns, &c, c.timeout(), pkts as i32);
    }
    c.put();
    drop(guard);
    verdict
}

/// `sysctl_backup_only`: with `backup_only` set and a backup daemon running, the namespace
/// does not direct packets.
fn backup_only(ns: &Netns) -> bool {
    ns.sync().state() & daemon_state::BACKUP != 0 && ns.vars().backup_only() != 0
}

/// A one-packet-scheduled UDP datagram: its connection lives for this packet only and never
/// enters the table (`IP_VS_CONN_F_ONE_PACKET`).
fn one_packet(ns: &Netns, skb: Skb, st: &HookState<'_>, p: &Pkt, c: Conn) -> Verdict {
    let guard = rcu::read_lock();
    in_stats(ns, &c, skb.len(), &guard);
    let v = xmit::transmit(ns, skb, st, &c, p, &guard);
    // A one-packet connection is never synced; its template is, or counts the packet.
    if ns.sync().state() & daemon_state::MASTER != 0 {
        crate::sync::sync_control(ns, &c);
    } else if let Some(ct) = &c.control {
        ct.in_pkts.fetch_add(1, Relaxed);
    }
    c.unlinked(None);
    v
}

/// `ip_vs_in_stats`: the destination's, its service's and the namespace's.
fn in_stats(ns: &Netns, c: &Conn, len: u32, guard: &Guard) {
    packet_stats(ns, c, false, len, guard);
}

/// `ip_vs_out_stats`.
fn out_stats(ns: &Netns, c: &Conn, len: u32, guard: &Guard) {
    packet_stats(ns, c, true, len, guard);
}

fn packet_stats(ns: &Netns, c: &Conn, out: bool, len: u32, guard: &Guard) {
    if let Some(d) = &c.dest {
        if d.available.load(Relaxed) {
            d.count_packet(ns.stats(), out, len, guard);
        }
    }
}

/// `ip_vs_set_state`: the protocol's state transition; returns the new timeout in jiffies, or
/// `None` when the packet carries nothing to decide on (the timeout stays).
fn set_state(ns: &Netns, c: &Conn, p: &Pkt, dir: Direction, guard: &Guard) -> Option<u32> {
    let pd = ns.proto(guard);
    let secs = match c.protocol {
        TCP => c.tcp_state(
            pd,
            ns.defense().tcp_table(),
            dir,
            TcpFlags::from_byte(p.tcp_flags?),
        ),
        UDP => c.udp_state(pd, dir),
        SCTP => c.sctp_state(pd, dir, SctpEvent::from_chunk_type(p.sctp_chunk?)),
        _ => return None,
    };
    Some(secs.saturating_mul(HZ))
}

/// The outcome of `ip_vs_try_to_schedule`.
enum Scheduled {
    Conn(Ref<Conn>),
    OnePacket(Conn),
    /// No service, or a packet that does not start a connection: on through the stack.
    Accept,
    /// Drop (memory, or a header that cannot be read).
    Drop,
    /// A service but no destination: `ip_vs_leave`.
    Leave(Arc<Service>),
}

/// `*_conn_schedule` + `ip_vs_schedule`.
fn try_to_schedule(ns: &Netns, skb: &mut Skb, p: &Pkt, guard: &Guard) -> Scheduled {
    let vars = ns.vars();
    // For an ICMP error only the embedded ports are there to look at (`ip_vs_iph_icmp`).
    match p.protocol {
        _ if p.icmp => {}
        TCP => match p.tcp_flags {
            Some(f) => {
                if !tcp::may_schedule(TcpFlags::from_byte(f), vars.sloppy_tcp() != 0) {
                    return Scheduled::Accept;
                }
            }
            None => return Scheduled::Drop,
        },
        SCTP => {
            let chunks = p.sctp_chunk.map(|c| [c]);
            let chunks: &[u8] = match &chunks {
                Some(c) => c,
                None => &[],
            };
            if !sctp::may_schedule(chunks, vars.sloppy_sctp() != 0) {
                return Scheduled::Accept;
            }
        }
        _ => {}
    }
    let Some(svc) = ns.find_service(p.af, p.protocol, &p.daddr, p.dport, skb.mark(), guard) else {
        return Scheduled::Accept;
    };
    let svc = svc.clone();
    // The defence: we are very loaded, drop this packet (`ip_vs_todrop`).
    if ns.defense().todrop() {
        return Scheduled::Drop;
    }
    if p.sport == FTPDATA {
        return Scheduled::Accept;
    }
    // Do not schedule replies from a local real server.
    if skb.locally_generated() {
        let inv = conn::key(
            p.af,
            p.protocol,
            conntab::DIR_IN,
            &p.daddr,
            p.dport,
            &p.saddr,
            p.sport,
        );
        if ns.conns().lookup(&inv, guard).is_some() {
            return Scheduled::Accept;
        }
    }
    let conf = *svc.conf(guard);
    if conf.flags & svc_flag::PERSISTENT != 0 {
        return sched_persist(ns, skb, p, &svc, &conf, guard);
    }
    if svc.key.fwmark == 0 && p.dport != svc.key.port {
        return Scheduled::Leave(svc);
    }
    let Some(dest) = pick(ns, &svc, p) else {
        return Scheduled::Leave(svc);
    };
    let ops = conf.flags & svc_flag::ONEPACKET != 0 && p.protocol == UDP;
    let dport = if dest.port != 0 { dest.port } else { p.dport };
    let flags = new_flags(ns, if ops { conn_flag::ONE_PACKET } else { 0 });
    let c = Conn::bound(
        p.af, p.protocol, p.saddr, p.sport, p.daddr, p.dport, dport, flags, &dest, None,
    )
    .with_fwmark(p.mark);
    conn_stats(ns, &svc, &dest);
    if ops {
        return Scheduled::OnePacket(c);
    }
    new_conn(ns, c)
}

/// The flags of a new connection or template (`ip_vs_conn_new`): `flags`, and
/// `IP_VS_CONN_F_NFCT` when the namespace keeps conntrack for IPVS (`conntrack=1`).
fn new_flags(ns: &Netns, flags: u32) -> u32 {
    if ns.vars().conntrack() != 0 {
        flags | conn_flag::NFCT
    } else {
        flags
    }
}

/// Puts a new connection in the table.
fn new_conn(ns: &Netns, c: Conn) -> Scheduled {
    let keys = [c.in_key(), c.out_key()];
    // An entry a SYN/INIT is rescheduled over was invalidated: the new one hides it.
    match ns.conns().insert(c, &keys, 3 * HZ) {
        Ok(r) => Scheduled::Conn(r),
        Err(_) => Scheduled::Drop,
    }
}

/// `ip_vs_conn_stats`.
fn conn_stats(ns: &Netns, svc: &Service, dest: &Dest) {
    dest.stats.conn3(&svc.stats, ns.stats());
}

/// Runs the service's scheduler.
fn pick(ns: &Netns, svc: &Service, p: &Pkt) -> Option<Arc<Dest>> {
    let pkt = sched::Packet {
        af: p.af,
        protocol: p.protocol,
        saddr: p.saddr,
        daddr: p.daddr,
        sport: p.sport,
        dport: p.dport,
        inverse: false,
    };
    let now = crate::kapi::jiffies64();
    let vars = ns.vars();
    let mut s = svc.sched().lock();
    s.set_expiration(vars.lblc_expiration(), vars.lblcr_expiration());
    s.pick(&pkt, now)
}

/// The client's network: `addr` masked with the service's netmask (IPv6: prefix length).
fn client_net(af: u16, addr: &[u8; 16], netmask: u32) -> [u8; 16] {
    let mut snet = *addr;
    if af == AF_INET6 {
        let plen = netmask.min(128) as usize;
        for (i, b) in snet.iter_mut().enumerate() {
            let bits = plen.saturating_sub(i * 8).min(8);
            *b &= (0xffu16 << (8 - bits)) as u8;
        }
    } else {
        for (b, m) in snet.iter_mut().zip(netmask.to_ne_bytes()) {
            *b &= m;
        }
    }
    snet
}

/// A template's key: the plain one, or with persistence-engine data its digest key.
fn template_key(
    ns: &Netns,
    af: u16,
    protocol: u8,
    snet: &[u8; 16],
    pe: Option<&PeData>,
    vaddr: &[u8; 16],
    vport: u16,
) -> conntab::Key {
    match pe {
        Some(pe) => conn::pe_key(ns.pe_seeds(), af, protocol, snet, pe.bytes(), vaddr, vport),
        None => conn::key(af, protocol, conntab::DIR_TEMPLATE, snet, 0, vaddr, vport),
    }
}

/// `ip_vs_sip_ct_match` for engine templates (the digest key found it; the fields decide).
fn pe_matches(ct: &Conn, snet: &[u8; 16], pe: Option<&PeData>) -> bool {
    pe.map_or(true, |pe| ct.pe_matches(snet, pe.bytes()))
}

/// `ip_vs_check_template`: the template's destination is still there and, with
/// `expire_quiescent_template`, not quiescent, and (for `cdest`) is `cdest`; else the template
/// is invalidated.
fn check_template(ns: &Netns, ct: &Conn, cdest: Option<&Arc<Dest>>) -> bool {
    if ct.is_invalid() {
        return false;
    }
    let vars = ns.vars();
    let ok = ct.dest.as_ref().is_some_and(|d| {
        d.available.load(Relaxed)
            && !(vars.expire_quiescent_template() != 0 && d.weight.load(Relaxed) == 0)
            && cdest.map_or(true, |c| Arc::ptr_eq(c, d))
    });
    if !ok {
        ct.invalidate();
    }
    ok
}

/// Puts a new template in the table, in the place of an invalidated one (or, for an engine
/// template, of one whose digest collides).
fn insert_template(
    ns: &Netns,
    t: Conn,
    pe: Option<KBox<PeData>>,
    tkey: &conntab::Key,
    timeout: u32,
    guard: &Guard,
) -> Option<Ref<Conn>> {
    let snet = t.caddr;
    let mut id = [0u8; PEDATA_MAXLEN];
    let idlen = pe.as_ref().map_or(0, |pe| pe.bytes().len());
    if let Some(pe) = &pe {
        id[..idlen].copy_from_slice(pe.bytes());
    }
    let engine = pe.is_some();
    let t = match pe {
        Some(pe) => t.with_pe(pe),
        None => t,
    };
    ns.conns()
        .insert_replacing(t, tkey, timeout, guard, |old| {
            old.is_invalid() || (engine && !old.pe_matches(&snet, &id[..idlen]))
        })
        .ok()
}

/// `ip_vs_sip_fill_param`: the Call-ID of a UDP datagram for a `--pe sip` service. `None`
/// (not UDP, no payload, no Call-ID) fails the packet's scheduling.
fn sip_callid(skb: &mut Skb, p: &Pkt) -> Option<KBox<PeData>> {
    if p.icmp || p.protocol != UDP {
        return None;
    }
    let dataoff = p.l4off + 8;
    let len = skb.len() as usize;
    if dataoff >= len || !skb.pull(len) {
        return None;
    }
    let data = skb.network().get(dataoff..len)?;
    let (off, n) = sip::call_id(data)?;
    PeData::new(data.get(off..off + n)?)
}

/// `ip_vs_sched_persist`.
fn sched_persist(
    ns: &Netns,
    skb: &mut Skb,
    p: &Pkt,
    svc: &Arc<Service>,
    conf: &crate::svc::SvcConf,
    guard: &Guard,
) -> Scheduled {
    let snet = client_net(p.af, &p.saddr, conf.netmask);
    // A persistence engine (SIP) keys the template on its data too; a packet it cannot read
    // is dropped (`ip_vs_conn_fill_param_persist` failing: `*ignored = -1`).
    let pe = match conf.pe {
        Some(_) => match sip_callid(skb, p) {
            Some(pe) => Some(pe),
            None => return Scheduled::Drop,
        },
        None => None,
    };
    let (protocol, vaddr, vport) = if p.dport == svc.key.port {
        (
            p.protocol,
            p.daddr,
            if svc.key.port != FTPPORT { p.dport } else { 0 },
        )
    } else if svc.key.fwmark != 0 {
        let mut fw = [0u8; 16];
        fw[..4].copy_from_slice(&svc.key.fwmark.to_be_bytes());
        (IP, fw, 0)
    } else {
        (p.protocol, p.daddr, 0)
    };
    let tkey = template_key(ns, p.af, protocol, &snet, pe.as_deref(), &vaddr, vport);
    let found = ns
        .conns()
        .lookup(&tkey, guard)
        .filter(|ct| pe_matches(ct, &snet, pe.as_deref()) && check_template(ns, ct, None));
    let ct = match found {
        Some(ct) => ct,
        None => {
            let Some(dest) = pick(ns, svc, p) else {
                return Scheduled::Leave(svc.clone());
            };
            let dport = if p.dport == svc.key.port && svc.key.port != FTPPORT {
                dest.port
            } else {
                0
            };
            let t = Conn::bound(
                p.af,
                protocol,
                snet,
                0,
                vaddr,
                vport,
                dport,
                new_flags(ns, conn_flag::TEMPLATE),
                &dest,
                None,
            )
            .with_fwmark(p.mark);
            match insert_template(ns, t, pe, &tkey, conf.timeout, guard) {
                Some(ct) => ct,
                None => return Scheduled::Drop,
            }
        }
    };
    let Some(dest) = ct.dest.clone() else {
        return Scheduled::Drop;
    };
    let dport = if p.dport == svc.key.port && dest.port != 0 {
        dest.port
    } else {
        p.dport
    };
    let ops = conf.flags & svc_flag::ONEPACKET != 0 && p.protocol == UDP;
    let flags = new_flags(ns, if ops { conn_flag::ONE_PACKET } else { 0 });
    ct.set_timeout(conf.timeout);
    let control = ct.clone_ref();
    ct.put();
    let c = Conn::bound(
        p.af,
        p.protocol,
        p.saddr,
        p.sport,
        p.daddr,
        p.dport,
        dport,
        flags,
        &dest,
        Some(control),
    )
    .with_fwmark(p.mark);
    conn_stats(ns, svc, &dest);
    if ops {
        return Scheduled::OnePacket(c);
    }
    new_conn(ns, c)
}

/// `ip_vs_leave`: a service matched but no destination could take the packet.
fn leave(ns: &Netns, mut skb: Skb, st: &HookState<'_>, p: &Pkt, svc: &Service) -> Verdict {
    // `cache_bypass`: a fwmark service (a transparent cache) with no server to take the
    // packet lets it go on to where it was going, through a connection of its own.
    if ns.vars().cache_bypass() != 0
        && svc.key.fwmark != 0
        && !p.icmp
        && route::is_unicast(st.net, p.ipv6(), &p.daddr)
    {
        let guard = rcu::read_lock();
        let ops = svc.conf(&guard).flags & svc_flag::ONEPACKET != 0 && p.protocol == UDP;
        let flags = new_flags(ns, if ops { conn_flag::ONE_PACKET } else { 0 });
        let c = Conn::bypass(p.af, p.protocol, p.saddr, p.sport, p.daddr, p.dport, flags)
            .with_fwmark(p.mark);
        if ops {
            // `set_state` only sets the timeout of a connection that is not kept.
            let v = xmit::transmit(ns, skb, st, &c, p, &guard);
            c.unlinked(None);
            return v;
        }
        let Scheduled::Conn(c) = new_conn(ns, c) else {
            return Verdict::Drop(skb);
        };
        if let Some(t) = set_state(ns, &c, p, Direction::Input, &guard) {
            c.set_timeout(t);
        }
        let v = xmit::transmit(ns, skb, st, &c, p, &guard);
        c.in_pkts.fetch_add(1, Relaxed);
        c.put();
        return v;
    }
    if svc.key.port == FTPPORT && p.dport != FTPPORT {
        return Verdict::Accept(skb);
    }
    if p.icmp {
        return Verdict::Drop(skb);
    }
    if p.ipv6() {
        // ICMPV6_DEST_UNREACH / ICMPV6_PORT_UNREACH.
        skb.icmpv6_send(st.net, 1, 4, 0);
    } else {
        // ICMP_DEST_UNREACH / ICMP_PORT_UNREACH.
        skb.icmp_send(3, 3, 0);
    }
    Verdict::Drop(skb)
}

/// `ip_is_fragment`: MF set or a fragment offset.
fn is_ipv4_fragment(skb: &Skb) -> bool {
    // The IP header is in the linear part at these hooks (`ip_rcv` pulled it); a copy only
    // if not.
    let frag_off = match skb.network() {
        [_, _, _, _, _, _, a, b, ..] => [*a, *b],
        _ => {
            let mut h = [0u8; 8];
            if skb.copy_prefix(&mut h) != 8 {
                return false;
            }
            [h[6], h[7]]
        }
    };
    u16::from_be_bytes(frag_off) & 0x3fff != 0
}

/// `ip_vs_out_hook`.
pub(crate) fn out_hook(mut skb: Skb, st: &HookState<'_>) -> Verdict {
    if skb.ipvs_property() || !skb.has_dst() {
        return Verdict::Accept(skb);
    }
    let guard = rcu::read_lock();
    let Some(ns) = Netns::of_rcu(st.net, &guard) else {
        return Verdict::Accept(skb);
    };
    let Some(mut p) = headers(&mut skb, st.ipv6) else {
        return Verdict::Accept(skb);
    };
    // An IPv4 fragment of a real server's reply (seen at FORWARD: the stack reassembles only
    // what it delivers locally) is gathered first, as ip_vs does, so it can be matched and
    // rewritten whole; it is fragmented again on the way out.
    if !st.ipv6 && is_ipv4_fragment(&skb) && matches!(p.protocol, TCP | UDP | SCTP | ICMP) {
        skb = match skb.gather_frags(st.net, st.hook) {
            Ok(s) => s,
            Err(stolen) => return Verdict::Stolen(stolen),
        };
        p = match headers(&mut skb, false) {
            Some(p) => p,
            None => return Verdict::Accept(skb),
        };
    }
    if p.is_icmp() {
        return match out_icmp(ns, skb, st) {
            Ok(v) => v,
            Err(skb) => Verdict::Accept(skb),
        };
    }
    match p.protocol {
        TCP | UDP | SCTP => {}
        _ => return Verdict::Accept(skb),
    }
    if p.fragment {
        return Verdict::Accept(skb);
    }
    let key = conn::key(
        p.af,
        p.protocol,
        conntab::DIR_OUT,
        &p.saddr,
        p.sport,
        &p.daddr,
        p.dport,
    );
    let Some(c) = ns.conns().lookup(&key, &guard) else {
        // A request a real server started (the SIP engine's `conn_out`, UDP only; also the
        // replies of a one-packet service).
        if ns.conn_out() && p.protocol == UDP && st.hook != HookPoint::LocalIn {
            match rs_conn_out(ns, &mut skb, &p, &guard) {
                Some(Out::Kept(c)) => return handle_response(ns, skb, st, &p, c, &guard),
                Some(Out::OnePacket(c)) => {
                    let v = match respond(ns, skb, st, &p, &c, &guard) {
                        Ok(skb) => Verdict::Accept(skb),
                        Err(stolen) => Verdict::Stolen(stolen),
                    };
                    c.unlinked(None);
                    return v;
                }
                None => {}
            }
        }
        return no_conn_out(ns, skb, st, &p, &guard);
    };
    handle_response(ns, skb, st, &p, c, &guard)
}

/// A connection `rs_conn_out` made.
enum Out {
    Kept(Ref<Conn>),
    OnePacket(Conn),
}

/// `__ip_vs_rs_conn_out` + `ip_vs_new_conn_out`: a packet from a real server of a `--pe sip`
/// service to a client, matching no connection, gets a connection (under a template for the
/// client's network and the Call-ID when the service is persistent) so that it is answered
/// from the virtual service and the client's replies reach that real server.
fn rs_conn_out(ns: &Netns, skb: &mut Skb, p: &Pkt, guard: &Guard) -> Option<Out> {
    let (svc, dest) = ns.find_real_service(p.af, p.protocol, &p.saddr, p.sport, guard)?;
    let conf = *svc.conf(guard);
    conf.pe?;
    // Fwmark services and port-0 services or destinations: the virtual port is unknown.
    if svc.key.fwmark != 0 || svc.key.port == 0 || p.sport == 0 {
        return None;
    }
    let (vaddr, vport) = (svc.key.addr, svc.key.port);
    let control = if conf.flags & svc_flag::PERSISTENT != 0 {
        let snet = client_net(p.af, &p.daddr, conf.netmask);
        let pe = sip_callid(skb, p)?;
        let tkey = template_key(ns, p.af, p.protocol, &snet, Some(&pe), &vaddr, vport);
        let found = ns
            .conns()
            .lookup(&tkey, guard)
            .filter(|ct| ct.pe_matches(&snet, pe.bytes()) && check_template(ns, ct, Some(dest)));
        let ct = match found {
            Some(ct) => ct,
            None => {
                let t = Conn::bound(
                    p.af,
                    p.protocol,
                    snet,
                    0,
                    vaddr,
                    vport,
                    p.sport,
                    new_flags(ns, conn_flag::TEMPLATE),
                    dest,
                    None,
                );
                insert_template(ns, t, Some(pe), &tkey, conf.timeout, guard)?
            }
        };
        let control = ct.clone_ref();
        ct.put();
        Some(control)
    } else {
        None
    };
    let ops = conf.flags & svc_flag::ONEPACKET != 0;
    let flags = new_flags(ns, if ops { conn_flag::ONE_PACKET } else { 0 });
    let c = Conn::bound(
        p.af, p.protocol, p.daddr, p.dport, vaddr, vport, p.sport, flags, dest, control,
    );
    conn_stats(ns, svc, dest);
    if ops {
        return Some(Out::OnePacket(c));
    }
    match new_conn(ns, c) {
        Scheduled::Conn(c) => Some(Out::Kept(c)),
        _ => None,
    }
}

/// `ip_vs_out_hook` for a packet that matched no connection: with `nat_icmp_send`, a packet
/// from a NAT real server's service port is answered with "port unreachable" (unless it is a
/// TCP RST or an SCTP ABORT) and dropped; anything else goes on.
fn no_conn_out(ns: &Netns, mut skb: Skb, st: &HookState<'_>, p: &Pkt, guard: &Guard) -> Verdict {
    if ns.vars().nat_icmp_send() == 0
        || !ns.has_real_service(p.af, p.protocol, &p.saddr, p.sport, guard)
    {
        return Verdict::Accept(skb);
    }
    let reset = match p.protocol {
        TCP => p.tcp_flags.is_some_and(|f| f & 0x04 != 0),
        // SCTP_CID_ABORT.
        SCTP => p.sctp_chunk == Some(6),
        _ => false,
    };
    if !reset {
        if p.ipv6() {
            // ICMPV6_DEST_UNREACH / ICMPV6_PORT_UNREACH.
            skb.icmpv6_send(st.net, 1, 4, 0);
        } else {
            // ICMP_DEST_UNREACH / ICMP_PORT_UNREACH.
            skb.icmp_send(3, 3, 0);
        }
    }
    Verdict::Drop(skb)
}

/// `handle_response`: a reply of a real server.
fn handle_response(
    ns: &Netns,
    skb: Skb,
    st: &HookState<'_>,
    p: &Pkt,
    c: Ref<Conn>,
    guard: &Guard,
) -> Verdict {
    let skb = match respond(ns, skb, st, p, &c, guard) {
        Ok(skb) => skb,
        Err(stolen) => {
            c.put();
            return Verdict::Stolen(stolen);
        }
    };
    if let Some(t) = set_state(ns, &c, p, Direction::Output, guard) {
        c.set_timeout(t);
    }
    c.put();
    Verdict::Accept(skb)
}

/// `handle_response`'s rewriting and counting: NAT back to the virtual address and port
/// (re-routed as a local packet with `snat_reroute`), the output statistics, the marks.
fn respond(
    ns: &Netns,
    mut skb: Skb,
    st: &HookState<'_>,
    p: &Pkt,
    c: &Conn,
    guard: &Guard,
) -> Result<Skb, Stolen> {
    if c.fwd() == conn_flag::MASQ {
        // An application helper reads the packet first (`tcp_snat_handler`).
        if c.app().is_some() && !ftp::pkt_out(ns, &mut skb, c, p) {
            return Err(skb.free());
        }
        if !xmit::snat(&mut skb, c, p) {
            return Err(skb.free());
        }
        if ns.vars().snat_reroute() != 0
            && st.hook != HookPoint::LocalIn
            && !skb.route_me_harder(st.net, st.ipv6)
        {
            return Err(skb.free());
        }
    }
    out_stats(ns, c, skb.len(), guard);
    skb.set_ipvs_property();
    nfct::track(&mut skb, c, false);
    Ok(skb)
}

/// An ICMP error IPVS relates to a connection, parsed (`ip_vs_out_icmp`'s and
/// `ip_vs_in_icmp`'s common part): the packet with its outer header, the error and the embedded
/// ports, and the packet's length. `Err` gives an unrelated packet back; `Ok(Err(v))` is the
/// verdict for an error that goes no further.
#[allow(clippy::type_complexity)]
fn icmp_error(
    mut skb: Skb,
    st: &HookState<'_>,
) -> Result<Result<(Skb, Iph, icmp::IcmpError, usize), Verdict>, Skb> {
    // A fragmented IPv4 error is reassembled first (`ip_vs_gather_frags` in ip_vs_in_icmp and
    // ip_vs_out_icmp); the stack has already done it for what it delivers locally.
    if !st.ipv6 && is_ipv4_fragment(&skb) {
        skb = match skb.gather_frags(st.net, st.hook) {
            Ok(s) => s,
            Err(stolen) => return Ok(Err(Verdict::Stolen(stolen))),
        };
    }
    let len = skb.len() as usize;
    let af = if st.ipv6 { Af::Inet6 } else { Af::Inet };
    // Only errors go further (echo requests and the like are the stack's): look at the type
    // before making anything linear.
    let icmp_type = fill_iph(af, skb.network(), 0, 0)
        .ok()
        .and_then(|iph| skb.network().get(iph.len).copied());
    let related = match icmp_type {
        Some(t) if st.ipv6 => crate::rvs_core::proto::icmp::is_related_v6(t),
        Some(t) => crate::rvs_core::proto::icmp::is_related_v4(t),
        None => true,
    };
    if !related {
        return Err(skb);
    }
    // ICMP errors are small (at most 576 bytes for IPv4, the minimum MTU for IPv6): make the
    // whole message linear.
    if !skb.pull(len) {
        return Ok(Err(Verdict::Drop(skb)));
    }
    let (outer, class) = {
        let Some(pkt) = skb.network().get(..len) else {
            return Ok(Err(Verdict::Drop(skb)));
        };
        let Ok(outer) = fill_iph(af, pkt, 0, 0) else {
            return Ok(Err(Verdict::Accept(skb)));
        };
        (outer, icmp::classify(pkt, &outer))
    };
    let err = match class {
        Err(_) => return Ok(Err(Verdict::Drop(skb))),
        Ok(IcmpClass::NotRelated) => return Err(skb),
        Ok(IcmpClass::Ignore) => return Ok(Err(Verdict::Accept(skb))),
        Ok(IcmpClass::Related(e)) => e,
    };
    Ok(Ok((skb, outer, err, len)))
}

/// The embedded ports of an error about a TCP, UDP or SCTP packet (the only ones related to
/// connections).
fn conn_ports(err: &icmp::IcmpError) -> Option<(u16, u16)> {
    match err.inner.protocol {
        TCP | UDP | SCTP => err.ports,
        _ => None,
    }
}

/// `ip_vs_in_icmp`'s tunnel case: an error about one of rvs's own IPIP, GUE or GRE packets to a
/// real server, sent back to the director by a router on the way (so it arrives at LOCAL_IN).
/// The path MTU to the real server is updated, and the client gets the error about its own
/// packet, with the MTU less the tunnel overhead for "fragmentation needed". `Err` gives the
/// packet back when the embedded UDP or GRE packet is not one of our tunnels (the normal path
/// then treats it as any error).
#[allow(clippy::too_many_arguments)]
fn tunnel_icmp(
    ns: &Netns,
    mut skb: Skb,
    st: &HookState<'_>,
    outer: &Iph,
    err: &icmp::IcmpError,
    len: usize,
    guard: &Guard,
) -> Result<Verdict, Skb> {
    const IPIP: u8 = 4;
    const GRE: u8 = 47;
    struct Found {
        c: Ref<Conn>,
        cih_off: usize,
        hlen_ipip: usize,
        ulen: usize,
        orig_off: usize,
        hlen_orig: usize,
        df: bool,
        info: u32,
    }
    let found = {
        let Some(pkt) = skb.network().get(..len) else {
            return Ok(Verdict::Drop(skb));
        };
        let cih_off = outer.len + 8;
        let Some(cih) = pkt.get(cih_off..cih_off + 20) else {
            return Ok(Verdict::Accept(skb));
        };
        let hlen_ipip = usize::from(cih[0] & 0x0f) * 4;
        let raddr = [cih[16], cih[17], cih[18], cih[19]];
        let offset2 = cih_off + hlen_ipip;
        let tun = |port: u16, ty: u8| {
            ns.find_tunnel(&raddr, port, guard)
                .is_some_and(|d| d.tun_type.load(Relaxed) == ty)
        };
        let ulen = match err.inner.protocol {
            IPIP => {
                if !tun(0, tunnel_type::IPIP) {
                    return Ok(Verdict::Accept(skb));
                }
                0
            }
            UDP => {
                let ours = icmp::tunnel_udp_dport(pkt, offset2)
                    .is_some_and(|port| tun(port, tunnel_type::GUE));
                match icmp::gue_decap(pkt, offset2).filter(|_| ours) {
                    Some(ulen) => ulen,
                    None => return Err(skb),
                }
            }
            GRE => match icmp::gre_decap(pkt, offset2).filter(|_| tun(0, tunnel_type::GRE)) {
                Some(ulen) => ulen,
                None => return Err(skb),
            },
            _ => return Err(skb),
        };
        // The client's packet inside the tunnel packet, read as it was sent.
        let orig_off = offset2 + ulen;
        let Ok(orig) = fill_iph(Af::Inet, pkt, orig_off, HDR_ICMP) else {
            return Ok(Verdict::Accept(skb));
        };
        let (TCP | UDP | SCTP) = orig.protocol else {
            return Ok(Verdict::Accept(skb));
        };
        // The client's flags: a non-first fragment has no ports; DF says it does path MTU
        // discovery.
        let Some(&[f6, f7]) = pkt.get(orig_off + 6..orig_off + 8) else {
            return Ok(Verdict::Accept(skb));
        };
        if u16::from_be_bytes([f6, f7]) & 0x1fff != 0 {
            return Ok(Verdict::Accept(skb));
        }
        let df = f6 & 0x40 != 0;
        let Some(ports) = pkt.get(orig.len..orig.len + 4) else {
            return Ok(Verdict::Accept(skb));
        };
        let key = conn::key(
            AF_INET,
            orig.protocol,
            conntab::DIR_IN,
            &addr16(&orig.saddr),
            u16::from_be_bytes([ports[0], ports[1]]),
            &addr16(&orig.daddr),
            u16::from_be_bytes([ports[2], ports[3]]),
        );
        let Some(c) = ns.conns().lookup(&key, guard) else {
            return Ok(Verdict::Accept(skb));
        };
        if !icmp::checksum_ok(pkt, outer) {
            return Ok(Verdict::Drop(skb));
        }
        let info = pkt
            .get(outer.len + 4..outer.len + 8)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        Found {
            c,
            cih_off,
            hlen_ipip,
            ulen,
            orig_off,
            hlen_orig: orig.len - orig.off,
            df,
            info,
        }
    };
    let f = found;
    let (icmp_type, code) = (err.icmp.icmp_type, err.icmp.code);
    let mut info = f.info;
    let mut at = 0;
    if icmp_type == 3 && code == 4 {
        // ICMP_FRAG_NEEDED: the path to the real server is narrower than its route said.
        let mtu = u32::from(err.icmp.frag_mtu());
        if !skb.pull_to_ipv4(f.cih_off, f.hlen_ipip) {
            return Ok(Verdict::Stolen(skb.free()));
        }
        at = f.cih_off;
        skb.update_pmtu_v4(st.net, mtu);
        // The client does not do path MTU discovery: nothing to tell it.
        if !f.df {
            return Ok(Verdict::Stolen(skb.free()));
        }
        // Prefer the resulting path MTU (ip_vs reads its cached route to the real server; rvs
        // looks the route up, which now carries the new MTU).
        let mtu =
            xmit::route_to(st.net, AF_INET, &f.c.daddr, false, false).map_or(mtu, |rt| rt.mtu());
        info = icmp::tunnel_client_mtu(mtu, f.hlen_ipip as u32, f.ulen as u32);
    }
    // Down to the client's own packet, which the error is then about.
    if !skb.pull_to_ipv4(f.orig_off - at, f.hlen_orig)
        || skb.network().first().map(|b| usize::from(b & 0x0f) * 4) != Some(f.hlen_orig)
    {
        return Ok(Verdict::Stolen(skb.free()));
    }
    skb.icmp_send(i32::from(icmp_type), i32::from(code), info);
    // The error may be shorter, but it is counted (as ip_vs does).
    out_stats(ns, &f.c, skb.len(), guard);
    Ok(Verdict::Stolen(skb.free()))
}

/// `ip_vs_in_icmp` / `_v6`: an ICMP error from the client's side about a connection (the
/// embedded packet is one of our replies). For NAT it goes to the real server with the outer
/// destination and the embedded source rewritten back (`ip_vs_icmp_xmit`); for the other methods
/// the connection's transmitter forwards it as it is.
fn in_icmp(ns: &Netns, skb: Skb, st: &HookState<'_>, p: &Pkt) -> Result<Verdict, Skb> {
    let (mut skb, outer, err, len) = match icmp_error(skb, st)? {
        Ok(e) => e,
        Err(v) => return Ok(v),
    };
    let guard = rcu::read_lock();
    // An error about one of our tunnel packets must arrive at LOCAL_IN (addressed to us).
    if err.tunnel_candidate && !st.ipv6 && skb.route_is_local(false) {
        match tunnel_icmp(ns, skb, st, &outer, &err, len, &guard) {
            Ok(v) => return Ok(v),
            Err(s) => skb = s,
        }
    }
    let Some((sport, dport)) = conn_ports(&err) else {
        return Ok(Verdict::Accept(skb));
    };
    // The embedded packet went virtual service -> client: its reverse is our in tuple.
    if let Some(c) = icmp_conn(ns, st, &err, sport, dport, conntab::DIR_IN, &guard) {
        // Like ip_vs, the reference goes without re-arming the timer (`__ip_vs_conn_put`).
        return Ok(icmp_in_xmit(ns, skb, st, p, &c, &outer, &err, len));
    }
    if ns.vars().schedule_icmp() == 0 {
        return Ok(Verdict::Accept(skb));
    }
    // `schedule_icmp`: schedule a connection for the embedded packet, as if the client had
    // sent its reverse (so `sh`/`mh` on several directors send the error where the
    // connection's packets go).
    let inner = Pkt {
        af: p.af,
        protocol: err.inner.protocol,
        saddr: addr16(&err.inner.daddr),
        daddr: addr16(&err.inner.saddr),
        sport: dport,
        dport: sport,
        l4off: 0,
        fragment: false,
        tcp_flags: None,
        sctp_chunk: None,
        udp_check: 0,
        icmp: true,
        mark: p.mark,
    };
    Ok(match try_to_schedule(ns, &mut skb, &inner, &guard) {
        Scheduled::Conn(c) => {
            let v = icmp_in_xmit(ns, skb, st, p, &c, &outer, &err, len);
            c.put();
            v
        }
        Scheduled::OnePacket(c) => {
            let v = icmp_in_xmit(ns, skb, st, p, &c, &outer, &err, len);
            c.unlinked(None);
            v
        }
        Scheduled::Accept => Verdict::Accept(skb),
        Scheduled::Drop | Scheduled::Leave(_) => Verdict::Drop(skb),
    })
}

/// `ip_vs_in_icmp`'s second half: the error goes to the connection's real server.
#[allow(clippy::too_many_arguments)]
fn icmp_in_xmit(
    ns: &Netns,
    skb: Skb,
    st: &HookState<'_>,
    p: &Pkt,
    c: &Conn,
    outer: &Iph,
    err: &icmp::IcmpError,
    len: usize,
) -> Verdict {
    let guard = rcu::read_lock();
    in_stats(ns, c, skb.len(), &guard);
    if c.fwd() != conn_flag::MASQ {
        let v = xmit::transmit(ns, skb, st, c, p, &guard);
        c.in_pkts.fetch_add(1, Relaxed);
        return v;
    }
    let ok_sum = skb
        .network()
        .get(..len)
        .is_some_and(|pkt| icmp::checksum_ok(pkt, outer));
    if !ok_sum {
        return Verdict::Drop(skb);
    }
    xmit::icmp_nat_xmit(ns, skb, st, c, p, outer, err, len)
}

/// The connection an ICMP error's embedded packet belongs to: its source is the connection's
/// far end, so the tuple of direction `dir` is the embedded header read backwards.
fn icmp_conn(
    ns: &Netns,
    st: &HookState<'_>,
    err: &icmp::IcmpError,
    sport: u16,
    dport: u16,
    dir: u8,
    guard: &Guard,
) -> Option<Ref<Conn>> {
    let key = conn::key(
        if st.ipv6 { AF_INET6 } else { AF_INET },
        err.inner.protocol,
        dir,
        &addr16(&err.inner.daddr),
        dport,
        &addr16(&err.inner.saddr),
        sport,
    );
    ns.conns().lookup(&key, guard)
}

/// `ip_vs_out_icmp` / `_v6` with `handle_response_icmp`: an ICMP error from a real server about
/// a connection (the embedded packet is one the client sent). For NAT its outer source and the
/// embedded destination go back to the virtual address and port. `Err` gives the packet back
/// for the normal path (not an error IPVS relates).
fn out_icmp(ns: &Netns, skb: Skb, st: &HookState<'_>) -> Result<Verdict, Skb> {
    let (mut skb, outer, err, len) = match icmp_error(skb, st)? {
        Ok(e) => e,
        Err(v) => return Ok(v),
    };
    let Some((sport, dport)) = conn_ports(&err) else {
        return Ok(Verdict::Accept(skb));
    };
    let guard = rcu::read_lock();
    // The embedded packet went client -> real server: its reply direction is our out tuple.
    let Some(c) = icmp_conn(ns, st, &err, sport, dport, conntab::DIR_OUT, &guard) else {
        return Ok(Verdict::Accept(skb));
    };
    if c.fwd() == conn_flag::MASQ {
        let ok_sum = skb
            .network()
            .get(..len)
            .is_some_and(|pkt| icmp::checksum_ok(pkt, &outer));
        if !ok_sum || !skb.make_writable(len) {
            return Ok(Verdict::Drop(skb));
        }
        let vaddr = if st.ipv6 {
            Addr::V6(c.vaddr)
        } else {
            Addr::V4([c.vaddr[0], c.vaddr[1], c.vaddr[2], c.vaddr[3]])
        };
        let nat_ok = match skb.network_mut().get_mut(..len) {
            Some(pkt) => icmp::nat_icmp(pkt, &outer, &err, IcmpNat::Out, &vaddr, c.vport).is_ok(),
            None => false,
        };
        if !nat_ok {
            return Ok(Verdict::Drop(skb));
        }
        skb.invalidate_complete_csum();
        if ns.vars().snat_reroute() != 0
            && st.hook != HookPoint::LocalIn
            && !skb.route_me_harder(st.net, st.ipv6)
        {
            return Ok(Verdict::Drop(skb));
        }
    }
    out_stats(ns, &c, skb.len(), &guard);
    skb.set_ipvs_property();
    nfct::track(&mut skb, &c, false);
    Ok(Verdict::Accept(skb))
}

/// `ip_vs_forward_icmp`: ICMP errors being forwarded through the director (destined to
/// addresses that are not local: fwmark services, transparent caches) are related like the
/// ones it receives (`ip_vs_in_icmp` from the FORWARD hook).
pub(crate) fn forward_icmp_hook(mut skb: Skb, st: &HookState<'_>) -> Verdict {
    if skb.ipvs_property() {
        return Verdict::Accept(skb);
    }
    // Most of what is forwarded is not ICMP: as `ip_vs_forward_icmp`, IPv4 looks at the
    // header's protocol first (IPv6 needs the extension headers parsed).
    if !st.ipv6 && skb.network().get(9).is_some_and(|&p| p != ICMP) {
        return Verdict::Accept(skb);
    }
    let guard = rcu::read_lock();
    let Some(ns) = Netns::of_rcu(st.net, &guard) else {
        return Verdict::Accept(skb);
    };
    if backup_only(ns) {
        return Verdict::Accept(skb);
    }
    let Some(p) = headers(&mut skb, st.ipv6) else {
        return Verdict::Accept(skb);
    };
    if !p.is_icmp() {
        return Verdict::Accept(skb);
    }
    match in_icmp(ns, skb, st, &p) {
        Ok(v) => v,
        Err(skb) => Verdict::Accept(skb),
    }
}
