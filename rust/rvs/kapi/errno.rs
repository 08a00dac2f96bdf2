//! Errno values the `kernel` crate of 6.12 does not name.
//!
//! `kernel::error::code` lacks several errnos IPVS returns to userspace (it has only the
//! kernel-internal `ENOTSUPP`, which must never reach userspace); they are added here as needed.

use kernel::error::Error;

/// `EMSGSIZE`: a reply did not fit its netlink message.
pub(crate) fn emsgsize() -> Error {
    Error::from_errno(-90)
}
