//! Connection thresholds: when a destination becomes overloaded, and when it stops being so.
//!
//! A destination with an upper threshold (`ipvsadm -x`) is marked `IP_VS_DEST_F_OVERLOAD` when its
//! connection count reaches it, and schedulers skip it until the count falls below the lower
//! threshold (`-y`), or below 75 % of the upper one when no lower threshold is set. This is the
//! 6.12.117 arithmetic (`__ip_vs_dest_update_overload` in ip_vs_ctl.c, called from
//! `ip_vs_bind_dest`/`ip_vs_unbind_dest` in ip_vs_conn.c and from `__ip_vs_update_dest`),
//! including its mixed signed/unsigned comparisons: the counters are `int`, the thresholds `u32`,
//! so a counter is compared as unsigned, as C does.

/// Why the overload flag is being reconsidered (the C's `mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverloadEvent {
    /// A connection was bound: the count went up (`mode = 1`).
    Bind,
    /// A connection was unbound: the count went down (`mode = -1`).
    Unbind,
    /// The thresholds were edited (`mode = 0`).
    Edit,
}

/// The thresholds of one destination.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Thresholds {
    /// Upper connection threshold (`u_threshold`); 0 means none.
    pub upper: u32,
    /// Lower connection threshold as configured (`l_threshold`); 0 means 75 % of `upper`.
    pub lower: u32,
    /// The lower threshold in use (`l_threshold_val`).
    pub lower_val: u32,
}

impl Thresholds {
    /// Thresholds as `__ip_vs_update_dest` stores them.
    pub const fn new(upper: u32, lower: u32) -> Self {
        let lower_val = if lower != 0 {
            lower
        } else {
            upper - (upper >> 2)
        };
        Self {
            upper,
            lower,
            lower_val,
        }
    }

    /// Whether a bind that brought `totalconns` to its new value must reconsider the flag
    /// (`tc == u_threshold` in `ip_vs_bind_dest`).
    pub const fn bind_triggers(&self, totalconns_after: i32) -> bool {
        totalconns_after as u32 == self.upper
    }

    /// Whether an unbind from `totalconns_before` must reconsider the flag
    /// (`atomic_fetch_dec(&totalconns) == l_threshold_val` in `ip_vs_unbind_dest`).
    pub const fn unbind_triggers(&self, totalconns_before: i32) -> bool {
        totalconns_before as u32 == self.lower_val
    }

    /// The overload flag after reconsidering it for `event`, given the current connection count
    /// and flag (`__ip_vs_dest_update_overload`).
    pub const fn overloaded(
        &self,
        event: OverloadEvent,
        totalconns: i32,
        overloaded: bool,
    ) -> bool {
        if self.upper == 0 {
            return false;
        }
        let conns = totalconns as u32;
        let set_at = match event {
            OverloadEvent::Bind => self.lower_val,
            _ => self.upper,
        };
        if conns >= set_at {
            return true;
        }
        let keep_from = match event {
            OverloadEvent::Unbind => self.upper,
            _ => self.lower_val,
        };
        if conns >= keep_from {
            return overloaded;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives one destination through binds and unbinds the way ip_vs_conn.c does.
    struct Dest {
        th: Thresholds,
        total: i32,
        overloaded: bool,
    }

    impl Dest {
        fn bind(&mut self) {
            self.total += 1;
            if self.th.bind_triggers(self.total) {
                self.overloaded =
                    self.th
                        .overloaded(OverloadEvent::Bind, self.total, self.overloaded);
            }
        }
        fn unbind(&mut self) {
            let before = self.total;
            self.total -= 1;
            if self.th.unbind_triggers(before) {
                self.overloaded =
                    self.th
                        .overloaded(OverloadEvent::Unbind, self.total, self.overloaded);
            }
        }
    }

    #[test]
    fn lower_defaults_to_three_quarters_of_upper() {
        assert_eq!(Thresholds::new(100, 0).lower_val, 75);
        assert_eq!(Thresholds::new(4, 0).lower_val, 3);
        assert_eq!(Thresholds::new(100, 10).lower_val, 10);
        assert_eq!(Thresholds::new(0, 0).lower_val, 0);
    }

    #[test]
    fn overloaded_at_upper_until_below_lower() {
        let mut d = Dest {
            th: Thresholds::new(4, 0),
            total: 0,
            overloaded: false,
        };
        let mut seen = std::vec::Vec::new();
        for _ in 0..4 {
            d.bind();
            seen.push(d.overloaded);
        }
        assert_eq!(seen, [false, false, false, true]);
        // 4 -> 3: still at the 75 % mark, stays overloaded; 3 -> 2 clears it.
        d.unbind();
        assert!(d.overloaded);
        d.unbind();
        assert!(!d.overloaded);
    }

    #[test]
    fn explicit_lower_threshold() {
        let mut d = Dest {
            th: Thresholds::new(10, 2),
            total: 0,
            overloaded: false,
        };
        for _ in 0..10 {
            d.bind();
        }
        assert!(d.overloaded);
        while d.total > 2 {
            d.unbind();
            assert!(d.overloaded, "cleared early at {}", d.total);
        }
        d.unbind();
        assert!(!d.overloaded);
    }

    #[test]
    fn no_upper_threshold_never_overloads() {
        let th = Thresholds::new(0, 5);
        assert!(!th.overloaded(OverloadEvent::Edit, 1000, true));
        assert!(!th.overloaded(OverloadEvent::Bind, 1000, false));
    }

    #[test]
    fn editing_thresholds_reconsiders_the_flag() {
        // 50 connections, upper lowered to 40: overloaded at once; raised to 100: cleared.
        assert!(Thresholds::new(40, 0).overloaded(OverloadEvent::Edit, 50, false));
        assert!(!Thresholds::new(100, 0).overloaded(OverloadEvent::Edit, 50, true));
        // Between lower (75) and upper (100) an edit keeps the flag as it was.
        assert!(Thresholds::new(100, 0).overloaded(OverloadEvent::Edit, 80, true));
        assert!(!Thresholds::new(100, 0).overloaded(OverloadEvent::Edit, 80, false));
    }

    #[test]
    fn negative_counts_compare_as_unsigned_like_c() {
        // An `int` below zero converts to a huge `u32` in the C comparison.
        assert!(Thresholds::new(10, 0).overloaded(OverloadEvent::Edit, -1, false));
    }
}
