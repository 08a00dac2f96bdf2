//! Per-namespace state of rvs, the counterpart of ip_vs's `struct netns_ipvs`.
//!
//! Every network namespace gets its own [`Netns`] when it is created (or when rvs loads), and
//! loses it when it goes away: services, connections and settings of one namespace are never
//! visible from another.

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
    },
    procfs,
    rvs_core::abi,
    stats::Stats,
    svc::{Ctl, ProtoData, Service, Table as Services},
};

/// The state rvs keeps for one network namespace.
#[pin_data]
pub(crate) struct Netns {
    /// `/proc/net/ip_vs` (`/proc/net/rvs` beside ip_vs). First fields: dropped first, so no
    /// reader runs while the rest goes away.
    _proc_info: ProcEntry,
    /// `/proc/net/ip_vs_conn` (`rvs_conn`).
    _proc_conn: ProcEntry,
    /// `/proc/net/ip_vs_stats` (`rvs_stats`).
    _proc_stats: ProcEntry,
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
        let (name, conn_name, stats_name, tree) = if param::ipvs_compat() {
            (
                c_str!("ip_vs"),
                c_str!("ip_vs_conn"),
                c_str!("ip_vs_stats"),
                Tree::Ipvs,
            )
        } else {
            // Beside ip_vs the names move (`/proc/net/rvs`, `net.rvs`), so the two never collide.
            (
                c_str!("rvs"),
                c_str!("rvs_conn"),
                c_str!("rvs_stats"),
                Tree::Rvs,
            )
        };
        try_pin_init!(Self {
            table: RcuBox::new(Services::empty())?,
            proto: RcuBox::new(ProtoData::with(&Ctl::new().timeouts()))?,
            stats: Stats::default(),
            conns: Table::new()?,
            _proc_conn: ProcEntry::create::<procfs::Conns>(net, conn_name)?,
            _proc_stats: ProcEntry::create::<procfs::TotalStats>(net, stats_name)?,
            ctl <- new_mutex!(Ctl::new(), "rvs_ctl"),
            conn_tab_size: abi::CONN_TAB_DEFAULT_SIZE,
            vars: VsVars::register(net, tree)?,
            _proc_info: ProcEntry::create::<procfs::Services>(net, name)?,
        }? Error)
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

/// Starts keeping state for every namespace; dropping the result drops all of it.
pub(crate) fn register() -> Result<pernet::Registration<Netns>> {
    PERNET.register()
}
