//! Traffic counters of services, destinations and namespaces (`struct ip_vs_stats`), and their
//! rate estimates.
//!
//! ip_vs keeps per-CPU `u64_stats_t` counters and sums them in its estimator; rvs keeps one set
//! of relaxed 64-bit atomics per object for now (the per-CPU split is a performance change, made
//! when the benchmarks ask for it). `IPVS_CMD_ZERO` does what ip_vs does: it remembers the
//! current totals, and reported values are the difference. Rates come from rvs-core's copy of
//! ip_vs's estimator; until the namespace runs it every 2 s (not yet), rates read 0.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::rvs_core::netlink;

/// The counters of one object.
#[derive(Default)]
pub(crate) struct Stats {
    conns: AtomicU64,
    inpkts: AtomicU64,
    outpkts: AtomicU64,
    inbytes: AtomicU64,
    outbytes: AtomicU64,
    /// The totals at the last ZERO.
    zero: [AtomicU64; 5],
    /// The rate estimate (cps, inpps, outpps, inbps, outbps), as the estimator last left it.
    rates: [AtomicU64; 5],
}

impl Stats {
    /// A new connection was scheduled.
    pub(crate) fn conn(&self) {
        self.conns.fetch_add(1, Relaxed);
    }

    /// A packet of `bytes` went client → real server.
    pub(crate) fn inbound(&self, bytes: u32) {
        self.inpkts.fetch_add(1, Relaxed);
        self.inbytes.fetch_add(bytes.into(), Relaxed);
    }

    /// A packet of `bytes` went real server → client.
    pub(crate) fn outbound(&self, bytes: u32) {
        self.outpkts.fetch_add(1, Relaxed);
        self.outbytes.fetch_add(bytes.into(), Relaxed);
    }

    fn totals(&self) -> [u64; 5] {
        [
            self.conns.load(Relaxed),
            self.inpkts.load(Relaxed),
            self.outpkts.load(Relaxed),
            self.inbytes.load(Relaxed),
            self.outbytes.load(Relaxed),
        ]
    }

    /// The values reported since the last ZERO, with the current rates.
    pub(crate) fn report(&self) -> netlink::Stats {
        let t = self.totals();
        let z = |i: usize| t[i].wrapping_sub(self.zero[i].load(Relaxed));
        let r = |i: usize| self.rates[i].load(Relaxed);
        netlink::Stats {
            conns: z(0),
            inpkts: z(1),
            outpkts: z(2),
            inbytes: z(3),
            outbytes: z(4),
            cps: r(0),
            inpps: r(1),
            outpps: r(2),
            inbps: r(3),
            outbps: r(4),
        }
    }

    /// `IPVS_CMD_ZERO`: counting starts again from here.
    pub(crate) fn zero(&self) {
        let t = self.totals();
        for (z, v) in self.zero.iter().zip(t) {
            z.store(v, Relaxed);
        }
        for r in &self.rates {
            r.store(0, Relaxed);
        }
    }
}
