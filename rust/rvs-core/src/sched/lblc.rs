//! `lblc`: locality-based least connection (ip_vs_lblc.c), for cache clusters.
//!
//! Each service keeps a table from a packet's destination address to the real server that last
//! served it. A packet whose address is cached goes to that server unless it is quiesced, gone,
//! or "overloaded" in lblc's sense (more active connections than its weight while some server in
//! the service is below half of its own); otherwise the service's WLC pick serves it and is
//! cached. The table has 1024 buckets (`IP_VS_LBLC_TAB_BITS` = 10) hashed with `hash_32`, holds up
//! to `max_size * 3 / 2` = 24576 entries, and a timer every 60 s expires idle entries: those
//! unused for 6 minutes when above `max_size` = 16384, and every 30th run all entries unused for
//! `lblc_expiration` (sysctl, default 24 h).
//!
//! rvs differences in form, not in answers: the table lives in caller-provided storage (entries
//! and bucket heads), so a table smaller than 24576 entries refuses new entries earlier, as a
//! failed `kmalloc` would; the caller drives expiry by calling [`Lblc::check_expire`] every
//! [`CHECK_EXPIRE_INTERVAL`] seconds with its jiffies clock; the WLC pick and the "some server
//! below half load" test come from a [`PickTree`] in O(log n) and O(1)
//! instead of list scans. One deviation: entries hold list indices, so when a destination is
//! deleted its entries are marked gone; ip_vs holds the destination object, which can come back
//! from the trash if the same address and port is re-added, and then its old entries hit again.
//! In rvs they miss once and are replaced by the WLC pick, which may be the revived server.

use core::ops::DerefMut;

use super::super::hash::hash_32;
use super::tree::{Node, PickTree, Rank, TreePick};
use super::wlc::{ip_vs_wlc_schedule, WlcRank};
use super::{addr_equal, addr_fold, Dest, Packet, SchedError, Scheduler, Service};

/// `IP_VS_LBLC_TAB_BITS` (`CONFIG_IP_VS_LBLC_TAB_BITS`, default 10).
pub const IP_VS_LBLC_TAB_BITS: u32 = 10;
/// `IP_VS_LBLC_TAB_SIZE`: bucket heads the caller provides.
pub const IP_VS_LBLC_TAB_SIZE: usize = 1 << IP_VS_LBLC_TAB_BITS;
const IP_VS_LBLC_TAB_MASK: usize = IP_VS_LBLC_TAB_SIZE - 1;
/// `tbl->max_size`: `IP_VS_LBLC_TAB_SIZE * 16`.
pub const LBLC_MAX_SIZE: usize = IP_VS_LBLC_TAB_SIZE * 16;
/// Entries ip_vs allows at most (`max_size * 3 / 2`): a full-size entry storage.
pub const LBLC_MAX_ENTRIES: usize = LBLC_MAX_SIZE * 3 / 2;
/// `CHECK_EXPIRE_INTERVAL` in seconds: how often the caller runs [`Lblc::check_expire`].
pub const CHECK_EXPIRE_INTERVAL: u64 = 60;
/// `ENTRY_TIMEOUT` in seconds.
pub const ENTRY_TIMEOUT: u64 = 6 * 60;
/// `DEFAULT_EXPIRATION` of the `lblc_expiration` / `lblcr_expiration` sysctls, in seconds.
pub const DEFAULT_EXPIRATION: u64 = 24 * 60 * 60;
/// `COUNT_FOR_FULL_EXPIRATION`.
pub const COUNT_FOR_FULL_EXPIRATION: i32 = 30;

pub(super) const NIL: u32 = u32::MAX;

/// `time_before(a, b)` on a jiffies-like clock that may wrap.
#[inline]
pub fn time_before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

/// `time_after(a, b)`.
#[inline]
pub fn time_after(a: u64, b: u64) -> bool {
    time_before(b, a)
}

/// `ip_vs_lblc_hashkey()` (and `ip_vs_lblcr_hashkey()`).
#[inline]
pub fn ip_vs_lblc_hashkey(af: u16, addr: &[u8; 16]) -> usize {
    hash_32(addr_fold(af, addr), IP_VS_LBLC_TAB_BITS) as usize
}

/// The WLC order plus the flag "activeconns * 2 < weight" that lblc's and lblcr's
/// `is_overloaded()` look for in every destination.
pub struct LocalityRank;

impl Rank for LocalityRank {
    type Key = (i32, i32);
    const NAME: &'static str = "lblc";

    fn scan(dests: &[Dest]) -> Option<usize> {
        ip_vs_wlc_schedule(dests)
    }

    fn eligible(d: &Dest) -> bool {
        WlcRank::eligible(d)
    }

    fn key(d: &Dest) -> Self::Key {
        WlcRank::key(d)
    }

    fn beats(later: &Self::Key, earlier: &Self::Key) -> bool {
        WlcRank::beats(later, earlier)
    }

    fn odd(d: &Dest) -> bool {
        WlcRank::odd(d)
    }

    fn flagged(d: &Dest) -> bool {
        d.activeconns.wrapping_mul(2) < d.weight
    }
}

/// The WLC pick (`__ip_vs_lblc_schedule()`) from the tree, or the scan when it cannot answer.
pub(super) fn locality_wlc<S: DerefMut<Target = [Node<(i32, i32)>]>>(
    tree: &PickTree<S, LocalityRank>,
    dests: &[Dest],
) -> Option<usize> {
    match tree.pick(dests) {
        TreePick::Winner(i) => Some(i),
        TreePick::Empty => None,
        TreePick::Scan => ip_vs_wlc_schedule(dests),
    }
}

/// lblc's `is_overloaded()`: more active connections than weight while some destination is
/// below half of its weight.
pub(super) fn is_overloaded<S: DerefMut<Target = [Node<(i32, i32)>]>>(
    tree: &PickTree<S, LocalityRank>,
    dests: &[Dest],
    d: &Dest,
) -> bool {
    if d.activeconns <= d.weight {
        return false;
    }
    if tree.pick(dests) == TreePick::Scan {
        dests.iter().any(LocalityRank::flagged)
    } else {
        tree.any_flagged()
    }
}

/// `struct ip_vs_lblc_entry`, in caller-provided storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LblcEntry {
    addr: [u8; 16],
    af: u16,
    /// Destination index, `NIL` once the destination was deleted.
    dest: u32,
    lastuse: u64,
    /// Next entry in the bucket chain or the free list.
    next: u32,
}

impl Default for LblcEntry {
    fn default() -> Self {
        LblcEntry {
            addr: [0; 16],
            af: 0,
            dest: NIL,
            lastuse: 0,
            next: NIL,
        }
    }
}

/// The `lblc` scheduler: `struct ip_vs_lblc_table` plus the WLC tree.
///
/// Storage: `entries` (up to [`LBLC_MAX_ENTRIES`] are used), `buckets` of at least
/// [`IP_VS_LBLC_TAB_SIZE`] words, `tree` of [`PickTree::storage_len`] nodes for the destinations.
pub struct Lblc<E, B, T> {
    entries: E,
    buckets: B,
    tree: PickTree<T, LocalityRank>,
    free: u32,
    count: usize,
    rover: usize,
    counter: i32,
    hz: u64,
    expiration: u64,
}

impl<E, B, T> Lblc<E, B, T>
where
    E: DerefMut<Target = [LblcEntry]>,
    B: DerefMut<Target = [u32]>,
    T: DerefMut<Target = [Node<(i32, i32)>]>,
{
    /// A table over the given storage; `hz` is the clock's ticks per second.
    pub fn new(entries: E, buckets: B, tree: T, hz: u64) -> Result<Self, SchedError> {
        if buckets.len() < IP_VS_LBLC_TAB_SIZE {
            return Err(SchedError::NoMemory);
        }
        let mut t = Lblc {
            entries,
            buckets,
            tree: PickTree::new(tree),
            free: NIL,
            count: 0,
            rover: 0,
            counter: 1,
            hz,
            expiration: DEFAULT_EXPIRATION.saturating_mul(hz),
        };
        t.flush();
        Ok(t)
    }

    /// Set the `lblc_expiration` sysctl, in ticks.
    pub fn set_expiration(&mut self, ticks: u64) {
        self.expiration = ticks;
    }

    /// Number of cached entries (`tbl->entries`).
    pub fn entries(&self) -> usize {
        self.count
    }

    /// `ip_vs_lblc_flush()`: drop every entry.
    pub fn flush(&mut self) {
        self.buckets.iter_mut().for_each(|b| *b = NIL);
        let n = self.entries.len().min(NIL as usize);
        for (i, e) in self.entries.iter_mut().enumerate().take(n) {
            *e = LblcEntry::default();
            e.next = if i + 1 < n { (i + 1) as u32 } else { NIL };
        }
        self.free = if n > 0 { 0 } else { NIL };
        self.count = 0;
    }

    fn entry(&self, i: u32) -> Option<&LblcEntry> {
        self.entries.get(i as usize)
    }

    /// `ip_vs_lblc_get()`: the entry for `addr`, if cached.
    fn get(&self, af: u16, addr: &[u8; 16]) -> Option<u32> {
        let mut i = self.buckets.get(ip_vs_lblc_hashkey(af, addr)).copied()?;
        while let Some(e) = self.entry(i) {
            if addr_equal(af, &e.addr, addr) {
                return Some(i);
            }
            i = e.next;
        }
        None
    }

    /// The cached destination for `addr`: `Some(None)` for an entry whose destination is gone.
    pub fn cached(&self, af: u16, addr: &[u8; 16]) -> Option<Option<usize>> {
        let e = self.entry(self.get(af, addr)?)?;
        Some(if e.dest == NIL {
            None
        } else {
            Some(e.dest as usize)
        })
    }

    /// Unlink entry `i` from bucket `b` and put it on the free list (`ip_vs_lblc_del()`).
    fn del(&mut self, b: usize, i: u32) {
        let next = self.entry(i).map_or(NIL, |e| e.next);
        let mut prev: Option<u32> = None;
        let mut cur = self.buckets.get(b).copied().unwrap_or(NIL);
        while cur != NIL && cur != i {
            prev = Some(cur);
            cur = self.entry(cur).map_or(NIL, |e| e.next);
        }
        if cur != i {
            return;
        }
        match prev {
            None => {
                if let Some(h) = self.buckets.get_mut(b) {
                    *h = next;
                }
            }
            Some(p) => {
                if let Some(pe) = self.entries.get_mut(p as usize) {
                    pe.next = next;
                }
            }
        }
        let free = self.free;
        if let Some(e) = self.entries.get_mut(i as usize) {
            *e = LblcEntry::default();
            e.next = free;
        }
        self.free = i;
        self.count = self.count.saturating_sub(1);
    }

    /// `ip_vs_lblc_new()`: cache `dest` for `daddr`.
    fn new_entry(&mut self, daddr: &[u8; 16], af: u16, dest: usize, now: u64) {
        if let Some(i) = self.get(af, daddr) {
            if self.entry(i).is_some_and(|e| e.dest as usize == dest) {
                return;
            }
            self.del(ip_vs_lblc_hashkey(af, daddr), i);
        }
        if self.count >= LBLC_MAX_ENTRIES || self.free == NIL {
            return;
        }
        let i = self.free;
        let b = ip_vs_lblc_hashkey(af, daddr);
        let head = self.buckets.get(b).copied().unwrap_or(NIL);
        let Some(e) = self.entries.get_mut(i as usize) else {
            return;
        };
        self.free = e.next;
        let mut addr = [0u8; 16];
        // ip_vs_addr_copy() copies 4 bytes for IPv4.
        let n = if af == super::AF_INET6 { 16 } else { 4 };
        if let (Some(d), Some(s)) = (addr.get_mut(..n), daddr.get(..n)) {
            d.copy_from_slice(s);
        }
        *e = LblcEntry {
            addr,
            af,
            dest: dest as u32,
            lastuse: now,
            next: head,
        };
        if let Some(h) = self.buckets.get_mut(b) {
            *h = i;
        }
        self.count += 1;
    }

    /// Remove from bucket `j` the entries `stale` says are stale; returns how many.
    fn sweep_bucket(&mut self, j: usize, stale: impl Fn(&LblcEntry) -> bool) -> i32 {
        let mut removed = 0;
        let mut i = self.buckets.get(j).copied().unwrap_or(NIL);
        while let Some(e) = self.entry(i).copied() {
            if stale(&e) {
                self.del(j, i);
                removed += 1;
            }
            i = e.next;
        }
        removed
    }

    /// `ip_vs_lblc_full_check()`.
    fn full_check(&mut self, now: u64) {
        let exp = self.expiration;
        let mut j = self.rover;
        for _ in 0..IP_VS_LBLC_TAB_SIZE {
            j = (j + 1) & IP_VS_LBLC_TAB_MASK;
            self.sweep_bucket(j, |e| !time_before(now, e.lastuse.wrapping_add(exp)));
        }
        self.rover = j;
    }

    /// `ip_vs_lblc_check_expire()`: the periodic timer's work; call every
    /// [`CHECK_EXPIRE_INTERVAL`] seconds.
    pub fn check_expire(&mut self, now: u64) {
        if self.counter % COUNT_FOR_FULL_EXPIRATION == 0 {
            self.full_check(now);
            self.counter = 1;
            return;
        }
        if self.count <= LBLC_MAX_SIZE {
            self.counter += 1;
            return;
        }
        let mut goal = ((self.count - LBLC_MAX_SIZE) * 4 / 3) as i32;
        goal = goal.min((LBLC_MAX_SIZE / 2) as i32);
        let timeout = ENTRY_TIMEOUT.saturating_mul(self.hz);
        let mut j = self.rover;
        for _ in 0..IP_VS_LBLC_TAB_SIZE {
            j = (j + 1) & IP_VS_LBLC_TAB_MASK;
            goal -= self.sweep_bucket(j, |e| !time_before(now, e.lastuse.wrapping_add(timeout)));
            if goal <= 0 {
                break;
            }
        }
        self.rover = j;
    }

    /// Follow an insertion (`Some(true)`) or removal at `idx` in the cached indices.
    fn shift_indices(&mut self, idx: usize, inserted: bool) {
        for e in self.entries.iter_mut() {
            if e.dest == NIL || (e.dest as usize) < idx {
                continue;
            }
            if inserted {
                e.dest += 1;
            } else if e.dest as usize == idx {
                e.dest = NIL;
            } else {
                e.dest -= 1;
            }
        }
    }
}

impl<E, B, T> Scheduler for Lblc<E, B, T>
where
    E: DerefMut<Target = [LblcEntry]>,
    B: DerefMut<Target = [u32]>,
    T: DerefMut<Target = [Node<(i32, i32)>]>,
{
    fn name(&self) -> &'static str {
        "lblc"
    }

    fn init_service(&mut self, _svc: &Service, dests: &[Dest]) -> Result<(), SchedError> {
        self.flush();
        self.rover = 0;
        self.counter = 1;
        self.tree.rebuild(dests)
    }

    fn add_dest(&mut self, _svc: &Service, dests: &[Dest], idx: usize) -> Result<(), SchedError> {
        self.shift_indices(idx, true);
        self.tree.rebuild(dests)
    }

    fn del_dest(&mut self, _svc: &Service, dests: &[Dest], idx: usize) -> Result<(), SchedError> {
        self.shift_indices(idx, false);
        self.tree.rebuild(dests)
    }

    fn upd_dest(&mut self, _svc: &Service, dests: &[Dest], idx: usize) -> Result<(), SchedError> {
        self.tree.update(dests, idx);
        Ok(())
    }

    fn conns_changed(&mut self, dests: &[Dest], idx: usize) {
        self.tree.update(dests, idx);
    }

    fn check_expire(&mut self, now: u64) {
        Self::check_expire(self, now);
    }

    fn schedule(&mut self, svc: &Service, dests: &[Dest], pkt: &Packet, now: u64) -> Option<usize> {
        // First look in our cache.
        if let Some(i) = self.get(svc.af, &pkt.daddr) {
            let mut hit = None;
            if let Some(e) = self.entries.get_mut(i as usize) {
                e.lastuse = now;
                hit = Some(e.dest);
            }
            if let Some(d) = hit.and_then(|di| dests.get(di as usize)) {
                if d.weight > 0 && !is_overloaded(&self.tree, dests, d) {
                    return hit.map(|di| di as usize);
                }
            }
        }
        // No cache entry or it is invalid, time to schedule.
        let dest = locality_wlc(&self.tree, dests)?;
        self.new_entry(&pkt.daddr, svc.af, dest, now);
        Some(dest)
    }
}
