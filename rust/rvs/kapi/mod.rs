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
pub(crate) mod netdev;
pub(crate) mod netfilter;
pub(crate) mod nfct;
pub(crate) mod notifier;
pub(crate) mod param;
pub(crate) mod percpu;
pub(crate) mod pernet;
pub(crate) mod proc;
pub(crate) mod rcu;
pub(crate) mod route;
pub(crate) mod skb;
pub(crate) mod syncsock;
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
/// `SKB_GSO_TUNNEL_REMCSUM`.
pub(crate) const GSO_TUNNEL_REMCSUM: u32 = bindings::RVS_SKB_GSO_TUNNEL_REMCSUM;

/// The kernel's tick counter (`jiffies`), all 64 bits: the clock of the schedulers, whose
/// `time_before`/`time_after` work on 64-bit values (the 32-bit counter wraps five minutes after
/// boot, by `INITIAL_JIFFIES`).
pub(crate) fn jiffies64() -> u64 {
    // SAFETY: Reading jiffies has no preconditions.
    unsafe { bindings::rvs_jiffies() as u64 }
}

/// Free plus buffer RAM in pages (`si_meminfo`, as `update_defense_level` counts it).
pub(crate) fn avail_pages() -> u64 {
    // SAFETY: si_meminfo may be called from any context.
    unsafe { bindings::rvs_avail_pages() as u64 }
}

/// A uniform random number in `0..ceil` (`get_random_u32_below`); `ceil` must not be 0.
pub(crate) fn random_u32_below(ceil: u32) -> u32 {
    // SAFETY: Any context may ask for random numbers.
    unsafe { bindings::rvs_random_below(ceil.max(1)) }
}

/// A fixed buffer for a C name (a slab cache's, a kernel thread's) written with `write!`,
/// always leaving a terminating NUL: writing more fails.
pub(crate) struct NameBuf<'a>(pub(crate) &'a mut [u8; 24], pub(crate) usize);

impl core::fmt::Write for NameBuf<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            if self.1 + 1 >= self.0.len() {
                return Err(core::fmt::Error);
            }
            self.0[self.1] = b;
            self.1 += 1;
        }
        Ok(())
    }
}
