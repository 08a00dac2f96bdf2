//! The rate estimator of ip_vs (`net/netfilter/ipvs/ip_vs_est.c`), bit for bit.
//!
//! Every 2 seconds an estimator reads the cumulative counters of a service, destination or the
//! whole table and moves five exponentially weighted averages a quarter of the way towards the
//! rate of the last interval: `avg += (rate - avg) >> 2`. Connection and packet rates are kept
//! scaled by 2^10 and byte rates by 2^5; the interval's delta is shifted by 9 and 4 (the scale
//! divided by the 2 seconds). All of it is `u64` arithmetic that wraps like the kernel's, with the
//! difference taken as `s64` and shifted arithmetically, so the same counter sequence gives the
//! same rates as ip_vs. Reading rounds: `(cps + 0x1FF) >> 10`, `(bps + 0xF) >> 5`.
//!
//! The rates reach user space through the `STATS` (truncated to 32 bits) and `STATS64` netlink
//! nests, `struct ip_vs_stats_user` over sockopt (32 bits too) and `/proc/net/ip_vs_stats` (the
//! same values printed with `%8LX`/`%16LX`, [`write_proc_stats`]). Counters are reported as the last estimated totals
//! minus the zero point taken by `IPVS_CMD_ZERO` ([`StatsTracker`]), since ip_vs 6.2 refreshes its
//! totals only in the estimation kthreads.

use super::netlink::Stats;

/// Seconds between two estimations.
pub const EST_INTERVAL_SECS: u32 = 2;

/// Cumulative counters of one object (the counter half of `struct ip_vs_kstats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    /// Connections scheduled.
    pub conns: u64,
    /// Packets client → real server.
    pub inpkts: u64,
    /// Packets real server → client.
    pub outpkts: u64,
    /// Bytes client → real server.
    pub inbytes: u64,
    /// Bytes real server → client.
    pub outbytes: u64,
}

impl Counters {
    /// Field-wise wrapping difference, as the kernel's `u64` subtraction.
    pub const fn wrapping_sub(&self, zero: &Counters) -> Counters {
        Counters {
            conns: self.conns.wrapping_sub(zero.conns),
            inpkts: self.inpkts.wrapping_sub(zero.inpkts),
            outpkts: self.outpkts.wrapping_sub(zero.outpkts),
            inbytes: self.inbytes.wrapping_sub(zero.inbytes),
            outbytes: self.outbytes.wrapping_sub(zero.outbytes),
        }
    }

    /// Field-wise wrapping sum: how the estimator adds the per-CPU counters.
    pub const fn wrapping_add(&self, other: &Counters) -> Counters {
        Counters {
            conns: self.conns.wrapping_add(other.conns),
            inpkts: self.inpkts.wrapping_add(other.inpkts),
            outpkts: self.outpkts.wrapping_add(other.outpkts),
            inbytes: self.inbytes.wrapping_add(other.inbytes),
            outbytes: self.outbytes.wrapping_add(other.outbytes),
        }
    }
}

/// Per-second rates as ip_vs reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rates {
    /// Connections per second.
    pub cps: u64,
    /// Incoming packets per second.
    pub inpps: u64,
    /// Outgoing packets per second.
    pub outpps: u64,
    /// Incoming bytes per second.
    pub inbps: u64,
    /// Outgoing bytes per second.
    pub outbps: u64,
}

/// One estimator (`struct ip_vs_estimator`): the counters seen at the last tick and the scaled
/// averages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Estimator {
    last: Counters,
    /// Scaled averages: cps/inpps/outpps ×2^10, inbps/outbps ×2^5, as in the kernel.
    scaled: Rates,
}

/// `avg += ((s64)rate - (s64)avg) >> 2`, wrapping like the kernel's `u64` fields.
const fn ewma(avg: u64, rate: u64) -> u64 {
    let step = (rate as i64).wrapping_sub(avg as i64) >> 2;
    avg.wrapping_add(step as u64)
}

impl Estimator {
    /// A fresh estimator: nothing seen, all rates 0.
    pub const fn new() -> Self {
        Self {
            last: Counters {
                conns: 0,
                inpkts: 0,
                outpkts: 0,
                inbytes: 0,
                outbytes: 0,
            },
            scaled: Rates {
                cps: 0,
                inpps: 0,
                outpps: 0,
                inbps: 0,
                outbps: 0,
            },
        }
    }

    /// One 2-second estimation with the current totals (`ip_vs_chain_estimation`).
    pub fn estimate(&mut self, now: &Counters) {
        let delta = now.wrapping_sub(&self.last);
        // Scaled by 2^10 (or 2^5) but divided by the 2 seconds: shift by one less.
        self.scaled.cps = ewma(self.scaled.cps, delta.conns << 9);
        self.scaled.inpps = ewma(self.scaled.inpps, delta.inpkts << 9);
        self.scaled.outpps = ewma(self.scaled.outpps, delta.outpkts << 9);
        self.scaled.inbps = ewma(self.scaled.inbps, delta.inbytes << 4);
        self.scaled.outbps = ewma(self.scaled.outbps, delta.outbytes << 4);
        self.last = *now;
    }

    /// Restarts from `now` with rates 0 (`ip_vs_zero_estimator`).
    pub fn zero(&mut self, now: &Counters) {
        self.last = *now;
        self.scaled = Rates::default();
    }

    /// The rates in units per second, rounded as `ip_vs_read_estimator` does.
    pub const fn read(&self) -> Rates {
        Rates {
            cps: self.scaled.cps.wrapping_add(0x1FF) >> 10,
            inpps: self.scaled.inpps.wrapping_add(0x1FF) >> 10,
            outpps: self.scaled.outpps.wrapping_add(0x1FF) >> 10,
            inbps: self.scaled.inbps.wrapping_add(0xF) >> 5,
            outbps: self.scaled.outbps.wrapping_add(0xF) >> 5,
        }
    }

    /// The raw scaled averages (×2^10 for connections and packets, ×2^5 for bytes).
    pub const fn scaled(&self) -> Rates {
        self.scaled
    }

    /// The totals the last tick saw (with [`Estimator::scaled`], the whole state, for owners
    /// that keep it in atomics between ticks).
    pub const fn last(&self) -> Counters {
        self.last
    }

    /// An estimator resumed from the state [`Estimator::last`] and [`Estimator::scaled`]
    /// returned.
    pub const fn resume(last: Counters, scaled: Rates) -> Self {
        Self { last, scaled }
    }
}

/// The statistics of one service, destination or of the whole table (`struct ip_vs_stats`
/// without its per-CPU counters, which the owner sums and hands to [`StatsTracker::estimate`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StatsTracker {
    kstats: Counters,
    kstats0: Counters,
    est: Estimator,
}

impl StatsTracker {
    /// Nothing counted yet.
    pub const fn new() -> Self {
        Self {
            kstats: Counters {
                conns: 0,
                inpkts: 0,
                outpkts: 0,
                inbytes: 0,
                outbytes: 0,
            },
            kstats0: Counters {
                conns: 0,
                inpkts: 0,
                outpkts: 0,
                inbytes: 0,
                outbytes: 0,
            },
            est: Estimator::new(),
        }
    }

    /// One estimation tick with the sum of the per-CPU counters: records them as the totals and
    /// moves the averages.
    pub fn estimate(&mut self, sum: &Counters) {
        self.kstats = *sum;
        self.est.estimate(sum);
    }

    /// `IPVS_CMD_ZERO` (`ip_vs_zero_stats`): the current totals become the zero point and the
    /// rates restart from 0.
    pub fn zero(&mut self) {
        self.kstats0 = self.kstats;
        self.est.zero(&self.kstats);
    }

    /// What ip_vs reports (`ip_vs_copy_stats`): totals since the last zeroing, and rates.
    pub fn show(&self) -> Stats {
        let c = self.kstats.wrapping_sub(&self.kstats0);
        let r = self.est.read();
        Stats {
            conns: c.conns,
            inpkts: c.inpkts,
            outpkts: c.outpkts,
            inbytes: c.inbytes,
            outbytes: c.outbytes,
            cps: r.cps,
            inpps: r.inpps,
            outpps: r.outpps,
            inbps: r.inbps,
            outbps: r.outbps,
        }
    }

    /// The estimator.
    pub const fn estimator(&self) -> &Estimator {
        &self.est
    }
}

/// Writes `/proc/net/ip_vs_stats` exactly as `ip_vs_stats_show` does: the totals, then the rates,
/// every value in upper-case hexadecimal (`%8LX`, `%16LX` for bytes).
pub fn write_proc_stats<W: core::fmt::Write>(out: &mut W, s: &Stats) -> core::fmt::Result {
    out.write_str("   Total Incoming Outgoing         Incoming         Outgoing\n")?;
    out.write_str("   Conns  Packets  Packets            Bytes            Bytes\n")?;
    write_row(out, "", totals(s), "\n")?;
    out.write_str(" Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n")?;
    write_row(out, "", rates(s), "")
}

/// One line of five values as ip_vs prints them (`%8LX %8LX %8LX %16LX %16LX`), after
/// `prefix` and with `end` before the newline.
fn write_row<W: core::fmt::Write>(
    out: &mut W,
    prefix: &str,
    [a, b, c, d, e]: [u64; 5],
    end: &str,
) -> core::fmt::Result {
    writeln!(out, "{prefix}{a:8X} {b:8X} {c:8X} {d:16X} {e:16X}{end}")
}

fn totals(s: &Stats) -> [u64; 5] {
    [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes]
}

fn rates(s: &Stats) -> [u64; 5] {
    [s.cps, s.inpps, s.outpps, s.inbps, s.outbps]
}

/// `/proc/net/ip_vs_stats_percpu` (`ip_vs_stats_percpu_show`): one row per possible CPU with
/// its own counters (`cpus`: CPU number and conns, inpkts, outpkts, inbytes, outbytes), then
/// the totals and rates as reported (since the last ZERO).
pub fn write_proc_stats_percpu<W: core::fmt::Write>(
    out: &mut W,
    cpus: impl Iterator<Item = (u32, [u64; 5])>,
    s: &Stats,
) -> core::fmt::Result {
    out.write_str("       Total Incoming Outgoing         Incoming         Outgoing\n")?;
    out.write_str("CPU    Conns  Packets  Packets            Bytes            Bytes\n")?;
    for (cpu, counters) in cpus {
        write!(out, "{cpu:3X} ")?;
        write_row(out, "", counters, "")?;
    }
    write_row(out, "  ~ ", totals(s), "\n")?;
    out.write_str("     Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n")?;
    write_row(out, "    ", rates(s), "")
}

#[cfg(test)]
mod percpu_format_tests {
    use super::*;
    use std::string::String;

    /// The layout of ip_vs_stats_percpu_show's seq_printf formats, byte for byte.
    #[test]
    fn percpu_file_matches_ip_vs_format() {
        let s = Stats {
            conns: 3,
            inpkts: 0x1f,
            outpkts: 0x1e,
            inbytes: 0x1234,
            outbytes: 0xabcdef,
            cps: 1,
            inpps: 2,
            outpps: 3,
            inbps: 4,
            outbps: 5,
        };
        let mut out = String::new();
        let cpus = [
            (0, [1, 0x10, 0xf, 0x1000, 0xab0000]),
            (1, [2, 0xf, 0xf, 0x234, 0xcdef]),
        ];
        write_proc_stats_percpu(&mut out, cpus.into_iter(), &s).unwrap();
        let want = concat!(
            "       Total Incoming Outgoing         Incoming         Outgoing\n",
            "CPU    Conns  Packets  Packets            Bytes            Bytes\n",
            "  0        1       10        F             1000           AB0000\n",
            "  1        2        F        F              234             CDEF\n",
            "  ~        3       1F       1E             1234           ABCDEF\n",
            "\n",
            "     Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n",
            "           1        2        3                4                5\n",
        );
        assert_eq!(out, want);
    }
}

#[cfg(test)]
mod resume_tests {
    use super::*;

    /// An owner that keeps the estimator's state elsewhere between ticks (the module keeps it
    /// in atomics) gets exactly the rates of one that keeps the estimator.
    #[test]
    fn resumed_estimator_continues_identically() {
        let mut kept = Estimator::new();
        let mut parts = (Counters::default(), Rates::default());
        let mut now = Counters::default();
        for tick in 1..50u64 {
            now.conns += tick;
            now.inpkts += tick * 7;
            now.outpkts += tick * 5;
            now.inbytes += tick * 1500;
            now.outbytes += tick * 64;
            kept.estimate(&now);
            let mut e = Estimator::resume(parts.0, parts.1);
            e.estimate(&now);
            parts = (e.last(), e.scaled());
            assert_eq!(e.read(), kept.read(), "tick {tick}");
        }
    }
}
