//! A tournament tree that answers "which destination would ip_vs's scan pick" in O(log n).
//!
//! ip_vs's least-connection family (lc, wlc, sed, nq, fo, ovf, and the WLC fallback of lblc and
//! lblcr) walks the whole destination list on every new connection, keeping the current best
//! and replacing it only when a later destination is strictly better. That is "the first element
//! of the list among the best ones" under an order that each scheduler's [`Rank`] states. A
//! complete binary tree over the list, each inner node holding the winner of its two children
//! (the left one on ties, since it comes first in the list), keeps that answer at the root; a
//! changed counter costs one leaf-to-root walk. The tree stores indices only, reads keys from
//! the caller's destination slice, and lives in caller-provided storage of
//! [`PickTree::storage_len`] words.
//!
//! Where a scan's answer is not a plain "first best" (the C compares `int` products whose
//! operands can make the comparison non-transitive, e.g. a negative weight, or an overhead that
//! wrapped negative next to a weight-0 destination), the rank marks that destination as odd;
//! while any odd destination is in the tree, [`PickTree::pick`] says [`TreePick::Scan`] and the
//! scheduler runs the C's scan instead. Odd inputs need about eight million active connections on
//! one destination or a negative weight, which ip_vs's control plane refuses.

use core::marker::PhantomData;
use core::ops::DerefMut;

use super::{Dest, Packet, SchedError, Scheduler, Service};

/// How a scheduler ranks destinations for the tree.
pub trait Rank {
    /// The scheduler's name.
    const NAME: &'static str;
    /// The C's scan, transcribed: the reference the tree must agree with, and its fallback.
    fn scan(dests: &[Dest]) -> Option<usize>;
    /// Whether the scan would consider `d` at all (typically: not overloaded, weight > 0).
    fn eligible(d: &Dest) -> bool;
    /// Whether `later`, further down the list, replaces `earlier` as the scan's current best.
    /// Must be a strict weak order on eligible, non-odd destinations.
    fn beats(later: &Dest, earlier: &Dest) -> bool;
    /// Whether `d` makes the scan's answer depend on list order beyond "first best".
    fn odd(d: &Dest) -> bool {
        let _ = d;
        false
    }
    /// A property the tree ORs up to its root, answering "is any destination flagged" in O(1)
    /// (`lblc` and `lblcr` ask whether any destination is below half its weight).
    fn flagged(d: &Dest) -> bool {
        let _ = d;
        false
    }
}

/// The answer of [`PickTree::pick`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreePick {
    /// The scan would return this index.
    Winner(usize),
    /// The scan would find no eligible destination.
    Empty,
    /// The tree cannot answer for these inputs; run the scan.
    Scan,
}

const NONE: u32 = 0x3fff_ffff;
const ODD: u32 = 0x8000_0000;
const FLAG: u32 = 0x4000_0000;
const BITS: u32 = ODD | FLAG;

/// A tournament tree over the destination list, in caller-provided storage.
///
/// # Invariants
///
/// `nodes[1]` is the root, leaf `i` is `nodes[leaves + i]`, each node holds the index of its
/// subtree's winner (or `NONE`) with bit 31 set if an odd destination is below it and bit 30 if a
/// flagged one is, as of the last
/// [`PickTree::rebuild`] / [`PickTree::update`].
pub struct PickTree<S, R> {
    nodes: S,
    leaves: usize,
    len: usize,
    rank: PhantomData<R>,
}

impl<S: DerefMut<Target = [u32]>, R: Rank> PickTree<S, R> {
    /// Words of storage a tree for up to `max_dests` destinations needs.
    pub fn storage_len(max_dests: usize) -> usize {
        max_dests
            .max(1)
            .checked_next_power_of_two()
            .unwrap_or(0)
            .saturating_mul(2)
    }

    /// A tree over `storage`, able to hold `storage.len() / 2` rounded down to a power of two.
    pub fn new(storage: S) -> Self {
        let half = storage.len() / 2;
        let leaves = if half == 0 {
            0
        } else {
            1usize << (usize::BITS - 1 - half.leading_zeros())
        };
        let mut t = PickTree {
            nodes: storage,
            leaves,
            len: 0,
            rank: PhantomData,
        };
        t.nodes.iter_mut().for_each(|n| *n = NONE);
        t
    }

    /// How many destinations the storage can hold.
    pub fn capacity(&self) -> usize {
        self.leaves
    }

    /// Whether any destination is [`Rank::flagged`].
    pub fn any_flagged(&self) -> bool {
        self.nodes.get(1).is_some_and(|r| r & FLAG != 0)
    }

    fn leaf_value(dests: &[Dest], i: usize) -> u32 {
        match dests.get(i) {
            Some(d) => {
                let odd = if R::odd(d) { ODD } else { 0 } | if R::flagged(d) { FLAG } else { 0 };
                if R::eligible(d) {
                    (i as u32) | odd
                } else {
                    NONE | odd
                }
            }
            None => NONE,
        }
    }

    fn combine(dests: &[Dest], l: u32, r: u32) -> u32 {
        let odd = (l | r) & BITS;
        let (li, ri) = (l & !BITS, r & !BITS);
        let w = if li == NONE {
            ri
        } else if ri == NONE {
            li
        } else {
            match (dests.get(li as usize), dests.get(ri as usize)) {
                (Some(ld), Some(rd)) if R::beats(rd, ld) => ri,
                _ => li,
            }
        };
        w | odd
    }

    fn refresh(&mut self, dests: &[Dest], node: usize) {
        let l = self.nodes.get(2 * node).copied().unwrap_or(NONE);
        let r = self.nodes.get(2 * node + 1).copied().unwrap_or(NONE);
        let v = Self::combine(dests, l, r);
        if let Some(n) = self.nodes.get_mut(node) {
            *n = v;
        }
    }

    /// Recompute the whole tree from `dests` (after an insertion or removal shifted indices).
    pub fn rebuild(&mut self, dests: &[Dest]) -> Result<(), SchedError> {
        if dests.len() > self.leaves || dests.len() >= NONE as usize {
            self.len = 0;
            self.nodes.iter_mut().for_each(|n| *n = NONE);
            return Err(SchedError::NoMemory);
        }
        self.len = dests.len();
        for i in 0..self.leaves {
            let v = Self::leaf_value(dests, i);
            if let Some(n) = self.nodes.get_mut(self.leaves + i) {
                *n = v;
            }
        }
        for node in (1..self.leaves).rev() {
            self.refresh(dests, node);
        }
        Ok(())
    }

    /// `dests[idx]` changed: replay its path to the root.
    pub fn update(&mut self, dests: &[Dest], idx: usize) {
        if idx >= self.len || dests.len() != self.len {
            // The caller's list and the tree disagree on the length: a missed add/del. Rebuild
            // rather than answer from stale indices.
            let _ = self.rebuild(dests);
            return;
        }
        let mut node = self.leaves + idx;
        if let Some(n) = self.nodes.get_mut(node) {
            *n = Self::leaf_value(dests, idx);
        }
        while node > 1 {
            node /= 2;
            self.refresh(dests, node);
        }
    }

    /// The scan's answer, if the tree can give it.
    pub fn pick(&self, dests: &[Dest]) -> TreePick {
        if dests.len() != self.len || self.leaves == 0 {
            return TreePick::Scan;
        }
        // With a single leaf the root is that leaf, also at index 1.
        let root = self.nodes.get(1).copied().unwrap_or(NONE);
        if root & ODD != 0 {
            return TreePick::Scan;
        }
        match root & !BITS {
            NONE => TreePick::Empty,
            i => TreePick::Winner(i as usize),
        }
    }
}

/// A scan-free scheduler: a [`PickTree`] kept current through the [`Scheduler`] calls.
pub struct TreeScheduler<S, R> {
    tree: PickTree<S, R>,
}

impl<S: DerefMut<Target = [u32]>, R: Rank> TreeScheduler<S, R> {
    /// A scheduler over `storage` of at least [`TreeScheduler::storage_len`] words.
    pub fn new(storage: S) -> Self {
        TreeScheduler {
            tree: PickTree::new(storage),
        }
    }

    /// Words of storage needed for up to `max_dests` destinations.
    pub fn storage_len(max_dests: usize) -> usize {
        PickTree::<S, R>::storage_len(max_dests)
    }

    /// How many destinations the storage can hold.
    pub fn capacity(&self) -> usize {
        self.tree.capacity()
    }

    /// The tree, for schedulers built on this one.
    pub fn tree(&self) -> &PickTree<S, R> {
        &self.tree
    }
}

impl<S: DerefMut<Target = [u32]>, R: Rank> Scheduler for TreeScheduler<S, R> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    fn init_service(&mut self, _svc: &Service, dests: &[Dest]) -> Result<(), SchedError> {
        self.tree.rebuild(dests)
    }

    fn add_dest(&mut self, _svc: &Service, dests: &[Dest], _idx: usize) -> Result<(), SchedError> {
        self.tree.rebuild(dests)
    }

    fn del_dest(&mut self, _svc: &Service, dests: &[Dest], _idx: usize) -> Result<(), SchedError> {
        self.tree.rebuild(dests)
    }

    fn upd_dest(&mut self, _svc: &Service, dests: &[Dest], idx: usize) -> Result<(), SchedError> {
        self.tree.update(dests, idx);
        Ok(())
    }

    fn conns_changed(&mut self, dests: &[Dest], idx: usize) {
        self.tree.update(dests, idx);
    }

    fn schedule(
        &mut self,
        _svc: &Service,
        dests: &[Dest],
        _pkt: &Packet,
        _now: u64,
    ) -> Option<usize> {
        match self.tree.pick(dests) {
            TreePick::Winner(i) => Some(i),
            TreePick::Empty => None,
            // Odd inputs, or storage too small for the list: the C's own scan is always right.
            TreePick::Scan => R::scan(dests),
        }
    }
}
