//! `sh`: source hashing (ip_vs_sh.c).
//!
//! A 256-bucket table (`CONFIG_IP_VS_SH_TAB_BITS` = 8) is filled by walking the list, each
//! destination taking `weight` consecutive buckets (at least one), wrapping until the table is
//! full; it is rebuilt on every add, delete and edit. A packet goes to bucket
//! `hash_32(ntohs(port) + ntohl(saddr_fold), 8)`, where the port is the client's for TCP, UDP and
//! SCTP under `sh-port` and 0 otherwise. An unavailable destination (weight <= 0 or overloaded)
//! means "no destination" unless `sh-fallback` is set, in which case the table is probed from
//! the C's (deterministic) offsets until an available destination turns up. The table holds list
//! indices; it is 1 KiB and lives inline.

use super::super::hash::hash_32;
use super::{
    addr_fold, Dest, Packet, SchedError, Scheduler, Service, IP_VS_SVC_F_SCHED_SH_FALLBACK,
    IP_VS_SVC_F_SCHED_SH_PORT,
};

/// `IP_VS_SH_TAB_BITS` (`CONFIG_IP_VS_SH_TAB_BITS`, default 8).
pub const IP_VS_SH_TAB_BITS: u32 = 8;
/// `IP_VS_SH_TAB_SIZE`.
pub const IP_VS_SH_TAB_SIZE: usize = 1 << IP_VS_SH_TAB_BITS;
const IP_VS_SH_TAB_MASK: u32 = (IP_VS_SH_TAB_SIZE as u32) - 1;
const NONE: u32 = u32::MAX;

/// `ip_vs_sh_hashkey()`.
#[inline]
pub fn ip_vs_sh_hashkey(af: u16, addr: &[u8; 16], port: u16, offset: u32) -> u32 {
    offset.wrapping_add(hash_32(
        u32::from(port).wrapping_add(addr_fold(af, addr)),
        IP_VS_SH_TAB_BITS,
    )) & IP_VS_SH_TAB_MASK
}

/// `struct ip_vs_sh_state`: the bucket table, as list indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sh {
    buckets: [u32; IP_VS_SH_TAB_SIZE],
}

impl Default for Sh {
    fn default() -> Self {
        Self::new()
    }
}

impl Sh {
    /// An empty table.
    pub const fn new() -> Self {
        Sh {
            buckets: [NONE; IP_VS_SH_TAB_SIZE],
        }
    }

    /// The destination index of bucket `b`, as ip_vs would hold it.
    pub fn bucket(&self, b: usize) -> Option<usize> {
        match self.buckets.get(b) {
            Some(&NONE) | None => None,
            Some(&i) => Some(i as usize),
        }
    }

    /// `ip_vs_sh_reassign()`.
    fn reassign(&mut self, dests: &[Dest]) {
        let mut p = 0usize;
        let mut d_count: i32 = 0;
        for b in self.buckets.iter_mut() {
            if dests.is_empty() {
                *b = NONE;
                continue;
            }
            if p >= dests.len() {
                p = 0;
            }
            *b = p as u32;
            let w = dests.get(p).map_or(0, |d| d.weight);
            // Don't move to the next destination until it has filled its weight.
            d_count = d_count.wrapping_add(1);
            if d_count >= w {
                p += 1;
                d_count = 0;
            }
        }
    }

    fn get(&self, dests: &[Dest], hash: u32) -> Option<(usize, bool)> {
        let i = self.bucket(hash as usize)?;
        let d = dests.get(i)?;
        Some((i, d.is_unavailable()))
    }
}

impl Scheduler for Sh {
    fn name(&self) -> &'static str {
        "sh"
    }

    fn init_service(&mut self, _svc: &Service, dests: &[Dest]) -> Result<(), SchedError> {
        self.reassign(dests);
        Ok(())
    }

    fn add_dest(&mut self, _svc: &Service, dests: &[Dest], _idx: usize) -> Result<(), SchedError> {
        self.reassign(dests);
        Ok(())
    }

    fn del_dest(&mut self, _svc: &Service, dests: &[Dest], _idx: usize) -> Result<(), SchedError> {
        self.reassign(dests);
        Ok(())
    }

    fn upd_dest(&mut self, _svc: &Service, dests: &[Dest], _idx: usize) -> Result<(), SchedError> {
        self.reassign(dests);
        Ok(())
    }

    fn schedule(
        &mut self,
        svc: &Service,
        dests: &[Dest],
        pkt: &Packet,
        _now: u64,
    ) -> Option<usize> {
        let port = if svc.flags & IP_VS_SVC_F_SCHED_SH_PORT != 0 {
            pkt.hash_port()
        } else {
            0
        };
        let addr = pkt.hash_addr();
        let ihash = ip_vs_sh_hashkey(svc.af, addr, port, 0);
        let (i, unavailable) = self.get(dests, ihash)?;
        if !unavailable {
            return Some(i);
        }
        if svc.flags & IP_VS_SVC_F_SCHED_SH_FALLBACK == 0 {
            return None;
        }
        // ip_vs_sh_get_fallback(): loop around the table starting from ihash.
        for offset in 0..IP_VS_SH_TAB_SIZE as u32 {
            let roffset = offset.wrapping_add(ihash) % IP_VS_SH_TAB_SIZE as u32;
            let hash = ip_vs_sh_hashkey(svc.af, addr, port, roffset);
            let (i, unavailable) = self.get(dests, hash)?;
            if !unavailable {
                return Some(i);
            }
        }
        None
    }
}
