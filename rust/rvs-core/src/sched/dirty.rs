//! Which destinations' counters moved since the scheduler last looked: the packet path marks a
//! destination's slot when it binds, unbinds or re-states a connection on it (lock-free, from any
//! CPU), and the scheduler, under its lock, drains the marks before a pick and refreshes only
//! those destinations' keys. This keeps a pick O(changes · log n) instead of re-reading every
//! destination's counters (ip_vs's own schedulers scan all destinations on every pick).
//!
//! A fixed [`DIRTY_SLOTS`] bits: slot `i` marks bit `i % DIRTY_SLOTS`, so below that many
//! destinations a mark names exactly one; above, a drained bit stands for every slot congruent
//! to it (at 10,000 destinations, three), which the caller refreshes all of. Fixed-size storage
//! means no allocation when the list grows and nothing that points at a destination.

#[cfg(not(loom))]
use core::sync::atomic::{AtomicU64, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicU64, Ordering};

/// Bits of a [`DirtySet`]: 64 words of 64, with one summary word over them.
pub const DIRTY_SLOTS: usize = 64 * 64;

/// A set of dirty slots; marked by many, drained by one (the holder of the scheduler's lock).
pub struct DirtySet {
    /// Bit `w`: word `w` may have bits set.
    summary: AtomicU64,
    words: [AtomicU64; 64],
}

impl Default for DirtySet {
    fn default() -> Self {
        Self::new()
    }
}

impl DirtySet {
    /// No slot marked.
    pub fn new() -> Self {
        Self {
            summary: AtomicU64::new(0),
            words: core::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Marks `slot`. Counter updates made before the mark are seen by the drain that takes it
    /// (release here, acquire there).
    pub fn mark(&self, slot: usize) {
        let bit = slot % DIRTY_SLOTS;
        let (w, b) = (bit / 64, bit % 64);
        if let Some(word) = self.words.get(w) {
            // The word first, then the summary: a drain that clears the summary bit before
            // taking the word either takes this bit or leaves the summary bit set for the next.
            word.fetch_or(1 << b, Ordering::Release);
            self.summary.fetch_or(1 << w, Ordering::Release);
        }
    }

    /// Marks every slot (after the slots were renumbered: the next drain refreshes all).
    pub fn mark_all(&self) {
        for w in &self.words {
            w.store(u64::MAX, Ordering::Release);
        }
        self.summary.store(u64::MAX, Ordering::Release);
    }

    /// Whether no slot is marked.
    pub fn is_clear(&self) -> bool {
        self.summary.load(Ordering::Acquire) == 0
    }

    /// Clears the marks and calls `f` with each bit that was marked, in increasing order (a bit
    /// marked again meanwhile may be reported now or by the next drain, never lost).
    pub fn drain(&self, mut f: impl FnMut(usize)) {
        let mut summary = self.summary.load(Ordering::Acquire);
        while summary != 0 {
            let w = summary.trailing_zeros() as usize;
            summary &= summary - 1;
            self.summary.fetch_and(!(1 << w), Ordering::AcqRel);
            let Some(word) = self.words.get(w) else {
                continue;
            };
            let mut bits = word.swap(0, Ordering::AcqRel);
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                f(w * 64 + b);
            }
        }
    }

    /// Calls `f` with every slot below `n` that a marked bit stands for, clearing the marks.
    pub fn drain_slots(&self, n: usize, mut f: impl FnMut(usize)) {
        self.drain(|bit| {
            let mut slot = bit;
            while slot < n {
                f(slot);
                slot += DIRTY_SLOTS;
            }
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    extern crate std;
    use super::*;
    use std::{sync::Arc, vec::Vec};

    fn drained(d: &DirtySet, n: usize) -> Vec<usize> {
        let mut v = Vec::new();
        d.drain_slots(n, |s| v.push(s));
        v.sort_unstable();
        v
    }

    #[test]
    fn marks_come_out_once_in_order() {
        let d = DirtySet::new();
        assert!(d.is_clear());
        for s in [700, 3, 63, 64, 4095, 3] {
            d.mark(s);
        }
        assert!(!d.is_clear());
        assert_eq!(drained(&d, DIRTY_SLOTS), [3, 63, 64, 700, 4095]);
        assert!(d.is_clear());
        assert_eq!(drained(&d, DIRTY_SLOTS), Vec::<usize>::new());
    }

    #[test]
    fn a_bit_stands_for_every_congruent_slot_below_n() {
        let d = DirtySet::new();
        d.mark(5 + DIRTY_SLOTS);
        assert_eq!(
            drained(&d, 10_000),
            [5, 5 + DIRTY_SLOTS, 5 + 2 * DIRTY_SLOTS]
        );
        d.mark(7);
        assert_eq!(drained(&d, 7), Vec::<usize>::new());
    }

    #[test]
    fn mark_all_covers_the_list() {
        let d = DirtySet::new();
        d.mark_all();
        assert!(drained(&d, 10_000) == (0..10_000).collect::<Vec<_>>());
        assert!(d.is_clear());
    }

    /// The scheduler's use, with markers on other threads while one drains: a marker bumps a
    /// slot's counter and then marks it; the drainer reads the counter of each slot it drains.
    /// After each round of marks, one more drain must leave the drainer knowing every slot's
    /// final counter: no change was lost, whatever the interleaving. Many short rounds, so that
    /// the last marks of a round often race a drain.
    #[test]
    fn concurrent_marks_are_not_lost() {
        use std::sync::{
            atomic::{AtomicU64, AtomicUsize},
            Barrier,
        };
        const MARKERS: usize = 3;
        const ROUNDS: usize = 2000;
        let n = 2 * DIRTY_SLOTS + 100;
        let d = Arc::new(DirtySet::new());
        let counters: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
        let start = Arc::new(Barrier::new(MARKERS + 1));
        let done = Arc::new(AtomicUsize::new(0));
        let markers: Vec<_> = (0..MARKERS)
            .map(|t| {
                let (d, c, start, done) =
                    (d.clone(), counters.clone(), start.clone(), done.clone());
                std::thread::spawn(move || {
                    for r in 0..ROUNDS {
                        start.wait();
                        for i in 0..64usize {
                            let s = (r * 7919 + i * 131 + t * 4099) % n;
                            c[s].fetch_add(1, Ordering::Relaxed);
                            d.mark(s);
                        }
                        done.fetch_add(1, Ordering::Release);
                    }
                })
            })
            .collect();
        let mut seen = std::vec![0u64; n];
        for r in 0..ROUNDS {
            start.wait();
            let mut refresh = || {
                d.drain_slots(n, |s| seen[s] = counters[s].load(Ordering::Relaxed));
            };
            while done.load(Ordering::Acquire) < MARKERS * (r + 1) {
                refresh();
            }
            refresh();
            for (s, c) in counters.iter().enumerate() {
                assert_eq!(
                    seen[s],
                    c.load(Ordering::Relaxed),
                    "round {r}, slot {s}: lost"
                );
            }
        }
        for m in markers {
            m.join().unwrap();
        }
    }
}

/// Every interleaving of a marker with the drainer (loom): a change made before a mark is seen
/// by the drain that takes the mark or by the next one. `make test-host` runs these with
/// `RUSTFLAGS="--cfg loom"`.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::{atomic::AtomicU64, Arc};

    /// A marker bumps the counters of two slots, marking each after its bump, while the
    /// drainer drains once; after the marker ends, one more drain. The drainer must have read
    /// both final counters. `premarked`: slot `b` is marked before the marker starts.
    fn marks_are_not_lost(a: usize, b: usize, premarked: bool) {
        loom::model(move || {
            let d = Arc::new(DirtySet::new());
            let c = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
            if premarked {
                d.mark(b);
            }
            let marker = {
                let (d, c) = (d.clone(), c.clone());
                loom::thread::spawn(move || {
                    c[0].fetch_add(1, Ordering::Relaxed);
                    d.mark(a);
                    c[1].fetch_add(1, Ordering::Relaxed);
                    d.mark(b);
                })
            };
            let mut seen = [0u64; 2];
            let idx = |s: usize| usize::from(s == b);
            let mut drain =
                || d.drain_slots(b + 1, |s| seen[idx(s)] = c[idx(s)].load(Ordering::Relaxed));
            drain();
            marker.join().unwrap();
            drain();
            assert_eq!(seen, [1, 1]);
        });
    }

    /// Two slots of one word: the second mark races the drain of the first.
    #[test]
    fn a_mark_racing_a_drain_is_not_lost() {
        marks_are_not_lost(0, 1, true);
    }

    /// Slots in two words.
    #[test]
    fn marks_in_two_words_racing_a_drain_are_not_lost() {
        marks_are_not_lost(0, 64, false);
    }
}
