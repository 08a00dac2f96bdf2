//! `/proc/net` files of a namespace, generated in one go by a Rust `show` function.
//!
//! [`ProcEntry::create`] makes `/proc/net/<name>` in a namespace with `proc_create_net_single`;
//! reading it calls [`Show::show`] with the namespace and a [`SeqFile`] to `write!` into. The
//! entry goes away when the [`ProcEntry`] is dropped; `remove_proc_entry` waits for readers.

use core::{ffi::c_int, ffi::c_void, marker::PhantomData};

use kernel::{
    error::{code::ENOMEM, from_result, Result},
    str::CStr,
};

use super::{bindings, pernet::Net};

/// What a `/proc/net` file shows.
pub(crate) trait Show {
    /// Writes the whole file for namespace `net`.
    fn show(net: &Net, out: &mut SeqFile<'_>) -> Result;
}

/// The `seq_file` a [`Show`] writes into.
///
/// # Invariants
///
/// `seq` is the `seq_file` of the running `show` call.
pub(crate) struct SeqFile<'a> {
    seq: *mut bindings::seq_file,
    _call: PhantomData<&'a ()>,
}

impl SeqFile<'_> {
    /// Writes bytes as they are (`seq_write`), for data that need not be UTF-8.
    pub(crate) fn write_bytes(&mut self, b: &[u8]) {
        // SAFETY: As in `write_str`.
        unsafe { bindings::seq_write(self.seq, b.as_ptr().cast(), b.len()) };
    }
}

impl core::fmt::Write for SeqFile<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // SAFETY: `seq` is valid for the call (type invariant). `seq_write` copies at most the
        // buffer's room and records an overflow itself, after which seq_file retries `show` with
        // a bigger buffer; so there is nothing to report here.
        unsafe { bindings::seq_write(self.seq, s.as_ptr().cast(), s.len()) };
        Ok(())
    }
}

/// A `/proc/net/<name>` file of one namespace.
///
/// # Invariants
///
/// `net` outlives the entry (it is removed in the namespace's exit at the latest).
pub(crate) struct ProcEntry {
    net: *mut bindings::net,
    name: &'static CStr,
}

// SAFETY: The entry is only a name in a namespace; removing it is allowed from any thread.
unsafe impl Send for ProcEntry {}
// SAFETY: `&ProcEntry` gives no access to anything.
unsafe impl Sync for ProcEntry {}

impl ProcEntry {
    /// Creates `/proc/net/<name>` (mode 0444) in `net`, shown by `S`.
    pub(crate) fn create<S: Show>(net: &Net, name: &'static CStr) -> Result<Self> {
        // SAFETY: `net` is live (type invariant of `Net`) and its `proc_net` directory exists for
        // its whole life; `name` is a static string; `show_callback::<S>` is valid for as long as
        // the entry exists, since `Drop` removes it.
        let entry = unsafe {
            bindings::proc_create_net_single(
                name.as_char_ptr(),
                0o444,
                (*net.as_ptr()).proc_net,
                Some(show_callback::<S>),
                core::ptr::null_mut(),
            )
        };
        if entry.is_null() {
            return Err(ENOMEM);
        }
        Ok(Self {
            net: net.as_ptr(),
            name,
        })
    }
}

impl Drop for ProcEntry {
    fn drop(&mut self) {
        // SAFETY: The entry was created in `net`'s `proc_net`, which is still alive (type
        // invariant); `remove_proc_entry` waits for running readers.
        unsafe { bindings::remove_proc_entry(self.name.as_char_ptr(), (*self.net).proc_net) };
    }
}

/// The `show` of a single-record `/proc/net` file.
///
/// # Safety
///
/// Only seq_file calls it, for a file opened by `single_open_net`, which holds a reference on
/// the namespace until the file is released.
unsafe extern "C" fn show_callback<S: Show>(
    seq: *mut bindings::seq_file,
    _v: *mut c_void,
) -> c_int {
    from_result(|| {
        // SAFETY: The file was opened with `single_open_net`, so the namespace is the file's
        // and stays alive while it is open.
        let net = unsafe { Net::from_raw(bindings::seq_file_single_net(seq)) };
        // INVARIANT: `seq` is the file of this call.
        let mut out = SeqFile {
            seq,
            _call: PhantomData,
        };
        S::show(net, &mut out)?;
        Ok(0)
    })
}
