//! A periodic timer of a namespace (`timer_list` re-armed from its own callback).
//!
//! [`Periodic<T>`] calls [`Tick::tick`] with the namespace every `period` jiffies, in softirq
//! context, until it is dropped; dropping it waits for a running callback and stops re-arming
//! (`timer_shutdown_sync`), so the tick never runs once its owner started going away.

use core::{marker::PhantomData, mem::offset_of};

use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    error::Result,
    types::Opaque,
};

use super::{bindings, pernet::Net};

/// What a periodic timer does.
pub(crate) trait Tick: 'static {
    /// One tick for namespace `net` (softirq context: must not sleep).
    fn tick(net: &Net);
}

#[repr(C)]
struct Inner {
    timer: Opaque<bindings::timer_list>,
    net: *mut bindings::net,
    period: usize,
}

/// A running periodic timer.
///
/// # Invariants
///
/// `inner.timer` is set up with `callback::<T>`, and `inner.net` outlives this value.
pub(crate) struct Periodic<T: Tick> {
    inner: KBox<Inner>,
    _tick: PhantomData<T>,
}

// SAFETY: The timer may be stopped from any thread; the tick only gets the namespace.
unsafe impl<T: Tick> Send for Periodic<T> {}
// SAFETY: `&Periodic` gives access to nothing.
unsafe impl<T: Tick> Sync for Periodic<T> {}

impl<T: Tick> Periodic<T> {
    /// Starts ticking every `period` jiffies for `net`, which must outlive the value.
    pub(crate) fn start(net: &Net, period: u32) -> Result<Self> {
        let inner = KBox::new(
            Inner {
                timer: Opaque::uninit(),
                net: net.as_ptr(),
                period: period as usize,
            },
            GFP_KERNEL,
        )?;
        // SAFETY: The timer is boxed and never moves; it is set up once, here, then armed.
        unsafe {
            bindings::rvs_timer_setup(inner.timer.get(), Some(Self::callback));
            bindings::mod_timer(
                inner.timer.get(),
                bindings::rvs_jiffies().wrapping_add(inner.period),
            );
        }
        // INVARIANT: set up above.
        Ok(Self {
            inner,
            _tick: PhantomData,
        })
    }

    /// The timer callback.
    ///
    /// # Safety
    ///
    /// Only the timer core calls it, with the timer of a live `Inner`.
    unsafe extern "C" fn callback(t: *mut bindings::timer_list) {
        // SAFETY: `t` is the `timer` field of a live `Inner` (type invariant of `Periodic`).
        let inner = unsafe { &*t.cast::<u8>().sub(offset_of!(Inner, timer)).cast::<Inner>() };
        // SAFETY: The namespace outlives the timer (type invariant).
        T::tick(unsafe { Net::from_raw(inner.net) });
        // SAFETY: As above; after `timer_shutdown_sync` this is a no-op.
        unsafe { bindings::mod_timer(t, bindings::rvs_jiffies().wrapping_add(inner.period)) };
    }
}

impl<T: Tick> Drop for Periodic<T> {
    fn drop(&mut self) {
        // SAFETY: The timer is set up; shutting it down waits for a running callback.
        unsafe { bindings::timer_shutdown_sync(self.inner.timer.get()) };
    }
}
