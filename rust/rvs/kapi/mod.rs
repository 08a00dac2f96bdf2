//! The only part of rvs that touches C.
//!
//! Everything the rest of the module needs from the kernel beyond the `kernel` crate of 6.12 —
//! generic netlink, network-namespace state, module parameters, sysctl tables, and later netfilter hooks,
//! sk_buffs, routes, timers, RCU and per-CPU counters — is wrapped here in small safe types. The
//! rest of `rust/rvs` is safe Rust: `unsafe` appears in this directory only, each block with a
//! `// SAFETY:` comment.

pub(crate) mod bindings;
pub(crate) mod conntab;
pub(crate) mod errno;
pub(crate) mod genl;
pub(crate) mod lock;
pub(crate) mod modwatch;
pub(crate) mod netfilter;
pub(crate) mod nfct;
pub(crate) mod param;
pub(crate) mod pernet;
pub(crate) mod proc;
pub(crate) mod rcu;
pub(crate) mod route;
pub(crate) mod skb;
pub(crate) mod sysctl;
pub(crate) mod timer;

/// The kernel's `HZ` (jiffies per second).
pub(crate) const HZ: u32 = bindings::RVS_HZ;

/// The GSO type of IP-in-IPv4 encapsulation (`SKB_GSO_IPXIP4`).
pub(crate) const GSO_IPXIP4: u32 = bindings::RVS_SKB_GSO_IPXIP4;
/// The GSO type of IP-in-IPv6 encapsulation (`SKB_GSO_IPXIP6`).
pub(crate) const GSO_IPXIP6: u32 = bindings::RVS_SKB_GSO_IPXIP6;

/// GSO types of UDP (GUE) and GRE encapsulation, without and with outer checksum.
pub(crate) const GSO_UDP_TUNNEL: u32 = bindings::RVS_SKB_GSO_UDP_TUNNEL;
pub(crate) const GSO_UDP_TUNNEL_CSUM: u32 = bindings::RVS_SKB_GSO_UDP_TUNNEL_CSUM;
pub(crate) const GSO_GRE: u32 = bindings::RVS_SKB_GSO_GRE;
pub(crate) const GSO_GRE_CSUM: u32 = bindings::RVS_SKB_GSO_GRE_CSUM;

/// The kernel's tick counter (`jiffies`), truncated to 32 bits like the timeouts it is
/// compared with.
pub(crate) fn jiffies() -> u32 {
    // SAFETY: Reading jiffies has no preconditions.
    unsafe { bindings::rvs_jiffies() as u32 }
}

/// A uniform random number in `0..ceil` (`get_random_u32_below`); `ceil` must not be 0.
pub(crate) fn random_u32_below(ceil: u32) -> u32 {
    // SAFETY: Any context may ask for random numbers.
    unsafe { bindings::rvs_random_below(ceil.max(1)) }
}
