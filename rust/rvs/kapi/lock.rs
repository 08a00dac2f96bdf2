//! A spinlock that disables bottom halves (`spin_lock_bh`).
//!
//! 6.12's `kernel::sync::SpinLock` takes a plain `spin_lock`, which deadlocks when the packet path
//! (softirq) takes the same lock on the CPU of a process-context holder. State shared between the
//! hooks and the control plane (a service's scheduler) uses [`SpinLockBh`] instead: the same
//! `kernel::sync::Lock`, with this backend.

use kernel::sync::lock::{Backend, Lock};

use super::bindings;

/// The `spin_lock_bh` backend of `kernel::sync::Lock`.
pub(crate) struct SpinLockBhBackend;

/// A spinlock taken with bottom halves disabled.
pub(crate) type SpinLockBh<T> = Lock<T, SpinLockBhBackend>;

/// Creates a [`SpinLockBh`] initialiser with a lock class of its own, like `new_spinlock!`.
macro_rules! new_spinlock_bh {
    ($inner:expr, $name:literal) => {
        kernel::sync::lock::Lock::<_, $crate::kapi::lock::SpinLockBhBackend>::new(
            $inner,
            kernel::c_str!($name),
            kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_spinlock_bh;

// SAFETY: `spin_lock_bh`/`spin_unlock_bh` give mutual exclusion; the guard state is empty because
// the lock itself records nothing the unlock needs, and `init` initialises the lock with its class.
unsafe impl Backend for SpinLockBhBackend {
    type State = kernel::bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut kernel::bindings::lock_class_key,
    ) {
        // SAFETY: The caller guarantees `ptr` is valid for writes and `name`/`key` live forever.
        unsafe { kernel::bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The caller guarantees the lock was initialised; the two bindings name the same
        // C type.
        unsafe { bindings::rvs_spin_lock_bh(ptr.cast()) }
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: The caller owns the lock.
        unsafe { bindings::rvs_spin_unlock_bh(ptr.cast()) }
    }
}
