//! `maglev`: rvs's own Maglev-hashing scheduler (not in ip_vs).
//!
//! ip_vs's `mh` fixes the table size at build time (4093 by default, 22 % imbalance at 1000
//! destinations), rounds weights to about six bits, and fills the table in list order, so two
//! directors that added the same destinations in another order disagree. `maglev` follows the
//! Maglev paper (NSDI 2016, §3.4) with three changes of degree: the table size M is any prime
//! chosen per service at runtime (65537 by default, the paper's; M ≥ 100·N keeps the imbalance
//! under 1 %), weights keep full precision (a destination of weight w claims a slot each time
//! the round counter k passes another `wmax / w`, so its share is w / Σw, not a quantised one), and
//! destinations are sorted by a hash of their address, port and family before population, so the
//! table depends only on the set of destinations and their weights. Weight-0 destinations take
//! no slots (new flows avoid them; existing connections keep their server through the
//! connection table). An overloaded destination keeps its slots; lookups that land on it probe
//! the following slots. Flows hash by client address, plus client port under
//! `IP_VS_SVC_F_SCHED2` (as `mh-port`).
//!
//! Storage is the caller's: the table ([`Maglev::table_len`] words: M slots and an M-bit
//! occupancy bitmap, 8 KiB at M = 65537, which keeps the build's probing in L1) and a build
//! scratch of one [`MaglevBuild`] per destination. A build costs O(M log M) slot probes plus
//! O(N · M · wmax / Σw) round checks.

use core::cmp::Ordering;
use core::ops::DerefMut;

use super::super::hash::{hsiphash, hsiphash_2u32, HsiphashKey};
use super::{Dest, Packet, SchedError, Scheduler, Service, AF_INET6, IP_VS_SVC_F_SCHED2};

/// Default table size: the Maglev paper's.
pub const MAGLEV_DEFAULT_SIZE: u32 = 65537;
/// Largest table size accepted (a prime above 2^24, which keeps slot indices and build
/// arithmetic comfortably inside u32/u64).
pub const MAGLEV_MAX_SIZE: u32 = 16_777_259;

// Fixed keys, so every director computes the same table and the same flow hashes.
const KEY_ORDER: HsiphashKey = HsiphashKey([0x6d61_676c_6576_2d30, 0x7276_732d_6f72_6472]);
const KEY_OFFSET: HsiphashKey = HsiphashKey([0x6d61_676c_6576_2d31, 0x7276_732d_6f66_6673]);
const KEY_SKIP: HsiphashKey = HsiphashKey([0x6d61_676c_6576_2d32, 0x7276_732d_736b_6970]);
const KEY_FLOW: HsiphashKey = HsiphashKey([0x6d61_676c_6576_2d33, 0x7276_732d_666c_6f77]);

const NONE: u32 = u32::MAX;

/// Per-destination state of a table build, in caller-provided scratch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaglevBuild {
    key: u32,
    dest: u32,
    skip: u32,
    perm: u32,
    weight: u64,
    target: u64,
    /// This round's claimers, gathered in order (an index into the scratch).
    queue: u32,
}

/// Whether `m` is prime (trial division; tables are built off the packet path).
pub fn is_prime(m: u32) -> bool {
    if m < 2 {
        return false;
    }
    let mut d = 2u32;
    while u64::from(d) * u64::from(d) <= u64::from(m) {
        if m.checked_rem(d) == Some(0) {
            return false;
        }
        d += 1;
    }
    true
}

/// The bytes that identify a destination for hashing: address, port and family.
fn dest_bytes(d: &Dest) -> [u8; 20] {
    let mut b = [0u8; 20];
    let n = if d.af == AF_INET6 { 16 } else { 4 };
    for (o, s) in b.iter_mut().zip(d.addr.iter()).take(n) {
        *o = *s;
    }
    let [p0, p1] = d.port.to_be_bytes();
    let [f0, f1] = d.af.to_be_bytes();
    if let Some(t) = b.get_mut(16..20) {
        t.copy_from_slice(&[p0, p1, f0, f1]);
    }
    b
}

/// The flow hash of a packet: client address (and port when asked for).
#[inline]
pub fn flow_hash(af: u16, addr: &[u8; 16], port: u16) -> u32 {
    if af == AF_INET6 {
        let mut b = [0u8; 18];
        for (o, s) in b.iter_mut().zip(addr.iter()) {
            *o = *s;
        }
        let [p0, p1] = port.to_be_bytes();
        if let Some(t) = b.get_mut(16..18) {
            t.copy_from_slice(&[p0, p1]);
        }
        hsiphash(&b, &KEY_FLOW)
    } else {
        let [a0, a1, a2, a3, ..] = *addr;
        hsiphash_2u32(
            u32::from_be_bytes([a0, a1, a2, a3]),
            u32::from(port),
            &KEY_FLOW,
        )
    }
}

/// The Maglev table of one service.
///
/// # Invariants
///
/// `table[..size]` holds destination indices (or `NONE` when no destination has a weight), as
/// built from the list last passed to `init_service`/`add_dest`/`del_dest`/`upd_dest`.
pub struct Maglev<T, W> {
    table: T,
    scratch: W,
    size: u32,
}

impl<T, W> Maglev<T, W>
where
    T: DerefMut<Target = [u32]>,
    W: DerefMut<Target = [MaglevBuild]>,
{
    /// Words of table storage for `size` slots: the slots and the build's occupancy bitmap.
    pub fn table_len(size: u32) -> usize {
        size as usize + (size as usize).div_ceil(32)
    }

    /// A scheduler with a table of `size` slots (a prime) over `table` (at least
    /// [`Maglev::table_len`] words) and a build `scratch` with one element per destination the
    /// service may have.
    pub fn new(table: T, scratch: W, size: u32) -> Result<Self, SchedError> {
        if !is_prime(size) || size > MAGLEV_MAX_SIZE {
            return Err(SchedError::Invalid);
        }
        if table.len() < Self::table_len(size) {
            return Err(SchedError::NoMemory);
        }
        let mut m = Maglev {
            table,
            scratch,
            size,
        };
        m.table.iter_mut().for_each(|s| *s = NONE);
        Ok(m)
    }

    /// The table size M.
    pub fn table_size(&self) -> u32 {
        self.size
    }

    /// The destination index in slot `slot`.
    pub fn slot(&self, slot: u32) -> Option<usize> {
        match self.table.get(slot as usize) {
            Some(&NONE) | None => None,
            Some(&i) => Some(i as usize),
        }
    }

    /// Populate the table from `dests` (weights > 0 take part).
    pub fn build(&mut self, dests: &[Dest]) -> Result<(), SchedError> {
        let m = self.size;
        let size = m as usize;
        self.table.iter_mut().take(size).for_each(|s| *s = NONE);
        let mut n = 0usize;
        let mut wmax = 0u64;
        for (i, d) in dests.iter().enumerate() {
            if d.weight <= 0 {
                continue;
            }
            let bytes = dest_bytes(d);
            let offset = hsiphash(&bytes, &KEY_OFFSET) % m;
            let skip = hsiphash(&bytes, &KEY_SKIP) % (m - 1) + 1;
            let Some(b) = self.scratch.get_mut(n) else {
                return Err(SchedError::NoMemory);
            };
            *b = MaglevBuild {
                key: hsiphash(&bytes, &KEY_ORDER),
                dest: i as u32,
                skip,
                perm: offset,
                weight: d.weight as u64,
                target: 0,
                queue: 0,
            };
            wmax = wmax.max(d.weight as u64);
            n += 1;
        }
        let Some(builds) = self.scratch.get_mut(..n) else {
            return Err(SchedError::NoMemory);
        };
        if n == 0 {
            return Ok(());
        }
        // Insertion order must not matter: sort by the hash of the destination, then by its
        // bytes should two hashes collide.
        builds.sort_unstable_by(|a, b| {
            a.key.cmp(&b.key).then_with(|| {
                match (dests.get(a.dest as usize), dests.get(b.dest as usize)) {
                    (Some(x), Some(y)) => dest_bytes(x).cmp(&dest_bytes(y)),
                    _ => Ordering::Equal,
                }
            })
        });
        for b in builds.iter_mut() {
            b.target = wmax;
        }
        let (table, bitmap) = self.table.split_at_mut(size);
        bitmap.iter_mut().for_each(|w| *w = 0);
        let mut filled = 0usize;
        let mut k = 1u64;
        // Each round the heaviest destination claims a slot, so rounds <= M.
        while filled < size {
            // Gather this round's claimers without a branch per destination: with mixed weights
            // who claims is unpredictable, and a mispredicted branch per destination per round
            // would dominate the build.
            let mut q = 0usize;
            for i in 0..builds.len() {
                let claims = builds
                    .get(i)
                    .is_some_and(|b| k.saturating_mul(b.weight) >= b.target);
                if let Some(slot) = builds.get_mut(q) {
                    slot.queue = i as u32;
                }
                q += usize::from(claims);
            }
            for qi in 0..q {
                let Some(i) = builds.get(qi).map(|b| b.queue as usize) else {
                    break;
                };
                let Some(b) = builds.get_mut(i) else {
                    break;
                };
                b.target = b.target.saturating_add(wmax);
                // Walk this destination's permutation to its next free slot; it visits every
                // slot (skip and M are coprime) and one is free while filled < M.
                for _ in 0..size {
                    let slot = b.perm;
                    b.perm += b.skip;
                    if b.perm >= m {
                        b.perm -= m;
                    }
                    let Some(word) = bitmap.get_mut(slot as usize / 32) else {
                        break;
                    };
                    let bit = 1u32 << (slot % 32);
                    if *word & bit == 0 {
                        *word |= bit;
                        if let Some(s) = table.get_mut(slot as usize) {
                            *s = b.dest;
                        }
                        break;
                    }
                }
                filled += 1;
                if filled == size {
                    break;
                }
            }
            k += 1;
        }
        Ok(())
    }

    /// The slot a flow hashes to.
    #[inline]
    pub fn flow_slot(&self, svc: &Service, pkt: &Packet) -> u32 {
        let port = if svc.flags & IP_VS_SVC_F_SCHED2 != 0 {
            pkt.hash_port()
        } else {
            0
        };
        let h = flow_hash(pkt.af, pkt.hash_addr(), port);
        // Lemire's multiply-shift: a uniform slot without a division.
        ((u64::from(h) * u64::from(self.size)) >> 32) as u32
    }
}

impl<T, W> Scheduler for Maglev<T, W>
where
    T: DerefMut<Target = [u32]>,
    W: DerefMut<Target = [MaglevBuild]>,
{
    fn name(&self) -> &'static str {
        "maglev"
    }

    fn init_service(&mut self, _svc: &Service, dests: &[Dest]) -> Result<(), SchedError> {
        self.build(dests)
    }

    fn add_dest(&mut self, _svc: &Service, dests: &[Dest], _idx: usize) -> Result<(), SchedError> {
        self.build(dests)
    }

    fn del_dest(&mut self, _svc: &Service, dests: &[Dest], _idx: usize) -> Result<(), SchedError> {
        self.build(dests)
    }

    fn upd_dest(&mut self, _svc: &Service, dests: &[Dest], _idx: usize) -> Result<(), SchedError> {
        self.build(dests)
    }

    #[inline]
    fn schedule(
        &mut self,
        svc: &Service,
        dests: &[Dest],
        pkt: &Packet,
        _now: u64,
    ) -> Option<usize> {
        let slot = self.flow_slot(svc, pkt);
        let i = self.slot(slot)?;
        if dests.get(i).is_some_and(|d| !d.is_unavailable()) {
            return Some(i);
        }
        // Overloaded (or not yet rebuilt after a weight change): the next slots' owners.
        for s in 1..self.size {
            let probe = (slot + s) % self.size;
            if let Some(j) = self.slot(probe) {
                if dests.get(j).is_some_and(|d| !d.is_unavailable()) {
                    return Some(j);
                }
            }
        }
        None
    }
}
