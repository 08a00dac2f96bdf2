//! Netfilter connection tracking of IPVS connections (ip_vs_nfct.c).
//!
//! By default (`conntrack=0`) every packet rvs handles is handed to conntrack as untracked
//! (`ip_vs_notrack`): IPVS flows are invisible to conntrack, to `ct state` rules and to
//! `conntrack -L`. With `net.ipv4.vs.conntrack=1` new connections carry `IP_VS_CONN_F_NFCT`
//! and keep their conntrack entries, as ip_vs does:
//!
//! - NAT: before the first packet's entry is confirmed, its reply tuple is changed to what the
//!   real server's replies carry (`ip_vs_update_conntrack`), so conntrack matches them as
//!   replies (state ESTABLISHED) and `conntrack -L` shows the real server;
//! - the other methods keep the entry as it is; a tunnelled packet's entry is confirmed before
//!   encapsulation (`ip_vs_confirm_conntrack`);
//! - when the IPVS connection expires its conntrack entry is killed
//!   (`ip_vs_conn_drop_conntrack`);
//! - a new connection that hits an old entry whose conntrack is confirmed is dropped instead of
//!   rescheduled (`ip_vs_conn_uses_old_conntrack`): the client retransmits once the old entry is
//!   gone.
//!
//! Like ip_vs, rvs takes no conntrack reference of its own for this: packets have conntrack
//! entries only when something in the namespace turned conntrack on (a `ct` rule, NAT, ...).
//! Connections of the FTP helper ([`crate::ftp`]) always keep conntrack, with the
//! sequence-adjustment extension that its mangling needs.

use crate::{
    conn::Conn,
    kapi::{self, pernet::Net, skb::Skb},
    rvs_core::abi::{conn_flag, AF_INET6},
};

/// `IPPROTO_ICMP`, `IPPROTO_ICMPV6`: conntrack entries without ports.
const ICMP: u8 = 1;
const ICMPV6: u8 = 58;

/// An address as `union nf_inet_addr` holds it: IPv4 in the first 4 bytes, the rest zero.
pub(crate) fn inet_addr(af: u16, a: &[u8; 16]) -> [u8; 16] {
    let mut out = *a;
    if af != AF_INET6 {
        out[4..].fill(0);
    }
    out
}

/// `ip_vs_update_conntrack`: for a NAT connection, changes the reply tuple of the packet's
/// still unconfirmed conntrack entry (original direction only) so that it matches the other
/// side of the translation. `outin`: the packet goes to the real server (the reply's source
/// becomes the real server); else it is a reply going back to the client (the reply's
/// destination becomes the virtual service).
pub(crate) fn update_conntrack(skb: &mut Skb, c: &Conn, outin: bool) {
    let Some(ct) = skb.conntrack() else { return };
    if ct.confirmed || ct.dying {
        return;
    }
    // Never for the other methods (their packets are not translated).
    if c.fwd() != conn_flag::MASQ {
        return;
    }
    // Never for one-packet connections: no reply is expected.
    if c.flags() & conn_flag::ONE_PACKET != 0 {
        return;
    }
    if ct.reply {
        return;
    }
    // The FTP helper's mangling shifts TCP sequence numbers, which conntrack adjusts.
    if c.app().is_some() && ct.protonum == crate::conn::TCP && !skb.ct_seqadj_add() {
        return;
    }
    let ports = ct.protonum != ICMP && ct.protonum != ICMPV6;
    if outin {
        let daddr = inet_addr(c.daf, &c.daddr);
        skb.alter_conntrack_reply(true, &daddr, ports.then_some(c.dport));
    } else {
        let vaddr = inet_addr(c.af, &c.vaddr);
        skb.alter_conntrack_reply(false, &vaddr, ports.then_some(c.vport));
    }
}

/// What the NAT send path and the replies' path (`handle_response`) do with a packet's conntrack
/// entry: untracked for a connection that does not keep conntrack (`ip_vs_notrack`), else, for
/// NAT, the reply tuple updated (`ip_vs_update_conntrack`). `outin` as for [`update_conntrack`].
pub(crate) fn track(skb: &mut Skb, c: &Conn, outin: bool) {
    if c.uses_conntrack() {
        update_conntrack(skb, c, outin);
    } else {
        skb.notrack();
    }
}

/// `ip_vs_conn_drop_conntrack`: a connection ended; its conntrack entry (found by the
/// connection's original tuple, client → virtual service) goes at once rather than living out
/// conntrack's own timeout. Templates (no client port) have none.
pub(crate) fn drop_conntrack(net: &Net, c: &Conn) {
    if c.cport == 0 {
        return;
    }
    let caddr = inet_addr(c.af, &c.caddr);
    let vaddr = inet_addr(c.af, &c.vaddr);
    kapi::nfct::kill(net, c.af, c.protocol, &caddr, c.cport, &vaddr, c.vport);
}

/// `ip_vs_conn_uses_old_conntrack`: the packet belongs to a confirmed conntrack entry, which
/// cannot be redirected to another real server.
pub(crate) fn uses_old_conntrack(skb: &Skb) -> bool {
    skb.conntrack().is_some_and(|ct| ct.confirmed)
}
