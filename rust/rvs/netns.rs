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
        new_mutex, Mutex,
    },
};

use crate::{
    kapi::{
        param,
        pernet::{self, Net, NetState, Pernet},
        proc::ProcEntry,
        rcu::RcuBox,
        sysctl::{Tree, VsVars},
    },
    procfs,
    rvs_core::abi,
    svc::{Ctl, Table},
};

/// The state rvs keeps for one network namespace.
#[pin_data]
pub(crate) struct Netns {
    /// `/proc/net/ip_vs` (`/proc/net/rvs` beside ip_vs). First field: dropped first, so no
    /// reader runs while the rest goes away.
    _proc_info: ProcEntry,
    /// Number of hash buckets of the connection table, reported by `IPVS_CMD_GET_INFO`.
    conn_tab_size: u32,
    /// The control plane's view of the services; every command holds it.
    #[pin]
    ctl: Mutex<Ctl>,
    /// The services as lock-free readers see them.
    table: RcuBox<Table>,
    /// The namespace's `net.ipv4.vs.*` settings (`net.rvs.*` with `ipvs_compat=0`), registered
    /// while the namespace has state.
    vars: VsVars,
}

static PERNET: Pernet<Netns> = Pernet::new();

impl NetState for Netns {
    fn pernet() -> &'static Pernet<Self> {
        &PERNET
    }

    fn init(net: &Net) -> impl PinInit<Self, Error> {
        let (name, tree) = if param::ipvs_compat() {
            (c_str!("ip_vs"), Tree::Ipvs)
        } else {
            // Beside ip_vs the names move (`/proc/net/rvs`, `net.rvs`), so the two never collide.
            (c_str!("rvs"), Tree::Rvs)
        };
        try_pin_init!(Self {
            table: RcuBox::new(Table::empty())?,
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
    pub(crate) fn table(&self) -> &RcuBox<Table> {
        &self.table
    }

    /// The namespace's sysctl settings.
    #[allow(dead_code)] // Read by the data path (later issues).
    pub(crate) fn vars(&self) -> &VsVars {
        &self.vars
    }
}

/// Starts keeping state for every namespace; dropping the result drops all of it.
pub(crate) fn register() -> Result<pernet::Registration<Netns>> {
    PERNET.register()
}
