//! `sed`: shortest expected delay (ip_vs_sed.c).
//!
//! Like `wlc` but the overhead is `activeconns + 1`: the expected delay if the new connection
//! joins the destination's active ones. Inactive connections do not count. The first
//! non-overloaded destination with a positive weight starts the scan, later ones replace it when
//! strictly better; rvs keeps that answer at the root of a [`PickTree`](super::tree::PickTree).

use super::tree::{Rank, TreeScheduler};
use super::wlc::wlc_beats;
use super::Dest;

/// `ip_vs_sed_dest_overhead()`: `activeconns + 1`.
#[inline]
pub fn sed_overhead(d: &Dest) -> i32 {
    d.activeconns.wrapping_add(1)
}

/// The order of `ip_vs_sed_schedule()`.
pub struct SedRank;

impl Rank for SedRank {
    type Key = (i32, i32);
    const NAME: &'static str = "sed";

    fn scan(dests: &[Dest]) -> Option<usize> {
        ip_vs_sed_schedule(dests)
    }

    fn eligible(d: &Dest) -> bool {
        !d.overloaded && d.weight > 0
    }

    fn key(d: &Dest) -> Self::Key {
        (sed_overhead(d), d.weight)
    }

    fn beats(later: &Self::Key, earlier: &Self::Key) -> bool {
        wlc_beats(later.0, later.1, earlier.0, earlier.1)
    }

    fn odd(d: &Dest) -> bool {
        // As for wlc: the second stage reads weights <= 0 too.
        !d.overloaded && (d.weight < 0 || (d.weight == 0 && sed_overhead(d) < 0))
    }
}

/// The `sed` scheduler over caller-provided tree storage.
pub type Sed<S> = TreeScheduler<S, SedRank>;

/// `ip_vs_sed_schedule()`, transcribed: the reference for the tree.
pub fn ip_vs_sed_schedule(dests: &[Dest]) -> Option<usize> {
    let first = dests.iter().position(|d| !d.overloaded && d.weight > 0)?;
    let mut least = first;
    let mut lw = dests.get(first).map_or(0, |d| d.weight);
    let mut loh = dests.get(first).map_or(0, sed_overhead);
    for (i, d) in dests.iter().enumerate().skip(first + 1) {
        if d.overloaded {
            continue;
        }
        let doh = sed_overhead(d);
        if wlc_beats(doh, d.weight, loh, lw) {
            least = i;
            loh = doh;
            lw = d.weight;
        }
    }
    Some(least)
}
