//! `wrr`: weighted round robin (ip_vs_wrr.c).
//!
//! Passes over the list with a falling current weight `cw`: a pass takes the next destination
//! whose weight is at least `cw`, and when a pass reaches the end `cw` drops by the gcd of the
//! weights `di`, restarting from `mw = max weight - (di - 1)` below 1. Every add, delete or edit of
//! a destination recomputes `di` and `mw`, rewinds the cursor to the list head and pulls `cw` into
//! the new range exactly as `ip_vs_wrr_dest_changed()` does, and the pick loop, including its
//! "last pass" and "restarted" bookkeeping that decides when every destination has been tried, is
//! a line-by-line transcription of `ip_vs_wrr_schedule()`.

use super::{gcd, Dest, Packet, SchedError, Scheduler, Service};

/// `struct ip_vs_wrr_mark`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wrr {
    /// Current destination, `None` for the list head.
    cl: Option<usize>,
    /// Current weight.
    cw: i32,
    /// Maximum weight, reduced by `di - 1`.
    mw: i32,
    /// Decreasing interval: gcd of the positive weights.
    di: i32,
}

/// `ip_vs_wrr_gcd_weight()`.
fn gcd_weight(dests: &[Dest]) -> i32 {
    let mut g: u32 = 0;
    for d in dests {
        if d.weight > 0 {
            let w = d.weight as u32;
            g = if g > 0 { gcd(w, g) } else { w };
        }
    }
    if g == 0 {
        1
    } else {
        g as i32
    }
}

/// `ip_vs_wrr_max_weight()`.
fn max_weight(dests: &[Dest]) -> i32 {
    dests.iter().map(|d| d.weight).fold(0, i32::max)
}

impl Wrr {
    /// A scheduler with no destinations; `init_service` sets it up.
    pub const fn new() -> Self {
        Wrr {
            cl: None,
            cw: 0,
            mw: 0,
            di: 1,
        }
    }

    /// `ip_vs_wrr_dest_changed()`.
    fn dest_changed(&mut self, dests: &[Dest]) {
        self.cl = None;
        self.di = gcd_weight(dests);
        self.mw = max_weight(dests).wrapping_sub(self.di.wrapping_sub(1));
        if self.cw > self.mw || self.cw == 0 {
            self.cw = self.mw;
        } else if self.di > 1 {
            self.cw = (self.cw / self.di).wrapping_mul(self.di).wrapping_add(1);
        }
    }
}

impl Scheduler for Wrr {
    fn name(&self) -> &'static str {
        "wrr"
    }

    fn init_service(&mut self, _svc: &Service, dests: &[Dest]) -> Result<(), SchedError> {
        self.cl = None;
        self.di = gcd_weight(dests);
        self.mw = max_weight(dests).wrapping_sub(self.di.wrapping_sub(1));
        self.cw = self.mw;
        Ok(())
    }

    fn add_dest(&mut self, _svc: &Service, dests: &[Dest], _idx: usize) -> Result<(), SchedError> {
        self.dest_changed(dests);
        Ok(())
    }

    fn del_dest(&mut self, _svc: &Service, dests: &[Dest], _idx: usize) -> Result<(), SchedError> {
        self.dest_changed(dests);
        Ok(())
    }

    fn upd_dest(&mut self, _svc: &Service, dests: &[Dest], _idx: usize) -> Result<(), SchedError> {
        self.dest_changed(dests);
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
        // A stale cursor cannot come from a caller that reports every change; take it as head.
        let mut dest = self.cl.filter(|&c| c < n);
        if self.mw == 0 {
            self.cl = dest;
            return None;
        }
        let last = dest;
        let mut stop: Option<usize> = None;
        let mut last_pass = false;
        let mut restarted = false;
        // cw never exceeds mw and di >= 1, so each pass lowers cw and the loop ends within
        // 2 * mw / di + 3 passes, as in the C.
        loop {
            // list_for_each_entry_continue: from the entry after `dest` to the end of the list.
            let from = dest.map_or(0, |c| c + 1);
            for (i, d) in dests.iter().enumerate().skip(from) {
                if !d.overloaded && d.weight >= self.cw {
                    self.cl = Some(i);
                    return Some(i);
                }
                if stop == Some(i) {
                    self.cl = Some(i);
                    return None;
                }
            }
            // The walk ended on the list head.
            dest = None;
            self.cw = self.cw.wrapping_sub(self.di);
            if self.cw <= 0 {
                self.cw = self.mw;
                if last_pass || last.is_none() {
                    self.cl = None;
                    return None;
                }
                restarted = true;
            }
            last_pass = self.cw <= self.di;
            if last_pass && restarted && last.is_some() {
                stop = last;
            }
        }
    }
}
