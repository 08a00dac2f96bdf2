//! Notifier blocks: a callback on one of the kernel's notifier chains (module loads, network
//! device events), meant to live in a `static`.

use core::{
    ffi::{c_int, c_void},
    marker::PhantomData,
    sync::atomic::{AtomicBool, Ordering},
};

use kernel::{
    error::{code::EBUSY, to_result, Result},
    types::Opaque,
};

use super::bindings;

/// What a notifier block listens to and does.
pub(crate) trait Handler: 'static {
    /// The chain's `register_*_notifier`.
    const REGISTER: unsafe extern "C" fn(*mut bindings::notifier_block) -> c_int;
    /// The chain's `unregister_*_notifier`.
    const UNREGISTER: unsafe extern "C" fn(*mut bindings::notifier_block) -> c_int;
    /// Where on the chain: higher runs earlier.
    const PRIORITY: c_int = 0;

    /// Handles one event; returns `NOTIFY_DONE` or a `notifier_from_errno` value.
    ///
    /// # Safety
    ///
    /// `data` is what the chain passes with `action`, valid for the call.
    unsafe fn call(action: usize, data: *mut c_void) -> c_int;
}

/// A notifier block for handler `H`.
pub(crate) struct Block<H: Handler> {
    nb: Opaque<bindings::notifier_block>,
    registered: AtomicBool,
    _handler: PhantomData<H>,
}

// SAFETY: The C structure is written only in `register`, exclusively (`registered`), before the
// kernel can see it.
unsafe impl<H: Handler> Sync for Block<H> {}

impl<H: Handler> Block<H> {
    /// An unregistered block.
    pub(crate) const fn new() -> Self {
        Self {
            nb: Opaque::uninit(),
            registered: AtomicBool::new(false),
            _handler: PhantomData,
        }
    }

    /// Starts listening; dropping the result stops.
    pub(crate) fn register(&'static self) -> Result<Registration<H>> {
        if self.registered.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        let nb = bindings::notifier_block {
            notifier_call: Some(Self::callback),
            next: core::ptr::null_mut(),
            priority: H::PRIORITY,
        };
        // SAFETY: `nb` is valid for writes and, by `registered`, not yet shared.
        unsafe { self.nb.get().write(nb) };
        // SAFETY: The block lives in a `static` and `Registration::drop` unregisters it.
        let ret = unsafe { H::REGISTER(self.nb.get()) };
        if let Err(e) = to_result(ret) {
            self.registered.store(false, Ordering::Release);
            return Err(e);
        }
        Ok(Registration { block: self })
    }

    /// The block's callback.
    ///
    /// # Safety
    ///
    /// Only the chain `H` registers on calls it, with its own `data`.
    unsafe extern "C" fn callback(
        _nb: *mut bindings::notifier_block,
        action: usize,
        data: *mut c_void,
    ) -> c_int {
        // SAFETY: The chain passes `data` for `action`, valid for the call.
        unsafe { H::call(action, data) }
    }
}

/// A registered [`Block`]; dropping it unregisters the block.
pub(crate) struct Registration<H: Handler> {
    block: &'static Block<H>,
}

impl<H: Handler> Drop for Registration<H> {
    fn drop(&mut self) {
        // SAFETY: `Block::register` registered this block and created `self`.
        unsafe { H::UNREGISTER(self.block.nb.get()) };
        self.block.registered.store(false, Ordering::Release);
    }
}
