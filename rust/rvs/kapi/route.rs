//! Output routes to real servers (`ip_route_output_key`, `ip6_route_output`).
//!
//! A [`Route`] holds a reference on a `dst_entry` until it is attached to a packet
//! ([`super::skb::Skb::set_route`]) or dropped.

use core::ptr::NonNull;

use super::{bindings, pernet::Net};

/// A referenced output route.
///
/// # Invariants
///
/// `dst` is a `dst_entry` on which this value holds one reference.
pub(crate) struct Route {
    dst: NonNull<bindings::dst_entry>,
    /// The route delivers to this host (`RTCF_LOCAL`, or an IPv6 loopback device).
    pub(crate) local: bool,
    /// The source address the route chose (IPv4 in the first 4 bytes).
    pub(crate) saddr: [u8; 16],
}

// SAFETY: A dst reference may be released from any context and CPU.
unsafe impl Send for Route {}

impl Route {
    /// The IPv4 route to `daddr`. `known_nh` is ip_vs's `IP_VS_RT_MODE_KNOWN_NH` (send to the
    /// address as next hop: direct routing), `connect` its `IP_VS_RT_MODE_CONNECT` (bind the
    /// route to the source it chose: tunnels).
    pub(crate) fn v4(net: &Net, daddr: [u8; 4], known_nh: bool, connect: bool) -> Option<Self> {
        let mut saddr = 0u32;
        let mut local = false;
        // SAFETY: `net` is live; the out-pointers are valid locals.
        let dst = unsafe {
            bindings::rvs_route4(
                net.as_ptr(),
                u32::from_ne_bytes(daddr),
                known_nh,
                connect,
                &mut saddr,
                &mut local,
            )
        };
        let mut s = [0u8; 16];
        s[..4].copy_from_slice(&saddr.to_ne_bytes());
        // INVARIANT: a non-null result carries a reference for us.
        NonNull::new(dst).map(|dst| Self {
            dst,
            local,
            saddr: s,
        })
    }

    /// The IPv6 route to `daddr`; `want_saddr` also picks a source address (tunnels).
    pub(crate) fn v6(
        net: &Net,
        daddr: &[u8; 16],
        known_nh: bool,
        want_saddr: bool,
    ) -> Option<Self> {
        // SAFETY: All-zero is a valid `in6_addr`.
        let mut d: bindings::in6_addr = unsafe { core::mem::zeroed() };
        // SAFETY: All-zero is a valid `in6_addr`.
        let mut s: bindings::in6_addr = unsafe { core::mem::zeroed() };
        // SAFETY: `in6_addr` is 16 bytes of address.
        unsafe { core::ptr::copy_nonoverlapping(daddr.as_ptr(), (&raw mut d).cast::<u8>(), 16) };
        let mut local = false;
        // SAFETY: `net` is live; the pointers are valid locals.
        let dst = unsafe {
            bindings::rvs_route6(net.as_ptr(), &d, known_nh, &mut s, want_saddr, &mut local)
        };
        let mut saddr = [0u8; 16];
        // SAFETY: As above.
        unsafe {
            core::ptr::copy_nonoverlapping((&raw const s).cast::<u8>(), saddr.as_mut_ptr(), 16)
        };
        // INVARIANT: a non-null result carries a reference for us.
        NonNull::new(dst).map(|dst| Self { dst, local, saddr })
    }

    /// `dst_mtu`.
    pub(crate) fn mtu(&self) -> u32 {
        // SAFETY: `dst` is referenced (type invariant).
        unsafe { bindings::rvs_dst_mtu(self.dst.as_ptr()) }
    }

    /// `LL_RESERVED_SPACE` of the route's device.
    pub(crate) fn dev_headroom(&self) -> u32 {
        // SAFETY: As above.
        unsafe { bindings::rvs_dst_dev_headroom(self.dst.as_ptr()) }
    }

    /// Gives up the reference to the caller (the skb).
    pub(crate) fn into_raw(self) -> *mut bindings::dst_entry {
        let dst = self.dst.as_ptr();
        core::mem::forget(self);
        dst
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        // SAFETY: We hold a reference (type invariant).
        unsafe { bindings::rvs_dst_release(self.dst.as_ptr()) }
    }
}

/// `ip_vs_addr_is_unicast`: for IPv4 a unicast route type in `net` (so not a local, broadcast
/// or multicast address), for IPv6 a unicast address type. `addr` holds IPv4 in its first 4
/// bytes.
pub(crate) fn is_unicast(net: &Net, ipv6: bool, addr: &[u8; 16]) -> bool {
    // SAFETY: `net` is live (type invariant of `Net`); `addr` is readable for 16 bytes.
    unsafe { bindings::rvs_addr_is_unicast(net.as_ptr(), ipv6, addr.as_ptr()) }
}
