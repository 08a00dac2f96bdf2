//! Output routes to real servers (`ip_route_output_key`, `ip6_route_output`), and the route each
//! destination keeps (`dest->dest_dst`).
//!
//! A [`Route`] holds a reference on a `dst_entry` until it is attached to a packet
//! ([`super::skb::Skb::set_route`]) or dropped. A [`RouteCache`] keeps a destination's route as
//! ip_vs does: looked up once, checked on every use (`dst->ops->check`: the routing tables have
//! not changed since), and attached to packets without reference counting
//! (`skb_dst_set_noref`) for the RCU read section the packet is sent in.

use core::{
    ptr::NonNull,
    sync::atomic::{AtomicPtr, Ordering},
};

use super::{bindings, pernet::Net, rcu::Guard};

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

/// A destination's cached route (`struct ip_vs_dest_dst`), replaced after an RCU grace period.
pub(crate) struct RouteCache {
    slot: AtomicPtr<bindings::rvs_dest_dst>,
}

impl RouteCache {
    /// No route cached yet.
    pub(crate) const fn new() -> Self {
        Self {
            slot: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// The cached route if it is still valid (`__ip_vs_dst_check`).
    pub(crate) fn get<'a>(&'a self, _guard: &'a Guard) -> Option<CachedRoute<'a>> {
        let mut mtu = 0;
        // SAFETY: `slot` holds null or an entry that stays allocated for the RCU read section
        // the guard proves (replaced entries are freed after a grace period); `mtu` is ours.
        let d = unsafe { bindings::rvs_dest_dst_get(self.slot.as_ptr(), &mut mtu) };
        // SAFETY: As above: valid for `'a`, never written once published.
        unsafe { d.as_ref() }.map(|d| CachedRoute { d, mtu })
    }

    /// Caches `route` (with a reference of its own) in place of what was there
    /// (`__ip_vs_dst_set`). Any context.
    pub(crate) fn store(&self, route: &Route, ipv6: bool) {
        // SAFETY: `slot` is ours; `route` is referenced; `saddr` is 16 readable bytes.
        unsafe {
            bindings::rvs_dest_dst_set(
                self.slot.as_ptr(),
                route.dst.as_ptr(),
                route.local,
                route.saddr.as_ptr(),
                ipv6,
            )
        }
    }

    /// Forgets the cached route (`__ip_vs_dst_cache_reset`): a destination edited. Any context.
    pub(crate) fn reset(&self) {
        if self.slot.load(Ordering::Relaxed).is_null() {
            return;
        }
        // SAFETY: As in `store`, with no route.
        unsafe {
            bindings::rvs_dest_dst_set(
                self.slot.as_ptr(),
                core::ptr::null_mut(),
                false,
                [0u8; 16].as_ptr(),
                false,
            )
        }
    }

    /// Forgets the cached route if it goes out through `dev` (`ip_vs_forget_dev`): the device
    /// is going down, and its unregistration would wait for the route's reference.
    pub(crate) fn forget_dev(&self, dev: &super::netdev::Device<'_>) {
        if self.slot.load(Ordering::Relaxed).is_null() {
            return;
        }
        // SAFETY: `slot` is ours; `dev` is only compared.
        unsafe { bindings::rvs_dest_dst_forget_dev(self.slot.as_ptr(), dev.as_ptr()) }
    }
}

impl Drop for RouteCache {
    fn drop(&mut self) {
        self.reset();
    }
}

/// A valid cached route, for one RCU read section.
pub(crate) struct CachedRoute<'a> {
    d: &'a bindings::rvs_dest_dst,
    /// Its `dst_mtu`, read with it.
    mtu: u32,
}

impl CachedRoute<'_> {
    pub(crate) fn dst(&self) -> *mut bindings::dst_entry {
        self.d.dst
    }
}

/// A route for one packet: looked up for it, or a destination's cached one.
pub(crate) enum AnyRoute<'a> {
    Owned(Route),
    Cached(CachedRoute<'a>),
}

impl AnyRoute<'_> {
    fn dst(&self) -> *mut bindings::dst_entry {
        match self {
            Self::Owned(r) => r.dst.as_ptr(),
            Self::Cached(c) => c.d.dst,
        }
    }

    /// The route delivers to this host.
    pub(crate) fn local(&self) -> bool {
        match self {
            Self::Owned(r) => r.local,
            Self::Cached(c) => c.d.local,
        }
    }

    /// The source address the route chose (IPv4 in the first 4 bytes).
    pub(crate) fn saddr(&self) -> [u8; 16] {
        match self {
            Self::Owned(r) => r.saddr,
            Self::Cached(c) => c.d.saddr,
        }
    }

    /// `dst_mtu`.
    pub(crate) fn mtu(&self) -> u32 {
        match self {
            Self::Owned(r) => r.mtu(),
            Self::Cached(c) => c.mtu,
        }
    }

    /// `LL_RESERVED_SPACE` of the route's device.
    pub(crate) fn dev_headroom(&self) -> u32 {
        // SAFETY: As above.
        unsafe { bindings::rvs_dst_dev_headroom(self.dst()) }
    }
}

/// `ip_vs_addr_is_unicast`: for IPv4 a unicast route type in `net` (so not a local, broadcast
/// or multicast address), for IPv6 a unicast address type. `addr` holds IPv4 in its first 4
/// bytes.
pub(crate) fn is_unicast(net: &Net, ipv6: bool, addr: &[u8; 16]) -> bool {
    // SAFETY: `net` is live (type invariant of `Net`); `addr` is readable for 16 bytes.
    unsafe { bindings::rvs_addr_is_unicast(net.as_ptr(), ipv6, addr.as_ptr()) }
}
