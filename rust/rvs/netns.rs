//! Per-namespace state of rvs, the counterpart of ip_vs's `struct netns_ipvs`.
//!
//! Every network namespace gets its own [`Netns`] when it is created (or when rvs loads), and
//! loses it when it goes away: services, connections and settings of one namespace are never
//! visible from another.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

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
    defense::Defense,
    kapi::{conntab::Table, rcu::Guard as RcuGuard},
    kapi::{
        netdev::{self, Device},
        param,
        pernet::{self, Net, NetState, Pernet},
        proc::ProcEntry,
        rcu::RcuBox,
        sysctl::{Tree, VsVars},
        timer::{Job, Periodic, PeriodicWork, Tick},
    },
    procfs,
    rvs_core::{abi, est::EST_INTERVAL_SECS},
    stats::Stats,
    svc::{Ctl, ProtoData, Service, Table as Services},
    sync::SyncDaemon,
};

/// The state rvs keeps for one network namespace.
#[pin_data]
pub(crate) struct Netns {
    /// The connection sync daemon. First of all: its threads use the rest, so they stop
    /// before anything else goes.
    #[pin]
    sync: SyncDaemon,
    /// The periodic work (rates, lblc/lblcr expiry, defence modes); stopped before anything
    /// it reads goes.
    _periodic: PeriodicJobs,
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
    /// The defence modes' state.
    #[pin]
    defense: Defense,
    /// The persistence engines' and the FTP helper's namespace state.
    pe: Helpers,
}

/// What the persistence engines and the FTP helper keep per namespace.
struct Helpers {
    /// Seeds of the engine template digests (`conn::pe_key`).
    seeds: [u32; 4],
    /// Some service has a persistence engine that creates connections for real-server-started
    /// packets (ip_vs's `conn_out_counter`: the SIP engine's `conn_out`).
    conn_out: AtomicBool,
    /// Connections whose client port is not known yet (`IP_VS_CONN_F_NO_CPORT`, the FTP
    /// helper's passive data connections): while there are any, a packet that matches no
    /// connection is looked up again with client port 0 (ip_vs's `no_cport_conns`).
    no_cport: AtomicU32,
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
            sync <- SyncDaemon::new(),
            table: RcuBox::new(Services::empty())?,
            proto: RcuBox::new(ProtoData::with(&Ctl::new().timeouts()))?,
            stats: Stats::new()?,
            conns: Table::new(net)?,
            ctl <- new_mutex!(Ctl::new(), "rvs_ctl"),
            conn_tab_size: abi::CONN_TAB_DEFAULT_SIZE,
            vars: VsVars::register(net, tree)?,
            _proc: ProcFiles::create(net)?,
            ticks: AtomicU32::new(0),
            defense <- Defense::new(),
            pe: Helpers {
                seeds: [(); 4].map(|()| crate::kapi::random_u32_below(u32::MAX)),
                conn_out: AtomicBool::new(false),
                no_cport: AtomicU32::new(0),
            },
            // Last: they may run as soon as they start (they find no state until init is done).
            _periodic: PeriodicJobs {
                _housekeeping: Periodic::start(net, EST_INTERVAL_SECS * crate::kapi::HZ)?,
                _defense_work: PeriodicWork::start(net, crate::kapi::HZ)?,
                _trash_work: PeriodicWork::start(
                    net,
                    crate::svc::TRASH_PERIOD_SECS / 2 * crate::kapi::HZ,
                )?,
            },
        }? Error)
    }

    /// Stops the sync daemon before the namespace's devices go: its sockets hold references
    /// to them (ip_vs stops its threads from `__ip_vs_dev_cleanup_batch`).
    fn pre_exit(&self) {
        self.sync.stop_all();
    }
}

/// The namespace's periodic work.
struct PeriodicJobs {
    /// The 2-second housekeeping tick (rates; lblc/lblcr expiry).
    _housekeeping: Periodic<Housekeeping>,
    /// The defence modes' 1-second work.
    _defense_work: PeriodicWork<DefenseWork>,
    /// The destination trash's expiry, every minute (ip_vs's `dest_trash_timer`).
    _trash_work: PeriodicWork<TrashWork>,
}

/// The namespace's `/proc/net` files.
struct ProcFiles {
    _info: ProcEntry,
    _conn: ProcEntry,
    _conn_sync: ProcEntry,
    _stats: ProcEntry,
    _stats_percpu: ProcEntry,
    _app: ProcEntry,
    _sync_stats: ProcEntry,
}

impl ProcFiles {
    fn create(net: &Net) -> Result<Self> {
        let names = if param::ipvs_compat() {
            [
                c_str!("ip_vs"),
                c_str!("ip_vs_conn"),
                c_str!("ip_vs_conn_sync"),
                c_str!("ip_vs_stats"),
                c_str!("ip_vs_stats_percpu"),
                c_str!("ip_vs_app"),
            ]
        } else {
            [
                c_str!("rvs"),
                c_str!("rvs_conn"),
                c_str!("rvs_conn_sync"),
                c_str!("rvs_stats"),
                c_str!("rvs_stats_percpu"),
                c_str!("rvs_app"),
            ]
        };
        Ok(Self {
            _info: ProcEntry::create::<procfs::Services>(net, names[0])?,
            _conn: ProcEntry::create::<procfs::Conns>(net, names[1])?,
            _conn_sync: ProcEntry::create::<procfs::ConnsSync>(net, names[2])?,
            _stats: ProcEntry::create::<procfs::TotalStats>(net, names[3])?,
            _stats_percpu: ProcEntry::create::<procfs::TotalStatsPercpu>(net, names[4])?,
            _app: ProcEntry::create::<procfs::Apps>(net, names[5])?,
            // rvs's own (ip_vs has no such counters): the same name in both modes.
            _sync_stats: ProcEntry::create::<procfs::SyncStats>(net, c_str!("rvs_sync_stats"))?,
        })
    }
}

impl Netns {
    /// The state of namespace `net` (`None` only while rvs is loading or unloading).
    pub(crate) fn of(net: &Net) -> Option<&Self> {
        PERNET.get(net)
    }

    /// [`Netns::of`] inside an RCU read section (the hooks), without a call.
    pub(crate) fn of_rcu<'a>(net: &'a Net, guard: &RcuGuard) -> Option<&'a Self> {
        PERNET.get_rcu(net, guard)
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

    /// How many connections wait for their client port (`ipvs->no_cport_conns`).
    pub(crate) fn no_cport(&self) -> &AtomicU32 {
        &self.pe.no_cport
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

    /// `ip_vs_has_real_service`: whether `addr`:`port` is a NAT real server of a service for
    /// `protocol` (or of a fwmark service). rvs walks its services where ip_vs hashes its real
    /// servers; only `nat_icmp_send` asks, for packets that match no connection.
    pub(crate) fn has_real_service(
        &self,
        af: u16,
        protocol: u8,
        addr: &[u8; 16],
        port: u16,
        guard: &RcuGuard,
    ) -> bool {
        self.find_real_service(af, protocol, addr, port, guard)
            .is_some()
    }

    /// `ip_vs_find_tunnel`: the tunnelling destination at `addr` (IPv4) with tunnel port
    /// `tun_port` (0 for IPIP and GRE).
    pub(crate) fn find_tunnel<'a>(
        &'a self,
        addr: &[u8; 4],
        tun_port: u16,
        guard: &'a RcuGuard,
    ) -> Option<&'a Arc<crate::svc::Dest>> {
        self.table.read(guard).services().iter().find_map(|svc| {
            svc.dests(guard).iter().find(|d| {
                d.tun_port.load(Relaxed) == tun_port
                    && d.af == abi::AF_INET
                    && d.addr[..4] == addr[..]
                    && d.conn_flags.load(Relaxed) & abi::conn_flag::FWD_MASK
                        == abi::conn_flag::TUNNEL
            })
        })
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

    /// The connection sync daemon.
    pub(crate) fn sync(&self) -> &SyncDaemon {
        &self.sync
    }

    /// The namespace's sysctl settings.
    pub(crate) fn vars(&self) -> &VsVars {
        &self.vars
    }

    /// The defence modes.
    pub(crate) fn defense(&self) -> &Defense {
        &self.defense
    }

    /// Seeds of the persistence-engine template digests.
    pub(crate) fn pe_seeds(&self) -> &[u32; 4] {
        &self.pe.seeds
    }

    /// Whether real-server-started packets may create connections (a service with the SIP
    /// engine exists).
    pub(crate) fn conn_out(&self) -> bool {
        self.pe.conn_out.load(Relaxed)
    }

    /// Records whether a service with a persistence engine exists (the control plane, after
    /// each service change).
    pub(crate) fn set_conn_out(&self, on: bool) {
        self.pe.conn_out.store(on, Relaxed);
    }

    /// `ip_vs_find_real_service`: the first service and NAT destination whose real server is
    /// `addr`:`port` for `protocol` (or a fwmark service's). ip_vs looks in its hash of real
    /// servers, where NAT destinations are by port (tunnels by tunnel port, DR not at all).
    pub(crate) fn find_real_service<'a>(
        &'a self,
        af: u16,
        protocol: u8,
        addr: &[u8; 16],
        port: u16,
        guard: &'a RcuGuard,
    ) -> Option<(&'a Arc<Service>, &'a Arc<crate::svc::Dest>)> {
        let alen = if af == abi::AF_INET6 { 16 } else { 4 };
        self.table.read(guard).services().iter().find_map(|svc| {
            if svc.key.protocol != u16::from(protocol) && svc.key.fwmark == 0 {
                return None;
            }
            let d = svc.dests(guard).iter().find(|d| {
                d.port == port
                    && d.af == af
                    && d.addr[..alen] == addr[..alen]
                    && d.conn_flags.load(Relaxed) & abi::conn_flag::FWD_MASK == abi::conn_flag::MASQ
            })?;
            Some((svc, d))
        })
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
            let now = crate::kapi::jiffies64();
            let (lblc, lblcr) = (ns.vars.lblc_expiration(), ns.vars.lblcr_expiration());
            for svc in services {
                let mut s = svc.sched().lock();
                s.set_expiration(lblc, lblcr);
                s.check_expire(now);
            }
        }
    }
}

/// The namespace's defence work, every second in process context (ip_vs's `defense_work` on
/// `system_long_wq`: `si_meminfo` takes locks a softirq must not).
struct DefenseWork;

impl Job for DefenseWork {
    fn run(net: &Net) {
        let Some(ns) = Netns::of(net) else { return };
        if ns.defense.update(&ns.vars) {
            ns.defense.drop_entries(&ns.conns);
        }
    }
}

/// The destination trash's expiry (`ip_vs_dest_trash_expire`), in process context: it takes
/// the namespace's control lock.
struct TrashWork;

impl Job for TrashWork {
    fn run(net: &Net) {
        let Some(ns) = Netns::of(net) else { return };
        ns.lock().expire_trash();
    }
}

/// Devices going down: destinations forget routes through them (`ip_vs_dst_event`).
pub(crate) struct DevDown;

impl netdev::Down for DevDown {
    fn down(net: &Net, dev: &Device<'_>) {
        // No state: the namespace is still being set up, or rvs is loading.
        let Some(ns) = Netns::of(net) else { return };
        ns.lock().forget_dev(dev);
    }
}

static DEV_DOWN: netdev::Watch<DevDown> = netdev::Watch::new();

/// Starts watching devices go down, in every namespace.
pub(crate) fn watch_devices() -> Result<netdev::Registration<DevDown>> {
    DEV_DOWN.register()
}

/// Starts keeping state for every namespace; dropping the result drops all of it.
pub(crate) fn register() -> Result<pernet::Registration<Netns>> {
    PERNET.register()
}
