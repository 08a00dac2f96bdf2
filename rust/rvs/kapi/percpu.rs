//! Per-CPU traffic counters (`alloc_percpu`, `this_cpu_add`), as ip_vs keeps its
//! `ip_vs_cpu_stats`: the packet path adds to its own CPU's copy, so CPUs never contend for a
//! cache line; readers sum the copies.

use core::ptr::NonNull;

use kernel::error::{code::ENOMEM, Result};

use super::bindings;

/// Index of each counter.
pub(crate) const CONNS: u32 = 0;
pub(crate) const INPKTS: u32 = 1;
pub(crate) const OUTPKTS: u32 = 2;
pub(crate) const INBYTES: u32 = 3;
pub(crate) const OUTBYTES: u32 = 4;

/// Five 64-bit counters per possible CPU.
///
/// # Invariants
///
/// `p` was returned by `rvs_pcpu_stats_alloc` and is freed only by [`Drop`].
pub(crate) struct Counters {
    p: NonNull<bindings::rvs_pcpu_stats>,
}

// SAFETY: Each CPU writes its own copy with `this_cpu_*` operations; readers load whole `u64`s.
// The allocation may be freed from any thread.
unsafe impl Send for Counters {}
// SAFETY: As above: every access through `&Counters` is a per-CPU add or a plain load.
unsafe impl Sync for Counters {}

impl Counters {
    /// Zeroed counters (process context).
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Allocation in process context; the result is checked.
        let p = unsafe { bindings::rvs_pcpu_stats_alloc() };
        // INVARIANT: Returned by the allocator.
        Ok(Self {
            p: NonNull::new(p).ok_or(ENOMEM)?,
        })
    }

    /// Adds 1 to counter `one` and `v` to counter `by` on this CPU, on `self`, `b` and `c` in
    /// one call (the packet path counts each packet and connection three times: destination,
    /// service, namespace).
    pub(crate) fn add3(&self, b: &Self, c: &Self, one: u32, by: u32, v: u64) {
        // SAFETY: The three are live (type invariant); indexes are below 5 (callers use the
        // constants).
        unsafe {
            bindings::rvs_pcpu_stats_add3(self.p.as_ptr(), b.p.as_ptr(), c.p.as_ptr(), one, by, v)
        };
    }

    /// The counters of `cpu`, a possible CPU.
    pub(crate) fn of_cpu(&self, cpu: u32) -> [u64; 5] {
        let mut out = [0u64; 5];
        // SAFETY: `p` is live; `cpu` is possible (from `possible_cpus`); `out` has room for 5.
        unsafe { bindings::rvs_pcpu_stats_read(self.p.as_ptr(), cpu, out.as_mut_ptr()) };
        out
    }

    /// The sums over every possible CPU (wrapping, as ip_vs adds them).
    pub(crate) fn sum(&self) -> [u64; 5] {
        let mut t = [0u64; 5];
        for cpu in possible_cpus() {
            for (a, v) in t.iter_mut().zip(self.of_cpu(cpu)) {
                *a = a.wrapping_add(v);
            }
        }
        t
    }
}

impl Drop for Counters {
    fn drop(&mut self) {
        // SAFETY: `p` came from `rvs_pcpu_stats_alloc` and nothing uses it afterwards.
        unsafe { bindings::rvs_pcpu_stats_free(self.p.as_ptr()) };
    }
}

/// The possible CPUs, in order (`for_each_possible_cpu`).
pub(crate) fn possible_cpus() -> impl Iterator<Item = u32> {
    // SAFETY: Reading the constant cpumask has no preconditions.
    let next = |prev: i32| unsafe { bindings::rvs_next_possible_cpu(prev) };
    // SAFETY: As above.
    let end = unsafe { bindings::rvs_nr_cpu_ids() };
    let mut cpu = next(-1);
    core::iter::from_fn(move || {
        if cpu >= end {
            return None;
        }
        let c = cpu;
        cpu = next(c as i32);
        Some(c)
    })
}
