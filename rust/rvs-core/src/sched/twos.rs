//! `twos`: weighted power of two choices (ip_vs_twos.c).
//!
//! Two weighted-random draws `r1`, `r2` in `[0, total_weight]` each select the first destination
//! at which the running sum of weights reaches the draw; the second choice wins if its
//! `overhead / weight` is strictly lower (compared as the C's `int` products). Overloaded and
//! weight <= 0 destinations take no part. ip_vs walks the list twice per pick; rvs keeps the
//! weights in a Fenwick tree (caller-provided storage, [`Twos::storage_len`] words) and finds
//! each choice in O(log n); connection counters do not move it, only overload flips and edits. The
//! random source is injectable ([`RandomSource`]) so tests are deterministic; the module's
//! implementation calls `get_random_u32_below()`, and draws are taken in the C's order.
//! When the total weight would overflow the C's `int` the transcribed scan runs instead, so its
//! wrap-around is reproduced too.

use core::ops::DerefMut;

use super::{Dest, Packet, SchedError, Scheduler, Service};

/// A source of uniform random numbers.
pub trait RandomSource {
    /// A uniform value in `0..ceil` (`get_random_u32_below(ceil)`); `ceil` is never 0.
    fn random_u32_below(&mut self, ceil: u32) -> u32;
}

fn eligible_weight(d: &Dest) -> u64 {
    if !d.overloaded && d.weight > 0 {
        d.weight as u64
    } else {
        0
    }
}

/// The `twos` scheduler: a Fenwick tree of eligible weights plus the random source.
///
/// # Invariants
///
/// With `cap = (storage.len() - 1) / 2`: `storage[1..=len]` is the Fenwick tree of
/// `eligible_weight` over the list as of the last rebuild/update, `storage[cap + 1 + i]` is that
/// weight for destination `i`, and `total` is their sum.
pub struct Twos<S, R> {
    fen: S,
    cap: usize,
    len: usize,
    total: u64,
    rng: R,
}

impl<S: DerefMut<Target = [u64]>, R: RandomSource> Twos<S, R> {
    /// Words of storage needed for up to `max_dests` destinations.
    pub fn storage_len(max_dests: usize) -> usize {
        max_dests.saturating_mul(2).saturating_add(1)
    }

    /// A scheduler over `storage`, drawing from `rng`.
    pub fn new(storage: S, rng: R) -> Self {
        Twos {
            cap: storage.len().saturating_sub(1) / 2,
            fen: storage,
            len: 0,
            total: 0,
            rng,
        }
    }

    /// The random source (tests reseed it).
    pub fn rng_mut(&mut self) -> &mut R {
        &mut self.rng
    }

    fn rebuild(&mut self, dests: &[Dest]) -> Result<(), SchedError> {
        self.fen.iter_mut().for_each(|v| *v = 0);
        self.total = 0;
        if dests.len() > self.cap {
            self.len = 0;
            return Err(SchedError::NoMemory);
        }
        self.len = dests.len();
        for (i, d) in dests.iter().enumerate() {
            let w = eligible_weight(d);
            self.add(i + 1, w);
            if let Some(v) = self.fen.get_mut(self.cap + 1 + i) {
                *v = w;
            }
        }
        Ok(())
    }

    fn add(&mut self, mut pos: usize, delta: u64) {
        self.total = self.total.wrapping_add(delta);
        while pos <= self.len {
            if let Some(v) = self.fen.get_mut(pos) {
                *v = v.wrapping_add(delta);
            }
            pos += pos & pos.wrapping_neg();
        }
    }

    fn update(&mut self, dests: &[Dest], idx: usize) {
        if dests.len() != self.len || idx >= self.len {
            let _ = self.rebuild(dests);
            return;
        }
        let new = dests.get(idx).map_or(0, eligible_weight);
        // Counter changes leave the weight alone; only overload flips and edits touch the tree.
        let Some(old) = self.fen.get_mut(self.cap + 1 + idx) else {
            return;
        };
        if *old == new {
            return;
        }
        let delta = new.wrapping_sub(*old);
        *old = new;
        self.add(idx + 1, delta);
    }

    /// The first index whose running sum of eligible weights reaches `target` (>= 1).
    fn lower_bound(&self, target: u64) -> usize {
        let mut pos = 0usize;
        let mut rem = target;
        let mut step = if self.len == 0 {
            0
        } else {
            1usize << (usize::BITS - 1 - self.len.leading_zeros())
        };
        while step > 0 {
            let next = pos + step;
            if next <= self.len {
                let v = self.fen.get(next).copied().unwrap_or(0);
                if v < rem {
                    pos = next;
                    rem -= v;
                }
            }
            step >>= 1;
        }
        pos
    }
}

/// `ip_vs_twos_schedule()`, transcribed with its `int` wrap-around: the reference for the
/// Fenwick tree and its fallback.
pub fn ip_vs_twos_schedule(dests: &[Dest], rng: &mut dyn RandomSource) -> Option<usize> {
    let mut total_weight: i32 = 0;
    let mut any = false;
    for d in dests {
        if !d.overloaded && d.weight > 0 {
            total_weight = total_weight.wrapping_add(d.weight);
            any = true;
        }
    }
    if !any {
        return None;
    }
    total_weight = total_weight.wrapping_add(1);
    let ceil = (total_weight as u32).max(1);
    let mut rweight1 = rng.random_u32_below(ceil) as i32;
    let mut rweight2 = rng.random_u32_below(ceil) as i32;
    let mut c1: Option<(usize, i32, i32)> = None;
    let mut c2: Option<(usize, i32, i32)> = None;
    for (i, d) in dests.iter().enumerate() {
        if d.overloaded || d.weight <= 0 {
            continue;
        }
        rweight1 = rweight1.wrapping_sub(d.weight);
        rweight2 = rweight2.wrapping_sub(d.weight);
        if rweight1 <= 0 && c1.is_none() {
            c1 = Some((i, d.weight, d.overhead()));
        }
        if rweight2 <= 0 && c2.is_none() {
            c2 = Some((i, d.weight, d.overhead()));
        }
        if c1.is_some() && c2.is_some() {
            break;
        }
    }
    choose(c1, c2)
}

fn choose(c1: Option<(usize, i32, i32)>, c2: Option<(usize, i32, i32)>) -> Option<usize> {
    match (c1, c2) {
        (Some((i1, w1, oh1)), Some((i2, w2, oh2))) => {
            if w2.wrapping_mul(oh1) > w1.wrapping_mul(oh2) {
                Some(i2)
            } else {
                Some(i1)
            }
        }
        (Some((i1, _, _)), None) => Some(i1),
        // The draws are at most the total weight, so the walk always sets both choices.
        (None, c2) => c2.map(|(i, _, _)| i),
    }
}

impl<S: DerefMut<Target = [u64]>, R: RandomSource> Scheduler for Twos<S, R> {
    fn name(&self) -> &'static str {
        "twos"
    }

    fn init_service(&mut self, _svc: &Service, dests: &[Dest]) -> Result<(), SchedError> {
        self.rebuild(dests)
    }

    fn add_dest(&mut self, _svc: &Service, dests: &[Dest], _idx: usize) -> Result<(), SchedError> {
        self.rebuild(dests)
    }

    fn del_dest(&mut self, _svc: &Service, dests: &[Dest], _idx: usize) -> Result<(), SchedError> {
        self.rebuild(dests)
    }

    fn upd_dest(&mut self, _svc: &Service, dests: &[Dest], idx: usize) -> Result<(), SchedError> {
        self.update(dests, idx);
        Ok(())
    }

    fn conns_changed(&mut self, dests: &[Dest], idx: usize) {
        self.update(dests, idx);
    }

    fn schedule(
        &mut self,
        _svc: &Service,
        dests: &[Dest],
        _pkt: &Packet,
        _now: u64,
    ) -> Option<usize> {
        // The C's int total must not wrap for the tree's u64 sums to mean the same thing.
        if dests.len() != self.len || self.total >= i32::MAX as u64 {
            return ip_vs_twos_schedule(dests, &mut self.rng);
        }
        if self.total == 0 {
            return None;
        }
        let ceil = (self.total + 1) as u32;
        let r1 = u64::from(self.rng.random_u32_below(ceil)).max(1);
        let r2 = u64::from(self.rng.random_u32_below(ceil)).max(1);
        let pick = |t: &Self, r: u64| {
            let i = t.lower_bound(r);
            dests.get(i).map(|d| (i, d.weight, d.overhead()))
        };
        let c1 = pick(self, r1);
        let c2 = pick(self, r2);
        choose(c1, c2)
    }
}
