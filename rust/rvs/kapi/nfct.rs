//! Netfilter conntrack entries that are not a packet's (the packet's own entry is reached through
//! [`super::skb::Skb::conntrack`]): removing the entry of a connection that ended
//! (`ip_vs_conn_drop_conntrack`'s lookup and kill).

use super::{bindings, pernet::Net};

/// Kills the conntrack entry of namespace `net` (zone 0) whose original tuple is
/// `saddr:sport -> daddr:dport` of `protocol` (`nf_conntrack_find_get` + `nf_ct_kill`), if
/// there is one. IPv4 addresses are in the first 4 bytes, the rest zero. Any context.
pub(crate) fn kill(
    net: &Net,
    af: u16,
    protocol: u8,
    saddr: &[u8; 16],
    sport: u16,
    daddr: &[u8; 16],
    dport: u16,
) {
    // SAFETY: `net` is live; the addresses are 16 readable bytes each; the call takes and
    // gives back its own reference to what it finds.
    unsafe {
        bindings::rvs_ct_kill_tuple(
            net.as_ptr(),
            af,
            protocol,
            saddr.as_ptr(),
            sport.to_be(),
            daddr.as_ptr(),
            dport.to_be(),
        )
    }
}
