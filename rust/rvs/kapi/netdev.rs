//! Network devices going down: a netdevice notifier (`register_netdevice_notifier`) for
//! `NETDEV_DOWN`, which ip_vs's `ip_vs_dst_event` listens to so that the routes its destinations
//! cache let go of the device (an unregistration waits for every reference to its device).

use core::{
    ffi::{c_int, c_void},
    marker::PhantomData,
    ptr::NonNull,
};

use super::{bindings, notifier, pernet::Net};

/// A network device, for the duration of the notification that names it.
pub(crate) struct Device<'a> {
    dev: NonNull<bindings::net_device>,
    _call: PhantomData<&'a ()>,
}

impl Device<'_> {
    /// The raw `struct net_device` pointer, for other `kapi` wrappers (compared, never
    /// dereferenced by them without the notification's guarantee).
    pub(crate) fn as_ptr(&self) -> *const bindings::net_device {
        self.dev.as_ptr()
    }
}

/// What to do when a device goes down.
pub(crate) trait Down: 'static {
    /// Device `dev` of namespace `net` went down (`NETDEV_DOWN`, under RTNL; may sleep).
    fn down(net: &Net, dev: &Device<'_>);
}

/// The netdevice notifier's handler for `H`.
pub(crate) struct DownHandler<H: Down>(PhantomData<H>);

/// A netdevice notifier calling `H` on `NETDEV_DOWN`, meant to live in a `static`.
pub(crate) type Watch<H> = notifier::Block<DownHandler<H>>;

/// A registered [`Watch`]. Dropping it unregisters the notifier, and the kernel first replays
/// `NETDEV_DOWN` to it for every running device of every namespace.
pub(crate) type Registration<H> = notifier::Registration<DownHandler<H>>;

impl<H: Down> notifier::Handler for DownHandler<H> {
    const REGISTER: unsafe extern "C" fn(*mut bindings::notifier_block) -> c_int =
        bindings::register_netdevice_notifier;
    const UNREGISTER: unsafe extern "C" fn(*mut bindings::notifier_block) -> c_int =
        bindings::unregister_netdevice_notifier;
    /// Before IPv6's `addrconf_notify` (`ADDRCONF_NOTIFY_PRIORITY + 5`, as ip_vs's
    /// `ip_vs_dst_notifier`): addrconf moves a down device's uncached routes (direct routing's
    /// `FLOWI_FLAG_KNOWN_NH` clones) to `blackhole_netdev`, after which they no longer name the
    /// device but still hold it, through their fib entry.
    const PRIORITY: c_int = bindings::ADDRCONF_NOTIFY_PRIORITY as c_int + 5;

    /// Netdevice notifications pass a `struct netdev_notifier_info` as `data`.
    unsafe fn call(action: usize, data: *mut c_void) -> c_int {
        let mut net = core::ptr::null_mut();
        // SAFETY: `data` is the notification's info (caller's contract); `net` is a valid local.
        let dev = unsafe { bindings::rvs_netdev_down(action, data, &mut net) };
        if let Some(dev) = NonNull::new(dev) {
            // SAFETY: The device's namespace lives at least as long as the notification about
            // one of its devices.
            let net = unsafe { Net::from_raw(net) };
            H::down(
                net,
                &Device {
                    dev,
                    _call: PhantomData,
                },
            );
        }
        bindings::NOTIFY_DONE as c_int
    }
}
