//! Traffic counters of services, destinations and namespaces (`struct ip_vs_stats`), and their
//! rate estimates.
//!
//! Like ip_vs, the counters are per CPU (`kapi::percpu`): the packet path adds to its own CPU's
//! copy and readers sum them. `IPVS_CMD_ZERO` does what ip_vs does: it remembers the current
//! totals, and reported values are the difference. Rates come from rvs-core's copy of
//! ip_vs's estimator, run every 2 s by the namespace's timer (`netns.rs`).

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use kernel::error::Result;

use crate::{
    kapi::percpu::{self, CONNS, INBYTES, INPKTS, OUTBYTES, OUTPKTS},
    rvs_core::{
        est::{Counters, Estimator, Rates},
        netlink,
    },
};

/// The counters of one object.
pub(crate) struct Stats {
    /// conns, inpkts, outpkts, inbytes, outbytes, per CPU.
    pcpu: percpu::Counters,
    /// The totals at the last ZERO.
    zero: [AtomicU64; 5],
    /// The rate estimate (cps, inpps, outpps, inbps, outbps), as the estimator last left it.
    rates: [AtomicU64; 5],
    /// The estimator's state between ticks: the totals it last saw and its scaled averages.
    est_last: [AtomicU64; 5],
    est_scaled: [AtomicU64; 5],
}

impl Stats {
    /// Zeroed counters (process context: allocates the per-CPU copies).
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            pcpu: percpu::Counters::new()?,
            zero: Default::default(),
            rates: Default::default(),
            est_last: Default::default(),
            est_scaled: Default::default(),
        })
    }

    /// A new connection was scheduled: counted in `self`, `b` and `c` at once (destination,
    /// service, namespace).
    pub(crate) fn conn3(&self, b: &Self, c: &Self) {
        self.pcpu.add3(&b.pcpu, &c.pcpu, CONNS, CONNS, 0);
    }

    /// A packet of `bytes` went client → real server (real server → client if `out`): counted
    /// in `self`, `b` and `c` at once.
    pub(crate) fn packet3(&self, b: &Self, c: &Self, out: bool, bytes: u32) {
        let (one, by) = if out {
            (OUTPKTS, OUTBYTES)
        } else {
            (INPKTS, INBYTES)
        };
        self.pcpu.add3(&b.pcpu, &c.pcpu, one, by, bytes.into());
    }

    fn totals(&self) -> [u64; 5] {
        self.pcpu.sum()
    }

    /// CPU `cpu`'s own counters (conns, inpkts, outpkts, inbytes, outbytes), not zeroed by
    /// ZERO (as ip_vs shows them in `ip_vs_stats_percpu`).
    pub(crate) fn of_cpu(&self, cpu: u32) -> [u64; 5] {
        self.pcpu.of_cpu(cpu)
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

    /// `IPVS_CMD_ZERO`: counting starts again from here, and so do the rates.
    pub(crate) fn zero(&self) {
        let t = self.totals();
        for (z, v) in self.zero.iter().zip(t) {
            z.store(v, Relaxed);
        }
        for (l, v) in self.est_last.iter().zip(t) {
            l.store(v, Relaxed);
        }
        for r in self.rates.iter().chain(&self.est_scaled) {
            r.store(0, Relaxed);
        }
    }

    /// One tick of ip_vs's estimator (every 2 s; one caller at a time: the namespace's timer).
    pub(crate) fn estimate(&self) {
        let [conns, inpkts, outpkts, inbytes, outbytes] = self.totals();
        let l = |i: usize| self.est_last[i].load(Relaxed);
        let s = |i: usize| self.est_scaled[i].load(Relaxed);
        let mut e = Estimator::resume(
            Counters {
                conns: l(0),
                inpkts: l(1),
                outpkts: l(2),
                inbytes: l(3),
                outbytes: l(4),
            },
            Rates {
                cps: s(0),
                inpps: s(1),
                outpps: s(2),
                inbps: s(3),
                outbps: s(4),
            },
        );
        e.estimate(&Counters {
            conns,
            inpkts,
            outpkts,
            inbytes,
            outbytes,
        });
        let last = e.last();
        for (a, v) in self.est_last.iter().zip([
            last.conns,
            last.inpkts,
            last.outpkts,
            last.inbytes,
            last.outbytes,
        ]) {
            a.store(v, Relaxed);
        }
        let sc = e.scaled();
        for (a, v) in self
            .est_scaled
            .iter()
            .zip([sc.cps, sc.inpps, sc.outpps, sc.inbps, sc.outbps])
        {
            a.store(v, Relaxed);
        }
        let r = e.read();
        for (a, v) in self
            .rates
            .iter()
            .zip([r.cps, r.inpps, r.outpps, r.inbps, r.outbps])
        {
            a.store(v, Relaxed);
        }
    }
}
