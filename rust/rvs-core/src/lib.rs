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
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]
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
pub mod hash;
pub mod sched;
pub mod est;
pub mod netlink;
pub mod packet;
pub mod proto;
