//! `fo`: weighted fail-over (ip_vs_fo.c).
//!
//! All new connections go to the available (not overloaded) destination with the highest
//! weight, the first in list order on ties; weight 0 never qualifies. rvs keeps the answer at
//! the root of a [`PickTree`](super::tree::PickTree) instead of scanning.

use super::tree::{Rank, TreeScheduler};
use super::Dest;

/// The order of `ip_vs_fo_schedule()`.
pub struct FoRank;

impl Rank for FoRank {
    type Key = i32;
    const NAME: &'static str = "fo";

    fn scan(dests: &[Dest]) -> Option<usize> {
        ip_vs_fo_schedule(dests)
    }

    fn eligible(d: &Dest) -> bool {
        !d.overloaded && d.weight > 0
    }

    fn key(d: &Dest) -> Self::Key {
        d.weight
    }

    fn beats(later: &Self::Key, earlier: &Self::Key) -> bool {
        later > earlier
    }
}

/// The `fo` scheduler over caller-provided tree storage.
pub type Fo<S> = TreeScheduler<S, FoRank>;

/// `ip_vs_fo_schedule()`, transcribed: the reference for the tree.
pub fn ip_vs_fo_schedule(dests: &[Dest]) -> Option<usize> {
    let mut hweight = None;
    let mut hw = 0;
    for (i, d) in dests.iter().enumerate() {
        if !d.overloaded && d.weight > hw {
            hweight = Some(i);
            hw = d.weight;
        }
    }
    hweight
}
