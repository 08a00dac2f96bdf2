//! Periodic work of a namespace: a timer (`timer_list` re-armed from its own callback) and a
//! delayed work (requeued from its own function).
//!
//! [`Periodic<T>`] calls [`Tick::tick`] with the namespace every `period` jiffies, in softirq
//! context, until it is dropped; dropping it waits for a running callback and stops re-arming
//! (`timer_shutdown_sync`), so the tick never runs once its owner started going away.
//! [`PeriodicWork<T>`] does the same in process context on `system_long_wq` (for work that may
//! take locks a softirq must not, like `si_meminfo`'s), stopped by `cancel_delayed_work_sync`.

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

/// What a periodic work does.
pub(crate) trait Job: 'static {
    /// One run for namespace `net` (process context).
    fn run(net: &Net);
}

#[repr(C)]
struct WorkInner {
    work: Opaque<bindings::delayed_work>,
    net: *mut bindings::net,
    period: usize,
}

/// A periodic delayed work.
///
/// # Invariants
///
/// `inner.work` is initialised with `function::<T>`, and `inner.net` outlives this value.
pub(crate) struct PeriodicWork<T: Job> {
    inner: KBox<WorkInner>,
    _job: PhantomData<T>,
}

// SAFETY: The work may be cancelled from any thread; the job only gets the namespace.
unsafe impl<T: Job> Send for PeriodicWork<T> {}
// SAFETY: `&PeriodicWork` gives access to nothing.
unsafe impl<T: Job> Sync for PeriodicWork<T> {}

impl<T: Job> PeriodicWork<T> {
    /// Starts running every `period` jiffies for `net`, which must outlive the value.
    pub(crate) fn start(net: &Net, period: u32) -> Result<Self> {
        let inner = KBox::new(
            WorkInner {
                work: Opaque::uninit(),
                net: net.as_ptr(),
                period: period as usize,
            },
            GFP_KERNEL,
        )?;
        // SAFETY: The work is boxed and never moves; it is initialised once, here, then queued.
        unsafe {
            bindings::rvs_delayed_work_init(inner.work.get(), Some(Self::function));
            bindings::rvs_delayed_work_queue(inner.work.get(), inner.period);
        }
        // INVARIANT: initialised above.
        Ok(Self {
            inner,
            _job: PhantomData,
        })
    }

    /// The work function.
    ///
    /// # Safety
    ///
    /// Only the workqueue calls it, with the work of a live `WorkInner`.
    unsafe extern "C" fn function(w: *mut bindings::work_struct) {
        // SAFETY: `w` is the work of a delayed work, the `work` field of a live `WorkInner`.
        let inner = unsafe {
            &*bindings::rvs_to_delayed_work(w)
                .cast::<u8>()
                .sub(offset_of!(WorkInner, work))
                .cast::<WorkInner>()
        };
        // SAFETY: The namespace outlives the work (type invariant).
        T::run(unsafe { Net::from_raw(inner.net) });
        // SAFETY: As above; `cancel_delayed_work_sync` also stops this requeueing.
        unsafe { bindings::rvs_delayed_work_queue(inner.work.get(), inner.period) };
    }
}

impl<T: Job> Drop for PeriodicWork<T> {
    fn drop(&mut self) {
        // SAFETY: The work is initialised; cancelling waits for a running function.
        unsafe { bindings::rvs_delayed_work_cancel_sync(self.inner.work.get()) };
    }
}
