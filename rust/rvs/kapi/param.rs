//! Module parameters. 6.12's Rust has none, so they are declared in `kapi/shim.c` and read here.

use super::bindings;

/// The `ipvs_compat` parameter: speak as ip_vs (family `IPVS`, `/proc/net/ip_vs*`,
/// `net.ipv4.vs.*`) when true, as `RVS` beside ip_vs when false.
pub(crate) fn ipvs_compat() -> bool {
    // SAFETY: The shim only reads a `bool` module parameter that the kernel set before init and
    // never changes afterwards (permissions 0444).
    unsafe { bindings::rvs_param_ipvs_compat() }
}

/// The `sync_resync` parameter: a starting sync backup asks for a full resync, and a starting
/// sync master listens for such requests (docs/sync.md).
pub(crate) fn sync_resync() -> bool {
    // SAFETY: The shim reads a `bool` module parameter with `READ_ONCE`; writes through sysfs
    // store whole values.
    unsafe { bindings::rvs_param_sync_resync() }
}
