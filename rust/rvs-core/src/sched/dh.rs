//! `dh`: destination hashing (ip_vs_dh.c).
//!
//! ip_vs fills a 256-bucket table (`CONFIG_IP_VS_DH_TAB_BITS` = 8) round-robin with the list,
//! bucket `b` holding destination `b mod n`, and rebuilds it on every add and delete; a packet
//! goes to the bucket `hash_32(ntohl(daddr_fold), 8)` and gets "no destination" if that
//! destination is quiesced, overloaded or unavailable; there is no fallback. Since the table is
//! a pure function of the list length, rvs computes the bucket's destination directly and keeps
//! no table at all.

use super::super::hash::hash_32;
use super::{addr_fold, Dest, Packet, SchedError, Scheduler, Service};

/// `IP_VS_DH_TAB_BITS`.
pub const IP_VS_DH_TAB_BITS: u32 = 8;
/// `IP_VS_DH_TAB_SIZE`.
pub const IP_VS_DH_TAB_SIZE: u32 = 1 << IP_VS_DH_TAB_BITS;

/// `ip_vs_dh_hashkey()`.
#[inline]
pub fn ip_vs_dh_hashkey(af: u16, addr: &[u8; 16]) -> u32 {
    hash_32(addr_fold(af, addr), IP_VS_DH_TAB_BITS)
}

/// The `dh` scheduler; stateless (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dh;

impl Dh {
    /// The destination index bucket `b` holds for a list of `n` destinations, as
    /// `ip_vs_dh_reassign()` fills it.
    #[inline]
    pub fn bucket_dest(b: u32, n: usize) -> Option<usize> {
        if n == 0 {
            None
        } else {
            Some(b as usize % n)
        }
    }
}

impl Scheduler for Dh {
    fn name(&self) -> &'static str {
        "dh"
    }

    fn init_service(&mut self, _svc: &Service, _dests: &[Dest]) -> Result<(), SchedError> {
        Ok(())
    }

    fn schedule(
        &mut self,
        svc: &Service,
        dests: &[Dest],
        pkt: &Packet,
        _now: u64,
    ) -> Option<usize> {
        let i = Dh::bucket_dest(ip_vs_dh_hashkey(svc.af, &pkt.daddr), dests.len())?;
        // Destinations in the list are always IP_VS_DEST_CF_AVAILABLE.
        let d = dests.get(i)?;
        if d.weight <= 0 || d.overloaded {
            None
        } else {
            Some(i)
        }
    }
}
