//! Per-namespace state of rvs, the counterpart of ip_vs's `struct netns_ipvs`.
//!
//! Every network namespace gets its own [`Netns`] when it is created (or when rvs loads), and
//! loses it when it goes away: services, connections and settings of one namespace are never
//! visible from another.

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use kernel::{
    c_str,
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        new_mutex, Arc, Mutex,
    },
};

use crate::{
    conn::Conn,
    kapi::{conntab::Table, rcu::Guard as RcuGuard},
    kapi::{
        param,
        pernet::{self, Net, NetState, Pernet},
        proc::ProcEntry,
        rcu::RcuBox,
        sysctl::{Tree, VsVars},
        timer::{Periodic, Tick},
    },
    procfs,
    rvs_core::{abi, est::EST_INTERVAL_SECS},
    stats::Stats,
    svc::{Ctl, ProtoData, Service, Table as Services},
};

/// The state rvs keeps for one network namespace.
#[pin_data]
pub(crate) struct Netns {
    /// The 2-second housekeeping tick (rates; lblc/lblcr expiry). First field: stopped before
    /// anything it reads goes.
    _housekeeping: Periodic<Housekeeping>,
    /// Ticks so far, for the work done every 30th tick.
    ticks: AtomicU32,
    /// `/proc/net/ip_vs*` (`/proc/net/rvs*` beside ip_vs). Dropped before the rest, so no reader
    /// runs while it goes away.
    _proc: ProcFiles,
    /// Number of hash buckets of the connection table, reported by `IPVS_CMD_GET_INFO`.
    conn_tab_size: u32,
    /// The control plane's view of the services; every command holds it.
    #[pin]
    ctl: Mutex<Ctl>,
    /// The services as lock-free readers see them.
    table: RcuBox<Services>,
    /// The namespace's `net.ipv4.vs.*` settings (`net.rvs.*` with `ipvs_compat=0`), registered
    /// while the namespace has state.
    vars: VsVars,
    /// The connections and templates. After `ctl`: the hooks (in `ctl`) are gone before the
    /// table is torn down.
    conns: Table<Conn>,
    /// The namespace's traffic counters (`ipvs->tot_stats`).
    stats: Stats,
    /// The protocols' timeouts as the packet path reads them.
    proto: RcuBox<ProtoData>,
}

static PERNET: Pernet<Netns> = Pernet::new();

impl NetState for Netns {
    fn pernet() -> &'static Pernet<Self> {
        &PERNET
    }

    fn init(net: &Net) -> impl PinInit<Self, Error> {
        let tree = if param::ipvs_compat() {
            Tree::Ipvs
        } else {
            // Beside ip_vs the names move (`net.rvs`, `/proc/net/rvs*`), so the two never collide.
            Tree::Rvs
        };
        try_pin_init!(Self {
            table: RcuBox::new(Services::empty())?,
            proto: RcuBox::new(ProtoData::with(&Ctl::new().timeouts()))?,
            stats: Stats::default(),
            conns: Table::new(net)?,
            ctl <- new_mutex!(Ctl::new(), "rvs_ctl"),
            conn_tab_size: abi::CONN_TAB_DEFAULT_SIZE,
            vars: VsVars::register(net, tree)?,
            _proc: ProcFiles::create(net)?,
            ticks: AtomicU32::new(0),
            // Last: it may tick as soon as it starts (it finds no state until init is done).
            _housekeeping: Periodic::start(net, EST_INTERVAL_SECS * crate::kapi::HZ)?,
        }? Error)
    }
}

/// The namespace's `/proc/net` files.
struct ProcFiles {
    _info: ProcEntry,
    _conn: ProcEntry,
    _conn_sync: ProcEntry,
    _stats: ProcEntry,
}

impl ProcFiles {
    fn create(net: &Net) -> Result<Self> {
        let names = if param::ipvs_compat() {
            [
                c_str!("ip_vs"),
                c_str!("ip_vs_conn"),
                c_str!("ip_vs_conn_sync"),
                c_str!("ip_vs_stats"),
            ]
        } else {
            [
                c_str!("rvs"),
                c_str!("rvs_conn"),
                c_str!("rvs_conn_sync"),
                c_str!("rvs_stats"),
            ]
        };
        Ok(Self {
            _info: ProcEntry::create::<procfs::Services>(net, names[0])?,
            _conn: ProcEntry::create::<procfs::Conns>(net, names[1])?,
            _conn_sync: ProcEntry::create::<procfs::ConnsSync>(net, names[2])?,
            _stats: ProcEntry::create::<procfs::TotalStats>(net, names[3])?,
        })
    }
}

impl Netns {
    /// The state of namespace `net` (`None` only while rvs is loading or unloading).
    pub(crate) fn of(net: &Net) -> Option<&Self> {
        PERNET.get(net)
    }

    /// Number of hash buckets of the connection table.
    pub(crate) fn conn_tab_size(&self) -> u32 {
        self.conn_tab_size
    }

    /// Takes the namespace's control lock (process context; sleeps).
    pub(crate) fn lock(&self) -> Guard<'_, Ctl, MutexBackend> {
        self.ctl.lock()
    }

    /// The services as published to lock-free readers.
    pub(crate) fn table(&self) -> &RcuBox<Services> {
        &self.table
    }

    /// The connection table.
    pub(crate) fn conns(&self) -> &Table<Conn> {
        &self.conns
    }

    /// The namespace's counters.
    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The protocols' timeout tables.
    pub(crate) fn proto<'a>(&'a self, guard: &'a RcuGuard) -> &'a ProtoData {
        self.proto.read(guard)
    }

    /// Publishes the timeouts `--set` changed.
    pub(crate) fn publish_proto(&self, p: ProtoData) -> Result {
        self.proto.replace(p)
    }

    /// `ip_vs_service_find`: the service a packet to `addr`:`port` with firewall mark `mark`
    /// belongs to: a fwmark service first, then the address service, then a port-0 one.
    pub(crate) fn find_service<'a>(
        &'a self,
        af: u16,
        protocol: u8,
        addr: &[u8; 16],
        port: u16,
        mark: u32,
        guard: &'a RcuGuard,
    ) -> Option<&'a Arc<Service>> {
        let services = self.table.read(guard).services();
        if mark != 0 {
            if let Some(s) = services
                .iter()
                .find(|s| s.key.fwmark == mark && s.key.af == af)
            {
                return Some(s);
            }
        }
        let is = |s: &&Arc<Service>, port: u16| {
            let k = &s.key;
            k.fwmark == 0
                && k.af == af
                && k.protocol == u16::from(protocol)
                && k.port == port
                && crate::rvs_core::sched::addr_equal(af, &k.addr, addr)
        };
        services
            .iter()
            .find(|s| is(s, port))
            .or_else(|| services.iter().find(|s| is(s, 0)))
    }

    /// The namespace's sysctl settings.
    pub(crate) fn vars(&self) -> &VsVars {
        &self.vars
    }
}

/// The namespace's 2-second tick: the rate estimator (`ip_vs_estimation_kthread`'s work) for
/// the namespace, its services and their destinations unless `run_estimation` is 0, and every
/// 60 s the expiry of `lblc`/`lblcr` entries (their `CHECK_EXPIRE_INTERVAL` timers).
struct Housekeeping;

/// Ticks between two `lblc`/`lblcr` expiry runs (60 s).
const EXPIRE_TICKS: u32 = 30;

impl Tick for Housekeeping {
    fn tick(net: &Net) {
        let Some(ns) = Netns::of(net) else { return };
        let guard = crate::kapi::rcu::read_lock();
        let services = ns.table.read(&guard).services();
        if ns.vars().run_estimation() != 0 {
            ns.stats.estimate();
            for svc in services {
                svc.stats.estimate();
                for d in svc.dests(&guard) {
                    d.stats.estimate();
                }
            }
        }
        let tick = ns.ticks.fetch_add(1, Relaxed).wrapping_add(1);
        if tick % EXPIRE_TICKS == 0 {
            let now = u64::from(crate::kapi::jiffies());
            for svc in services {
                svc.sched().lock().check_expire(now);
            }
        }
    }
}

/// Starts keeping state for every namespace; dropping the result drops all of it.
pub(crate) fn register() -> Result<pernet::Registration<Netns>> {
    PERNET.register()
}
