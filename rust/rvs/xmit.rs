//! The transmitters: one per forwarding method (ip_vs_xmit.c).
//!
//! - NAT (`ip_vs_nat_xmit`): the destination becomes the real server's address and port, with
//!   the checksums updated as ip_vs updates them (rvs-core's `packet::nat`); replies are
//!   rewritten back by [`snat`] (`handle_response`).
//! - Direct routing (`ip_vs_dr_xmit`): the packet is untouched and routed to the real server's
//!   address as next hop.
//! - Tunnelling (`ip_vs_tunnel_xmit`): the packet is wrapped in an outer IPv4 or IPv6 header
//!   (IPIP, IPv6-in-IPv6 and across families), optionally inside GUE or GRE, addressed to the
//!   real server.
//! - Local (`ip_vs_null_xmit`), and any method whose route turns out to be local: the packet goes
//!   to this host's stack.
//!
//! Every method takes the route to the real server first (`__ip_vs_get_out_rt`): local/non-local
//! checks, TTL or hop limit decremented with ICMP "time exceeded", and the MTU check that answers
//! "fragmentation needed" / "packet too big".

use core::sync::atomic::Ordering::Relaxed;

use crate::{
    conn::Conn,
    ftp,
    hooks::Pkt,
    kapi::{
        self,
        netfilter::{HookPoint, HookState},
        pernet::Net,
        rcu::{self, Guard},
        route::{AnyRoute, Route},
        skb::{gre_hlen, Handled, Skb, Verdict},
    },
    netns::Netns,
    nfct,
    rvs_core::{
        abi::{conn_flag, AF_INET6},
        packet::{fill_iph, icmp, ipv4, nat, Addr, Af, Iph},
    },
};

/// `IP_VS_CONN_F_TUNNEL_TYPE_IPIP`, `_GUE`, `_GRE`.
const TUN_IPIP: u8 = 0;
const TUN_GUE: u8 = 1;
const TUN_GRE: u8 = 2;
/// `IP_VS_TUNNEL_ENCAP_FLAG_CSUM`, `_REMCSUM`.
const TUN_F_CSUM: u16 = 1;
const TUN_F_REMCSUM: u16 = 2;

/// `IPPROTO_IPIP`, `IPPROTO_IPV6`, `IPPROTO_UDP`, `IPPROTO_GRE`.
const IPPROTO_IPIP: u8 = 4;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_GRE: u8 = 47;

/// Sends a packet of connection `c` to its real server.
///
/// `guard` is the caller's read section, which the packet is sent in: a destination's cached
/// route is valid for it.
pub(crate) fn transmit(
    ns: &Netns,
    skb: Skb,
    st: &HookState<'_>,
    c: &Conn,
    p: &Pkt,
    guard: &Guard,
) -> Verdict {
    match c.fwd() {
        conn_flag::MASQ => nat_xmit(ns, skb, st, c, p, guard),
        conn_flag::DROUTE => dr_xmit(ns, skb, st, c, p, guard),
        conn_flag::TUNNEL => tunnel_xmit(ns, skb, st, c, p, guard),
        conn_flag::BYPASS => bypass_xmit(ns, skb, st, c, p),
        // LOCALNODE: to the local stack.
        _ => local(skb, c),
    }
}

/// `ip_vs_bypass_xmit` / `_v6` (`cache_bypass`): the packet goes on to its own destination,
/// which must not be local.
fn bypass_xmit(ns: &Netns, mut skb: Skb, st: &HookState<'_>, c: &Conn, p: &Pkt) -> Verdict {
    let Some(rt) = route_to(st.net, c.af, &c.vaddr, false, false).filter(|rt| !rt.local) else {
        return Verdict::Stolen(skb.free());
    };
    let mtu = rt.mtu();
    if use_route(ns, &mut skb, st, p, AnyRoute::Owned(rt), mtu, false, false) != Some(false) {
        return Verdict::Stolen(skb.free());
    }
    send_or_cont(skb, st, c, false, false)
}

/// `ip_vs_send_or_cont(.., local = 1)`.
fn local(mut skb: Skb, c: &Conn) -> Verdict {
    skb.mark_handled(Handled {
        notrack: !c.uses_conntrack(),
        orphan: false,
    });
    Verdict::Accept(skb)
}

/// An address of family `af` as rvs-core's packet code takes it.
pub(crate) fn addr_of(af: u16, a: &[u8; 16]) -> Addr {
    if af == AF_INET6 {
        Addr::V6(*a)
    } else {
        Addr::V4([a[0], a[1], a[2], a[3]])
    }
}

/// The route to the real server (`__ip_vs_get_out_rt`/`_v6`): its destination's cached route
/// while it is valid, else a new lookup, which the destination then keeps (as ip_vs keeps
/// `dest->dest_dst`; a connection without a destination, or sent elsewhere than to it, looks
/// its route up every time).
fn route<'g>(
    st: &HookState<'_>,
    c: &'g Conn,
    known_nh: bool,
    tunnel: bool,
    guard: &'g Guard,
) -> Option<AnyRoute<'g>> {
    let Some(d) = c
        .dest
        .as_ref()
        .filter(|d| d.af == c.daf && d.addr == c.daddr)
    else {
        return route_to(st.net, c.daf, &c.daddr, known_nh, tunnel).map(AnyRoute::Owned);
    };
    if let Some(r) = d.route.get(guard) {
        return Some(AnyRoute::Cached(r));
    }
    let r = route_to(st.net, c.daf, &c.daddr, known_nh, tunnel)?;
    d.route.store(&r, c.daf == AF_INET6);
    Some(AnyRoute::Owned(r))
}

/// The output route to `addr` (IPv4 in its first 4 bytes) of family `af`; `known_nh` and
/// `tunnel` as [`Route::v4`] takes them.
pub(crate) fn route_to(
    net: &Net,
    af: u16,
    addr: &[u8; 16],
    known_nh: bool,
    tunnel: bool,
) -> Option<Route> {
    if af == AF_INET6 {
        Route::v6(net, addr, known_nh, tunnel)
    } else {
        Route::v4(net, [addr[0], addr[1], addr[2], addr[3]], known_nh, tunnel)
    }
}

/// `crosses_local_route_boundary` for the modes every transmitter uses (LOCAL | NON_LOCAL,
/// plus RDR for NAT): leaving the host with a loopback source is refused, and so is (without
/// RDR) turning a packet that was being forwarded into a local one.
fn crosses_boundary(skb: &Skb, p: &Pkt, new_local: bool, redirect: bool) -> bool {
    if new_local {
        return !redirect && !skb.route_is_local(p.af == AF_INET6);
    }
    if p.af == AF_INET6 {
        skb.locally_generated() && p.saddr == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    } else {
        p.saddr[0] == 127
    }
}

/// `decrement_ttl`: false when the packet died (ICMP sent) or could not be made writable.
fn decrement_ttl(skb: &mut Skb, st: &HookState<'_>, p: &Pkt) -> bool {
    if p.af == AF_INET6 {
        if !skb.make_writable(40) {
            return false;
        }
        let hl = skb.network().get(7).copied().unwrap_or(0);
        if hl <= 1 {
            // ICMPV6_TIME_EXCEED / ICMPV6_EXC_HOPLIMIT.
            skb.icmpv6_send(st.net, 3, 0, 0);
            return false;
        }
        if let Some(b) = skb.network_mut().get_mut(7) {
            *b = hl - 1;
        }
        true
    } else {
        if !skb.make_writable(20) {
            return false;
        }
        let ttl = skb.network().get(8).copied().unwrap_or(0);
        if ttl <= 1 {
            // ICMP_TIME_EXCEEDED / ICMP_EXC_TTL.
            skb.icmp_send(11, 0, 0);
            return false;
        }
        ipv4::decrease_ttl(skb.network_mut()).is_ok()
    }
}

/// `ensure_mtu_is_adequate`: false when the packet is too big (ICMP sent).
fn mtu_ok(ns: &Netns, skb: &mut Skb, st: &HookState<'_>, p: &Pkt, mtu: u32, tunnel: bool) -> bool {
    if p.af == AF_INET6 {
        if skb.exceeds_mtu(mtu, true) {
            if !p.fragment {
                // ICMPV6_PKT_TOOBIG.
                skb.icmpv6_send(st.net, 2, 0, mtu);
            }
            return false;
        }
        return true;
    }
    if tunnel && ns.vars().pmtu_disc() == 0 {
        return true;
    }
    let df = skb.network().get(6).is_some_and(|b| b & 0x40 != 0);
    if df && skb.exceeds_mtu(mtu, false) {
        // ICMP_DEST_UNREACH / ICMP_FRAG_NEEDED.
        skb.icmp_send(3, 4, mtu);
        return false;
    }
    true
}

/// The common part of `__ip_vs_get_out_rt` once the route is known: for a non-local route the
/// TTL and the MTU, then the route goes on the packet. Returns whether the route is local, or
/// `None` when the packet must be dropped.
#[allow(clippy::too_many_arguments)]
fn use_route(
    ns: &Netns,
    skb: &mut Skb,
    st: &HookState<'_>,
    p: &Pkt,
    route: AnyRoute<'_>,
    mtu: u32,
    redirect: bool,
    tunnel: bool,
) -> Option<bool> {
    if crosses_boundary(skb, p, route.local(), redirect) {
        return None;
    }
    if route.local() {
        return Some(true);
    }
    if !decrement_ttl(skb, st, p) {
        return None;
    }
    if !mtu_ok(ns, skb, st, p, mtu, tunnel) {
        return None;
    }
    skb.set_any_route(route);
    Some(false)
}

/// `ip_vs_send_or_cont` / `ip_vs_nat_send_or_cont`.
fn send_or_cont(mut skb: Skb, st: &HookState<'_>, c: &Conn, local: bool, nat: bool) -> Verdict {
    if nat {
        nfct::track(&mut skb, c, true);
    }
    // The packet is marked handled (`ipvs_property`) and the rest done in one call.
    let how = Handled {
        notrack: !nat && !c.uses_conntrack(),
        orphan: !local || !nat || c.vport != c.dport || c.vaddr != c.daddr,
    };
    if local {
        skb.mark_handled(how);
        return Verdict::Accept(skb);
    }
    Verdict::Stolen(skb.send_local_out(st.net, c.af == AF_INET6, how))
}

/// A connection the sync daemon made, to a local real server, for a packet conntrack tracks:
/// ip_vs refuses to DNAT it ("stopping DNAT to local address"), which would give conntrack a
/// second entry with the same reply tuple.
fn synced_to_local(skb: &Skb, c: &Conn, local: bool) -> bool {
    local && c.flags() & conn_flag::SYNC != 0 && skb.conntrack().is_some()
}

/// `ip_vs_nat_xmit` / `_v6`.
fn nat_xmit(ns: &Netns, mut skb: Skb, st: &HookState<'_>, c: &Conn, p: &Pkt, g: &Guard) -> Verdict {
    let Some(rt) = route(st, c, false, false, g) else {
        return Verdict::Stolen(skb.free());
    };
    let mtu = rt.mtu();
    let was_input = p.af != AF_INET6 && skb.route_is_input();
    let Some(local) = use_route(ns, &mut skb, st, p, rt, mtu, true, false) else {
        return Verdict::Stolen(skb.free());
    };
    if synced_to_local(&skb, c, local) {
        return Verdict::Stolen(skb.free());
    }
    // From the world but DNAT to a loopback address: refused.
    if local && p.af != AF_INET6 && c.daddr[0] == 127 && was_input {
        return Verdict::Stolen(skb.free());
    }
    // An application helper reads the packet first (`tcp_dnat_handler`).
    if c.app().is_some() && !ftp::pkt_in(ns, &mut skb, c, p) {
        return Verdict::Stolen(skb.free());
    }
    if !dnat(&mut skb, c, p) {
        return Verdict::Stolen(skb.free());
    }
    send_or_cont(skb, st, c, local, true)
}

/// `ip_vs_icmp_xmit` for NAT: an ICMP error about a connection goes to the real server with
/// the outer destination and the embedded source (address and port) rewritten back.
#[allow(clippy::too_many_arguments)]
pub(crate) fn icmp_nat_xmit(
    ns: &Netns,
    mut skb: Skb,
    st: &HookState<'_>,
    c: &Conn,
    p: &Pkt,
    outer: &Iph,
    err: &icmp::IcmpError,
    len: usize,
) -> Verdict {
    // The cached route is valid for this read section, which the packet is sent in.
    let guard = rcu::read_lock();
    let Some(rt) = route(st, c, false, false, &guard) else {
        return Verdict::Stolen(skb.free());
    };
    let mtu = rt.mtu();
    let was_input = p.af != AF_INET6 && skb.route_is_input();
    // A local real server is not reachable from the FORWARD hook.
    let redirect = st.hook != HookPoint::Forward;
    if rt.local() && !redirect {
        return Verdict::Stolen(skb.free());
    }
    let Some(local) = use_route(ns, &mut skb, st, p, rt, mtu, redirect, false) else {
        return Verdict::Stolen(skb.free());
    };
    if synced_to_local(&skb, c, local) {
        return Verdict::Stolen(skb.free());
    }
    if local && p.af != AF_INET6 && c.daddr[0] == 127 && was_input {
        return Verdict::Stolen(skb.free());
    }
    if !skb.make_writable(len) {
        return Verdict::Stolen(skb.free());
    }
    let daddr = addr_of(c.daf, &c.daddr);
    let ok = match skb.network_mut().get_mut(..len) {
        Some(pkt) => icmp::nat_icmp(pkt, outer, err, icmp::IcmpNat::In, &daddr, c.dport).is_ok(),
        None => false,
    };
    if !ok {
        return Verdict::Stolen(skb.free());
    }
    skb.invalidate_complete_csum();
    send_or_cont(skb, st, c, local, true)
}

/// Rewrites a packet's destination to the real server (`*_dnat_handler` + the address).
fn dnat(skb: &mut Skb, c: &Conn, p: &Pkt) -> bool {
    let to = addr_of(c.daf, &c.daddr);
    rewrite(skb, p, |pkt, len, iph, mode, gso| {
        nat::dnat_headers(pkt, len, iph, &to, c.dport, mode, gso)
    })
}

/// Rewrites a real server's reply to come from the virtual service (`handle_response`).
pub(crate) fn snat(skb: &mut Skb, c: &Conn, p: &Pkt) -> bool {
    let from = addr_of(c.af, &c.vaddr);
    rewrite(skb, p, |pkt, len, iph, mode, gso| {
        nat::snat_headers(pkt, len, iph, &from, c.vport, mode, gso)
    })
}

type Rewrite<'a> = &'a mut [u8];

fn rewrite(
    skb: &mut Skb,
    p: &Pkt,
    f: impl FnOnce(
        Rewrite<'_>,
        usize,
        &crate::rvs_core::packet::Iph,
        nat::CsumMode,
        bool,
    ) -> Result<(), crate::rvs_core::packet::PacketError>,
) -> bool {
    let len = skb.len() as usize;
    let gso = p.protocol == crate::conn::SCTP && skb.is_gso_sctp();
    // Like ip_vs, only the headers are made writable for an incremental checksum update; the
    // whole packet (linear) only where every byte is summed.
    let need = match nat::extent(p.protocol, p.udp_check, gso) {
        nat::Extent::Whole => len,
        nat::Extent::Headers => {
            let l4 = match p.protocol {
                crate::conn::TCP => 20,
                crate::conn::SCTP => 12,
                _ => 8,
            };
            (p.l4off + l4).min(len)
        }
    };
    if !skb.make_writable(need) {
        return false;
    }
    let mode = if skb.csum_partial() {
        nat::CsumMode::Partial
    } else {
        nat::CsumMode::Full
    };
    let af = if p.af == AF_INET6 {
        Af::Inet6
    } else {
        Af::Inet
    };
    let ok = {
        let pkt = skb.network_mut();
        let end = pkt.len().min(len);
        let Some(pkt) = pkt.get_mut(..end) else {
            return false;
        };
        match fill_iph(af, pkt, 0, 0) {
            Ok(iph) => f(pkt, len, &iph, mode, gso).is_ok(),
            Err(_) => false,
        }
    };
    if ok {
        skb.invalidate_complete_csum();
    }
    ok
}

/// `ip_vs_dr_xmit` / `_v6`.
fn dr_xmit(ns: &Netns, mut skb: Skb, st: &HookState<'_>, c: &Conn, p: &Pkt, g: &Guard) -> Verdict {
    let Some(rt) = route(st, c, true, false, g) else {
        return Verdict::Stolen(skb.free());
    };
    let mtu = rt.mtu();
    let Some(local) = use_route(ns, &mut skb, st, p, rt, mtu, false, false) else {
        return Verdict::Stolen(skb.free());
    };
    send_or_cont(skb, st, c, local, false)
}

/// `INET_ECN_encapsulate(ds, ds)`: the outer header copies the inner DS field; a CE mark
/// becomes ECT(0).
fn ecn_encapsulate(ds: u8) -> u8 {
    if ds & 3 == 3 {
        (ds & !3) | 2
    } else {
        ds
    }
}

/// `ip_vs_tunnel_xmit` / `_v6`: IPIP (or IPv6) encapsulation, optionally inside GUE (UDP to
/// the destination's tunnel port) or GRE, with an IPv4 or IPv6 outer header by the real
/// server's family.
fn tunnel_xmit(
    ns: &Netns,
    mut skb: Skb,
    st: &HookState<'_>,
    c: &Conn,
    p: &Pkt,
    g: &Guard,
) -> Verdict {
    let outer6 = c.daf == AF_INET6;
    let (tun_type, tun_port, tun_flags) = c.dest.as_ref().map_or((TUN_IPIP, 0, 0), |d| {
        (
            d.tun_type.load(Relaxed),
            d.tun_port.load(Relaxed),
            d.tun_flags.load(Relaxed),
        )
    });
    let tun_csum = tun_flags & TUN_F_CSUM != 0;
    // GUE's remote checksum offload applies to a packet whose checksum is still to be done:
    // the receiver completes it from the option's offsets.
    let tun_remcsum = tun_flags & TUN_F_REMCSUM != 0 && tun_type == TUN_GUE && skb.csum_partial();
    // The encapsulation between the outer IP header and the packet (GUE: UDP, the GUE header
    // and, for remote checksum offload, the private flags word and the option).
    let encap_len: u32 = match tun_type {
        TUN_GUE if tun_remcsum => 8 + 4 + 8,
        TUN_GUE => 8 + 4,
        TUN_GRE => gre_hlen(tun_csum),
        _ => 0,
    };
    let Some(rt) = route(st, c, false, true, g) else {
        return Verdict::Stolen(skb.free());
    };
    let outer_len: u32 = if outer6 { 40 } else { 20 };
    let mtu = rt.mtu().saturating_sub(outer_len + encap_len);
    if mtu < if outer6 { 1280 } else { 68 } {
        return Verdict::Stolen(skb.free());
    }
    let saddr = rt.saddr();
    let headroom = rt.dev_headroom() + outer_len + encap_len;
    let Some(local) = use_route(ns, &mut skb, st, p, rt, mtu, false, true) else {
        return Verdict::Stolen(skb.free());
    };
    if local {
        return send_or_cont(skb, st, c, true, false);
    }
    let mut skb = match skb.reserve_headroom(headroom) {
        Ok(s) => s,
        Err(stolen) => return Verdict::Stolen(stolen),
    };
    // What the outer header copies from the inner one.
    let (next_protocol, ds, ttl, df) = {
        let h = skb.network();
        if p.af == AF_INET6 {
            let tc = ((h.first().copied().unwrap_or(0) & 0x0f) << 4)
                | (h.get(1).copied().unwrap_or(0) >> 4);
            (IPPROTO_IPV6, tc, h.get(7).copied().unwrap_or(64), 0u8)
        } else {
            let df = if ns.vars().pmtu_disc() != 0 {
                h.get(6).copied().unwrap_or(0) & 0x40
            } else {
                0
            };
            (
                IPPROTO_IPIP,
                h.get(1).copied().unwrap_or(0),
                h.get(8).copied().unwrap_or(64),
                df,
            )
        }
    };
    let ds = ecn_encapsulate(ds);
    let mut gso = if outer6 {
        kapi::GSO_IPXIP6
    } else {
        kapi::GSO_IPXIP4
    };
    gso |= match tun_type {
        TUN_GUE if tun_csum => kapi::GSO_UDP_TUNNEL_CSUM,
        TUN_GUE => kapi::GSO_UDP_TUNNEL,
        TUN_GRE if tun_csum => kapi::GSO_GRE_CSUM,
        TUN_GRE => kapi::GSO_GRE,
        _ => 0,
    };
    if tun_remcsum {
        gso |= kapi::GSO_TUNNEL_REMCSUM;
    }
    if !skb.tunnel_offloads(gso) {
        return Verdict::Stolen(skb.free());
    }
    skb.set_inner(next_protocol);
    let d = c.daddr;
    let next_protocol = match tun_type {
        TUN_GUE => {
            // ipvs_gue_encap: UDP to the tunnel port, then a version-0 GUE header naming the
            // inner protocol; with remote checksum offload, the private flags (REMCSUM) and the
            // option: where the inner checksum's coverage starts and where it goes, counted
            // from the inner header.
            let remcsum = if tun_remcsum {
                let (start, off) = skb.partial_csum_at();
                let Ok(start) = u16::try_from(start) else {
                    return Verdict::Stolen(skb.free());
                };
                skb.remote_csum_done();
                Some((start, start.wrapping_add(off)))
            } else {
                None
            };
            let gue_len: u32 = if remcsum.is_some() { 12 } else { 4 };
            let sport = skb.udp_flow_src_port(st.net);
            let len = skb.len() + 8 + gue_len;
            let h = skb.push_transport(8 + gue_len);
            if h.len() < (8 + gue_len) as usize {
                return Verdict::Stolen(skb.free());
            }
            h[0..2].copy_from_slice(&sport.to_be_bytes());
            h[2..4].copy_from_slice(&tun_port.to_be_bytes());
            h[4..6].copy_from_slice(&(len as u16).to_be_bytes());
            h[6..8].fill(0);
            // hlen (in words, of the options), control 0, version 0; the protocol; flags.
            h[8] = ((gue_len - 4) >> 2) as u8;
            h[9] = next_protocol;
            h[10] = 0;
            h[11] = 0;
            if let Some((start, at)) = remcsum {
                // GUE_FLAG_PRIV, then GUE_PFLAG_REMCSUM and the option.
                h[11] = 1;
                h[12..16].copy_from_slice(&(1u32 << 31).to_be_bytes());
                h[16..18].copy_from_slice(&start.to_be_bytes());
                h[18..20].copy_from_slice(&at.to_be_bytes());
            }
            let check = tun_csum || tun_flags & TUN_F_REMCSUM != 0;
            skb.udp_set_csum(!check, &saddr, &d, outer6);
            IPPROTO_UDP
        }
        TUN_GRE => {
            skb.push_gre(tun_csum, next_protocol == IPPROTO_IPV6);
            IPPROTO_GRE
        }
        _ => next_protocol,
    };
    let h = skb.push_outer(outer_len, outer6);
    if outer6 {
        if h.len() < 40 {
            return Verdict::Stolen(skb.free());
        }
        h[0] = 0x60 | (ds >> 4);
        h[1] = ds << 4;
        h[2] = 0;
        h[3] = 0;
        // payload_len: set by ip6_local_out.
        h[4] = 0;
        h[5] = 0;
        h[6] = next_protocol;
        h[7] = ttl;
        h[8..24].copy_from_slice(&saddr);
        h[24..40].copy_from_slice(&d);
    } else {
        if h.len() < 20 {
            return Verdict::Stolen(skb.free());
        }
        h[0] = 0x45;
        h[1] = ds;
        // tot_len and the checksum: set by ip_local_out.
        h[2] = 0;
        h[3] = 0;
        h[4] = 0;
        h[5] = 0;
        h[6] = df;
        h[7] = 0;
        h[8] = ttl;
        h[9] = next_protocol;
        h[10] = 0;
        h[11] = 0;
        h[12..16].copy_from_slice(&saddr[..4]);
        h[16..20].copy_from_slice(&d[..4]);
        skb.select_ident(st.net);
    }
    skb.set_ignore_df();
    // ip_vs_tunnel_xmit_prepare: a connection that keeps conntrack has its entry confirmed
    // now (the encapsulated packet is not the one conntrack knows), then the packet leaves it.
    if c.uses_conntrack() && !skb.confirm_conntrack() {
        return Verdict::Stolen(skb.free());
    }
    Verdict::Stolen(skb.ip_local_out(st.net, outer6))
}
