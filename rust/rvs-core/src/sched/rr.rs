//! `rr`: round robin (ip_vs_rr.c).
//!
//! The cursor is the last destination picked, or the list head; a pick walks on from the one
//! after the cursor, wraps once, and takes the first destination that is neither overloaded nor
//! quiesced (weight > 0). As in ip_vs, removing the destination under the cursor moves the cursor
//! to its predecessor (or the head), so the round continues where it would have.

use super::{Dest, Packet, SchedError, Scheduler, Service};

/// Round-robin state: the cursor (`svc->sched_data`), `None` for the list head.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rr {
    cursor: Option<usize>,
}

impl Rr {
    /// A scheduler whose cursor is at the list head.
    pub const fn new() -> Self {
        Rr { cursor: None }
    }

    /// The last destination picked, `None` when the cursor is the list head.
    pub fn cursor(&self) -> Option<usize> {
        self.cursor
    }
}

fn available(d: &Dest) -> bool {
    !d.overloaded && d.weight > 0
}

impl Scheduler for Rr {
    fn name(&self) -> &'static str {
        "rr"
    }

    fn init_service(&mut self, _svc: &Service, _dests: &[Dest]) -> Result<(), SchedError> {
        self.cursor = None;
        Ok(())
    }

    fn add_dest(&mut self, _svc: &Service, _dests: &[Dest], idx: usize) -> Result<(), SchedError> {
        // ip_vs's cursor is a pointer and does not move; our index shifts with the insertion.
        if let Some(c) = self.cursor {
            if c >= idx {
                self.cursor = Some(c.saturating_add(1));
            }
        }
        Ok(())
    }

    fn del_dest(&mut self, _svc: &Service, _dests: &[Dest], idx: usize) -> Result<(), SchedError> {
        // ip_vs_rr_del_dest: a cursor on the removed entry goes to its predecessor (p->next->prev).
        if let Some(c) = self.cursor {
            if c == idx {
                self.cursor = idx.checked_sub(1);
            } else if c > idx {
                self.cursor = Some(c - 1);
            }
        }
        Ok(())
    }

    fn schedule(
        &mut self,
        _svc: &Service,
        dests: &[Dest],
        _pkt: &Packet,
        _now: u64,
    ) -> Option<usize> {
        let n = dests.len();
        let start = match self.cursor {
            Some(c) if c < n => c + 1,
            // A cursor past the end cannot happen with a caller that reports deletions; treat it
            // as the head rather than trust it.
            _ => 0,
        };
        // From the head: one pass over the whole list. From a destination: the rest of the list,
        // then from the head up to and including the cursor.
        for k in 0..n {
            let i = (start + k) % n.max(1);
            if dests.get(i).is_some_and(available) {
                self.cursor = Some(i);
                return Some(i);
            }
        }
        None
    }
}
