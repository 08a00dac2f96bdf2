//! `wlc`: weighted least connection (ip_vs_wlc.c), ipvsadm's default scheduler.
//!
//! Picks the destination with the smallest `overhead / weight`, compared without division as
//! `loh * dw > doh * lw` in 64-bit like the C. The first non-overloaded destination with a positive
//! weight starts the scan and later ones replace it only when strictly less loaded, so the answer
//! is the first of the least loaded. ip_vs scans the list; rvs keeps the answer at the root of a
//! [`PickTree`](super::tree::PickTree). `lblc` and `lblcr` schedule misses with this same scan.

use super::tree::{Rank, TreeScheduler};
use super::Dest;

/// The order of `ip_vs_wlc_schedule()`.
pub struct WlcRank;

/// `loh * w_later > doh * w_least`: does `later` replace `least` in a WLC-style scan?
#[inline]
pub fn wlc_beats(later_oh: i32, later_w: i32, least_oh: i32, least_w: i32) -> bool {
    i64::from(least_oh) * i64::from(later_w) > i64::from(later_oh) * i64::from(least_w)
}

impl Rank for WlcRank {
    type Key = (i32, i32);
    const NAME: &'static str = "wlc";

    fn scan(dests: &[Dest]) -> Option<usize> {
        ip_vs_wlc_schedule(dests)
    }

    fn eligible(d: &Dest) -> bool {
        !d.overloaded && d.weight > 0
    }

    fn key(d: &Dest) -> Self::Key {
        (d.overhead(), d.weight)
    }

    fn beats(later: &Self::Key, earlier: &Self::Key) -> bool {
        wlc_beats(later.0, later.1, earlier.0, earlier.1)
    }

    fn odd(d: &Dest) -> bool {
        // The scan's second stage does not skip weight <= 0: a negative weight, or weight 0 with
        // an overhead that wrapped negative, can still win, and the order stops being "first best".
        !d.overloaded && (d.weight < 0 || (d.weight == 0 && d.overhead() < 0))
    }
}

/// The `wlc` scheduler over caller-provided tree storage.
pub type Wlc<S> = TreeScheduler<S, WlcRank>;

/// `ip_vs_wlc_schedule()` (and `__ip_vs_lblc_schedule()`, `__ip_vs_lblcr_schedule()`),
/// transcribed: the reference for the tree.
pub fn ip_vs_wlc_schedule(dests: &[Dest]) -> Option<usize> {
    let first = dests.iter().position(|d| !d.overloaded && d.weight > 0)?;
    let mut least = first;
    let mut lw = dests.get(first).map_or(0, |d| d.weight);
    let mut loh = dests.get(first).map_or(0, |d| d.overhead());
    for (i, d) in dests.iter().enumerate().skip(first + 1) {
        if d.overloaded {
            continue;
        }
        let doh = d.overhead();
        if wlc_beats(doh, d.weight, loh, lw) {
            least = i;
            loh = doh;
            lw = d.weight;
        }
    }
    Some(least)
}
