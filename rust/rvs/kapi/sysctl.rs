//! The sysctl tree of one network namespace: ip_vs's `net.ipv4.vs.*`, values and table.
//!
//! The table itself and the handlers that validate writes are C (`kapi/sysctl.c`, each handler
//! mirroring the ip_vs function it names), because a `ctl_table` is declarative data and its
//! handlers run inside the sysctl core's calling convention. [`VsVars`] owns one namespace's
//! registration: the values live until it is dropped, which unregisters the table first (waiting
//! for running handlers) and then frees them. Readers get each value with `READ_ONCE` semantics,
//! as ip_vs's `sysctl_*()` accessors do; the handlers store with `WRITE_ONCE`.

use core::ptr::{addr_of, addr_of_mut, NonNull};

use kernel::{
    c_str,
    error::{code::ENOMEM, to_result, Result},
    str::CStr,
};

use super::{bindings, pernet::Net};

/// Where a namespace's sysctls appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tree {
    /// `net.ipv4.vs`, ip_vs's own place (`ipvs_compat=1`).
    Ipvs,
    /// `net.rvs`, which never collides with ip_vs (`ipvs_compat=0`).
    Rvs,
}

impl Tree {
    /// The directory under `/proc/sys`.
    fn path(self) -> &'static CStr {
        match self {
            Tree::Ipvs => c_str!("net/ipv4/vs"),
            Tree::Rvs => c_str!("net/rvs"),
        }
    }
}

/// The sysctl values of one namespace, registered as a table while this value lives.
///
/// Values have ip_vs's types and units (`int`, jiffies where ip_vs keeps jiffies); each getter is
/// named after its sysctl and reads one value, so two getters may see values from different
/// writes (as ip_vs's readers may).
///
/// # Invariants
///
/// `vars` was returned by `rvs_sysctl_register` and stays valid until [`Drop`] unregisters it.
pub(crate) struct VsVars {
    vars: NonNull<bindings::rvs_vs_vars>,
}

// SAFETY: The values are plain integers that the sysctl handlers store with `WRITE_ONCE` and that
// `VsVars` only loads with volatile reads; the cpumask is only touched under its mutex in C. The
// allocation may be freed from any thread.
unsafe impl Send for VsVars {}

// SAFETY: See `Send`: every access through `&VsVars` is a single-copy-atomic load or a call that
// takes the C side's mutex.
unsafe impl Sync for VsVars {}

/// Getters that load one field with `READ_ONCE` semantics.
macro_rules! getters {
    ($($(#[$attr:meta])* $name:ident: $ty:ty = $field:ident;)*) => {$(
        $(#[$attr])*
        pub(crate) fn $name(&self) -> $ty {
            // SAFETY: `vars` is valid (type invariant); the handlers write the field with
            // `WRITE_ONCE`, and a volatile load of an aligned integer is `READ_ONCE`.
            unsafe { addr_of!((*self.vars.as_ptr()).$field).read_volatile() }
        }
    )*};
}

/// Setters that store one field with `WRITE_ONCE` semantics, for the values ip_vs itself writes
/// back (the defence modes' automatic 1/2 flips).
macro_rules! setters {
    ($($(#[$attr:meta])* $name:ident: $ty:ty = $field:ident;)*) => {$(
        $(#[$attr])*
        pub(crate) fn $name(&self, v: $ty) {
            // SAFETY: `vars` is valid (type invariant); a volatile store of an aligned integer
            // is `WRITE_ONCE`, which the handlers' `READ_ONCE`/`WRITE_ONCE` tolerate.
            unsafe { addr_of_mut!((*self.vars.as_ptr()).$field).write_volatile(v) }
        }
    )*};
}

// The data path and the sync daemon (later issues) read these.
#[allow(dead_code)]
impl VsVars {
    /// Allocates `net`'s values with ip_vs's defaults and registers their table under `tree`.
    ///
    /// Like ip_vs, a namespace owned by a user namespace other than the initial one gets
    /// `sync_qlen_max`, `sync_sock_size`, `run_estimation`, `est_cpulist` and `est_nice`
    /// read-only, and no `lblc_expiration`/`lblcr_expiration`.
    pub(crate) fn register(net: &Net, tree: Tree) -> Result<Self> {
        let mut vars = core::ptr::null_mut();
        // SAFETY: `net` is a live namespace (type invariant of `Net`), the path is a
        // NUL-terminated string (the sysctl core copies the directory names), and `vars` is
        // valid for writes.
        to_result(unsafe {
            bindings::rvs_sysctl_register(net.as_ptr(), tree.path().as_char_ptr(), &mut vars)
        })?;
        // INVARIANT: `rvs_sysctl_register` succeeded, so `vars` is its registered values.
        Ok(Self {
            vars: NonNull::new(vars).ok_or(ENOMEM)?,
        })
    }

    getters! {
        /// `amemthresh`: available memory (pages) below which automatic defense modes engage.
        amemthresh: i32 = amemthresh;
        /// `am_droprate`: drop 1 packet in this many when `drop_packet` is 3.
        am_droprate: i32 = am_droprate;
        /// `drop_entry`: defense mode 0..3 (randomly drop connection entries).
        drop_entry: i32 = drop_entry;
        /// `drop_packet`: defense mode 0..3 (drop packets at a rate).
        drop_packet: i32 = drop_packet;
        /// `conntrack`: keep netfilter conntrack entries for IPVS connections.
        conntrack: i32 = conntrack;
        /// `secure_tcp`: defense mode 0..3 (the stricter TCP state table).
        secure_tcp: i32 = secure_tcp;
        /// `snat_reroute`: re-route SNATed replies as locally originated packets.
        snat_reroute: i32 = snat_reroute;
        /// `sync_version`: sync message format, 0 or 1.
        sync_version: i32 = sync_ver;
        /// `sync_ports`: number of sync threads, a power of 2.
        sync_ports: i32 = sync_ports;
        /// `sync_persist_mode`: sync only templates of persistent services.
        sync_persist_mode: i32 = sync_persist_mode;
        /// `sync_qlen_max`: limit of queued sync messages (default free buffer pages / 32).
        sync_qlen_max: usize = sync_qlen_max;
        /// `sync_sock_size`: sync socket buffer size, 0 for the system default.
        sync_sock_size: i32 = sync_sock_size;
        /// `cache_bypass`: forward to the original destination when no real server is available.
        cache_bypass: i32 = cache_bypass;
        /// `expire_nodest_conn`: expire a connection whose destination is unavailable.
        expire_nodest_conn: i32 = expire_nodest_conn;
        /// `sloppy_tcp`: create connections from any TCP packet, not only SYN.
        sloppy_tcp: i32 = sloppy_tcp;
        /// `sloppy_sctp`: create connections from any SCTP chunk, not only INIT.
        sloppy_sctp: i32 = sloppy_sctp;
        /// `expire_quiescent_template`: expire templates pointing to a weight-0 destination.
        expire_quiescent_template: i32 = expire_quiescent_template;
        /// `sync_refresh_period`, in jiffies (the sysctl shows seconds).
        sync_refresh_period: u32 = sync_refresh_period;
        /// `sync_retries`: 0..3 resends of sync messages.
        sync_retries: i32 = sync_retries;
        /// `nat_icmp_send`: answer packets of unknown connections from NAT real servers.
        nat_icmp_send: i32 = nat_icmp_send;
        /// `pmtu_disc`: reject DF packets above the path MTU for every forwarding method.
        pmtu_disc: i32 = pmtu_disc;
        /// `backup_only`: the raw sysctl (ip_vs also requires a running backup daemon).
        backup_only: i32 = backup_only;
        /// `conn_reuse_mode`: bitmap of when a new SYN reschedules a reused connection.
        conn_reuse_mode: i32 = conn_reuse_mode;
        /// `schedule_icmp`: schedule connections for ICMP errors without one.
        schedule_icmp: i32 = schedule_icmp;
        /// `ignore_tunneled`: mark packets of unknown protocols as IPVS's own.
        ignore_tunneled: i32 = ignore_tunneled;
        /// `run_estimation`: 0 suspends rate estimation.
        run_estimation: i32 = run_estimation;
        /// `est_nice`: nice value (-20..19) of the estimator threads.
        est_nice: i32 = est_nice;
        /// `lblc_expiration`, in jiffies (the sysctl shows seconds).
        lblc_expiration: i32 = lblc_expiration;
        /// `lblcr_expiration`, in jiffies (the sysctl shows seconds).
        lblcr_expiration: i32 = lblcr_expiration;
    }

    setters! {
        /// Stores `drop_entry` (`update_defense_level`).
        set_drop_entry: i32 = drop_entry;
        /// Stores `drop_packet`.
        set_drop_packet: i32 = drop_packet;
        /// Stores `secure_tcp`.
        set_secure_tcp: i32 = secure_tcp;
    }

    /// `sync_threshold`: (threshold, period); a connection is synced when its packet count
    /// modulo the period equals the threshold, and once per state change when the period is 0.
    pub(crate) fn sync_threshold(&self) -> (i32, i32) {
        let pair: *const [i32; 2] = {
            // SAFETY: `vars` is valid (type invariant); this only computes a field address.
            unsafe { addr_of!((*self.vars.as_ptr()).sync_threshold) }
        };
        // SAFETY: `pair` points to two aligned `int`s that the handler writes with `WRITE_ONCE`.
        unsafe {
            (
                addr_of!((*pair)[0]).read_volatile(),
                addr_of!((*pair)[1]).read_volatile(),
            )
        }
    }

    /// Whether `cpu` is in `est_cpulist` (process context: takes a mutex).
    pub(crate) fn est_cpu_allowed(&self, cpu: u32) -> bool {
        // SAFETY: `vars` is valid (type invariant); the call locks the cpumask.
        unsafe { bindings::rvs_sysctl_est_cpu_allowed(self.vars.as_ptr(), cpu) }
    }

    /// Number of CPUs in `est_cpulist`; 0 stops estimation (process context: takes a mutex).
    pub(crate) fn est_cpus(&self) -> u32 {
        // SAFETY: `vars` is valid (type invariant); the call locks the cpumask.
        unsafe { bindings::rvs_sysctl_est_cpus(self.vars.as_ptr()) }
    }
}

impl Drop for VsVars {
    fn drop(&mut self) {
        // SAFETY: `vars` was registered by `rvs_sysctl_register` (type invariant) and is
        // unregistered only here; nothing uses it afterwards.
        unsafe { bindings::rvs_sysctl_unregister(self.vars.as_ptr()) };
    }
}
