//! The defence modes of a namespace: `drop_entry`, `drop_packet` and `secure_tcp`
//! (`update_defense_level`, `ip_vs_random_dropentry`, `ip_vs_todrop`).
//!
//! The decisions are rvs-core's ([`crate::rvs_core::defense`]); this holds their state and runs
//! them: [`Defense::update`] every second from the namespace's timer (ip_vs's `defense_work`),
//! [`Defense::todrop`] on the packet path before a new connection is scheduled, and
//! [`Defense::drop_entries`] after an update that keeps `drop_entry` engaged.

use core::sync::atomic::{AtomicBool, AtomicI32, Ordering::Relaxed};

use kernel::prelude::*;

use crate::{
    conn::{Conn, CTPL_S_ASSURED, SCTP, TCP},
    kapi::{
        self,
        conntab::Table,
        lock::{new_spinlock_bh, SpinLockBh},
        sysctl::VsVars,
    },
    rvs_core::{
        defense::{self, DropEntry, Inputs},
        proto::{sctp::SctpState, tcp::TcpState, tcp::TcpStateTable},
    },
};

/// What `update_defense_level` leaves for the packet path and the entry dropper.
#[pin_data]
pub(crate) struct Defense {
    /// `ipvs->drop_rate`: one new connection's packet in this many is dropped (0: none).
    drop_rate: AtomicI32,
    /// `ipvs->drop_counter`.
    drop_counter: AtomicI32,
    /// `ipvs->dropentry`.
    dropentry: AtomicBool,
    /// The secure TCP state table is in force (`tcp_timeout_change`).
    secure_tcp: AtomicBool,
    /// `ipvs->old_secure_tcp`.
    old_secure_tcp: AtomicI32,
    /// `todrop_entry`'s counters.
    #[pin]
    entry: SpinLockBh<DropEntry>,
}

impl Defense {
    /// All modes off.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            drop_rate: AtomicI32::new(0),
            drop_counter: AtomicI32::new(0),
            dropentry: AtomicBool::new(false),
            secure_tcp: AtomicBool::new(false),
            old_secure_tcp: AtomicI32::new(0),
            entry <- new_spinlock_bh!(DropEntry::default(), "rvs_dropentry"),
        })
    }

    /// `update_defense_level`: reads memory and the three sysctls, writes back the automatic
    /// modes' 1/2 flips, and returns whether entries are to be dropped now.
    pub(crate) fn update(&self, vars: &VsVars) -> bool {
        let availmem = kapi::avail_pages();
        let l = defense::update(&Inputs {
            availmem: i64::try_from(availmem).unwrap_or(i64::MAX),
            amemthresh: vars.amemthresh(),
            am_droprate: vars.am_droprate(),
            drop_entry: vars.drop_entry(),
            drop_packet: vars.drop_packet(),
            secure_tcp: vars.secure_tcp(),
            old_secure_tcp: self.old_secure_tcp.load(Relaxed),
        });
        vars.set_drop_entry(l.drop_entry);
        vars.set_drop_packet(l.drop_packet);
        vars.set_secure_tcp(l.secure_tcp);
        self.dropentry.store(l.dropentry, Relaxed);
        if let Some(c) = l.drop_counter {
            self.drop_counter.store(c, Relaxed);
        }
        self.drop_rate.store(l.drop_rate, Relaxed);
        self.old_secure_tcp.store(l.secure_tcp, Relaxed);
        if let Some(on) = l.secure_tcp_change {
            self.secure_tcp.store(on, Relaxed);
        }
        l.dropentry
    }

    /// `ip_vs_todrop`: whether to drop the packet that would create a connection. The counter
    /// is shared by every CPU without a lock, as ip_vs's is.
    pub(crate) fn todrop(&self) -> bool {
        let rate = self.drop_rate.load(Relaxed);
        if rate == 0 {
            return false;
        }
        let mut c = self.drop_counter.load(Relaxed);
        let drop = defense::todrop(rate, &mut c);
        self.drop_counter.store(c, Relaxed);
        drop
    }

    /// The TCP transition table in force.
    pub(crate) fn tcp_table(&self) -> TcpStateTable {
        if self.secure_tcp.load(Relaxed) {
            TcpStateTable::SecureTcp
        } else {
            TcpStateTable::Normal
        }
    }

    /// `ip_vs_random_dropentry`: a random 1/32 of the table is looked at; half-open TCP and
    /// SCTP entries and unassured templates go, established ones (and UDP entries) idle for
    /// 60 s go at a rate that falls with their packet count.
    pub(crate) fn drop_entries(&self, conns: &Table<Conn>) {
        let hz = kapi::HZ;
        conns.sample(|c, left| {
            // Controls other connections (ip_vs's n_control), or is in use.
            if c.others() != 0 {
                return;
            }
            let idle = i64::from(c.timeout()) - i64::from(left);
            let established =
                |c: &Conn| self.entry.lock().todrop(idle, c.in_pkts.load(Relaxed), hz);
            let drop = if c.is_template() {
                c.state() & CTPL_S_ASSURED == 0
            } else {
                match c.protocol {
                    TCP => match TcpState::from_raw(c.state()) {
                        Some(TcpState::SynRecv | TcpState::SynAck) => true,
                        Some(TcpState::Established) => established(&c),
                        _ => false,
                    },
                    SCTP => match SctpState::from_raw(c.state()) {
                        Some(SctpState::Init1 | SctpState::Init) => true,
                        Some(SctpState::Established) => established(&c),
                        _ => false,
                    },
                    _ => established(&c),
                }
            };
            if drop {
                c.expire_now();
            }
        });
    }
}
