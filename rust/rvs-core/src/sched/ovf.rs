//! `ovf`: weighted overflow (ip_vs_ovf.c).
//!
//! The weight doubles as a capacity: new connections go to the highest-weight destination whose
//! active connections do not exceed its weight, the first in list order on ties, and overflow to
//! the next one when it fills. Overloaded and weight-0 destinations are skipped. rvs keeps the
//! answer at the root of a [`PickTree`](super::tree::PickTree) instead of scanning.

use super::tree::{Rank, TreeScheduler};
use super::Dest;

/// The order of `ip_vs_ovf_schedule()`.
pub struct OvfRank;

impl Rank for OvfRank {
    type Key = i32;
    const NAME: &'static str = "ovf";

    fn scan(dests: &[Dest]) -> Option<usize> {
        ip_vs_ovf_schedule(dests)
    }

    fn eligible(d: &Dest) -> bool {
        !d.overloaded && d.activeconns <= d.weight && d.weight != 0
    }

    fn key(d: &Dest) -> Self::Key {
        d.weight
    }

    fn beats(later: &Self::Key, earlier: &Self::Key) -> bool {
        later > earlier
    }
}

/// The `ovf` scheduler over caller-provided tree storage.
pub type Ovf<S> = TreeScheduler<S, OvfRank>;

/// `ip_vs_ovf_schedule()`, transcribed: the reference for the tree.
pub fn ip_vs_ovf_schedule(dests: &[Dest]) -> Option<usize> {
    let mut h: Option<usize> = None;
    let mut hw = 0;
    for (i, d) in dests.iter().enumerate() {
        let w = d.weight;
        if d.overloaded || d.activeconns > w || w == 0 {
            continue;
        }
        if h.is_none() || w > hw {
            h = Some(i);
            hw = w;
        }
    }
    h
}
