//! `mh`: ip_vs's Maglev hashing (ip_vs_mh.c), bit-exact.
//!
//! A lookup table of prime size M (`CONFIG_IP_VS_MH_TAB_INDEX`, default 12 → 4093 slots) is
//! populated per the Maglev paper: each destination, in list order, gets `offset = h1 % M` and
//! `skip = h2 % (M - 1) + 1` from `hsiphash` of `port + addr_fold` under ip_vs's fixed keys, and
//! takes `turns` slots per round along its permutation, where `turns` is its `last_weight`
//! divided by the gcd and shifted right so the largest fits `IP_VS_MH_TAB_BITS` (index / 2) bits.
//! Because `last_weight` is used, a quiesced destination keeps its slots and lookups landing
//! there get "no destination" unless `mh-fallback` probes on. The table is rebuilt on every add,
//! delete and edit. Lookups hash the client address (plus port under `mh-port`).
//!
//! The table, the population bitmap and the per-destination permutation state live in one
//! caller-provided `u32` buffer of [`Mh::storage_len`] words. One deviation: with more
//! destinations than slots ip_vs refuses the rebuild (`-EINVAL`) and keeps its old table of
//! pointers, in which a deleted destination can still be returned; rvs keeps the old table with
//! indices shifted to follow the list and treats slots of deleted destinations as empty.

use core::ops::DerefMut;

use super::super::hash::{hsiphash_1u32, HsiphashKey};
use super::{
    addr_fold, gcd, Dest, Packet, SchedError, Scheduler, Service, IP_VS_SVC_F_SCHED_MH_FALLBACK,
    IP_VS_SVC_F_SCHED_MH_PORT,
};

/// The table sizes ip_vs offers, for `CONFIG_IP_VS_MH_TAB_INDEX` 8..=17.
pub const PRIMES: [u32; 10] = [
    251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
];

/// `CONFIG_IP_VS_MH_TAB_INDEX` of Debian's and most kernels.
pub const DEFAULT_TAB_INDEX: u32 = 12;

/// `hash1` of `generate_hash_secret()`.
pub const MH_HASH1: HsiphashKey = HsiphashKey([2654435761, 2654435761]);
/// `hash2` of `generate_hash_secret()`.
pub const MH_HASH2: HsiphashKey = HsiphashKey([2654446892, 2654446892]);

const NONE: u32 = u32::MAX;
const SETUP_WORDS: usize = 4;

/// `ip_vs_mh_hashkey()`: `hsiphash(&v, 4)` of `offset + ntohs(port) + ntohl(addr_fold)`.
#[inline]
pub fn ip_vs_mh_hashkey(
    af: u16,
    addr: &[u8; 16],
    port: u16,
    key: &HsiphashKey,
    offset: u32,
) -> u32 {
    let v = offset
        .wrapping_add(u32::from(port))
        .wrapping_add(addr_fold(af, addr));
    hsiphash_1u32(v, key)
}

/// `fls()`: the 1-based position of the highest set bit, 0 for 0.
fn fls(x: i32) -> i32 {
    (u32::BITS - (x as u32).leading_zeros()) as i32
}

/// `struct ip_vs_mh_state` over a caller-provided buffer.
///
/// # Invariants
///
/// `buf[..size]` is the lookup table (destination indices or `NONE`), then `bitmap_words` words of
/// population bitmap, then `SETUP_WORDS` words per destination of permutation state.
pub struct Mh<S> {
    buf: S,
    size: u32,
    tab_bits: u32,
    gcd: i32,
    rshift: i32,
    deviations: u64,
}

impl<S: DerefMut<Target = [u32]>> Mh<S> {
    /// Words of storage for table index `tab_index` (8..=17) and up to `max_dests` destinations.
    pub fn storage_len(tab_index: u32, max_dests: usize) -> usize {
        let size = Self::size_of(tab_index).unwrap_or(0) as usize;
        size + size.div_ceil(32) + SETUP_WORDS * max_dests
    }

    fn size_of(tab_index: u32) -> Option<u32> {
        PRIMES.get(tab_index.checked_sub(8)? as usize).copied()
    }

    /// A scheduler with the table size of `CONFIG_IP_VS_MH_TAB_INDEX = tab_index`.
    pub fn new(buf: S, tab_index: u32) -> Result<Self, SchedError> {
        let size = Self::size_of(tab_index).ok_or(SchedError::Invalid)?;
        if buf.len() < Self::storage_len(tab_index, 0) {
            return Err(SchedError::NoMemory);
        }
        let mut mh = Mh {
            buf,
            size,
            tab_bits: tab_index / 2,
            gcd: 0,
            rshift: 0,
            deviations: 0,
        };
        mh.reset();
        Ok(mh)
    }

    /// The table size M.
    pub fn table_size(&self) -> u32 {
        self.size
    }

    /// The destination index in slot `slot`.
    pub fn slot(&self, slot: u32) -> Option<usize> {
        match self.buf.get(slot as usize) {
            Some(&NONE) | None => None,
            Some(&i) => Some(i as usize),
        }
    }

    fn max_dests(&self) -> usize {
        let fixed = self.size as usize + (self.size as usize).div_ceil(32);
        self.buf.len().saturating_sub(fixed) / SETUP_WORDS
    }

    /// `ip_vs_mh_reset()`.
    fn reset(&mut self) {
        let size = self.size as usize;
        self.buf.iter_mut().take(size).for_each(|s| *s = NONE);
    }

    /// `ip_vs_mh_gcd_weight()`.
    fn gcd_weight(dests: &[Dest]) -> i32 {
        let mut g: u32 = 0;
        for d in dests {
            if d.last_weight > 0 {
                let w = d.last_weight as u32;
                g = if g > 0 { gcd(w, g) } else { w };
            }
        }
        g as i32
    }

    /// `ip_vs_mh_shift_weight()`.
    fn shift_weight(&self, dests: &[Dest], g: i32) -> i32 {
        if g < 1 {
            return 0;
        }
        let weight = dests.iter().map(|d| d.last_weight).fold(0, i32::max);
        let mw = weight / g;
        let shift = fls(mw) - self.tab_bits as i32;
        shift.max(0)
    }

    /// `ip_vs_mh_dest_changed()`: recompute gcd and shift, then `ip_vs_mh_reassign()`.
    fn dest_changed(&mut self, svc: &Service, dests: &[Dest]) -> Result<(), SchedError> {
        self.gcd = Self::gcd_weight(dests);
        self.rshift = self.shift_weight(dests, self.gcd);
        if dests.len() > self.size as usize {
            return Err(SchedError::Invalid);
        }
        if dests.len() > self.max_dests() {
            return Err(SchedError::NoMemory);
        }
        self.permutate(svc, dests);
        self.populate(dests);
        Ok(())
    }

    fn setup_base(&self) -> usize {
        self.size as usize + (self.size as usize).div_ceil(32)
    }

    /// `ip_vs_mh_permutate()`.
    fn permutate(&mut self, svc: &Service, dests: &[Dest]) {
        if self.gcd < 1 {
            return;
        }
        let base = self.setup_base();
        let (size, g, rshift) = (self.size, self.gcd, self.rshift);
        for (i, d) in dests.iter().enumerate() {
            let offset = ip_vs_mh_hashkey(svc.af, &d.addr, d.port, &MH_HASH1, 0) % size;
            let skip = ip_vs_mh_hashkey(svc.af, &d.addr, d.port, &MH_HASH2, 0) % (size - 1) + 1;
            let lw = d.last_weight;
            let t = lw.wrapping_div(g).wrapping_shr(rshift as u32);
            let turns = if t != 0 { t } else { i32::from(lw != 0) };
            let at = base + SETUP_WORDS * i;
            if let Some(ds) = self.buf.get_mut(at..at + SETUP_WORDS) {
                ds.copy_from_slice(&[offset, skip, offset, turns as u32]);
            }
        }
    }

    /// `ip_vs_mh_populate()`.
    fn populate(&mut self, dests: &[Dest]) {
        if self.gcd < 1 {
            self.reset();
            return;
        }
        let size = self.size as usize;
        let base = self.setup_base();
        let (table, rest) = self.buf.split_at_mut(size);
        let (bitmap, setup) = rest.split_at_mut(base - size);
        bitmap.iter_mut().for_each(|w| *w = 0);
        let n_dests = dests.len();
        let mut n = 0usize;
        let mut dt_count: i32 = 0;
        let mut p = 0usize;
        // gcd >= 1 means some destination has turns >= 1, so every round claims a slot.
        while n < size {
            if p >= n_dests {
                p = 0;
            }
            while p < n_dests {
                let at = SETUP_WORDS * p;
                let Some(ds) = setup.get_mut(at..at + SETUP_WORDS) else {
                    return;
                };
                let turns = ds.get(3).copied().unwrap_or(0) as i32;
                // Ignore added server with zero weight.
                if turns < 1 {
                    p += 1;
                    continue;
                }
                let skip = ds.get(1).copied().unwrap_or(1);
                let mut c = ds.get(2).copied().unwrap_or(0);
                while bitmap
                    .get(c as usize / 32)
                    .is_some_and(|w| w & (1 << (c % 32)) != 0)
                {
                    // Add skip, mod IP_VS_MH_TAB_SIZE.
                    c = c.wrapping_add(skip);
                    if c >= self.size {
                        c -= self.size;
                    }
                }
                if let Some(x) = ds.get_mut(2) {
                    *x = c;
                }
                if let Some(w) = bitmap.get_mut(c as usize / 32) {
                    *w |= 1 << (c % 32);
                }
                if let Some(slot) = table.get_mut(c as usize) {
                    *slot = p as u32;
                }
                n += 1;
                if n == size {
                    return;
                }
                dt_count += 1;
                if dt_count >= turns {
                    dt_count = 0;
                    p += 1;
                }
            }
        }
    }

    fn get(&self, dests: &[Dest], hash: u32) -> Option<(usize, bool)> {
        let i = self.slot(hash)?;
        let d = dests.get(i)?;
        Some((i, d.is_unavailable()))
    }

    /// Follow an insertion or removal at `idx` in a table that could not be rebuilt.
    fn shift_indices(&mut self, idx: usize, inserted: bool) {
        self.deviations = self.deviations.wrapping_add(1);
        let size = self.size as usize;
        for s in self.buf.iter_mut().take(size) {
            if *s == NONE || (*s as usize) < idx {
                continue;
            }
            if inserted {
                *s += 1;
            } else if *s as usize == idx {
                *s = NONE;
            } else {
                *s -= 1;
            }
        }
    }
}

impl<S: DerefMut<Target = [u32]>> Scheduler for Mh<S> {
    fn name(&self) -> &'static str {
        "mh"
    }

    fn init_service(&mut self, svc: &Service, dests: &[Dest]) -> Result<(), SchedError> {
        self.reset();
        self.dest_changed(svc, dests)
    }

    fn add_dest(&mut self, svc: &Service, dests: &[Dest], idx: usize) -> Result<(), SchedError> {
        let r = self.dest_changed(svc, dests);
        if r.is_err() {
            self.shift_indices(idx, true);
        }
        r
    }

    fn del_dest(&mut self, svc: &Service, dests: &[Dest], idx: usize) -> Result<(), SchedError> {
        let r = self.dest_changed(svc, dests);
        if r.is_err() {
            self.shift_indices(idx, false);
        }
        r
    }

    fn upd_dest(&mut self, svc: &Service, dests: &[Dest], _idx: usize) -> Result<(), SchedError> {
        self.dest_changed(svc, dests)
    }

    fn deviations(&self) -> u64 {
        self.deviations
    }

    fn schedule(
        &mut self,
        svc: &Service,
        dests: &[Dest],
        pkt: &Packet,
        _now: u64,
    ) -> Option<usize> {
        let port = if svc.flags & IP_VS_SVC_F_SCHED_MH_PORT != 0 {
            pkt.hash_port()
        } else {
            0
        };
        let addr = pkt.hash_addr();
        let ihash = ip_vs_mh_hashkey(svc.af, addr, port, &MH_HASH1, 0) % self.size;
        let (i, unavailable) = self.get(dests, ihash)?;
        if !unavailable {
            return Some(i);
        }
        if svc.flags & IP_VS_SVC_F_SCHED_MH_FALLBACK == 0 {
            return None;
        }
        // ip_vs_mh_get_fallback(): loop around the table starting from ihash.
        for offset in 0..self.size {
            let roffset = offset.wrapping_add(ihash) % self.size;
            let hash = ip_vs_mh_hashkey(svc.af, addr, port, &MH_HASH1, roffset) % self.size;
            let (i, unavailable) = self.get(dests, hash)?;
            if !unavailable {
                return Some(i);
            }
        }
        None
    }
}
