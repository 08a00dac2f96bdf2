//! `lblcr`: locality-based least connection with replication (ip_vs_lblcr.c).
//!
//! Like `lblc`, but a destination address maps to a set of real servers. A cached address goes
//! to the set's least-loaded member (WLC order, newest member first on ties, as the set is a list
//! with insertions at its head); if that member is "overloaded" in lblc's sense, the service's WLC
//! pick serves the packet and joins the set. A set with more than one member that has not changed
//! for `lblcr_expiration` (default 24 h) loses its most loaded member. Table geometry, limits and
//! the 60 s expiry timer are those of `lblc`.
//!
//! rvs keeps the entries and the set members in two caller-provided pools (a failed allocation
//! in ip_vs is a full pool here) and takes the WLC pick and the "some server below half load" test
//! from a [`PickTree`]. Deviation: when a destination is deleted, set members
//! pointing at it stay (ip_vs keeps its reference) but count as gone: never the set's minimum, as
//! in ip_vs where it is no longer available, and never its maximum, where ip_vs still reads the
//! deleted destination's weight and counters; and, as for `lblc`, a destination revived from the
//! trash does not take its old places back. [`Scheduler::deviations`] counts the set shrinks
//! that passed over a gone member, the only place the answers can differ.

use core::ops::DerefMut;

use super::lblc::{
    ip_vs_lblc_hashkey, is_overloaded, locality_wlc, time_after, time_before, LocalityRank,
    COUNT_FOR_FULL_EXPIRATION, DEFAULT_EXPIRATION, ENTRY_TIMEOUT, IP_VS_LBLC_TAB_SIZE,
    LBLC_MAX_ENTRIES, LBLC_MAX_SIZE, NIL,
};
use super::tree::{Node, PickTree};
use super::wlc::wlc_beats;
use super::{addr_equal, Dest, Packet, SchedError, Scheduler, Service, AF_INET6};

/// `IP_VS_LBLCR_TAB_SIZE`: bucket heads the caller provides.
pub const IP_VS_LBLCR_TAB_SIZE: usize = IP_VS_LBLC_TAB_SIZE;
const IP_VS_LBLCR_TAB_MASK: usize = IP_VS_LBLCR_TAB_SIZE - 1;

/// `struct ip_vs_lblcr_entry` with its `struct ip_vs_dest_set`, in caller-provided storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LblcrEntry {
    addr: [u8; 16],
    af: u16,
    lastuse: u64,
    set_size: i32,
    set_lastmod: u64,
    /// First set member (newest), `NIL` for an empty set.
    set_head: u32,
    /// Next entry in the bucket chain or the free list.
    next: u32,
}

impl Default for LblcrEntry {
    fn default() -> Self {
        LblcrEntry {
            addr: [0; 16],
            af: 0,
            lastuse: 0,
            set_size: 0,
            set_lastmod: 0,
            set_head: NIL,
            next: NIL,
        }
    }
}

/// `struct ip_vs_dest_set_elem`, in caller-provided storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LblcrMember {
    /// Destination index, `NIL` once the destination was deleted.
    dest: u32,
    /// Next member of the set, or of the free list.
    next: u32,
}

impl Default for LblcrMember {
    fn default() -> Self {
        LblcrMember {
            dest: NIL,
            next: NIL,
        }
    }
}

/// The `lblcr` scheduler: `struct ip_vs_lblcr_table` plus the WLC tree.
///
/// Storage: `entries` (up to [`LBLC_MAX_ENTRIES`] are used), `members` (set elements, shared
/// by all entries), `buckets` of at least [`IP_VS_LBLCR_TAB_SIZE`] words, `tree` of
/// [`PickTree::storage_len`] nodes for the destinations.
pub struct Lblcr<E, M, B, T> {
    entries: E,
    members: M,
    buckets: B,
    tree: PickTree<T, LocalityRank>,
    free: u32,
    free_member: u32,
    count: usize,
    rover: usize,
    counter: i32,
    hz: u64,
    expiration: u64,
    deviations: u64,
}

impl<E, M, B, T> Lblcr<E, M, B, T>
where
    E: DerefMut<Target = [LblcrEntry]>,
    M: DerefMut<Target = [LblcrMember]>,
    B: DerefMut<Target = [u32]>,
    T: DerefMut<Target = [Node<(i32, i32)>]>,
{
    /// A table over the given storage; `hz` is the clock's ticks per second.
    pub fn new(entries: E, members: M, buckets: B, tree: T, hz: u64) -> Result<Self, SchedError> {
        if buckets.len() < IP_VS_LBLCR_TAB_SIZE {
            return Err(SchedError::NoMemory);
        }
        let mut t = Lblcr {
            entries,
            members,
            buckets,
            tree: PickTree::new(tree),
            free: NIL,
            free_member: NIL,
            count: 0,
            rover: 0,
            counter: 1,
            hz,
            expiration: DEFAULT_EXPIRATION.saturating_mul(hz),
            deviations: 0,
        };
        t.flush();
        Ok(t)
    }

    /// Set the `lblcr_expiration` sysctl, in ticks.
    pub fn set_expiration(&mut self, ticks: u64) {
        self.expiration = ticks;
    }

    /// Number of cached entries (`tbl->entries`).
    pub fn entries(&self) -> usize {
        self.count
    }

    /// `ip_vs_lblcr_flush()`: drop every entry and set.
    pub fn flush(&mut self) {
        self.buckets.iter_mut().for_each(|b| *b = NIL);
        let n = self.entries.len().min(NIL as usize);
        for (i, e) in self.entries.iter_mut().enumerate().take(n) {
            *e = LblcrEntry::default();
            e.next = if i + 1 < n { (i + 1) as u32 } else { NIL };
        }
        self.free = if n > 0 { 0 } else { NIL };
        let m = self.members.len().min(NIL as usize);
        for (i, e) in self.members.iter_mut().enumerate().take(m) {
            *e = LblcrMember::default();
            e.next = if i + 1 < m { (i + 1) as u32 } else { NIL };
        }
        self.free_member = if m > 0 { 0 } else { NIL };
        self.count = 0;
    }

    fn entry(&self, i: u32) -> Option<&LblcrEntry> {
        self.entries.get(i as usize)
    }

    fn member(&self, i: u32) -> Option<&LblcrMember> {
        self.members.get(i as usize)
    }

    /// `ip_vs_lblcr_get()`.
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

    /// The members of the set cached for `addr`, newest first (`None` for gone destinations),
    /// written to `out`; returns how many, or `None` if `addr` is not cached.
    pub fn cached_set(&self, af: u16, addr: &[u8; 16], out: &mut [Option<usize>]) -> Option<usize> {
        let e = self.entry(self.get(af, addr)?)?;
        let mut n = 0;
        let mut m = e.set_head;
        while let Some(mem) = self.member(m) {
            if let Some(o) = out.get_mut(n) {
                *o = if mem.dest == NIL {
                    None
                } else {
                    Some(mem.dest as usize)
                };
            }
            n += 1;
            m = mem.next;
        }
        Some(n)
    }

    /// `ip_vs_dest_set_insert()`.
    fn set_insert(&mut self, en: u32, dest: usize, check: bool, now: u64) {
        let Some(e) = self.entry(en).copied() else {
            return;
        };
        if check {
            let mut m = e.set_head;
            while let Some(mem) = self.member(m) {
                if mem.dest as usize == dest {
                    return;
                }
                m = mem.next;
            }
        }
        let mi = self.free_member;
        let Some(mem) = self.members.get_mut(mi as usize) else {
            // The pool is full: as a failed kmalloc, the set stays as it is.
            return;
        };
        self.free_member = mem.next;
        *mem = LblcrMember {
            dest: dest as u32,
            next: e.set_head,
        };
        if let Some(e) = self.entries.get_mut(en as usize) {
            e.set_head = mi;
            e.set_size = e.set_size.wrapping_add(1);
            e.set_lastmod = now;
        }
    }

    /// `ip_vs_dest_set_erase()`: remove the first member for `dest`.
    fn set_erase(&mut self, en: u32, dest: u32, now: u64) {
        let Some(e) = self.entry(en).copied() else {
            return;
        };
        let mut prev: Option<u32> = None;
        let mut m = e.set_head;
        while let Some(mem) = self.member(m).copied() {
            if mem.dest == dest {
                match prev {
                    None => {
                        if let Some(e) = self.entries.get_mut(en as usize) {
                            e.set_head = mem.next;
                        }
                    }
                    Some(p) => {
                        if let Some(pm) = self.members.get_mut(p as usize) {
                            pm.next = mem.next;
                        }
                    }
                }
                self.release_member(m);
                if let Some(e) = self.entries.get_mut(en as usize) {
                    e.set_size = e.set_size.wrapping_sub(1);
                    e.set_lastmod = now;
                }
                return;
            }
            prev = Some(m);
            m = mem.next;
        }
    }

    fn release_member(&mut self, m: u32) {
        let free = self.free_member;
        if let Some(mem) = self.members.get_mut(m as usize) {
            *mem = LblcrMember {
                dest: NIL,
                next: free,
            };
            self.free_member = m;
        }
    }

    /// `ip_vs_dest_set_min()`: the set's weighted least-connection member.
    fn set_min(&self, en: u32, dests: &[Dest]) -> Option<usize> {
        let e = self.entry(en)?;
        let mut m = e.set_head;
        // Select the first available member whose weight > 0.
        let mut least: Option<(usize, i32, i32)> = None;
        while let Some(mem) = self.member(m) {
            m = mem.next;
            let Some(d) = dests.get(mem.dest as usize) else {
                continue;
            };
            if d.overloaded {
                continue;
            }
            match least {
                None => {
                    if d.weight > 0 {
                        least = Some((mem.dest as usize, d.overhead(), d.weight));
                    }
                }
                Some((_, loh, lw)) => {
                    let doh = d.overhead();
                    if wlc_beats(doh, d.weight, loh, lw) {
                        least = Some((mem.dest as usize, doh, d.weight));
                    }
                }
            }
        }
        least.map(|(i, _, _)| i)
    }

    /// `ip_vs_dest_set_max()`: the set's weighted most-connection member, and whether a gone
    /// member was passed over.
    fn set_max(&self, en: u32, dests: &[Dest]) -> (Option<u32>, bool) {
        let mut gone = false;
        let Some(e) = self.entry(en) else {
            return (None, gone);
        };
        let mut m = e.set_head;
        let mut most: Option<(u32, i32, i32)> = None;
        while let Some(mem) = self.member(m) {
            m = mem.next;
            // Gone members count as weight 0 (see the module documentation).
            let Some(d) = dests.get(mem.dest as usize) else {
                gone = true;
                continue;
            };
            let doh = d.overhead();
            match most {
                None => {
                    if d.weight > 0 {
                        most = Some((mem.dest, doh, d.weight));
                    }
                }
                Some((_, moh, mw)) => {
                    if i64::from(moh) * i64::from(d.weight) < i64::from(doh) * i64::from(mw)
                        && d.weight > 0
                    {
                        most = Some((mem.dest, doh, d.weight));
                    }
                }
            }
        }
        (most.map(|(i, _, _)| i), gone)
    }

    /// `ip_vs_lblcr_new()`.
    fn new_entry(&mut self, daddr: &[u8; 16], af: u16, dest: usize, now: u64) {
        if let Some(en) = self.get(af, daddr) {
            self.set_insert(en, dest, true, now);
            return;
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
        let n = if af == AF_INET6 { 16 } else { 4 };
        if let (Some(d), Some(s)) = (addr.get_mut(..n), daddr.get(..n)) {
            d.copy_from_slice(s);
        }
        *e = LblcrEntry {
            addr,
            af,
            lastuse: now,
            set_size: 0,
            set_lastmod: 0,
            set_head: NIL,
            next: head,
        };
        if let Some(h) = self.buckets.get_mut(b) {
            *h = i;
        }
        self.count += 1;
        self.set_insert(i, dest, false, now);
    }

    /// `ip_vs_lblcr_free()`: unlink entry `i` from bucket `b`, free it and its set.
    fn free_entry(&mut self, b: usize, i: u32) {
        let Some(e) = self.entry(i).copied() else {
            return;
        };
        let mut prev: Option<u32> = None;
        let mut cur = self.buckets.get(b).copied().unwrap_or(NIL);
        while cur != NIL && cur != i {
            prev = Some(cur);
            cur = self.entry(cur).map_or(NIL, |x| x.next);
        }
        if cur != i {
            return;
        }
        match prev {
            None => {
                if let Some(h) = self.buckets.get_mut(b) {
                    *h = e.next;
                }
            }
            Some(p) => {
                if let Some(pe) = self.entries.get_mut(p as usize) {
                    pe.next = e.next;
                }
            }
        }
        let mut m = e.set_head;
        while let Some(mem) = self.member(m).copied() {
            self.release_member(m);
            m = mem.next;
        }
        let free = self.free;
        if let Some(x) = self.entries.get_mut(i as usize) {
            *x = LblcrEntry::default();
            x.next = free;
        }
        self.free = i;
        self.count = self.count.saturating_sub(1);
    }

    fn sweep_bucket(&mut self, j: usize, stale: impl Fn(&LblcrEntry) -> bool) -> i32 {
        let mut removed = 0;
        let mut i = self.buckets.get(j).copied().unwrap_or(NIL);
        while let Some(e) = self.entry(i).copied() {
            if stale(&e) {
                self.free_entry(j, i);
                removed += 1;
            }
            i = e.next;
        }
        removed
    }

    /// `ip_vs_lblcr_check_expire()`: the periodic timer's work; call every
    /// [`CHECK_EXPIRE_INTERVAL`](super::lblc::CHECK_EXPIRE_INTERVAL) seconds.
    pub fn check_expire(&mut self, now: u64) {
        if self.counter % COUNT_FOR_FULL_EXPIRATION == 0 {
            // ip_vs_lblcr_full_check()
            let exp = self.expiration;
            let mut j = self.rover;
            for _ in 0..IP_VS_LBLCR_TAB_SIZE {
                j = (j + 1) & IP_VS_LBLCR_TAB_MASK;
                self.sweep_bucket(j, |e| !time_after(e.lastuse.wrapping_add(exp), now));
            }
            self.rover = j;
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
        for _ in 0..IP_VS_LBLCR_TAB_SIZE {
            j = (j + 1) & IP_VS_LBLCR_TAB_MASK;
            goal -= self.sweep_bucket(j, |e| !time_before(now, e.lastuse.wrapping_add(timeout)));
            if goal <= 0 {
                break;
            }
        }
        self.rover = j;
    }

    fn shift_indices(&mut self, idx: usize, inserted: bool) {
        for m in self.members.iter_mut() {
            if m.dest == NIL || (m.dest as usize) < idx {
                continue;
            }
            if inserted {
                m.dest += 1;
            } else if m.dest as usize == idx {
                m.dest = NIL;
            } else {
                m.dest -= 1;
            }
        }
    }
}

impl<E, M, B, T> Scheduler for Lblcr<E, M, B, T>
where
    E: DerefMut<Target = [LblcrEntry]>,
    M: DerefMut<Target = [LblcrMember]>,
    B: DerefMut<Target = [u32]>,
    T: DerefMut<Target = [Node<(i32, i32)>]>,
{
    fn name(&self) -> &'static str {
        "lblcr"
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

    fn deviations(&self) -> u64 {
        self.deviations
    }

    fn schedule(&mut self, svc: &Service, dests: &[Dest], pkt: &Packet, now: u64) -> Option<usize> {
        if let Some(en) = self.get(svc.af, &pkt.daddr) {
            if let Some(e) = self.entries.get_mut(en as usize) {
                e.lastuse = now;
            }
            let dest = self.set_min(en, dests);
            // Shrink a replicated set that has not changed for the expiration time.
            let (size, lastmod) = self
                .entry(en)
                .map_or((0, 0), |e| (e.set_size, e.set_lastmod));
            if size > 1 && time_after(now, lastmod.wrapping_add(self.expiration)) {
                let (most, gone) = self.set_max(en, dests);
                if gone {
                    self.deviations = self.deviations.wrapping_add(1);
                }
                if let Some(m) = most {
                    self.set_erase(en, m, now);
                }
            }
            if let Some(d) = dest {
                if dests
                    .get(d)
                    .is_some_and(|dd| !is_overloaded(&self.tree, dests, dd))
                {
                    return Some(d);
                }
            }
            let dest = locality_wlc(&self.tree, dests)?;
            // Update our cache entry.
            self.set_insert(en, dest, true, now);
            return Some(dest);
        }
        // No cache entry, time to schedule.
        let dest = locality_wlc(&self.tree, dests)?;
        self.new_entry(&pkt.daddr, svc.af, dest, now);
        Some(dest)
    }
}
