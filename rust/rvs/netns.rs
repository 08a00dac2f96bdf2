//! Per-namespace state of rvs, the counterpart of ip_vs's `struct netns_ipvs`.
//!
//! Every network namespace gets its own [`Netns`] when it is created (or when rvs loads), and
//! loses it when it goes away: services, connections and settings of one namespace are never
//! visible from another.

use kernel::error::Result;

use crate::{
    kapi::{
        param,
        pernet::{self, Net, NetState, Pernet},
        sysctl::{Tree, VsVars},
    },
    rvs_core::abi,
};

/// The state rvs keeps for one network namespace.
pub(crate) struct Netns {
    /// Number of hash buckets of the connection table, reported by `IPVS_CMD_GET_INFO`.
    conn_tab_size: u32,
    /// The namespace's `net.ipv4.vs.*` settings (`net.rvs.*` with `ipvs_compat=0`), registered
    /// while the namespace has state.
    vars: VsVars,
}

static PERNET: Pernet<Netns> = Pernet::new();

impl NetState for Netns {
    fn pernet() -> &'static Pernet<Self> {
        &PERNET
    }

    fn init(net: &Net) -> Result<Self> {
        // Beside ip_vs (`ipvs_compat=0`) the tree moves to `net.rvs`, so the two never collide.
        let tree = if param::ipvs_compat() {
            Tree::Ipvs
        } else {
            Tree::Rvs
        };
        Ok(Self {
            conn_tab_size: abi::CONN_TAB_DEFAULT_SIZE,
            vars: VsVars::register(net, tree)?,
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
