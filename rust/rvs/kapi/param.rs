//! Module parameters. 6.12's Rust has none, so they are declared in `kapi/shim.c` and read here.

use super::bindings;

/// The `ipvs_compat` parameter: speak as ip_vs (family `IPVS`, `/proc/net/ip_vs*`,
/// `net.ipv4.vs.*`) when true, as `RVS` beside ip_vs when false.
pub(crate) fn ipvs_compat() -> bool {
    // SAFETY: The shim only reads a `bool` module parameter that the kernel set before init and
    // never changes afterwards (permissions 0444).
    unsafe { bindings::rvs_param_ipvs_compat() }
}

/// The `ftp_ports` parameter (ip_vs_ftp's `ports`): the virtual ports whose NAT connections the
/// FTP helper watches. Zeros are given as they were (ip_vs skips them).
pub(crate) fn ftp_ports() -> &'static [u16] {
    let mut ports: *const u16 = core::ptr::null();
    // SAFETY: The shim writes the address of a static array and returns how many of its
    // entries the kernel set before init; both never change afterwards (permissions 0444).
    let n = unsafe { bindings::rvs_param_ftp_ports(&mut ports) } as usize;
    if ports.is_null() {
        return &[];
    }
    // SAFETY: As above: `n` entries (at most 8, the array's size) of a static array.
    unsafe { core::slice::from_raw_parts(ports, n.min(8)) }
}

/// The `sync_resync` parameter: a starting sync backup asks for a full resync, and a starting
/// sync master listens for such requests (docs/sync.md).
pub(crate) fn sync_resync() -> bool {
    // SAFETY: The shim reads a `bool` module parameter with `READ_ONCE`; writes through sysfs
    // store whole values.
    unsafe { bindings::rvs_param_sync_resync() }
}
