//! RCU: read-side critical sections and RCU-published boxes.
//!
//! 6.12's `kernel` crate has no RCU. [`RcuBox<T>`] is the `__rcu` pointer of C: readers in a
//! read-side critical section ([`read_lock`]) get a `&T` that stays valid until the section ends,
//! without locks; [`RcuBox::replace`] publishes a new value and frees the old one after a grace
//! period (`call_rcu`), so publishing never sleeps and never waits for readers. Values freed by a
//! callback are dropped in softirq context: their `Drop` must not sleep (freeing memory and
//! dropping `Arc`s is fine). A module that uses [`RcuBox`] must wait for pending callbacks before
//! its code goes away: keep a [`Barrier`] in the module, dropped last.

use core::{
    marker::PhantomData,
    sync::atomic::{AtomicPtr, Ordering},
};

use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    error::Result,
    types::Opaque,
};

use super::bindings;

/// A read-side critical section (`rcu_read_lock()` .. `rcu_read_unlock()`); not `Send`, since it
/// must end on the CPU and in the context that started it.
pub(crate) struct Guard {
    _not_send: PhantomData<*mut ()>,
}

/// Enters a read-side critical section; it lasts until the guard is dropped.
pub(crate) fn read_lock() -> Guard {
    // SAFETY: `rcu_read_lock` may be called in any context; `Guard::drop` balances it.
    unsafe { bindings::rcu_read_lock() };
    Guard {
        _not_send: PhantomData,
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: The guard was created by `read_lock`, which entered the section this ends.
        unsafe { bindings::rcu_read_unlock() };
    }
}

/// The allocation behind an [`RcuBox`]: the value and the `rcu_head` that frees it.
#[repr(C)]
struct Node<T> {
    head: Opaque<bindings::callback_head>,
    value: T,
}

/// An RCU-published value: lock-free reads, replacement with deferred freeing.
///
/// # Invariants
///
/// `ptr` always points to a live `Node<T>` allocated by `KBox`, owned by this box; replaced nodes
/// are owned by their pending RCU callback.
pub(crate) struct RcuBox<T: Send + Sync + 'static> {
    ptr: AtomicPtr<Node<T>>,
}

// SAFETY: The box hands out `&T` to any thread and drops `T` in RCU callbacks on any CPU, which
// `T: Send + Sync` allows.
unsafe impl<T: Send + Sync + 'static> Send for RcuBox<T> {}
// SAFETY: As above; all shared access goes through atomics.
unsafe impl<T: Send + Sync + 'static> Sync for RcuBox<T> {}

impl<T: Send + Sync + 'static> RcuBox<T> {
    fn node(value: T) -> Result<*mut Node<T>> {
        let node = KBox::new(
            Node {
                head: Opaque::uninit(),
                value,
            },
            GFP_KERNEL,
        )?;
        Ok(KBox::into_raw(node))
    }

    /// A box holding `value` (process context: allocates with `GFP_KERNEL`).
    pub(crate) fn new(value: T) -> Result<Self> {
        Ok(Self {
            ptr: AtomicPtr::new(Self::node(value)?),
        })
    }

    /// The current value, valid for as long as the read-side section `_guard` lasts.
    pub(crate) fn read<'a>(&'a self, _guard: &'a Guard) -> &'a T {
        // `Acquire` pairs with the `AcqRel` swap in `replace`: the value is fully initialised
        // before readers can see it (`rcu_dereference`/`rcu_assign_pointer`).
        let ptr = self.ptr.load(Ordering::Acquire);
        // SAFETY: `ptr` is live (type invariant). A node replaced after the load is freed by an
        // RCU callback only after a grace period, which cannot end while `_guard` is held.
        unsafe { &(*ptr).value }
    }

    /// Publishes `value`; the previous value is dropped after a grace period, in softirq
    /// context. Concurrent calls are memory-safe; callers serialise them to order updates.
    pub(crate) fn replace(&self, value: T) -> Result {
        let new = Self::node(value)?;
        let old = self.ptr.swap(new, Ordering::AcqRel);
        // SAFETY: `old` was the live node of this box; the swap made this call its only owner.
        // `call_rcu` runs `free_node` once, after every reader that could still see `old` left
        // its read-side section; the `rcu_head` lives in the node itself.
        unsafe {
            bindings::call_rcu(
                Opaque::raw_get(&raw const (*old).head),
                Some(Self::free_node),
            )
        };
        Ok(())
    }

    /// Frees a replaced node.
    ///
    /// # Safety
    ///
    /// Only `call_rcu` calls it, with the `rcu_head` of a node handed over by `replace`.
    unsafe extern "C" fn free_node(head: *mut bindings::callback_head) {
        // `head` is the first field of the `repr(C)` node, so the node starts at `head`.
        let node = head.cast::<Node<T>>();
        // SAFETY: By the function's contract the node came from `KBox::into_raw` and nothing else
        // refers to it any more.
        drop(unsafe { KBox::from_raw(node) });
    }
}

impl<T: Send + Sync + 'static> Drop for RcuBox<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self` means nobody else can reach the box: readers get to it only
        // through an owner that is itself published by RCU and freed after a grace period, or
        // that is dropped when no reader can exist (namespace exit). The node is ours.
        drop(unsafe { KBox::from_raw(*self.ptr.get_mut()) });
    }
}

/// Waits for every pending RCU callback when dropped (`rcu_barrier()`): the module's code and
/// data must outlive the callbacks that [`RcuBox::replace`] queued.
pub(crate) struct Barrier;

impl Drop for Barrier {
    fn drop(&mut self) {
        // SAFETY: `rcu_barrier` may sleep; module exit runs in process context.
        unsafe { bindings::rcu_barrier() };
    }
}
