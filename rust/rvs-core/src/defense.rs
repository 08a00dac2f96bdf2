//! ip_vs's defence against memory exhaustion (`update_defense_level` in ip_vs_ctl.c,
//! `todrop_entry` in ip_vs_conn.c, `ip_vs_todrop` in ip_vs.h), as pure functions.
//!
//! Three sysctls, each 0..3: `drop_entry` (randomly drop connection entries), `drop_packet` (drop
//! one new connection's first packet in `rate`), `secure_tcp` (switch to the stricter TCP state
//! table). 0 is off, 3 is always on, 1 is "automatic": when available memory (free + buffer
//! pages) falls below `amemthresh` the mode engages and the sysctl reads 2; when memory comes back
//! it reads 1 again. Every second (and on a write) the module feeds the sysctls and the memory
//! figure to [`update`] and stores what it returns.

/// What `update_defense_level` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inputs {
    /// Free plus buffer RAM, in pages (`si_meminfo`).
    pub availmem: i64,
    /// `amemthresh` (negative counts as 0).
    pub amemthresh: i32,
    /// `am_droprate`.
    pub am_droprate: i32,
    /// `drop_entry`.
    pub drop_entry: i32,
    /// `drop_packet`.
    pub drop_packet: i32,
    /// `secure_tcp`.
    pub secure_tcp: i32,
    /// `old_secure_tcp`: the `secure_tcp` value of the previous update.
    pub old_secure_tcp: i32,
}

/// What `update_defense_level` decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Levels {
    /// `drop_entry` after the update (1 and 2 flip with memory).
    pub drop_entry: i32,
    /// `drop_packet` after the update.
    pub drop_packet: i32,
    /// `secure_tcp` after the update.
    pub secure_tcp: i32,
    /// Whether connection entries are dropped this second (`ipvs->dropentry`).
    pub dropentry: bool,
    /// `ipvs->drop_rate`: 0 for none, else one packet in this many.
    pub drop_rate: i32,
    /// A new `ipvs->drop_counter`, when the update sets one.
    pub drop_counter: Option<i32>,
    /// `ip_vs_protocol_timeout_change`, when called: whether the secure TCP table is in force.
    pub secure_tcp_change: Option<bool>,
}

/// `update_defense_level`.
pub fn update(i: &Inputs) -> Levels {
    let amemthresh = i64::from(i.amemthresh.max(0));
    let nomem = i.availmem < amemthresh;
    // `amemthresh / (amemthresh - availmem)`, only computed when memory is short (so the
    // divisor is positive); ip_vs's values are ints.
    let counter = || {
        let d = amemthresh.saturating_sub(i.availmem).max(1);
        i32::try_from(amemthresh / d).unwrap_or(i32::MAX)
    };

    let (drop_entry, dropentry) = match i.drop_entry {
        0 => (0, false),
        1 if nomem => (2, true),
        1 => (1, false),
        2 if nomem => (2, true),
        2 => (1, false),
        3 => (3, true),
        // The sysctl handler only stores 0..3; anything else changes nothing (ip_vs's switch has
        // no default).
        v => (v, false),
    };

    let (drop_packet, drop_rate, drop_counter) = match i.drop_packet {
        0 => (0, 0, None),
        1 | 2 if nomem => {
            let c = counter();
            (2, c, Some(c))
        }
        1 | 2 => (1, 0, None),
        3 => (3, i.am_droprate, None),
        v => (v, 0, None),
    };

    let old = i.old_secure_tcp;
    let (secure_tcp, to_change) = match i.secure_tcp {
        0 => (0, old >= 2),
        1 | 2 if nomem => (2, old < 2),
        1 | 2 => (1, old >= 2),
        3 => (3, old < 2),
        v => (v, false),
    };

    Levels {
        drop_entry,
        drop_packet,
        secure_tcp,
        dropentry,
        drop_rate,
        drop_counter,
        secure_tcp_change: to_change.then_some(secure_tcp > 1),
    }
}

/// `ip_vs_todrop`: whether to drop this new connection's packet, given `drop_rate` and the
/// counter (decremented here).
pub fn todrop(drop_rate: i32, counter: &mut i32) -> bool {
    if drop_rate == 0 {
        return false;
    }
    *counter = counter.wrapping_sub(1);
    if *counter > 0 {
        return false;
    }
    *counter = drop_rate;
    true
}

/// `todrop_entry`'s per-`in_pkts` drop rates.
const TODROP_RATE: [i8; 9] = [0, 1, 2, 3, 4, 5, 6, 7, 8];

/// `todrop_entry`'s counters (ip_vs keeps one static array; rvs one per namespace).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropEntry {
    counter: [i8; 9],
}

impl DropEntry {
    /// `todrop_entry`: whether to drop an established entry (or a UDP one, or a one-packet
    /// template) that saw `in_pkts` packets and whose last packet was `idle` ticks ago
    /// (`timeout - (expires - jiffies)`), `hz` ticks a second. Entries active within the last
    /// 60 s, and entries with no packet or more than 8, are kept; of the others, those with `n`
    /// packets are dropped one in `n`.
    pub fn todrop(&mut self, idle: i64, in_pkts: u32, hz: u32) -> bool {
        if idle < 60 * i64::from(hz) {
            return false;
        }
        let Ok(i) = usize::try_from(in_pkts) else {
            return false;
        };
        let (Some(&rate), Some(counter)) = (TODROP_RATE.get(i), self.counter.get_mut(i)) else {
            return false;
        };
        if rate == 0 {
            return false;
        }
        *counter = counter.wrapping_sub(1);
        if *counter > 0 {
            return false;
        }
        *counter = rate;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(availmem: i64) -> Inputs {
        Inputs {
            availmem,
            amemthresh: 1024,
            am_droprate: 10,
            drop_entry: 0,
            drop_packet: 0,
            secure_tcp: 0,
            old_secure_tcp: 0,
        }
    }

    #[test]
    fn off_by_default() {
        let l = update(&inputs(10));
        assert_eq!(
            l,
            Levels {
                drop_entry: 0,
                drop_packet: 0,
                secure_tcp: 0,
                dropentry: false,
                drop_rate: 0,
                drop_counter: None,
                secure_tcp_change: None,
            }
        );
    }

    #[test]
    fn automatic_modes_follow_memory() {
        let mut i = inputs(256);
        i.drop_entry = 1;
        i.drop_packet = 1;
        i.secure_tcp = 1;
        let short = update(&i);
        assert_eq!(
            (short.drop_entry, short.drop_packet, short.secure_tcp),
            (2, 2, 2)
        );
        assert!(short.dropentry);
        // 1024 / (1024 - 256) = 1: every new connection's packet is dropped.
        assert_eq!((short.drop_rate, short.drop_counter), (1, Some(1)));
        assert_eq!(short.secure_tcp_change, Some(true));

        let mut j = i;
        j.availmem = 1000;
        j.drop_entry = short.drop_entry;
        j.drop_packet = short.drop_packet;
        j.secure_tcp = short.secure_tcp;
        j.old_secure_tcp = short.secure_tcp;
        let still = update(&j);
        assert_eq!((still.drop_rate, still.drop_counter), (42, Some(42)));
        assert_eq!(still.secure_tcp_change, None);

        j.availmem = 1 << 20;
        let back = update(&j);
        assert_eq!(
            (back.drop_entry, back.drop_packet, back.secure_tcp),
            (1, 1, 1)
        );
        assert!(!back.dropentry);
        assert_eq!(back.drop_rate, 0);
        assert_eq!(back.secure_tcp_change, Some(false));
    }

    #[test]
    fn mode_three_is_always_on() {
        let mut i = inputs(1 << 20);
        i.drop_entry = 3;
        i.drop_packet = 3;
        i.secure_tcp = 3;
        let l = update(&i);
        assert!(l.dropentry);
        assert_eq!((l.drop_rate, l.drop_counter), (10, None));
        assert_eq!(l.secure_tcp_change, Some(true));
        i.old_secure_tcp = 3;
        assert_eq!(update(&i).secure_tcp_change, None);
        i.secure_tcp = 0;
        assert_eq!(update(&i).secure_tcp_change, Some(false));
    }

    #[test]
    fn todrop_drops_one_in_rate_starting_with_the_first() {
        let mut counter = 0;
        let dropped: std::vec::Vec<bool> = (0..9).map(|_| todrop(4, &mut counter)).collect();
        assert_eq!(
            dropped,
            [true, false, false, false, true, false, false, false, true]
        );
        assert!(!todrop(0, &mut counter));
    }

    #[test]
    fn todrop_entry_keeps_young_idle_less_and_busy_entries() {
        let mut d = DropEntry::default();
        let hz = 100;
        assert!(!d.todrop(59 * 100, 1, hz));
        assert!(!d.todrop(61 * 100, 0, hz));
        assert!(!d.todrop(61 * 100, 9, hz));
        assert!(d.todrop(61 * 100, 1, hz));
        assert!(d.todrop(61 * 100, 1, hz));
        // Three packets: one entry in three.
        let three: std::vec::Vec<bool> = (0..6).map(|_| d.todrop(61 * 100, 3, hz)).collect();
        assert_eq!(three, [true, false, false, true, false, false]);
    }
}
