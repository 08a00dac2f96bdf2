//! Errno values the `kernel` crate of 6.12 does not name.
//!
//! `kernel::error::code` lacks several errnos IPVS returns to userspace (it only has the
//! kernel-internal `ENOTSUPP`, which must never reach userspace).

use kernel::error::Error;

/// `EOPNOTSUPP`: operation not supported (what IPVS answers for an unimplemented command).
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-95)
}

/// `EMSGSIZE`: a reply did not fit its netlink message.
pub(crate) fn emsgsize() -> Error {
    Error::from_errno(-90)
}

/// `EAFNOSUPPORT`: address family not supported.
pub(crate) fn eafnosupport() -> Error {
    Error::from_errno(-97)
}
