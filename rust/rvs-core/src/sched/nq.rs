//! `nq`: never queue (ip_vs_nq.c).
//!
//! The first idle destination (no active connections) in list order wins outright; when none is
//! idle, `sed`'s `(activeconns + 1) / weight` decides, first best in list order. Overloaded and
//! weight-0 destinations are skipped. rvs keeps the answer at the root of a
//! [`PickTree`](super::tree::PickTree) under the order "idle first, then expected delay".

use super::sed::sed_overhead;
use super::tree::{Rank, TreeScheduler};
use super::wlc::wlc_beats;
use super::Dest;

/// The order of `ip_vs_nq_schedule()`.
pub struct NqRank;

impl Rank for NqRank {
    type Key = (bool, i32, i32);
    const NAME: &'static str = "nq";

    fn scan(dests: &[Dest]) -> Option<usize> {
        ip_vs_nq_schedule(dests)
    }

    fn eligible(d: &Dest) -> bool {
        !d.overloaded && d.weight != 0
    }

    fn key(d: &Dest) -> Self::Key {
        (d.activeconns == 0, sed_overhead(d), d.weight)
    }

    fn beats(later: &Self::Key, earlier: &Self::Key) -> bool {
        if earlier.0 {
            false
        } else if later.0 {
            true
        } else {
            wlc_beats(later.1, later.2, earlier.1, earlier.2)
        }
    }

    fn odd(d: &Dest) -> bool {
        // A negative weight (refused by ip_vs's control plane) makes the products non-transitive.
        !d.overloaded && d.weight < 0
    }
}

/// The `nq` scheduler over caller-provided tree storage.
pub type Nq<S> = TreeScheduler<S, NqRank>;

/// `ip_vs_nq_schedule()`, transcribed: the reference for the tree.
pub fn ip_vs_nq_schedule(dests: &[Dest]) -> Option<usize> {
    let mut least: Option<(usize, i32, i32)> = None;
    for (i, d) in dests.iter().enumerate() {
        if d.overloaded || d.weight == 0 {
            continue;
        }
        let doh = sed_overhead(d);
        // Return the server directly if it is idle.
        if d.activeconns == 0 {
            return Some(i);
        }
        match least {
            Some((_, loh, lw)) if !wlc_beats(doh, d.weight, loh, lw) => {}
            _ => least = Some((i, doh, d.weight)),
        }
    }
    least.map(|(i, _, _)| i)
}
