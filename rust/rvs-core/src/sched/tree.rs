//! A tournament tree that answers "which destination would ip_vs's scan pick" in O(log n).
//!
//! ip_vs's least-connection family (lc, wlc, sed, nq, fo, ovf, and the WLC fallback of lblc and
//! lblcr) walks the whole destination list on every new connection, keeping the current best
//! and replacing it only when a later destination is strictly better. That is "the first element
//! of the list among the best ones" under an order that each scheduler's [`Rank`] states. A
//! complete 4-ary tree over the list, each inner node holding the winner of its children (the
//! leftmost on ties, since it comes first in the list), keeps that answer at the root; a
//! changed counter costs at most one leaf-to-root walk, cut short where a subtree's winner does not
//! change. Each node keeps its winner's index and comparison key, so a walk reads only the tree's
//! own contiguous nodes; the tree lives in caller-provided storage of [`PickTree::storage_len`]
//! nodes.
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
    /// What the tree keeps of a destination to compare it without reading the list (so an
    /// update touches only the tree's own contiguous nodes).
    type Key: Copy + Default + PartialEq;
    /// The scheduler's name.
    const NAME: &'static str;
    /// The C's scan, transcribed: the reference the tree must agree with, and its fallback.
    fn scan(dests: &[Dest]) -> Option<usize>;
    /// Whether the scan would consider `d` at all (typically: not overloaded, weight > 0).
    fn eligible(d: &Dest) -> bool;
    /// The comparison key of an eligible destination.
    fn key(d: &Dest) -> Self::Key;
    /// Whether `later`, further down the list, replaces `earlier` as the scan's current best.
    /// Must be a strict weak order on eligible, non-odd destinations.
    fn beats(later: &Self::Key, earlier: &Self::Key) -> bool;
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

/// One node of a [`PickTree`]: the winner's index (with the odd/flag bits) and its key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Node<K> {
    idx: u32,
    key: K,
}

impl<K: Default> Node<K> {
    const EMPTY_IDX: u32 = NONE;

    fn empty() -> Self {
        Node {
            idx: Self::EMPTY_IDX,
            key: K::default(),
        }
    }
}

/// A tournament tree over the destination list, in caller-provided storage.
///
/// # Invariants
///
/// `nodes[0]` is the root, the children of node `k` are `nodes[FANOUT * k + 1 ..= FANOUT * k +
/// FANOUT]`, leaf `i` is `nodes[first_leaf + i]`, each node holds the index of its
/// subtree's winner (or `NONE`) with bit 31 set if an odd destination is below it and bit 30 if a
/// flagged one is, as of the last
/// [`PickTree::rebuild`] / [`PickTree::update`].
pub struct PickTree<S, R> {
    nodes: S,
    leaves: usize,
    first_leaf: usize,
    len: usize,
    rank: PhantomData<R>,
}

/// Children per node. Four keeps siblings within about one cache line and halves the depth of
/// a binary tree (7 levels for 10,000 destinations), which is what an update pays for: the walk
/// to the root is a chain of dependent memory reads.
pub const FANOUT: usize = 4;

/// Nodes in a complete tree of `leaves` (a power of [`FANOUT`]) leaves.
const fn tree_len(leaves: usize) -> usize {
    leaves.saturating_mul(FANOUT).saturating_sub(1) / (FANOUT - 1)
}

impl<S: DerefMut<Target = [Node<R::Key>]>, R: Rank> PickTree<S, R> {
    /// Nodes of storage a tree for up to `max_dests` destinations needs.
    pub fn storage_len(max_dests: usize) -> usize {
        let mut leaves = 1usize;
        while leaves < max_dests {
            match leaves.checked_mul(FANOUT) {
                Some(l) => leaves = l,
                None => return usize::MAX,
            }
        }
        tree_len(leaves)
    }

    /// A tree over `storage`, holding as many destinations as a complete tree fitting in it has
    /// leaves.
    pub fn new(storage: S) -> Self {
        let mut leaves = 0usize;
        let mut next = 1usize;
        while next <= usize::MAX / FANOUT / 2 && tree_len(next) <= storage.len() {
            leaves = next;
            next *= FANOUT;
        }
        // The internal nodes come first: 1 + FANOUT + … + leaves / FANOUT of them.
        let first_leaf = leaves.saturating_sub(1) / (FANOUT - 1);
        let mut t = PickTree {
            nodes: storage,
            leaves,
            first_leaf,
            len: 0,
            rank: PhantomData,
        };
        t.nodes.iter_mut().for_each(|n| *n = Node::empty());
        t
    }

    /// How many destinations the storage can hold.
    pub fn capacity(&self) -> usize {
        self.leaves
    }

    /// Whether any destination is [`Rank::flagged`].
    pub fn any_flagged(&self) -> bool {
        self.nodes.first().is_some_and(|r| r.idx & FLAG != 0)
    }

    fn leaf_value(dests: &[Dest], i: usize) -> Node<R::Key> {
        match dests.get(i) {
            Some(d) => {
                let bits = if R::odd(d) { ODD } else { 0 } | if R::flagged(d) { FLAG } else { 0 };
                if R::eligible(d) {
                    Node {
                        idx: (i as u32) | bits,
                        key: R::key(d),
                    }
                } else {
                    Node {
                        idx: NONE | bits,
                        key: R::Key::default(),
                    }
                }
            }
            None => Node::empty(),
        }
    }

    /// Recompute `node` from its children; false if it did not change (nor will its ancestors).
    fn refresh(&mut self, node: usize) -> bool {
        let first = FANOUT * node + 1;
        let Some(children) = self.nodes.get(first..first + FANOUT) else {
            return false;
        };
        // Left to right is list order: a later child replaces the current best only when
        // strictly better, which keeps the first best as the scan does. The choice is written
        // without short-circuits so it compiles to conditional moves: which child wins is data
        // dependent and a mispredicted branch per comparison would cost more than the rest.
        let mut best = children.first().copied().unwrap_or_else(Node::empty);
        let mut bits = best.idx & BITS;
        for c in children.iter().skip(1) {
            bits |= c.idx & BITS;
            let best_none = (best.idx & !BITS) == NONE;
            let c_some = (c.idx & !BITS) != NONE;
            let take = best_none | (c_some & R::beats(&c.key, &best.key));
            best = if take { *c } else { best };
        }
        best.idx = (best.idx & !BITS) | bits;
        match self.nodes.get_mut(node) {
            Some(n) if *n != best => {
                *n = best;
                true
            }
            _ => false,
        }
    }

    /// Recompute the whole tree from `dests` (after an insertion or removal shifted indices).
    pub fn rebuild(&mut self, dests: &[Dest]) -> Result<(), SchedError> {
        if dests.len() > self.leaves || dests.len() >= NONE as usize {
            self.len = 0;
            self.nodes.iter_mut().for_each(|n| *n = Node::empty());
            return Err(SchedError::NoMemory);
        }
        self.len = dests.len();
        for i in 0..self.leaves {
            let v = Self::leaf_value(dests, i);
            if let Some(n) = self.nodes.get_mut(self.first_leaf + i) {
                *n = v;
            }
        }
        for node in (0..self.first_leaf).rev() {
            self.refresh(node);
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
        let mut node = self.first_leaf + idx;
        let v = Self::leaf_value(dests, idx);
        match self.nodes.get_mut(node) {
            Some(n) if *n != v => *n = v,
            _ => return,
        }
        // Stop at the first ancestor that keeps its winner: the ones above cannot change either.
        while node > 0 {
            node = (node - 1) / FANOUT;
            if !self.refresh(node) {
                break;
            }
        }
    }

    /// The scan's answer, if the tree can give it.
    pub fn pick(&self, dests: &[Dest]) -> TreePick {
        if dests.len() != self.len || self.leaves == 0 {
            return TreePick::Scan;
        }
        // With a single leaf the root is that leaf.
        let root = self.nodes.first().map_or(NONE, |n| n.idx);
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

impl<S: DerefMut<Target = [Node<R::Key>]>, R: Rank> TreeScheduler<S, R> {
    /// A scheduler over `storage` of at least [`TreeScheduler::storage_len`] nodes.
    pub fn new(storage: S) -> Self {
        TreeScheduler {
            tree: PickTree::new(storage),
        }
    }

    /// Nodes of storage needed for up to `max_dests` destinations.
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

impl<S: DerefMut<Target = [Node<R::Key>]>, R: Rank> Scheduler for TreeScheduler<S, R> {
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
