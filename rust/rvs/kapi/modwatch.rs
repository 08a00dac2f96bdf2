//! Refusing other modules: a module notifier that vetoes chosen modules as they load.
//!
//! The kernel asks every module notifier before a module's `init` runs (`MODULE_STATE_COMING`)
//! and aborts the load with the errno a notifier returns. rvs uses it, with `ipvs_compat=1`, to
//! keep ip_vs out: ip_vs would otherwise get as far as creating `/proc/net/ip_vs`, which rvs
//! holds, and trip a kernel WARNING before failing.

use core::{
    ffi::{c_int, c_void},
    marker::PhantomData,
};

use kernel::error::Error;

use super::{bindings, notifier};

/// Which modules to refuse.
pub(crate) trait Policy: 'static {
    /// The errno that refuses module `name` (its name without NUL), or `None` to let it load.
    fn refuse(name: &[u8]) -> Option<Error>;
}

/// The module notifier's handler for policy `P`.
pub(crate) struct VetoHandler<P: Policy>(PhantomData<P>);

/// A module notifier for policy `P`, meant to live in a `static`.
pub(crate) type Veto<P> = notifier::Block<VetoHandler<P>>;

/// A registered [`Veto`]; dropping it unregisters the notifier.
pub(crate) type Registration<P> = notifier::Registration<VetoHandler<P>>;

impl<P: Policy> notifier::Handler for VetoHandler<P> {
    const REGISTER: unsafe extern "C" fn(*mut bindings::notifier_block) -> c_int =
        bindings::register_module_notifier;
    const UNREGISTER: unsafe extern "C" fn(*mut bindings::notifier_block) -> c_int =
        bindings::unregister_module_notifier;

    /// Module notifications pass the `struct module` being loaded as `data`.
    unsafe fn call(action: usize, data: *mut c_void) -> c_int {
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
