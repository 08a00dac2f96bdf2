//! A service's scheduler as the packet path runs it: rvs-core's algorithms bound to the
//! service's destination list, behind a bottom-half-safe lock (`svc->sched_lock` in ip_vs).
//!
//! rvs-core's schedulers work on a slice of [`sched::Dest`] snapshots. [`SchedState`] keeps that
//! slice next to the shared [`Dest`]s it mirrors. A destination whose counters or settings change
//! (a connection bound, unbound, activated or deactivated; an edit) marks its slot in the
//! service's [`DirtySet`]; before each pick the scheduler drains the marks, re-reads only those
//! destinations and reports each change through `conns_changed`/`upd_dest`, so a pick costs the
//! O(log n) tree read and not a pass over every destination. A change of the destination list or
//! of the scheduler builds a new state (process context, allocating), swapped in under the lock;
//! it renumbers the slots and marks them all, so the first pick after it re-reads everything.

use core::sync::atomic::Ordering::Relaxed;

use kernel::{
    alloc::{flags::GFP_KERNEL, KVVec, KVec},
    error::{code::ENOMEM, Result},
    sync::Arc,
};

use crate::{
    kapi,
    kapi::lock::SpinLockBh,
    rvs_core::sched::dirty::DirtySet,
    rvs_core::sched::{
        self,
        dh::Dh,
        fo::FoRank,
        lblc,
        lblc::Lblc,
        lblcr,
        lblcr::Lblcr,
        lc::LcRank,
        maglev::Maglev,
        mh::Mh,
        nq::NqRank,
        ovf::OvfRank,
        rr::Rr,
        sed::SedRank,
        sh::Sh,
        tree::{Node, PickTree, TreeScheduler},
        twos::{RandomSource, Twos},
        wlc::WlcRank,
        wrr::Wrr,
        Scheduler,
    },
    svc::Dest,
};

/// The kernel's random numbers, for `twos`.
pub(crate) struct KernelRandom;

impl RandomSource for KernelRandom {
    fn random_u32_below(&mut self, ceil: u32) -> u32 {
        kapi::random_u32_below(ceil)
    }
}

type Tree<R> = TreeScheduler<KVVec<Node<(i32, i32)>>, R>;
type LblcSched = Lblc<KVVec<lblc::LblcEntry>, KVVec<u32>, KVVec<Node<(i32, i32)>>>;
type LblcrSched =
    Lblcr<KVVec<lblcr::LblcrEntry>, KVVec<lblcr::LblcrMember>, KVVec<u32>, KVVec<Node<(i32, i32)>>>;

/// One of the schedulers, with its storage (the big tables are on the heap; the size
/// difference is inline state such as `sh`'s bucket array).
#[allow(clippy::large_enum_variant)]
enum Algo {
    None,
    Rr(Rr),
    Wrr(Wrr),
    Lc(TreeScheduler<KVVec<Node<u32>>, LcRank>),
    Wlc(Tree<WlcRank>),
    Sed(TreeScheduler<KVVec<Node<(i32, i32)>>, SedRank>),
    Nq(TreeScheduler<KVVec<Node<<NqRank as sched::tree::Rank>::Key>>, NqRank>),
    Fo(TreeScheduler<KVVec<Node<<FoRank as sched::tree::Rank>::Key>>, FoRank>),
    Ovf(TreeScheduler<KVVec<Node<<OvfRank as sched::tree::Rank>::Key>>, OvfRank>),
    Lblc(LblcSched),
    Lblcr(LblcrSched),
    Dh(Dh),
    Sh(Sh),
    Mh(Mh<KVVec<u32>>),
    Twos(Twos<KVVec<u64>, KernelRandom>),
    Maglev(Maglev<KVVec<u32>, KVVec<sched::maglev::MaglevBuild>>),
}

fn storage<T: Clone + Default>(n: usize) -> Result<KVVec<T>> {
    let mut v = KVVec::with_capacity(n, GFP_KERNEL)?;
    v.extend_with(n, T::default(), GFP_KERNEL)?;
    Ok(v)
}

fn tree_storage<K: Copy + Default>(n: usize) -> Result<KVVec<Node<K>>> {
    // The tree's shape, and so its length, does not depend on the key type.
    storage(PickTree::<KVVec<Node<(i32, i32)>>, WlcRank>::storage_len(
        n.max(1),
    ))
}

impl Algo {
    fn new(name: &[u8], ndests: usize) -> Result<Self> {
        let hz = u64::from(kapi::HZ);
        let e = |_| ENOMEM;
        Ok(match name {
            b"rr" => Self::Rr(Rr::new()),
            b"wrr" => Self::Wrr(Wrr::new()),
            b"lc" => Self::Lc(TreeScheduler::new(tree_storage(ndests)?)),
            b"wlc" => Self::Wlc(TreeScheduler::new(tree_storage(ndests)?)),
            b"sed" => Self::Sed(TreeScheduler::new(tree_storage(ndests)?)),
            b"nq" => Self::Nq(TreeScheduler::new(tree_storage(ndests)?)),
            b"fo" => Self::Fo(TreeScheduler::new(tree_storage(ndests)?)),
            b"ovf" => Self::Ovf(TreeScheduler::new(tree_storage(ndests)?)),
            b"lblc" => Self::Lblc(
                Lblc::new(
                    storage(lblc::LBLC_MAX_ENTRIES)?,
                    storage(lblc::IP_VS_LBLC_TAB_SIZE)?,
                    tree_storage(ndests)?,
                    hz,
                )
                .map_err(e)?,
            ),
            b"lblcr" => Self::Lblcr(
                Lblcr::new(
                    storage(lblc::LBLC_MAX_ENTRIES)?,
                    storage(lblc::LBLC_MAX_ENTRIES * 2)?,
                    storage(lblcr::IP_VS_LBLCR_TAB_SIZE)?,
                    tree_storage(ndests)?,
                    hz,
                )
                .map_err(e)?,
            ),
            b"dh" => Self::Dh(Dh),
            b"sh" => Self::Sh(Sh::new()),
            b"mh" => Self::Mh(
                Mh::new(
                    storage(Mh::<KVVec<u32>>::storage_len(
                        sched::mh::DEFAULT_TAB_INDEX,
                        ndests,
                    ))?,
                    sched::mh::DEFAULT_TAB_INDEX,
                )
                .map_err(e)?,
            ),
            b"twos" => Self::Twos(Twos::new(
                storage(Twos::<KVVec<u64>, KernelRandom>::storage_len(ndests.max(1)))?,
                KernelRandom,
            )),
            b"maglev" => {
                let size = sched::maglev::MAGLEV_DEFAULT_SIZE;
                Self::Maglev(
                    Maglev::new(
                        storage(
                            Maglev::<KVVec<u32>, KVVec<sched::maglev::MaglevBuild>>::table_len(
                                size,
                            ),
                        )?,
                        storage(ndests.max(1))?,
                        size,
                    )
                    .map_err(e)?,
                )
            }
            _ => Self::None,
        })
    }

    fn get(&mut self) -> Option<&mut dyn Scheduler> {
        Some(match self {
            Self::None => return None,
            Self::Rr(s) => s,
            Self::Wrr(s) => s,
            Self::Lc(s) => s,
            Self::Wlc(s) => s,
            Self::Sed(s) => s,
            Self::Nq(s) => s,
            Self::Fo(s) => s,
            Self::Ovf(s) => s,
            Self::Lblc(s) => s,
            Self::Lblcr(s) => s,
            Self::Dh(s) => s,
            Self::Sh(s) => s,
            Self::Mh(s) => s,
            Self::Twos(s) => s,
            Self::Maglev(s) => s,
        })
    }
}

/// What the scheduler sees of a destination now.
fn snapshot(d: &Dest) -> sched::Dest {
    sched::Dest {
        af: d.af,
        addr: d.addr,
        port: d.port,
        weight: d.weight.load(Relaxed),
        last_weight: d.last_weight.load(Relaxed),
        activeconns: d.activeconns.load(Relaxed) as i32,
        totalconns: d.totalconns.load(Relaxed) as i32,
        persistconns: d.persistconns.load(Relaxed) as i32,
        overloaded: d.overloaded.load(Relaxed),
    }
}

/// A service's scheduler bound to its destinations.
pub(crate) struct SchedState {
    algo: Algo,
    svc: sched::Service,
    dests: KVec<Arc<Dest>>,
    snap: KVec<sched::Dest>,
    dirty: Arc<DirtySet>,
}

/// Numbers `dests` for the scheduler and marks every slot, so the next pick re-reads them all (a
/// change marked under an old number may have gone to another slot).
fn renumber(dests: &[Arc<Dest>], dirty: &DirtySet) {
    for (i, d) in dests.iter().enumerate() {
        d.sched_slot.store(i as u32, Relaxed);
    }
    dirty.mark_all();
}

impl SchedState {
    /// A scheduler without destinations (before the service is configured).
    pub(crate) fn empty(dirty: Arc<DirtySet>) -> Self {
        Self {
            algo: Algo::None,
            svc: sched::Service::default(),
            dests: KVec::new(),
            snap: KVec::new(),
            dirty,
        }
    }

    /// Scheduler `name` over `dests` (ip_vs's list order) for a service of family `af` with
    /// flags `flags`, whose destinations mark `dirty` (process context; [`SchedState::install`]
    /// puts it in place).
    pub(crate) fn build(
        name: &[u8],
        af: u16,
        flags: u32,
        dests: &[Arc<Dest>],
        dirty: &Arc<DirtySet>,
    ) -> Result<Self> {
        let mut algo = Algo::new(name, dests.len())?;
        let svc = sched::Service { af, flags };
        let mut snap = KVec::with_capacity(dests.len(), GFP_KERNEL)?;
        let mut list = KVec::with_capacity(dests.len(), GFP_KERNEL)?;
        for d in dests {
            snap.push(snapshot(d), GFP_KERNEL)?;
            list.push(d.clone(), GFP_KERNEL)?;
        }
        if let Some(s) = algo.get() {
            s.init_service(&svc, &snap).map_err(|_| ENOMEM)?;
        }
        Ok(Self {
            algo,
            svc,
            dests: list,
            snap,
            dirty: dirty.clone(),
        })
    }

    /// Puts `state` in place of the lock's state, numbering its destinations under the lock so
    /// the old state, which drains the same marks, cannot take the marks meant for the new one.
    pub(crate) fn install(lock: &SpinLockBh<SchedState>, state: SchedState) {
        let mut g = lock.lock();
        let old = core::mem::replace(&mut *g, state);
        renumber(&g.dests, &g.dirty);
        drop(g);
        drop(old);
    }

    /// Whether the scheduler follows a change of the destination list in place (`add_dest`,
    /// `del_dest` on the live state, as ip_vs calls them), which keeps state that depends on
    /// history, like `rr`'s cursor and `wrr`'s current weight. The others are rebuilt: their
    /// picks depend only on the list and its counters (or, for `lblc`/`lblcr`, on a cache that a
    /// rebuild empties).
    fn follows_changes(&self) -> bool {
        matches!(
            self.algo,
            Algo::None | Algo::Rr(_) | Algo::Wrr(_) | Algo::Dh(_) | Algo::Sh(_)
        )
    }

    /// `dests[at]` was added (`dests` is the new list) or, with `added == false`, the
    /// destination at `at` was removed from the list `dests` is now. Process context.
    pub(crate) fn change(
        lock: &SpinLockBh<SchedState>,
        name: &[u8],
        af: u16,
        flags: u32,
        dests: &[Arc<Dest>],
        at: usize,
        added: bool,
    ) -> Result {
        // Everything is allocated before the lock is taken.
        let mut list = KVec::with_capacity(dests.len(), GFP_KERNEL)?;
        let mut snap = KVec::with_capacity(dests.len(), GFP_KERNEL)?;
        for d in dests {
            list.push(d.clone(), GFP_KERNEL)?;
        }
        let mut g = lock.lock();
        if !g.follows_changes() {
            let dirty = g.dirty.clone();
            drop(g);
            Self::install(lock, Self::build(name, af, flags, dests, &dirty)?);
            return Ok(());
        }
        // The snapshots of the destinations that stay keep what the scheduler last saw.
        for (i, d) in dests.iter().enumerate() {
            let kept = if added {
                if i == at {
                    None
                } else {
                    g.snap.get(if i > at { i - 1 } else { i }).copied()
                }
            } else {
                g.snap.get(if i >= at { i + 1 } else { i }).copied()
            };
            // Within the capacity reserved above: no allocation under the lock.
            let _ = snap.push(kept.unwrap_or_else(|| snapshot(d)), GFP_KERNEL);
        }
        let old_list = core::mem::replace(&mut g.dests, list);
        let old_snap = core::mem::replace(&mut g.snap, snap);
        let g = &mut *g;
        if let Some(s) = g.algo.get() {
            let _ = if added {
                s.add_dest(&g.svc, &g.snap, at)
            } else {
                s.del_dest(&g.svc, &g.snap, at)
            };
        }
        renumber(dests, &g.dirty);
        drop(old_list);
        drop(old_snap);
        Ok(())
    }

    /// Picks a destination for a new connection (`sched->schedule`).
    pub(crate) fn pick(&mut self, pkt: &sched::Packet, now: u64) -> Option<Arc<Dest>> {
        let s = self.algo.get()?;
        let (dests, snap, svc) = (&self.dests, &mut self.snap, &self.svc);
        self.dirty.drain_slots(dests.len(), |i| {
            let (Some(d), Some(old)) = (dests.get(i), snap.get(i)) else {
                return;
            };
            let now_d = snapshot(d);
            if *old != now_d {
                let weight_changed =
                    old.weight != now_d.weight || old.last_weight != now_d.last_weight;
                if let Some(old) = snap.get_mut(i) {
                    *old = now_d;
                }
                if weight_changed {
                    let _ = s.upd_dest(svc, snap, i);
                } else {
                    s.conns_changed(snap, i);
                }
            }
        });
        let i = s.schedule(&self.svc, &self.snap, pkt, now)?;
        self.dests.get(i).cloned()
    }

    /// Applies the `lblc_expiration`/`lblcr_expiration` sysctls (jiffies; ip_vs reads them at
    /// every use, adding them to `unsigned long` times).
    pub(crate) fn set_expiration(&mut self, lblc: i32, lblcr: i32) {
        match &mut self.algo {
            Algo::Lblc(s) => s.set_expiration(i64::from(lblc) as u64),
            Algo::Lblcr(s) => s.set_expiration(i64::from(lblcr) as u64),
            _ => {}
        }
    }

    /// The periodic expiry of `lblc`/`lblcr` entries (`ip_vs_lblc_check_expire`, every 60 s).
    pub(crate) fn check_expire(&mut self, now: u64) {
        if let Some(s) = self.algo.get() {
            s.check_expire(now);
        }
    }
}
