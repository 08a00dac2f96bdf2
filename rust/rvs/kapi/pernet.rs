//! Per-network-namespace state, as ip_vs keeps `struct netns_ipvs`.
//!
//! [`Pernet<T>`] wraps a `pernet_operations`: registering it calls [`NetState::init`] for every
//! existing namespace and every new one, and stores the boxed state in the namespace's generic
//! slot; unregistering (dropping the [`Registration`]) drops the state of every namespace.

use core::{
    ffi::c_int,
    marker::PhantomData,
    sync::atomic::{AtomicBool, Ordering},
};

use core::pin::Pin;

use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    error::{code::EBUSY, from_result, to_result, Error, Result},
    init::{InPlaceInit, PinInit},
    types::Opaque,
};

use super::bindings;

/// A network namespace.
///
/// # Invariants
///
/// The wrapped `struct net` is alive for as long as the reference to this type is.
#[repr(transparent)]
pub(crate) struct Net(Opaque<bindings::net>);

impl Net {
    /// Borrows a `struct net`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live `struct net` that stays alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::net) -> &'a Net {
        // SAFETY: `Net` is a transparent wrapper of `struct net`, and the caller guarantees the
        // pointee outlives `'a`.
        unsafe { &*ptr.cast::<Net>() }
    }

    /// The raw `struct net` pointer, for other `kapi` wrappers.
    pub(crate) fn as_ptr(&self) -> *mut bindings::net {
        self.0.get()
    }
}

/// State kept per network namespace.
pub(crate) trait NetState: Sized + Send + Sync + 'static {
    /// The registration point this state type is kept in.
    fn pernet() -> &'static Pernet<Self>;

    /// Creates the state of a new namespace in place (process context, may sleep).
    fn init(net: &Net) -> impl PinInit<Self, Error>;

    /// The namespace is going away (`pre_exit`): runs before its devices are unregistered, so
    /// what holds references to them (kernel sockets and their cached routes) must go here, as
    /// ip_vs stops its sync threads from a `pernet_device` exit. The state itself is dropped
    /// later, in `exit`.
    fn pre_exit(&self) {}
}

/// A `pernet_operations` table for state of type `T`, meant to live in a `static`.
pub(crate) struct Pernet<T: NetState> {
    ops: Opaque<bindings::pernet_operations>,
    id: Opaque<core::ffi::c_uint>,
    registered: AtomicBool,
    /// Set once registration succeeded and until unregistration starts: only then do the
    /// namespaces' slots hold state.
    live: AtomicBool,
    _state: PhantomData<T>,
}

// SAFETY: The C structures are written only in `register`, which `registered` makes exclusive and
// which happens before any other thread can see them (the kernel reads them after registration);
// `T` itself is `Send + Sync`.
unsafe impl<T: NetState> Sync for Pernet<T> {}

impl<T: NetState> Pernet<T> {
    /// An unregistered table.
    pub(crate) const fn new() -> Self {
        Self {
            ops: Opaque::uninit(),
            id: Opaque::uninit(),
            registered: AtomicBool::new(false),
            live: AtomicBool::new(false),
            _state: PhantomData,
        }
    }

    /// Registers the table: [`NetState::init`] runs for every namespace, now and later.
    pub(crate) fn register(&'static self) -> Result<Registration<T>> {
        if self.registered.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        let ops = bindings::pernet_operations {
            init: Some(Self::init_callback),
            pre_exit: Some(Self::pre_exit_callback),
            exit: Some(Self::exit_callback),
            id: self.id.get(),
            size: core::mem::size_of::<*mut T>(),
            // SAFETY: All-zero is a valid `pernet_operations` (null list links and callbacks).
            ..unsafe { core::mem::zeroed() }
        };
        // SAFETY: `self.ops` and `self.id` are valid for writes and, by `registered`, nobody else
        // uses them until registration below publishes them.
        unsafe {
            self.id.get().write(0);
            self.ops.get().write(ops);
        }
        // SAFETY: `self.ops` is a fully initialised `pernet_operations` in a `static`, so it
        // outlives the registration, which `Registration::drop` undoes.
        let ret = unsafe { bindings::register_pernet_subsys(self.ops.get()) };
        if let Err(e) = to_result(ret) {
            self.registered.store(false, Ordering::Release);
            return Err(e);
        }
        self.live.store(true, Ordering::Release);
        Ok(Registration { pernet: self })
    }

    /// The state of namespace `net`, or `None` while the table is not registered.
    pub(crate) fn get<'a>(&'static self, net: &'a Net) -> Option<&'a T> {
        self.get_rcu(net, &super::rcu::read_lock())
    }

    /// [`Pernet::get`] for a caller in an RCU read section (the packet path): reads the
    /// namespace's generic array as `net_generic` does, without a read lock of its own.
    pub(crate) fn get_rcu<'a>(
        &'static self,
        net: &'a Net,
        _guard: &super::rcu::Guard,
    ) -> Option<&'a T> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: `net` is live (type invariant of `Net`) and the table is registered (`live`), so
        // the namespace's generic slot holds the state `init_callback` stored (a namespace whose
        // `init` failed is never created). The state lives until the namespace's `exit`, which
        // cannot run while a reference to the live namespace exists. `net->gen` is read as
        // `rcu_dereference` does (the guard holds the read section for the array), and
        // `ptr[id]` is `net_generic`'s own indexing: the array of pointers starts at the
        // `net_generic` (its header shares the first slots).
        let state = unsafe {
            let ng = core::ptr::read_volatile(core::ptr::addr_of!((*net.as_ptr()).gen));
            let ptrs = ng.cast::<*mut core::ffi::c_void>();
            let slot = ptrs.add(*self.id.get() as usize).read().cast::<*mut T>();
            slot.read()
        };
        // SAFETY: See above: the pointer is either null or a live boxed `T`.
        unsafe { state.as_ref() }
    }

    /// The `init` of the `pernet_operations`.
    ///
    /// # Safety
    ///
    /// Only the namespace core calls it, with a live namespace whose generic slot for this
    /// table was allocated (`id` and `size` are set).
    unsafe extern "C" fn init_callback(net: *mut bindings::net) -> c_int {
        from_result(|| {
            // SAFETY: The kernel calls `init` with a namespace that lives until `exit`.
            let state = KBox::try_pin_init(T::init(unsafe { Net::from_raw(net) }), GFP_KERNEL)?;
            // SAFETY: The state is never moved out of its box: `exit_callback` drops it in place.
            let state = KBox::into_raw(unsafe { Pin::into_inner_unchecked(state) });
            // SAFETY: With `id` and `size` set, the kernel allocated this namespace's generic slot
            // of pointer size before calling `init`; we own it until `exit`.
            unsafe {
                let slot = bindings::net_generic(net, *T::pernet().id.get()).cast::<*mut T>();
                slot.write(state);
            }
            Ok(0)
        })
    }

    /// The `pre_exit` of the `pernet_operations`.
    ///
    /// # Safety
    ///
    /// Only the namespace core calls it, once per namespace whose `init` succeeded, before
    /// `exit`.
    unsafe extern "C" fn pre_exit_callback(net: *mut bindings::net) {
        // SAFETY: Between `init` and `exit` the slot holds the state `init_callback` stored
        // (read directly: `live` is already false when the table is being unregistered).
        unsafe {
            let slot = bindings::net_generic(net, *T::pernet().id.get()).cast::<*mut T>();
            if let Some(state) = slot.read().as_ref() {
                state.pre_exit();
            }
        }
    }

    /// The `exit` of the `pernet_operations`.
    ///
    /// # Safety
    ///
    /// Only the namespace core calls it, once per namespace whose `init` succeeded, when
    /// nothing else uses the namespace any more.
    unsafe extern "C" fn exit_callback(net: *mut bindings::net) {
        // SAFETY: `exit` runs once per namespace whose `init` succeeded, after every user of the
        // namespace is gone, so the slot holds the box `init_callback` stored and nobody else
        // refers to it.
        unsafe {
            let slot = bindings::net_generic(net, *T::pernet().id.get()).cast::<*mut T>();
            drop(KBox::from_raw(slot.read()));
            slot.write(core::ptr::null_mut());
        }
    }
}

/// A registered [`Pernet`] table; dropping it drops the state of every namespace.
pub(crate) struct Registration<T: NetState> {
    pernet: &'static Pernet<T>,
}

impl<T: NetState> Drop for Registration<T> {
    fn drop(&mut self) {
        self.pernet.live.store(false, Ordering::Release);
        // SAFETY: The table was registered by `Pernet::register`, which created `self`.
        unsafe { bindings::unregister_pernet_subsys(self.pernet.ops.get()) };
        self.pernet.registered.store(false, Ordering::Release);
    }
}

impl Net {
    /// Turns on IPv6 defragmentation in this namespace (`nf_defrag_ipv6_enable`), as ip_vs does
    /// for every IPv6 service and real server: the hooks then see reassembled datagrams. Like
    /// ip_vs, rvs never turns it off again (the namespace's exit does).
    pub(crate) fn enable_ipv6_defrag(&self) -> kernel::error::Result {
        // SAFETY: The namespace is live (type invariant); process context.
        to_result(unsafe { bindings::nf_defrag_ipv6_enable(self.as_ptr()) })
    }

    /// Whether `addr` (of family `af`) may be a real server: for IPv4 a unicast or local address
    /// (`inet_addr_type`), for IPv6 a unicast address that is not link-local unless it is one of
    /// this host's (as `ip_vs_new_dest` checks).
    pub(crate) fn is_unicast_or_local(&self, af: u16, addr: &[u8; 16]) -> bool {
        if af == bindings::AF_INET6 as u16 {
            // SAFETY: All-zero is a valid `in6_addr`.
            let mut a: bindings::in6_addr = unsafe { core::mem::zeroed() };
            // SAFETY: `in6_addr` is 16 bytes of address; `a` is a local of that size.
            unsafe { core::ptr::copy_nonoverlapping(addr.as_ptr(), (&raw mut a).cast::<u8>(), 16) };
            // SAFETY: `a` is a valid address; `__ipv6_addr_type` only reads it.
            let atype = unsafe { bindings::__ipv6_addr_type(&a) } as u32 & 0xffff;
            if atype & bindings::IPV6_ADDR_UNICAST != 0
                && atype & bindings::IPV6_ADDR_LINKLOCAL == 0
            {
                return true;
            }
            // SAFETY: The namespace is live (type invariant); a null device means any device.
            let local = unsafe { bindings::ipv6_chk_addr(self.as_ptr(), &a, core::ptr::null(), 0) };
            local != 0
        } else {
            let [a, b, c, d, ..] = *addr;
            // SAFETY: The namespace is live (type invariant).
            let atype = unsafe {
                bindings::inet_addr_type(self.as_ptr(), u32::from_ne_bytes([a, b, c, d]))
            };
            atype == bindings::RVS_RTN_LOCAL || atype == bindings::RVS_RTN_UNICAST
        }
    }
}
