//! Refusing other modules: a module notifier that vetoes chosen modules as they load.
//!
//! The kernel asks every module notifier before a module's `init` runs (`MODULE_STATE_COMING`)
//! and aborts the load with the errno a notifier returns. rvs uses it, with `ipvs_compat=1`, to
//! keep ip_vs out: ip_vs would otherwise get as far as creating `/proc/net/ip_vs`, which rvs
//! holds, and trip a kernel WARNING before failing.

use core::{
    ffi::{c_int, c_void},
    marker::PhantomData,
    sync::atomic::{AtomicBool, Ordering},
};

use kernel::{
    error::{code::EBUSY, to_result, Error, Result},
    types::Opaque,
};

use super::bindings;

/// Which modules to refuse.
pub(crate) trait Policy {
    /// The errno that refuses module `name` (its name without NUL), or `None` to let it load.
    fn refuse(name: &[u8]) -> Option<Error>;
}

/// A module notifier for policy `P`, meant to live in a `static`.
pub(crate) struct Veto<P: Policy> {
    nb: Opaque<bindings::notifier_block>,
    registered: AtomicBool,
    _policy: PhantomData<P>,
}

// SAFETY: The C structure is written only in `register`, exclusively (`registered`), before the
// kernel can see it.
unsafe impl<P: Policy> Sync for Veto<P> {}

impl<P: Policy> Veto<P> {
    /// An unregistered notifier.
    pub(crate) const fn new() -> Self {
        Self {
            nb: Opaque::uninit(),
            registered: AtomicBool::new(false),
            _policy: PhantomData,
        }
    }

    /// Starts refusing; dropping the result stops.
    pub(crate) fn register(&'static self) -> Result<Registration<P>> {
        if self.registered.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        let nb = bindings::notifier_block {
            notifier_call: Some(Self::callback),
            next: core::ptr::null_mut(),
            priority: 0,
        };
        // SAFETY: `nb` is valid for writes and, by `registered`, not yet shared.
        unsafe { self.nb.get().write(nb) };
        // SAFETY: The block lives in a `static` and `Registration::drop` unregisters it.
        let ret = unsafe { bindings::register_module_notifier(self.nb.get()) };
        if let Err(e) = to_result(ret) {
            self.registered.store(false, Ordering::Release);
            return Err(e);
        }
        Ok(Registration { veto: self })
    }

    /// The notifier's callback.
    ///
    /// # Safety
    ///
    /// Only the module notifier chain calls it, with a `struct module` as `data`.
    unsafe extern "C" fn callback(
        _nb: *mut bindings::notifier_block,
        action: usize,
        data: *mut c_void,
    ) -> c_int {
        if action != bindings::module_state_MODULE_STATE_COMING as usize {
            return bindings::NOTIFY_DONE as c_int;
        }
        // SAFETY: For module notifications `data` is the module being loaded, valid for the call;
        // its name is a NUL-terminated array.
        let name = unsafe { &(*data.cast::<bindings::module>()).name };
        // SAFETY: `c_char` and `u8` have the same layout.
        let bytes = unsafe { core::slice::from_raw_parts(name.as_ptr().cast::<u8>(), name.len()) };
        let name = bytes.split(|b| *b == 0).next().unwrap_or(&[]);
        match P::refuse(name) {
            // SAFETY: `notifier_from_errno` only computes a value.
            Some(e) => unsafe { bindings::notifier_from_errno(e.to_errno()) },
            None => bindings::NOTIFY_DONE as c_int,
        }
    }
}

/// A registered [`Veto`]; dropping it unregisters the notifier.
pub(crate) struct Registration<P: Policy + 'static> {
    veto: &'static Veto<P>,
}

impl<P: Policy + 'static> Drop for Registration<P> {
    fn drop(&mut self) {
        // SAFETY: `Veto::register` registered this block and created `self`.
        unsafe { bindings::unregister_module_notifier(self.veto.nb.get()) };
        self.veto.registered.store(false, Ordering::Release);
    }
}
