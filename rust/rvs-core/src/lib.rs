//! rvs-core: the logic of rvs that needs no kernel, tested on the host.
//!
//! This crate is compiled twice: by cargo on the host (unit, property and fuzz tests, benches) and,
//! unchanged, into `rvs.ko` through `#[path = "../rvs-core/src/lib.rs"] mod rvs_core;`. So it is
//! `#![no_std]` with no `alloc`: every table it works on is a slice handed in by the caller (the
//! module allocates with `KVec`/`KBox`, host tests with `Vec`). It uses no floats and no 128-bit
//! integers (both are panicking stubs in the kernel), no `unsafe`, and it never panics on any input:
//! in the kernel a panic is an oops and arithmetic overflow checks are on. Paths inside the crate
//! are written `super::`/`self::`-relative, never `crate::`, because inside the module `crate` is
//! the module's root.

#![no_std]
#![forbid(unsafe_code)]
// missing_docs, unreachable_pub and rust_2018_idioms are set in Cargo.toml ([lints]), not here:
// inside the module this file is a private `mod`, where `unreachable_pub` would flag every item.
// Indexing, unwrap and panics are oopses in the kernel: use get(), checked or wrapping arithmetic.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::float_arithmetic
    )
)]

#[cfg(test)]
extern crate std;

pub mod abi;
pub mod defense;
pub mod est;
pub mod hash;
pub mod netlink;
pub mod packet;
pub mod proto;
pub mod sched;
pub mod sync;

/// The version of rvs (the module announces it on load; rvsadm prints it). Cargo's version of
/// this crate must agree, which a test checks, since the kernel build has no Cargo to ask.
pub const RVS_VERSION: &str = "0.1.0";

#[cfg(test)]
mod version_tests {
    #[test]
    fn rvs_version_matches_cargo() {
        assert_eq!(super::RVS_VERSION, env!("CARGO_PKG_VERSION"));
    }
}
