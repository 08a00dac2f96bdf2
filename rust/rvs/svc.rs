//! Virtual services and their real servers, per namespace: the tables the control plane edits
//! and the data path reads.
//!
//! Two views of the same objects:
//!
//! - [`Ctl`], behind the namespace's mutex (ip_vs's `__ip_vs_mutex`), is what commands read and
//!   change. Every command runs with it held, so commands are serialised.
//! - What readers see without locks is published through RCU: the namespace's [`Table`] of
//!   services, and per [`Service`] its configuration ([`SvcConf`]) and its list of [`Dest`]s.
//!   Every change builds a new immutable value and publishes it with [`RcuBox::replace`]; the old
//!   one is freed after a grace period. Publishing never sleeps on readers, so a reader in
//!   softirq context (the packet path) never waits for a writer.
//!
//! A destination's mutable settings (weight, forwarding method, thresholds, tunnel) and its
//! counters are atomics in the shared [`Dest`], as in ip_vs, so that editing a destination keeps
//! its identity and counters and needs no republication.
//!
//! A deleted destination goes to the namespace's trash (ip_vs's `dest_trash`) while connections
//! still use it, and for two minutes after they are gone; added again to a service with the same
//! identity, it comes back with its connections, which carry on (`ip_vs_trash_get_dest`).
//!
//! Errors are ip_vs's, in ip_vs's order (`ip_vs_genl_set_cmd`, `ip_vs_add_service`,
//! `ip_vs_edit_service`, `ip_vs_add_dest`, `ip_vs_edit_dest`, `ip_vs_del_dest`).

use core::{
    pin::Pin,
    sync::atomic::{AtomicBool, AtomicI32, AtomicU16, AtomicU32, AtomicU8, Ordering::Relaxed},
};

use kernel::{
    alloc::{flags::GFP_KERNEL, KBox, KVec},
    error::{
        code::{EEXIST, EINVAL, ENOENT},
        Error, Result,
    },
    init::InPlaceInit,
    sync::Arc,
};

use crate::{
    kapi::{
        jiffies64,
        lock::{new_spinlock_bh, SpinLockBh},
        netdev::Device,
        netfilter::Hooks,
        nfct::NetnsConntrack,
        pernet::Net,
        rcu::{self, Guard, RcuBox},
        route::RouteCache,
    },
    rvs_core::{
        abi::{self, conn_flag, svc_flag},
        netlink::{self, ipvs::PeName, ipvs::SchedName, Service as SvcMsg},
        proto::{sctp::SctpData, tcp::TcpData, tcp::TcpState, udp::UdpData},
        sched::{
            self,
            dirty::DirtySet,
            threshold::{OverloadEvent, Thresholds},
        },
    },
    sched::SchedState,
    stats::Stats,
};

/// The kernel errno of a codec error.
pub(crate) fn codec_err(e: netlink::Error) -> Error {
    Error::from_errno(e.to_kernel())
}

/// `HZ` of our kernel: ip_vs keeps timeouts in jiffies and reports them divided by it.
pub(crate) const HZ: u32 = crate::kapi::HZ;

/// Persistence engines rvs accepts by name (ip_vs has `sip` only).
const PE_NAMES: [&[u8]; 1] = [b"sip"];

/// What identifies a service: `(af, protocol, addr, port)`, or `(af, fwmark)` when `fwmark` is
/// not 0.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct SvcKey {
    pub(crate) af: u16,
    pub(crate) protocol: u16,
    pub(crate) addr: [u8; 16],
    pub(crate) port: u16,
    pub(crate) fwmark: u32,
}

/// An address as ip_vs copies it (`ip_vs_addr_copy`): IPv4 keeps its first 4 bytes only.
fn addr_of(af: u16, addr: &[u8; 16]) -> [u8; 16] {
    let mut out = *addr;
    if af != abi::AF_INET6 {
        for b in out.iter_mut().skip(4) {
            *b = 0;
        }
    }
    out
}

impl SvcKey {
    /// The identity of a decoded service message.
    pub(crate) fn of(msg: &SvcMsg) -> Self {
        if msg.fwmark != 0 {
            Self {
                af: msg.af,
                protocol: abi::IPPROTO_TCP,
                addr: [0; 16],
                port: 0,
                fwmark: msg.fwmark,
            }
        } else {
            Self {
                af: msg.af,
                protocol: msg.protocol,
                addr: addr_of(msg.af, &msg.addr),
                port: msg.port,
                fwmark: 0,
            }
        }
    }

    /// The identity part of a service message.
    fn fill(&self, msg: &mut SvcMsg) {
        msg.af = self.af;
        msg.protocol = self.protocol;
        msg.addr = self.addr;
        msg.port = self.port;
        msg.fwmark = self.fwmark;
    }
}

/// A service's settings, replaced as a whole by `SET_SERVICE`.
#[derive(Clone, Copy)]
pub(crate) struct SvcConf {
    /// Scheduler (`"none"` for a service without one).
    pub(crate) sched: SchedName,
    /// Persistence engine.
    pub(crate) pe: Option<PeName>,
    /// `IP_VS_SVC_F_*`, with `HASHED` set as ip_vs reports it for every listed service.
    pub(crate) flags: u32,
    /// Persistence timeout in jiffies (`timeout * HZ`, wrapping like ip_vs's `unsigned`).
    pub(crate) timeout: u32,
    /// `__be32 netmask` as ip_vs holds it (IPv6: the prefix length).
    pub(crate) netmask: u32,
}

/// A virtual service as readers see it.
pub(crate) struct Service {
    /// Its identity, fixed for its lifetime.
    pub(crate) key: SvcKey,
    conf: RcuBox<SvcConf>,
    dests: RcuBox<DestList>,
    /// Its traffic counters (its destinations count into them too).
    pub(crate) stats: Arc<Stats>,
    /// Its scheduler, bound to its destinations.
    sched: Pin<KBox<SpinLockBh<SchedState>>>,
    /// Which destinations changed since the scheduler last looked (its destinations mark it).
    dirty: Arc<DirtySet>,
}

impl Service {
    /// The service's current settings.
    pub(crate) fn conf<'a>(&'a self, guard: &'a Guard) -> &'a SvcConf {
        self.conf.read(guard)
    }

    /// The service's destinations, newest first (ip_vs's list order).
    pub(crate) fn dests<'a>(&'a self, guard: &'a Guard) -> &'a [Arc<Dest>] {
        &self.dests.read(guard).0
    }

    /// The scheduler (locked with bottom halves off, as the packet path takes it).
    pub(crate) fn sched(&self) -> &SpinLockBh<SchedState> {
        &self.sched
    }

    /// Tells the scheduler that the destination list became `dests` by adding `dests[at]`
    /// (`added`) or removing the one at `at` (process context).
    fn sched_change(&self, conf: &SvcConf, dests: &[Arc<Dest>], at: usize, added: bool) -> Result {
        SchedState::change(
            &self.sched,
            conf.sched.as_bytes(),
            self.key.af,
            conf.flags,
            dests,
            at,
            added,
        )
    }

    /// Binds a new scheduler state built for `conf` over `dests` (process context). Built
    /// before anything changes, so running out of memory changes nothing.
    fn rebuild_sched(&self, conf: &SvcConf, dests: &[Arc<Dest>]) -> Result {
        let state = SchedState::build(
            conf.sched.as_bytes(),
            self.key.af,
            conf.flags,
            dests,
            &self.dirty,
        )?;
        SchedState::install(&self.sched, state);
        Ok(())
    }
}

/// What a destination shares with the service it belongs to (ip_vs's `dest->svc`): re-pointed
/// when it comes back from the trash into a service created anew.
pub(crate) struct SvcLink {
    /// The service's traffic counters.
    pub(crate) stats: Arc<Stats>,
    /// The service's record of which destinations changed since the last pick.
    pub(crate) dirty: Arc<DirtySet>,
}

/// A real server. Identity fixed; settings and counters atomic.
pub(crate) struct Dest {
    /// Address family (may differ from the service's for tunnelled IPv4-in-IPv6 and back).
    pub(crate) af: u16,
    /// Address, IPv4 in the first 4 bytes.
    pub(crate) addr: [u8; 16],
    /// Port.
    pub(crate) port: u16,
    /// `IP_VS_CONN_F_*`: forwarding method and the flags ip_vs derives from it.
    pub(crate) conn_flags: AtomicU32,
    /// Weight.
    pub(crate) weight: AtomicI32,
    /// The last non-zero weight (ip_vs's `last_weight`).
    pub(crate) last_weight: AtomicI32,
    /// Upper connection threshold (0: none).
    pub(crate) u_threshold: AtomicU32,
    /// Lower connection threshold.
    pub(crate) l_threshold: AtomicU32,
    /// Tunnel type.
    pub(crate) tun_type: AtomicU8,
    /// GUE port.
    pub(crate) tun_port: AtomicU16,
    /// Tunnel flags.
    pub(crate) tun_flags: AtomicU16,
    /// Active connections.
    pub(crate) activeconns: AtomicU32,
    /// All connections, active or not (6.12.117's `totalconns`; inactive = total - active).
    pub(crate) totalconns: AtomicU32,
    /// Persistence templates.
    pub(crate) persistconns: AtomicU32,
    /// `IP_VS_DEST_F_OVERLOAD`: the upper threshold was reached.
    pub(crate) overloaded: AtomicBool,
    /// `IP_VS_DEST_CF_AVAILABLE`: still a destination of its service (cleared on deletion, so
    /// its connections stop forwarding).
    pub(crate) available: AtomicBool,
    /// Its traffic counters.
    pub(crate) stats: Stats,
    /// Its service's counters and dirty set.
    link: RcuBox<SvcLink>,
    /// The route to it (`dest_dst`), forgotten when it is edited.
    pub(crate) route: RouteCache,
    /// Its index in the scheduler's list (`u32::MAX` when it has none), marked in its service's
    /// dirty set when its counters or settings change.
    pub(crate) sched_slot: AtomicU32,
}

impl Dest {
    /// Tells the scheduler this destination's counters or settings changed (it refreshes its
    /// view of the destination before the next pick).
    pub(crate) fn touch(&self) {
        let slot = self.sched_slot.load(Relaxed);
        if slot != u32::MAX {
            let guard = rcu::read_lock();
            self.link.read(&guard).dirty.mark(slot as usize);
        }
    }

    /// Counts a packet (from the real server if `out`) in the destination's, its service's and
    /// `total`'s counters, with one call (the packet path's `ip_vs_in_stats`/`ip_vs_out_stats`).
    pub(crate) fn count_packet(&self, total: &Stats, out: bool, len: u32, guard: &Guard) {
        let svc = &self.link.read(guard).stats;
        self.stats.packet3(svc, total, out, len);
    }

    /// Whether connections still use it (bound to it: connections count in `totalconns`,
    /// templates in `persistconns`; ip_vs's `refcnt > 1`).
    fn in_use(&self) -> bool {
        self.totalconns.load(Relaxed) != 0 || self.persistconns.load(Relaxed) != 0
    }

    /// `__ip_vs_dest_update_overload`: reconsiders the overload flag after `event`.
    pub(crate) fn update_overload(&self, event: OverloadEvent) {
        let th = Thresholds::new(
            self.u_threshold.load(Relaxed),
            self.l_threshold.load(Relaxed),
        );
        let now = th.overloaded(
            event,
            self.totalconns.load(Relaxed) as i32,
            self.overloaded.load(Relaxed),
        );
        self.overloaded.store(now, Relaxed);
    }

    /// ip_vs's `ip_vs_lookup_dest` comparison.
    fn is(&self, af: u16, addr: &[u8; 16], port: u16) -> bool {
        self.af == af && sched::addr_equal(af, &self.addr, addr) && self.port == port
    }

    /// `__ip_vs_update_dest`'s settings part.
    fn update(&self, msg: &netlink::Dest, add: bool) {
        if add || msg.weight != 0 {
            self.last_weight.store(msg.weight, Relaxed);
        }
        self.weight.store(msg.weight, Relaxed);
        let mut flags = (msg.fwd_method & conn_flag::DEST_MASK) | conn_flag::INACTIVE;
        if flags & conn_flag::FWD_MASK != conn_flag::MASQ {
            flags |= conn_flag::NOOUTPUT;
        }
        self.tun_type.store(msg.tun_type, Relaxed);
        self.tun_port.store(msg.tun_port, Relaxed);
        self.tun_flags.store(msg.tun_flags, Relaxed);
        self.conn_flags.store(flags, Relaxed);
        // A new method may route differently (`__ip_vs_dst_cache_reset`).
        self.route.reset();
        self.u_threshold.store(msg.u_threshold, Relaxed);
        self.l_threshold.store(msg.l_threshold, Relaxed);
        self.update_overload(OverloadEvent::Edit);
        self.touch();
    }

    /// The destination as `ip_vs_genl_fill_dest` reports it.
    pub(crate) fn to_msg(&self) -> netlink::Dest {
        netlink::Dest {
            addr: self.addr,
            port: self.port,
            af: self.af,
            fwd_method: self.conn_flags.load(Relaxed) & conn_flag::FWD_MASK,
            weight: self.weight.load(Relaxed),
            u_threshold: self.u_threshold.load(Relaxed),
            l_threshold: self.l_threshold.load(Relaxed),
            tun_type: self.tun_type.load(Relaxed),
            tun_port: self.tun_port.load(Relaxed),
            tun_flags: self.tun_flags.load(Relaxed),
            active_conns: self.activeconns.load(Relaxed),
            inact_conns: (self.totalconns.load(Relaxed) as i32)
                .wrapping_sub(self.activeconns.load(Relaxed) as i32)
                .max(0) as u32,
            persist_conns: self.persistconns.load(Relaxed),
            stats: Some(self.stats.report()),
            stats64: Some(self.stats.report()),
        }
    }
}

/// A service's destinations, newest first.
pub(crate) struct DestList(KVec<Arc<Dest>>);

/// The services of a namespace, as readers see them: address services in creation order, then
/// fwmark services in creation order.
pub(crate) struct Table(KVec<Arc<Service>>);

impl Table {
    /// An empty table.
    pub(crate) fn empty() -> Self {
        Self(KVec::new())
    }

    /// The services.
    pub(crate) fn services(&self) -> &[Arc<Service>] {
        &self.0
    }
}

/// A copy of `items`, with `first` in front if given.
fn copy_list<T>(first: Option<&Arc<T>>, items: &[Arc<T>]) -> Result<KVec<Arc<T>>> {
    let mut out = KVec::with_capacity(items.len() + 1, GFP_KERNEL)?;
    if let Some(first) = first {
        out.push(first.clone(), GFP_KERNEL)?;
    }
    out.extend_from_slice(items, GFP_KERNEL)?;
    Ok(out)
}

/// A copy of `items` without element `index`.
fn copy_without<T>(items: &[Arc<T>], index: usize) -> Result<KVec<Arc<T>>> {
    let mut out = KVec::with_capacity(items.len(), GFP_KERNEL)?;
    for (i, item) in items.iter().enumerate() {
        if i != index {
            out.push(item.clone(), GFP_KERNEL)?;
        }
    }
    Ok(out)
}

/// One service as the control plane holds it.
struct Entry {
    svc: Arc<Service>,
    /// Which creation of a service with this identity it is (numbered per namespace): a
    /// destination revived from the trash into another one starts its counters from zero, as
    /// ip_vs's `__ip_vs_update_dest` zeroes them when `dest->svc` changes.
    incarnation: u64,
    conf: SvcConf,
    /// Newest first.
    dests: KVec<Arc<Dest>>,
    /// Conntrack's hooks, held once an FTP service got a NAT real server
    /// (`ip_vs_register_conntrack`) and until the service goes.
    conntrack: Option<NetnsConntrack>,
}

impl Entry {
    /// `__ip_vs_update_dest`'s "FTP-NAT requires conntrack for mangling": a NAT real server
    /// of a service on the FTP port (any protocol, as ip_vs asks only for the port) or of a TCP
    /// service on another of the helper's ports takes conntrack's hooks for the service's
    /// family, once. A failure leaves the service as it is, as in ip_vs.
    fn register_conntrack(&mut self, dest: &Dest, net: &Net) {
        let k = &self.svc.key;
        if self.conntrack.is_some()
            || k.fwmark != 0
            || dest.conn_flags.load(Relaxed) & conn_flag::FWD_MASK != conn_flag::MASQ
            || !crate::ftp::needs_conntrack(k.protocol, k.port)
        {
            return;
        }
        self.conntrack = NetnsConntrack::get(net, k.af).ok();
    }
}

/// A deleted destination in the trash (ip_vs's `dest_trash`).
struct Trashed {
    /// The identity and incarnation of the service it was deleted from.
    svc: SvcKey,
    incarnation: u64,
    dest: Arc<Dest>,
    /// When the trash's expiry first found it unused (jiffies; 0: not yet), ip_vs's
    /// `idle_start`.
    idle_start: u64,
}

/// How long an unused destination stays in the trash after the expiry first finds it unused
/// (`IP_VS_DEST_TRASH_PERIOD`); the expiry runs every half of it.
pub(crate) const TRASH_PERIOD_SECS: u32 = 120;

/// Connection timeouts of `--set`, in seconds (ip_vs keeps them in its protocol tables).
#[derive(Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) tcp: u32,
    pub(crate) tcp_fin: u32,
    pub(crate) udp: u32,
}

/// The control plane's view of a namespace's services, behind the namespace's mutex.
pub(crate) struct Ctl {
    /// Address services then fwmark services, each in creation order (the dump order).
    entries: KVec<Entry>,
    timeouts: Timeouts,
    /// The netfilter hooks of each family, registered while the namespace has a service of
    /// that family (ip_vs's `hooks_afmask`).
    hooks4: Option<Hooks>,
    hooks6: Option<Hooks>,
    /// Deleted destinations that may come back; `None` is a free slot (a slot is freed without
    /// moving the others, so freeing never allocates).
    trash: KVec<Option<Trashed>>,
    /// Services created so far (numbers their incarnations).
    created: u64,
}

impl Ctl {
    /// An empty namespace with ip_vs's default timeouts (15 min, 2 min, 5 min).
    pub(crate) fn new() -> Self {
        Self {
            entries: KVec::new(),
            timeouts: Timeouts {
                tcp: 15 * 60,
                tcp_fin: 2 * 60,
                udp: 5 * 60,
            },
            hooks4: None,
            hooks6: None,
            trash: KVec::new(),
            created: 0,
        }
    }

    /// Makes room in the trash for `n` more destinations, so that putting them there cannot
    /// fail.
    fn trash_room(&mut self, n: usize) -> Result {
        let free = self.trash.iter().filter(|t| t.is_none()).count();
        if free < n {
            self.trash.reserve(n - free, GFP_KERNEL)?;
        }
        Ok(())
    }

    /// Puts `dest`, just deleted from service `e`, in the trash (`__ip_vs_del_dest`), in room
    /// made by [`Ctl::trash_room`]. Its connections stop forwarding, and it stops marking the
    /// service's scheduler, which no longer lists it.
    fn trash_put(trash: &mut KVec<Option<Trashed>>, e: &Entry, dest: Arc<Dest>) {
        dest.available.store(false, Relaxed);
        dest.sched_slot.store(u32::MAX, Relaxed);
        // Its cached route would hold the device while it waits here, and a namespace going
        // away would wait for it (ip_vs's `ip_vs_dst_event` forgets trashed destinations' routes).
        dest.route.reset();
        let t = Trashed {
            svc: e.svc.key,
            incarnation: e.incarnation,
            dest,
            idle_start: 0,
        };
        match trash.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some(t),
            // Within the room reserved: no allocation, cannot fail.
            None => {
                let _ = trash.push(Some(t), GFP_KERNEL);
            }
        }
    }

    /// `ip_vs_dest_trash_expire`, every half trash period: frees the destinations that have
    /// been unused for a whole period since the expiry first found them unused.
    pub(crate) fn expire_trash(&mut self) {
        let now = jiffies64();
        let period = u64::from(TRASH_PERIOD_SECS * HZ);
        for slot in self.trash.iter_mut() {
            let Some(t) = slot else { continue };
            if t.dest.in_use() {
                continue;
            }
            if t.idle_start == 0 {
                t.idle_start = now.max(1);
            } else if now.wrapping_sub(t.idle_start) as i64 >= period as i64 {
                *slot = None;
            }
        }
    }

    /// Device `dev` went down (`ip_vs_dst_event`): every destination, live or in the trash,
    /// whose cached route goes out through it forgets that route, so the device can be
    /// unregistered (a namespace going away unregisters its devices before rvs's state goes).
    pub(crate) fn forget_dev(&self, dev: &Device<'_>) {
        let live = self.entries.iter().flat_map(|e| e.dests.iter());
        let trashed = self.trash.iter().flatten().map(|t| &t.dest);
        for dest in live.chain(trashed) {
            dest.route.forget_dev(dev);
        }
    }

    /// Whether a destination's family differs from its service's (ip_vs's
    /// `mixed_address_family_dests` is not 0): the sync protocol cannot carry those.
    pub(crate) fn has_mixed_af_dests(&self) -> bool {
        self.entries
            .iter()
            .any(|e| e.dests.iter().any(|d| d.af != e.svc.key.af))
    }

    /// Whether a service has a persistence engine (ip_vs's `conn_out_counter` is not 0).
    pub(crate) fn has_pe(&self) -> bool {
        self.entries.iter().any(|e| e.conf.pe.is_some())
    }

    /// Registers the hooks of each family that has a service and unregisters the others
    /// (after every service change, like `ip_vs_register_hooks`/`ip_vs_unregister_hooks`).
    /// Unregistering waits until no hook runs.
    pub(crate) fn sync_hooks(&mut self, net: &Net) -> Result {
        let has = |af| self.entries.iter().any(|e| e.svc.key.af == af);
        let (want4, want6) = (has(abi::AF_INET), has(abi::AF_INET6));
        if !want4 {
            self.hooks4 = None;
        } else if self.hooks4.is_none() {
            self.hooks4 = Some(Hooks::register(net, false)?);
        }
        if !want6 {
            self.hooks6 = None;
        } else if self.hooks6.is_none() {
            self.hooks6 = Some(Hooks::register(net, true)?);
        }
        Ok(())
    }

    /// ZERO: the counters of one service and its destinations, or of all of them.
    pub(crate) fn zero(&self, key: Option<&SvcKey>) -> Result {
        match key {
            Some(k) => {
                let i = self.find(k).ok_or(EINVAL)?;
                Self::zero_entry(&self.entries[i]);
            }
            None => self.entries.iter().for_each(Self::zero_entry),
        }
        Ok(())
    }

    fn zero_entry(e: &Entry) {
        e.svc.stats.zero();
        for d in &e.dests {
            d.stats.zero();
        }
    }

    fn find(&self, key: &SvcKey) -> Option<usize> {
        self.entries.iter().position(|e| {
            let k = &e.svc.key;
            if key.fwmark != 0 {
                k.fwmark == key.fwmark && k.af == key.af
            } else {
                k.fwmark == 0
                    && k.af == key.af
                    && k.protocol == key.protocol
                    && k.port == key.port
                    && sched::addr_equal(key.af, &k.addr, &key.addr)
            }
        })
    }

    /// Publishes to readers the service list as it will be once `skip` (an index) is removed or
    /// `insert` (an index and a service) is added. Callers publish before they change `entries`
    /// and change them only in ways that cannot fail, so a failed publication (out of memory)
    /// leaves readers and the control plane agreeing.
    fn publish(
        &self,
        skip: Option<usize>,
        insert: Option<(usize, &Arc<Service>)>,
        table: &RcuBox<Table>,
    ) -> Result {
        let mut list = KVec::with_capacity(self.entries.len() + 1, GFP_KERNEL)?;
        for (i, e) in self.entries.iter().enumerate() {
            if let Some((at, svc)) = insert {
                if at == i {
                    list.push(svc.clone(), GFP_KERNEL)?;
                }
            }
            if skip != Some(i) {
                list.push(e.svc.clone(), GFP_KERNEL)?;
            }
        }
        if let Some((at, svc)) = insert {
            if at >= self.entries.len() {
                list.push(svc.clone(), GFP_KERNEL)?;
            }
        }
        table.replace(Table(list))
    }

    /// The settings a NEW_SERVICE/SET_SERVICE message asks for, checked as `ip_vs_add_service`
    /// and `ip_vs_edit_service` check them: scheduler, then persistence engine (`-ENOENT`), then
    /// the IPv6 prefix length (`-EINVAL`). `old_flags` is the existing service's.
    fn conf_of(msg: &SvcMsg, old_flags: u32) -> Result<SvcConf> {
        if !msg.has_no_scheduler() && !sched::is_known(msg.sched_name.as_bytes()) {
            return Err(ENOENT);
        }
        let pe = match msg.pe_name {
            Some(pe) if !pe.is_empty() => {
                if !PE_NAMES.contains(&pe.as_bytes()) {
                    return Err(ENOENT);
                }
                Some(pe)
            }
            _ => None,
        };
        msg.check_netmask().map_err(codec_err)?;
        Ok(SvcConf {
            sched: msg.sched_name,
            pe,
            flags: msg.flags.apply(old_flags) | svc_flag::HASHED,
            timeout: msg.timeout.wrapping_mul(HZ),
            netmask: msg.netmask,
        })
    }

    /// NEW_SERVICE.
    pub(crate) fn add_service(&mut self, msg: &SvcMsg, table: &RcuBox<Table>) -> Result {
        let key = SvcKey::of(msg);
        if self.find(&key).is_some() {
            return Err(EEXIST);
        }
        let conf = Self::conf_of(msg, 0)?;
        let dirty = Arc::new(DirtySet::new(), GFP_KERNEL)?;
        let svc = Arc::new(
            Service {
                key,
                conf: RcuBox::new(conf)?,
                dests: RcuBox::new(DestList(KVec::new()))?,
                stats: Arc::new(Stats::new()?, GFP_KERNEL)?,
                sched: KBox::pin_init(
                    new_spinlock_bh!(SchedState::empty(dirty.clone()), "rvs_sched"),
                    GFP_KERNEL,
                )?,
                dirty,
            },
            GFP_KERNEL,
        )?;
        svc.rebuild_sched(&conf, &[])?;
        // Address services before fwmark services, as ip_vs dumps its two tables.
        let at = if key.fwmark != 0 {
            self.entries.len()
        } else {
            self.entries
                .iter()
                .position(|e| e.svc.key.fwmark != 0)
                .unwrap_or(self.entries.len())
        };
        let mut entries = KVec::with_capacity(self.entries.len() + 1, GFP_KERNEL)?;
        self.publish(None, Some((at, &svc)), table)?;
        self.created += 1;
        let mut new = Some(Entry {
            svc,
            incarnation: self.created,
            conf,
            dests: KVec::new(),
            conntrack: None,
        });
        let old = core::mem::replace(&mut self.entries, KVec::new());
        // Every push below is within the capacity reserved above: none allocates or fails.
        for (i, e) in old.into_iter().enumerate() {
            if i == at {
                if let Some(n) = new.take() {
                    let _ = entries.push(n, GFP_KERNEL);
                }
            }
            let _ = entries.push(e, GFP_KERNEL);
        }
        if let Some(n) = new.take() {
            let _ = entries.push(n, GFP_KERNEL);
        }
        self.entries = entries;
        Ok(())
    }

    /// SET_SERVICE, on an existing service (the caller answered `-ESRCH` otherwise).
    pub(crate) fn edit_service(&mut self, msg: &SvcMsg) -> Result {
        let i = self.find(&SvcKey::of(msg)).ok_or(EINVAL)?;
        let entry = &mut self.entries[i];
        let conf = Self::conf_of(msg, entry.conf.flags)?;
        let sched_changed =
            conf.sched.as_bytes() != entry.conf.sched.as_bytes() || conf.flags != entry.conf.flags;
        if sched_changed {
            entry.svc.rebuild_sched(&conf, &entry.dests)?;
        }
        entry.svc.conf.replace(conf)?;
        entry.conf = conf;
        Ok(())
    }

    /// DEL_SERVICE, on an existing service.
    pub(crate) fn del_service(&mut self, key: &SvcKey, table: &RcuBox<Table>) -> Result {
        let i = self.find(key).ok_or(EINVAL)?;
        let mut kept = KVec::with_capacity(self.entries.len(), GFP_KERNEL)?;
        self.trash_room(self.entries[i].dests.len())?;
        self.publish(Some(i), None, table)?;
        let old = core::mem::replace(&mut self.entries, KVec::new());
        // Dropping the removed entry only drops references: readers keep theirs until the
        // table that still lists the service is freed after a grace period.
        for (j, e) in old.into_iter().enumerate() {
            if j == i {
                Self::trash_dests(&mut self.trash, e);
            } else {
                // Within the capacity reserved above, so it does not allocate and cannot fail.
                let _ = kept.push(e, GFP_KERNEL);
            }
        }
        self.entries = kept;
        Ok(())
    }

    /// The destinations of deleted service `e` go to the trash (room made).
    fn trash_dests(trash: &mut KVec<Option<Trashed>>, e: Entry) {
        for d in &e.dests {
            Self::trash_put(trash, &e, d.clone());
        }
    }

    /// FLUSH.
    pub(crate) fn flush(&mut self, table: &RcuBox<Table>) -> Result {
        self.trash_room(self.entries.iter().map(|e| e.dests.len()).sum())?;
        table.replace(Table::empty())?;
        for e in core::mem::replace(&mut self.entries, KVec::new()) {
            Self::trash_dests(&mut self.trash, e);
        }
        Ok(())
    }

    /// The service `key` as `ip_vs_genl_fill_service` reports it.
    pub(crate) fn service_msg(&self, key: &SvcKey) -> Option<SvcMsg> {
        self.find(key).map(|i| self.msg_at(i))
    }

    /// The `index`th service of the dump order.
    pub(crate) fn service_msg_at(&self, index: usize) -> Option<SvcMsg> {
        (index < self.entries.len()).then(|| self.msg_at(index))
    }

    fn msg_at(&self, index: usize) -> SvcMsg {
        let e = &self.entries[index];
        let mut msg = SvcMsg {
            sched_name: e.conf.sched,
            pe_name: e.conf.pe,
            flags: netlink::ServiceFlags::all(e.conf.flags),
            timeout: e.conf.timeout / HZ,
            netmask: e.conf.netmask,
            stats: Some(e.svc.stats.report()),
            stats64: Some(e.svc.stats.report()),
            ..SvcMsg::default()
        };
        e.svc.key.fill(&mut msg);
        msg
    }

    /// The destinations of service `key`, newest first.
    pub(crate) fn dests(&self, key: &SvcKey) -> Option<&[Arc<Dest>]> {
        self.find(key).map(|i| &self.entries[i].dests[..])
    }

    /// The address family of service `key`.
    pub(crate) fn af(&self, key: &SvcKey) -> Option<u16> {
        self.find(key).map(|i| self.entries[i].svc.key.af)
    }

    fn dest_index(&self, svc: usize, msg: &netlink::Dest) -> Option<usize> {
        let addr = addr_of(msg.af, &msg.addr);
        self.entries[svc]
            .dests
            .iter()
            .position(|d| d.is(msg.af, &addr, msg.port))
    }

    /// NEW_DEST (`ip_vs_add_dest`, `ip_vs_new_dest`); `msg.af` resolved.
    pub(crate) fn add_dest(&mut self, key: &SvcKey, msg: &netlink::Dest, net: &Net) -> Result {
        let s = self.find(key).ok_or(EINVAL)?;
        msg.check_limits().map_err(codec_err)?;
        if self.dest_index(s, msg).is_some() {
            return Err(EEXIST);
        }
        let addr = addr_of(msg.af, &msg.addr);
        if !net.is_unicast_or_local(msg.af, &addr) {
            return Err(EINVAL);
        }
        let key = self.entries[s].svc.key;
        let trashed = self.trash.iter().position(|t| {
            t.as_ref()
                .is_some_and(|t| t.svc == key && t.dest.is(msg.af, &addr, msg.port))
        });
        let dest = match trashed.and_then(|i| self.trash[i].as_ref()) {
            Some(t) => {
                let e = &self.entries[s];
                if t.incarnation != e.incarnation {
                    t.dest.link.replace(SvcLink {
                        stats: e.svc.stats.clone(),
                        dirty: e.svc.dirty.clone(),
                    })?;
                    t.dest.stats.zero();
                }
                t.dest.clone()
            }
            None => self.new_dest(s, msg, addr)?,
        };
        dest.update(msg, true);
        let entry = &mut self.entries[s];
        let list = copy_list(Some(&dest), &entry.dests)?;
        let published = copy_list(None, &list)?;
        entry.svc.sched_change(&entry.conf, &list, 0, true)?;
        entry.svc.dests.replace(DestList(published))?;
        if let Some(slot) = trashed.and_then(|i| self.trash.get_mut(i)) {
            // Back from the trash: its connections carry on.
            *slot = None;
            dest.available.store(true, Relaxed);
        }
        entry.dests = list;
        entry.register_conntrack(&dest, net);
        Ok(())
    }

    /// A new destination of service `s` (`ip_vs_new_dest`), its settings still to be set.
    fn new_dest(&self, s: usize, msg: &netlink::Dest, addr: [u8; 16]) -> Result<Arc<Dest>> {
        let svc = &self.entries[s].svc;
        Ok(Arc::new(
            Dest {
                af: msg.af,
                addr,
                port: msg.port,
                conn_flags: AtomicU32::new(0),
                weight: AtomicI32::new(0),
                last_weight: AtomicI32::new(0),
                u_threshold: AtomicU32::new(0),
                l_threshold: AtomicU32::new(0),
                tun_type: AtomicU8::new(0),
                tun_port: AtomicU16::new(0),
                tun_flags: AtomicU16::new(0),
                activeconns: AtomicU32::new(0),
                totalconns: AtomicU32::new(0),
                persistconns: AtomicU32::new(0),
                overloaded: AtomicBool::new(false),
                available: AtomicBool::new(true),
                stats: Stats::new()?,
                link: RcuBox::new(SvcLink {
                    stats: svc.stats.clone(),
                    dirty: svc.dirty.clone(),
                })?,
                route: RouteCache::new(),
                sched_slot: AtomicU32::new(u32::MAX),
            },
            GFP_KERNEL,
        )?)
    }

    /// SET_DEST (`ip_vs_edit_dest`).
    pub(crate) fn edit_dest(&mut self, key: &SvcKey, msg: &netlink::Dest, net: &Net) -> Result {
        let s = self.find(key).ok_or(EINVAL)?;
        msg.check_limits().map_err(codec_err)?;
        let d = self.dest_index(s, msg).ok_or(ENOENT)?;
        let entry = &mut self.entries[s];
        let dest = entry.dests[d].clone();
        dest.update(msg, false);
        entry.register_conntrack(&dest, net);
        Ok(())
    }

    /// DEL_DEST (`ip_vs_del_dest`).
    pub(crate) fn del_dest(&mut self, key: &SvcKey, msg: &netlink::Dest) -> Result {
        let s = self.find(key).ok_or(EINVAL)?;
        let d = self.dest_index(s, msg).ok_or(ENOENT)?;
        self.trash_room(1)?;
        let entry = &mut self.entries[s];
        let list = copy_without(&entry.dests, d)?;
        let published = copy_list(None, &list)?;
        entry.svc.sched_change(&entry.conf, &list, d, false)?;
        entry.svc.dests.replace(DestList(published))?;
        let dest = entry.dests[d].clone();
        entry.dests = list;
        Self::trash_put(&mut self.trash, &self.entries[s], dest);
        Ok(())
    }

    /// The connection timeouts.
    pub(crate) fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// SET_CONFIG: `ip_vs_set_timeout` (0 or absent leaves a timeout unchanged).
    pub(crate) fn set_timeouts(&mut self, t: &netlink::Timeouts) -> Result {
        t.check(HZ).map_err(codec_err)?;
        let keep = |new: Option<u32>, old: u32| new.filter(|v| *v != 0).unwrap_or(old);
        self.timeouts = Timeouts {
            tcp: keep(t.tcp, self.timeouts.tcp),
            tcp_fin: keep(t.tcp_fin, self.timeouts.tcp_fin),
            udp: keep(t.udp, self.timeouts.udp),
        };
        Ok(())
    }
}

/// The protocols' timeout tables, as the packet path reads them (ip_vs's per-namespace
/// `ip_vs_proto_data`), republished when `--set` changes a timeout.
pub(crate) struct ProtoData {
    pub(crate) tcp: TcpData,
    pub(crate) udp: UdpData,
    pub(crate) sctp: SctpData,
}

impl ProtoData {
    /// The tables with the three configurable timeouts applied.
    pub(crate) fn with(t: &Timeouts) -> Self {
        let mut tcp = TcpData::new();
        tcp.set_timeout(TcpState::Established, t.tcp);
        tcp.set_timeout(TcpState::FinWait, t.tcp_fin);
        let mut udp = UdpData::new();
        udp.set_timeout(t.udp);
        Self {
            tcp,
            udp,
            sctp: SctpData::new(),
        }
    }
}
