//! The schedulers: how a new connection picks its real server, one file per algorithm like IPVS.
//!
//! Every scheduler implements [`Scheduler`], the counterpart of `struct ip_vs_scheduler`
//! (include/net/ip_vs.h): `init_service`, `add_dest`, `del_dest`, `upd_dest` and `schedule`, plus
//! [`Scheduler::conns_changed`], which ip_vs does not need because its least-connection schedulers
//! rescan the whole list on every pick. The service keeps its destinations in a slice in ip_vs's
//! list order (ip_vs adds a new destination at the head of `svc->destinations`); every call gets
//! that slice and `schedule` answers with an index into it. Callers report each change through the
//! matching call, with the slice as it is after the change: `add_dest(i)` after inserting at `i`,
//! `del_dest(i)` after removing the element that was at `i`, `upd_dest(i)` after an edit of
//! weight or thresholds, and `conns_changed(i)` after `activeconns`, `totalconns` or the overload
//! flag of destination `i` moved. Given the same list, counters and packet, every ip_vs scheduler
//! here returns the destination ip_vs 6.12.117 returns; the `maglev` scheduler is rvs's own.
//!
//! Nothing here allocates: schedulers that need tables take caller-provided storage (any
//! `DerefMut<Target = [T]>`: a `Vec` on the host, a `KVec`/`KBox<[T]>` in the module), and each
//! says how much it needs through a `storage_len`-style function.

pub mod dh;
pub mod dirty;
pub mod fo;
pub mod lblc;
pub mod lblcr;
pub mod lc;
pub mod maglev;
pub mod mh;
pub mod nq;
pub mod ovf;
pub mod rr;
pub mod sed;
pub mod sh;
pub mod threshold;
pub mod tree;
pub mod twos;
pub mod wlc;
pub mod wrr;

/// The schedulers a service can name (`ipvsadm -s`): ip_vs's fourteen, then rvs's own.
pub const NAMES: [&str; 15] = [
    "rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "lblc", "lblcr", "dh", "sh", "mh", "twos",
    "maglev",
];

/// Whether `name` is a scheduler rvs has (what `ip_vs_scheduler_get` finds, plus `maglev`).
pub fn is_known(name: &[u8]) -> bool {
    NAMES.iter().any(|n| n.as_bytes() == name)
}

/// `AF_INET`.
pub const AF_INET: u16 = 2;
/// `AF_INET6`.
pub const AF_INET6: u16 = 10;

/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: u8 = 6;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u8 = 17;
/// `IPPROTO_SCTP`.
pub const IPPROTO_SCTP: u8 = 132;

/// `IP_VS_SVC_F_SCHED1`: scheduler flag 1 (uapi ip_vs.h).
pub const IP_VS_SVC_F_SCHED1: u32 = 0x0008;
/// `IP_VS_SVC_F_SCHED2`: scheduler flag 2.
pub const IP_VS_SVC_F_SCHED2: u32 = 0x0010;
/// `IP_VS_SVC_F_SCHED3`: scheduler flag 3.
pub const IP_VS_SVC_F_SCHED3: u32 = 0x0020;
/// `sh-fallback`: probe further buckets when the hashed destination is unavailable.
pub const IP_VS_SVC_F_SCHED_SH_FALLBACK: u32 = IP_VS_SVC_F_SCHED1;
/// `sh-port`: hash the source port too.
pub const IP_VS_SVC_F_SCHED_SH_PORT: u32 = IP_VS_SVC_F_SCHED2;
/// `mh-fallback`: probe further slots when the hashed destination is unavailable.
pub const IP_VS_SVC_F_SCHED_MH_FALLBACK: u32 = IP_VS_SVC_F_SCHED1;
/// `mh-port`: hash the source port too.
pub const IP_VS_SVC_F_SCHED_MH_PORT: u32 = IP_VS_SVC_F_SCHED2;

/// What a scheduler sees of one destination (`struct ip_vs_dest`).
///
/// Counters are `i32` because they are `atomic_t` in ip_vs and the schedulers' arithmetic on
/// them (shifts, products, wrap-around) is reproduced in that width.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dest {
    /// Address family of the destination (`AF_INET` or `AF_INET6`).
    pub af: u16,
    /// Address in network byte order; IPv4 uses the first four bytes (`union nf_inet_addr`).
    pub addr: [u8; 16],
    /// Port in host byte order.
    pub port: u16,
    /// Current weight; 0 means quiesced.
    pub weight: i32,
    /// The last non-zero weight (`dest->last_weight`), used by `mh`.
    pub last_weight: i32,
    /// Active connections.
    pub activeconns: i32,
    /// All non-template connections, active or not (`dest->totalconns` in 6.12.117).
    pub totalconns: i32,
    /// Persistence templates.
    pub persistconns: i32,
    /// `IP_VS_DEST_F_OVERLOAD`: the upper connection threshold was reached.
    pub overloaded: bool,
}

impl Dest {
    /// `ip_vs_dest_conn_overhead()`: `(activeconns << 8) + totalconns`, in `int` arithmetic.
    #[inline]
    pub fn overhead(&self) -> i32 {
        self.activeconns
            .wrapping_shl(8)
            .wrapping_add(self.totalconns)
    }

    /// `ip_vs_dest_inactconns()`: `max(totalconns - activeconns, 0)`.
    #[inline]
    pub fn inactconns(&self) -> i32 {
        self.totalconns.wrapping_sub(self.activeconns).max(0)
    }

    /// The unavailability test of `sh` and `mh`: weight <= 0 or overloaded.
    #[inline]
    pub fn is_unavailable(&self) -> bool {
        self.weight <= 0 || self.overloaded
    }
}

/// What a scheduler needs of the service (`struct ip_vs_service`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Service {
    /// Address family of the service; hashing schedulers fold addresses by it.
    pub af: u16,
    /// Service flags (`IP_VS_SVC_F_*`), of which the schedulers read `SCHED1..3`.
    pub flags: u32,
}

/// What a hashing scheduler needs of the packet (`struct ip_vs_iphdr` and the first 4 bytes of
/// the transport header).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Packet {
    /// Address family of the packet.
    pub af: u16,
    /// Transport protocol.
    pub protocol: u8,
    /// Source address, network byte order (IPv4 in the first four bytes).
    pub saddr: [u8; 16],
    /// Destination address, network byte order.
    pub daddr: [u8; 16],
    /// Source port, host byte order; 0 when the transport header could not be read.
    pub sport: u16,
    /// Destination port, host byte order; 0 when the transport header could not be read.
    pub dport: u16,
    /// `IP_VS_HDR_INVERSE`: the header is the embedded one of an ICMP error, so source and
    /// destination are swapped for hashing.
    pub inverse: bool,
}

impl Packet {
    /// The address `sh` and `mh` hash: the source, or the destination of an inverse header.
    #[inline]
    pub fn hash_addr(&self) -> &[u8; 16] {
        if self.inverse {
            &self.daddr
        } else {
            &self.saddr
        }
    }

    /// `ip_vs_sh_get_port()` / `ip_vs_mh_get_port()`: the client's port for TCP, UDP and SCTP,
    /// 0 otherwise.
    #[inline]
    pub fn hash_port(&self) -> u16 {
        match self.protocol {
            IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP => {
                if self.inverse {
                    self.dport
                } else {
                    self.sport
                }
            }
            _ => 0,
        }
    }
}

/// `ntohl(addr_fold)` of the hashing schedulers: the IPv4 address, or the XOR of the four words
/// of an IPv6 address when the service is IPv6 (the fold follows the service's family).
#[inline]
pub fn addr_fold(af: u16, addr: &[u8; 16]) -> u32 {
    let [a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3, d0, d1, d2, d3] = *addr;
    let w0 = u32::from_be_bytes([a0, a1, a2, a3]);
    if af == AF_INET6 {
        w0 ^ u32::from_be_bytes([b0, b1, b2, b3])
            ^ u32::from_be_bytes([c0, c1, c2, c3])
            ^ u32::from_be_bytes([d0, d1, d2, d3])
    } else {
        w0
    }
}

/// `ip_vs_addr_equal()`: compare 4 or 16 bytes by family.
#[inline]
pub fn addr_equal(af: u16, a: &[u8; 16], b: &[u8; 16]) -> bool {
    if af == AF_INET6 {
        a == b
    } else {
        a.get(..4) == b.get(..4)
    }
}

/// Why a scheduler could not take a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedError {
    /// The storage the caller provided is too small for this many destinations (`-ENOMEM`).
    NoMemory,
    /// The configuration is not valid for this scheduler (`-EINVAL`), e.g. more destinations
    /// than `mh` has table slots.
    Invalid,
}

/// The operations of an IPVS scheduler (`struct ip_vs_scheduler`).
///
/// The default methods do what a NULL callback does in ip_vs: nothing.
pub trait Scheduler {
    /// The scheduler's name as ipvsadm spells it (`rr`, `wlc`, …).
    fn name(&self) -> &'static str;

    /// `init_service`: bind to a service whose current destinations are `dests`.
    fn init_service(&mut self, svc: &Service, dests: &[Dest]) -> Result<(), SchedError>;

    /// `add_dest`: `dests[idx]` was just inserted.
    fn add_dest(&mut self, svc: &Service, dests: &[Dest], idx: usize) -> Result<(), SchedError> {
        let _ = (svc, dests, idx);
        Ok(())
    }

    /// `del_dest`: the destination that was at `idx` was just removed from `dests`.
    fn del_dest(&mut self, svc: &Service, dests: &[Dest], idx: usize) -> Result<(), SchedError> {
        let _ = (svc, dests, idx);
        Ok(())
    }

    /// `upd_dest`: `dests[idx]` was edited (weight, thresholds).
    fn upd_dest(&mut self, svc: &Service, dests: &[Dest], idx: usize) -> Result<(), SchedError> {
        let _ = (svc, dests, idx);
        Ok(())
    }

    /// `dests[idx]`'s connection counters or overload flag changed (ip_vs_bind_dest /
    /// ip_vs_unbind_dest / state transitions). Schedulers with O(log n) pick structures update
    /// them here; the rest ignore it.
    fn conns_changed(&mut self, dests: &[Dest], idx: usize) {
        let _ = (dests, idx);
    }

    /// How many times this scheduler took one of the deviations from ip_vs its module
    /// documentation lists (0 for exact schedulers), so differential tests and statistics can
    /// tell an intended difference from a bug.
    fn deviations(&self) -> u64 {
        0
    }

    /// The periodic timer of schedulers with expiring state (`lblc`, `lblcr`): the module calls
    /// it every `CHECK_EXPIRE_INTERVAL` (60 s) with its jiffies clock.
    fn check_expire(&mut self, now: u64) {
        let _ = now;
    }

    /// `schedule`: pick a destination for a new connection, `None` for "no destination
    /// available". `now` is a jiffies-like clock, read by the schedulers with expiring state.
    fn schedule(&mut self, svc: &Service, dests: &[Dest], pkt: &Packet, now: u64) -> Option<usize>;
}

/// `gcd()` of lib/math/gcd.c for the positive weights the schedulers feed it.
fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheduler_name_is_known_and_nothing_else() {
        for name in NAMES {
            assert!(is_known(name.as_bytes()), "{name}");
        }
        // Each name once, and each one a scheduler of its own `name()`.
        let mut sorted = NAMES;
        sorted.sort_unstable();
        assert!(sorted.windows(2).all(|w| w[0] != w[1]));
        for bad in [&b""[..], b"none", b"RR", b"rr ", b"wlc\0", b"ip_vs_rr"] {
            assert!(!is_known(bad), "{bad:?}");
        }
        assert_eq!(rr::Rr::default().name(), NAMES[0]);
    }
}
