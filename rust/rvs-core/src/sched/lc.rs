//! `lc`: least connection (ip_vs_lc.c).
//!
//! Picks the destination with the smallest overhead `(activeconns << 8) + totalconns`, compared
//! as `unsigned int` like the C, skipping overloaded and weight-0 destinations (weights otherwise
//! play no part); the first in list order wins ties. ip_vs scans the list; rvs keeps the answer
//! at the root of a [`PickTree`](super::tree::PickTree) and only falls back to the scan when the
//! tree cannot hold the list.

use super::tree::{Rank, TreeScheduler};
use super::Dest;

/// The order of `ip_vs_lc_schedule()`.
pub struct LcRank;

impl Rank for LcRank {
    type Key = u32;
    const NAME: &'static str = "lc";

    fn scan(dests: &[Dest]) -> Option<usize> {
        ip_vs_lc_schedule(dests)
    }

    fn eligible(d: &Dest) -> bool {
        !d.overloaded && d.weight != 0
    }

    fn key(d: &Dest) -> Self::Key {
        d.overhead() as u32
    }

    fn beats(later: &Self::Key, earlier: &Self::Key) -> bool {
        later < earlier
    }
}

/// The `lc` scheduler over caller-provided tree storage.
pub type Lc<S> = TreeScheduler<S, LcRank>;

/// `ip_vs_lc_schedule()`, transcribed: the reference for the tree.
pub fn ip_vs_lc_schedule(dests: &[Dest]) -> Option<usize> {
    let mut least: Option<usize> = None;
    let mut loh: u32 = 0;
    for (i, d) in dests.iter().enumerate() {
        if d.overloaded || d.weight == 0 {
            continue;
        }
        let doh = d.overhead() as u32;
        if least.is_none() || doh < loh {
            least = Some(i);
            loh = doh;
        }
    }
    least
}
