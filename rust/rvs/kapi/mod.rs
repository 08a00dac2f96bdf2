//! The only part of rvs that touches C.
//!
//! Everything the rest of the module needs from the kernel beyond the `kernel` crate of 6.12 —
//! generic netlink, network-namespace state, module parameters, sysctl tables, and later netfilter hooks,
//! sk_buffs, routes, timers, RCU and per-CPU counters — is wrapped here in small safe types. The
//! rest of `rust/rvs` is safe Rust: `unsafe` appears in this directory only, each block with a
//! `// SAFETY:` comment.

pub(crate) mod bindings;
pub(crate) mod errno;
pub(crate) mod genl;
pub(crate) mod modwatch;
pub(crate) mod param;
pub(crate) mod pernet;
pub(crate) mod proc;
pub(crate) mod rcu;
pub(crate) mod sysctl;

/// The kernel's `HZ` (jiffies per second).
pub(crate) const HZ: u32 = bindings::RVS_HZ;
