//! rvs: the Linux Virtual Server (IPVS) as a Rust kernel module.
//!
//! This file is the crate root of `rvs.ko`: it lists the modules and brings the pieces up and
//! down in order. The netlink family comes up first, because taking the `IPVS` family is how rvs
//! finds out that ip_vs is loaded (ip_vs's `net.ipv4.vs` sysctls would make per-namespace state
//! fail less clearly); until per-namespace state exists, commands answer `ENODEV`. On unload the
//! family goes first, so no command reaches a namespace whose state is going away. `kapi/` is the
//! only place that touches C; the logic shared with the host (`rvs-core`) is compiled in from
//! `rust/rvs-core`.

use kernel::{
    error::code::{EBUSY, EEXIST},
    prelude::*,
};

mod conn;
mod ctl;
mod defense;
mod ftp;
mod hooks;
mod kapi;
mod netns;
mod nfct;
mod procfs;
mod sched;
mod stats;
mod svc;
mod sync;
mod xmit;

#[allow(dead_code, unused_attributes, unreachable_pub, unused_imports)]
#[path = "../rvs-core/src/lib.rs"]
mod rvs_core;

module! {
    type: Rvs,
    name: "rvs",
    author: "The rvs developers",
    description: "Linux Virtual Server (IPVS) in Rust",
    license: "GPL",
}

/// The loaded module. Fields drop in declaration order: the netlink family goes first, so no
/// command runs once per-namespace state starts going away; the RCU barrier goes last, so every
/// value retired by RCU is freed before the module's code is.
struct Rvs {
    _family: kapi::genl::Registration,
    _ip_vs_refused: Option<kapi::modwatch::Registration<IpVsOut>>,
    /// Before the namespaces: a device going down makes destinations forget their routes
    /// through it (an unregistration waits for them). Unregistering waits for a running
    /// callback (both hold RTNL), so none still uses a namespace's state when it is dropped.
    _dev_down: kapi::netdev::Registration<netns::DevDown>,
    _netns: kapi::pernet::Registration<netns::Netns>,
    /// After the namespaces (no hook makes more): the FTP helper's conntrack expectations,
    /// whose callback is rvs's code.
    _expectations: kapi::nfct::ExpectCleanup,
    _rcu: kapi::rcu::Barrier,
}

/// With `ipvs_compat=1` rvs holds ip_vs's names (the `IPVS` family, `/proc/net/ip_vs*`,
/// `net.ipv4.vs`), so ip_vs and the modules that need it are refused as they load.
struct IpVsOut;

impl kapi::modwatch::Policy for IpVsOut {
    fn refuse(name: &[u8]) -> Option<Error> {
        if name != b"ip_vs" {
            return None;
        }
        pr_err!(
            "refusing to load ip_vs: rvs (ipvs_compat=1) provides IPVS. Unload rvs first, or load \
             it with ipvs_compat=0 to run both\n"
        );
        Some(EBUSY)
    }
}

static IP_VS_OUT: kapi::modwatch::Veto<IpVsOut> = kapi::modwatch::Veto::new();

impl kernel::Module for Rvs {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let ipvs_compat = kapi::param::ipvs_compat();
        // ip_vs_ftp refuses a port given twice (`tcp_register_app`: -EEXIST).
        if let Some(port) = ftp::duplicate_port() {
            pr_err!("ftp_ports: port {port} is given twice\n");
            return Err(EEXIST);
        }
        let family = match ctl::register(module, ipvs_compat) {
            Ok(family) => family,
            Err(e) if e == EEXIST && ipvs_compat => {
                pr_err!(
                    "the IPVS generic-netlink family is taken: ip_vs is loaded. Unload it \
                     (modprobe -r ip_vs) or load rvs with ipvs_compat=0\n"
                );
                return Err(EBUSY);
            }
            Err(e) => return Err(e),
        };
        // ip_vs's own init would fail on our /proc/net/ip_vs with a WARNING: refuse it before.
        let ip_vs_refused = if ipvs_compat {
            Some(IP_VS_OUT.register()?)
        } else {
            None
        };
        let netns = netns::register()?;
        let dev_down = netns::watch_devices()?;
        pr_info!(
            "rvs {} loaded: IPVS ABI {}.{}.{}, generic-netlink family {}\n",
            rvs_core::RVS_VERSION,
            rvs_core::abi::IP_VS_VERSION_CODE >> 16,
            (rvs_core::abi::IP_VS_VERSION_CODE >> 8) & 0xff,
            rvs_core::abi::IP_VS_VERSION_CODE & 0xff,
            ctl::family_name(ipvs_compat)
        );
        Ok(Rvs {
            _family: family,
            _ip_vs_refused: ip_vs_refused,
            _netns: netns,
            _dev_down: dev_down,
            _expectations: kapi::nfct::ExpectCleanup,
            _rcu: kapi::rcu::Barrier,
        })
    }
}
