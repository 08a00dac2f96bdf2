//! The connection synchronisation daemon (ip_vs_sync.c): a master director multicasts what it
//! knows about its connections, a backup director creates the same entries, so that when the
//! backup takes over the virtual addresses the established connections go on.
//!
//! The wire formats and the decisions on them (which packet sends a message, what a received
//! message may contain) are rvs-core's (`rvs_core::sync`); this file holds the daemon: the
//! master's per-thread buffers and queues that the packet path fills (ip_vs's `ipvs->ms`),
//! the kthreads and sockets of both roles (`start_sync_thread`, `stop_sync_thread`), and the
//! backup's `ip_vs_proc_conn`.
//!
//! Locks: [`SyncDaemon::daemons`] (ip_vs's `sync_mutex`) serialises start and stop and is held
//! while threads are stopped; no thread takes it. [`SyncDaemon::master`] (ip_vs's
//! `sync_buff_lock` and `sync_lock` in one) guards the buffers, with bottom halves off because
//! the packet path fills them. The master threads take it briefly to collect what to send and
//! send without it.
//!
//! Beyond ip_vs, every received datagram is counted ([`Counters`]): accepted, ignored for
//! another sync id, dropped whole or in part as malformed, entries skipped; the counts are in
//! `/proc/net/rvs_sync_stats`.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

use kernel::{
    alloc::{
        flags::{GFP_ATOMIC, GFP_KERNEL},
        KVec,
    },
    error::code::{EAGAIN, EEXIST, EINVAL, ESRCH},
    prelude::*,
    sync::{new_mutex, Arc, Mutex},
};

use crate::{
    conn::{self, Conn, PeData},
    kapi::{
        conntab::{self, Ref},
        lock::{new_spinlock_bh, SpinLockBh},
        param,
        pernet::Net,
        rcu::{self, Guard},
        syncsock::{self, Endpoint, Socket, Thread, ThreadFn},
        HZ,
    },
    netns::Netns,
    rvs_core::{
        abi::{conn_flag, daemon_state, AF_INET, AF_INET6},
        netlink::{Daemon, McastGroup},
        sched::addr_equal,
        sync::{
            self as wire, ConnView, EncodeError, Item, Message, MessageWriter, Needed, SyncConn,
            SyncVars, Version,
        },
    },
    svc::Dest,
};

/// `IPVS_SYNC_PORTS_MAX`: at most 64 threads per role.
const SYNC_PORTS_MAX: i32 = 64;
/// `IPVS_SYNC_SEND_DELAY`: a master thread looks for queued buffers this often (jiffies).
const SEND_DELAY: u32 = HZ / 50;
/// `IPVS_SYNC_FLUSH_TIME`: a buffer being filled is sent at the latest this long after its
/// first entry.
const FLUSH_TIME: u64 = 2 * HZ as u64;
/// A master answers at most one full-resync request in this long (jiffies): a forged request
/// cannot make it flood the link.
const RESYNC_INTERVAL: u64 = 10 * HZ as u64;
/// A backup sends its full-resync request this many times, a second apart.
const RESYNC_REQUESTS: u8 = 2;
/// Timeout of an entry whose message gave none and whose protocol has no table (templates),
/// as `ip_vs_proc_conn`: 3 minutes.
const DEFAULT_TIMEOUT_SECS: u32 = 3 * 60;

/// Counters of the sync daemon, shown in `/proc/net/rvs_sync_stats`.
#[derive(Default)]
pub(crate) struct Counters {
    /// Datagrams a backup thread received.
    pub(crate) rx_msgs: AtomicU64,
    /// Entries a backup applied (created or updated a connection).
    pub(crate) rx_conns: AtomicU64,
    /// Datagrams ignored because their sync id was not the backup's.
    pub(crate) rx_other_syncid: AtomicU64,
    /// Datagrams dropped whole (bad header) or in part (an entry that did not decode: the rest
    /// of the datagram goes, as in ip_vs).
    pub(crate) rx_malformed: AtomicU64,
    /// Entries skipped alone (forbidden flags, unknown protocol, state, option or engine).
    pub(crate) rx_skipped: AtomicU64,
    /// Entries that decoded but could not be applied (no memory, a key collision).
    pub(crate) rx_failed: AtomicU64,
    /// Datagrams a master sent.
    pub(crate) tx_msgs: AtomicU64,
    /// Master buffers dropped: queue at `sync_qlen_max`, a send error, or no memory.
    pub(crate) tx_dropped: AtomicU64,
    /// Full-resync requests a master received (`sync_resync`).
    pub(crate) rx_resync_requests: AtomicU64,
    /// Full resyncs a master sent (at most one per `RESYNC_INTERVAL`).
    pub(crate) tx_resyncs: AtomicU64,
}

/// One master thread's buffers (`struct ipvs_master_sync_state`).
struct Queue {
    /// The message being filled (`sync_buff`).
    cur: Option<Buf>,
    /// Full messages waiting for the thread (`sync_queue`).
    queued: KVec<Buf>,
}

/// A message buffer (`struct ip_vs_sync_buff`).
struct Buf {
    bytes: KVec<u8>,
    /// Jiffies of its first entry.
    first_use: u64,
}

/// What the packet path needs of a running master.
struct Master {
    running: bool,
    version: Version,
    syncid: u32,
    /// `sync_maxlen`: the payload size of a message.
    maxlen: usize,
    queues: KVec<Queue>,
}

/// A running role: its configuration as GET_DAEMON reports it, and its threads.
struct Running<T: ThreadFn> {
    cfg: Daemon,
    /// Stopped when the role stops (dropped).
    _threads: KVec<Thread<T>>,
}

/// The roles that run (ip_vs's `ms`/`master_tinfo`, `backup_tinfo`, `mcfg`, `bcfg`).
struct Daemons {
    // Field order: the threads stop before anything else of the daemon goes.
    master: Option<Running<MasterThread>>,
    backup: Option<Running<BackupThread>>,
    /// Threads per role minus one (`threads_mask`), fixed while a role runs.
    threads_mask: usize,
}

/// The sync daemon of a namespace.
#[pin_data]
pub(crate) struct SyncDaemon {
    /// First: dropping it stops the threads, which use the rest.
    #[pin]
    daemons: Mutex<Daemons>,
    /// `IP_VS_STATE_MASTER | IP_VS_STATE_BACKUP` bits of the running roles (`sync_state`).
    state: AtomicU32,
    #[pin]
    master: SpinLockBh<Master>,
    /// Names the threads as ip_vs does (`ipvs->gen`).
    gen: u32,
    counters: Counters,
}

/// Numbers namespaces for the thread names (`ipvs_netns_cnt`).
static GEN: AtomicU32 = AtomicU32::new(0);

impl SyncDaemon {
    /// No role running.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            daemons <- new_mutex!(
                Daemons {
                    master: None,
                    backup: None,
                    threads_mask: 0,
                },
                "rvs_sync_mutex"
            ),
            state: AtomicU32::new(0),
            master <- new_spinlock_bh!(
                Master {
                    running: false,
                    version: Version::V1,
                    syncid: 0,
                    maxlen: 0,
                    queues: KVec::new(),
                },
                "rvs_sync_buff_lock"
            ),
            gen: GEN.fetch_add(1, Relaxed).wrapping_add(1),
            counters: Counters::default(),
        }? Error)
    }

    /// The running roles (`sync_state`).
    pub(crate) fn state(&self) -> u32 {
        self.state.load(Relaxed)
    }

    /// The counters.
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The running roles' configurations, master first (`ip_vs_genl_dump_daemons`).
    pub(crate) fn configs(&self) -> [Option<Daemon>; 2] {
        let d = self.daemons.lock();
        [
            d.master.as_ref().map(|r| r.cfg),
            d.backup.as_ref().map(|r| r.cfg),
        ]
    }

    /// `start_sync_thread`: starts role `c.state` on `net` with `c`'s settings.
    pub(crate) fn start(&self, ns: &Netns, net: &Net, mut c: Daemon) -> Result {
        let vars = ns.vars();
        let mut d = self.daemons.lock();
        let count = if self.state() == 0 {
            let n = vars.sync_ports().clamp(1, SYNC_PORTS_MAX) as usize;
            d.threads_mask = n - 1;
            n
        } else {
            d.threads_mask + 1
        };
        if c.mcast_group == McastGroup::Default {
            c.mcast_group = McastGroup::V4(wire::SYNC_GROUP);
        }
        let mut group16 = [0u8; 16];
        let af = match c.mcast_group {
            McastGroup::V6(g) => {
                group16 = g;
                AF_INET6
            }
            McastGroup::V4(g) => {
                group16[..4].copy_from_slice(&g);
                AF_INET
            }
            McastGroup::Default => AF_INET,
        };
        if c.mcast_port == 0 {
            c.mcast_port = wire::SYNC_PORT;
        }
        if c.mcast_ttl == 0 {
            c.mcast_ttl = 1;
        }
        let mut ifname = [0u8; 16];
        let n = c.mcast_ifn.as_bytes().len().min(15);
        ifname[..n].copy_from_slice(&c.mcast_ifn.as_bytes()[..n]);
        let (ifindex, dev_mtu) = syncsock::device(net, &ifname)?;
        let hlen: u32 = if af == AF_INET6 { 40 + 8 } else { 20 + 8 };
        let backup = c.state == daemon_state::BACKUP;
        let mtu = if backup {
            dev_mtu.clamp(1500, 65535)
        } else {
            1500
        };
        let min_mtu = if backup { 1024 } else { 1 };
        c.sync_maxlen = if c.sync_maxlen != 0 {
            u32::from(c.sync_maxlen).clamp(min_mtu, 65535 - hlen) as u16
        } else {
            (mtu - hlen) as u16
        };
        let name = |role: u8, id: usize| {
            let mut buf = [0u8; 24];
            let mut w = crate::kapi::NameBuf(&mut buf, 0);
            let _ = core::fmt::Write::write_fmt(
                &mut w,
                format_args!("ipvs-{}:{}:{}", role as char, self.gen, id),
            );
            buf
        };
        let endpoint = |id: usize| Endpoint {
            af,
            group: group16,
            port: c.mcast_port.wrapping_add(id as u16),
            ifindex,
        };
        let sock_size = vars.sync_sock_size();
        match c.state {
            daemon_state::MASTER => {
                if d.master.is_some() {
                    return Err(EEXIST);
                }
                let mut queues = KVec::with_capacity(count, GFP_KERNEL)?;
                for _ in 0..count {
                    queues.push(
                        Queue {
                            cur: None,
                            queued: KVec::new(),
                        },
                        GFP_KERNEL,
                    )?;
                }
                let mut threads = KVec::with_capacity(count, GFP_KERNEL)?;
                for id in 0..count {
                    let sock = Socket::master(net, &endpoint(id), c.mcast_ttl, sock_size)?;
                    // With `sync_resync`, thread 0 also listens for backups' requests.
                    let listener = if id == 0 && param::sync_resync() {
                        Some(Socket::backup(net, &endpoint(0), 0)?)
                    } else {
                        None
                    };
                    let n = name(b'm', id);
                    let t = MasterThread {
                        sock,
                        id,
                        listener,
                        syncid: c.syncid,
                        last_resync: None,
                    };
                    threads.push(Thread::start(net, t, until_nul(&n))?, GFP_KERNEL)?;
                }
                {
                    let mut m = self.master.lock();
                    m.running = true;
                    m.version = if vars.sync_version() == 0 {
                        Version::V0
                    } else {
                        Version::V1
                    };
                    m.syncid = c.syncid;
                    m.maxlen = usize::from(c.sync_maxlen);
                    m.queues = queues;
                    self.state.fetch_or(daemon_state::MASTER, Relaxed);
                }
                pr_info!(
                    "sync thread started: state = MASTER, mcast_ifn = {}, syncid = {}, threads = {}\n",
                    IfName(c.mcast_ifn.as_bytes()),
                    c.syncid,
                    count
                );
                d.master = Some(Running {
                    cfg: c,
                    _threads: threads,
                });
            }
            daemon_state::BACKUP => {
                if d.backup.is_some() {
                    return Err(EEXIST);
                }
                let mut threads = KVec::with_capacity(count, GFP_KERNEL)?;
                for id in 0..count {
                    let sock = Socket::backup(net, &endpoint(id), sock_size)?;
                    let buf = KVec::from_elem(0u8, usize::from(c.sync_maxlen), GFP_KERNEL)?;
                    let n = name(b'b', id);
                    threads.push(
                        Thread::start(
                            net,
                            BackupThread {
                                sock,
                                buf,
                                syncid: c.syncid,
                                resync: if id == 0 && param::sync_resync() {
                                    Some(endpoint(0))
                                } else {
                                    None
                                },
                            },
                            until_nul(&n),
                        )?,
                        GFP_KERNEL,
                    )?;
                }
                self.state.fetch_or(daemon_state::BACKUP, Relaxed);
                pr_info!(
                    "sync thread started: state = BACKUP, mcast_ifn = {}, syncid = {}, threads = {}\n",
                    IfName(c.mcast_ifn.as_bytes()),
                    c.syncid,
                    count
                );
                d.backup = Some(Running {
                    cfg: c,
                    _threads: threads,
                });
            }
            _ => return Err(EINVAL),
        }
        Ok(())
    }

    /// `stop_sync_thread`: stops role `state` (`-ESRCH` if it does not run).
    pub(crate) fn stop(&self, state: u32) -> Result {
        let mut d = self.daemons.lock();
        match state {
            daemon_state::MASTER => {
                let running = d.master.take().ok_or(ESRCH)?;
                let queues = {
                    let mut m = self.master.lock();
                    m.running = false;
                    self.state.fetch_and(!daemon_state::MASTER, Relaxed);
                    core::mem::take(&mut m.queues)
                };
                // The threads stop first (they may hold a buffer), then the buffers go.
                drop(running);
                drop(queues);
                pr_info!("stopped the master sync threads\n");
            }
            daemon_state::BACKUP => {
                let running = d.backup.take().ok_or(ESRCH)?;
                self.state.fetch_and(!daemon_state::BACKUP, Relaxed);
                drop(running);
                pr_info!("stopped the backup sync threads\n");
            }
            _ => return Err(EINVAL),
        }
        Ok(())
    }

    /// Stops both roles, if they run (`ip_vs_sync_net_cleanup`): namespace exit.
    pub(crate) fn stop_all(&self) {
        for state in [daemon_state::MASTER, daemon_state::BACKUP] {
            let _ = self.stop(state);
        }
    }

    /// Queues `entry` for the master thread `id`'s next message (`ip_vs_sync_conn`'s buffer
    /// handling and `sb_queue_tail`). Packet path.
    fn enqueue(&self, ns: &Netns, c: &Conn, entry: &SyncConn<'_>) {
        let mut m = self.master.lock();
        if !m.running {
            return;
        }
        let (version, syncid, maxlen) = (m.version, m.syncid, m.maxlen);
        let id = thread_id(c, m.queues.len().saturating_sub(1));
        let Some(q) = m.queues.get_mut(id) else {
            return;
        };
        if let Some(cur) = &mut q.cur {
            match MessageWriter::resume(&mut cur.bytes, version).map(|mut w| w.push(entry)) {
                Some(Ok(())) => return,
                Some(Err(EncodeError::Unsendable)) => return,
                // Full, or a buffer of the other version (sync_version changed): send it.
                _ => {
                    if let Some(full) = q.cur.take() {
                        queue_tail(&self.counters, q, full, ns.vars().sync_qlen_max());
                    }
                }
            }
        }
        let (len, hlen) = match version {
            Version::V1 => (wire::v1_entry_len(entry), wire::MESG_LEN),
            Version::V0 => (wire::v0_entry_len(entry), wire::MESG_V0_LEN),
        };
        let Ok(mut bytes) = KVec::from_elem(0u8, (len + hlen).max(maxlen), GFP_ATOMIC) else {
            self.counters.tx_dropped.fetch_add(1, Relaxed);
            return;
        };
        let Some(mut w) = MessageWriter::new(&mut bytes, version, syncid) else {
            return;
        };
        if w.push(entry).is_err() {
            return;
        }
        q.cur = Some(Buf {
            bytes,
            first_use: crate::kapi::jiffies64(),
        });
    }

    /// What master thread `id` should send now: the queued messages, and the one being filled
    /// if it is older than `IPVS_SYNC_FLUSH_TIME` (or `flush`).
    fn collect(&self, id: usize, flush: bool) -> KVec<Buf> {
        let mut m = self.master.lock();
        let Some(q) = m.queues.get_mut(id) else {
            return KVec::new();
        };
        let mut out = core::mem::take(&mut q.queued);
        let old = q.cur.as_ref().is_some_and(|b| {
            flush || crate::kapi::jiffies64().wrapping_sub(b.first_use) >= FLUSH_TIME
        });
        if old {
            if let Some(b) = q.cur.take() {
                if out.push(b, GFP_ATOMIC).is_err() {
                    self.counters.tx_dropped.fetch_add(1, Relaxed);
                }
            }
        }
        out
    }
}

impl SyncDaemon {
    /// Queues every master thread's partly filled message for sending now.
    fn flush_all(&self) {
        let counters = &self.counters;
        let mut m = self.master.lock();
        for q in m.queues.iter_mut() {
            if let Some(b) = q.cur.take() {
                queue_tail(counters, q, b, usize::MAX);
            }
        }
    }
}

/// `sb_queue_tail`: a full message goes to the thread's queue, unless `sync_qlen_max` are
/// waiting already.
fn queue_tail(counters: &Counters, q: &mut Queue, buf: Buf, qlen_max: usize) {
    if q.queued.len() >= qlen_max || q.queued.push(buf, GFP_ATOMIC).is_err() {
        counters.tx_dropped.fetch_add(1, Relaxed);
    }
}

impl Drop for Daemons {
    fn drop(&mut self) {
        // Namespace exit or unload with threads running (ip_vs_sync_net_cleanup): the threads
        // stop here, before the rest of the namespace's state goes.
        self.master = None;
        self.backup = None;
    }
}

/// `select_master_thread_id`: the connection's address picks its thread.
fn thread_id(c: &Conn, mask: usize) -> usize {
    let addr = core::ptr::from_ref(c) as usize;
    (addr >> (1 + core::mem::size_of::<Conn>().ilog2())) & mask
}

/// The sync sysctls `ip_vs_sync_conn_needed` reads.
fn sync_vars(ns: &Netns) -> SyncVars {
    let vars = ns.vars();
    let (threshold, period) = vars.sync_threshold();
    SyncVars {
        threshold,
        period,
        refresh_period: vars.sync_refresh_period(),
        retries: vars.sync_retries(),
        persist_mode: vars.sync_persist_mode() != 0,
    }
}

/// `ip_vs_sync_conn` (and `_v0`): after the packet that brought `c` (whose timeout is
/// `timeout` jiffies) to `pkts` inbound packets, queue a message about it if one is due, then
/// about its template. Packet path, while a master runs.
pub(crate) fn sync_conn(ns: &Netns, c: &Conn, timeout: u32, pkts: i32) {
    let v = sync_vars(ns);
    let v0 = ns.vars().sync_version() == 0;
    if v0 && c.af != AF_INET {
        return;
    }
    if c.flags() & conn_flag::ONE_PACKET == 0 {
        sync_one(ns, &v, c, timeout, pkts);
    } else if v0 {
        return;
    }
    sync_control(ns, c);
}

/// The template part of `ip_vs_sync_conn`: the controlling template goes too, with its own
/// packet count.
pub(crate) fn sync_control(ns: &Netns, c: &Conn) {
    let Some(ct) = &c.control else { return };
    let v = sync_vars(ns);
    let pkts = if ct.is_template() {
        ct.in_pkts.fetch_add(1, Relaxed).wrapping_add(1) as i32
    } else {
        v.threshold
    };
    if ct.flags() & conn_flag::ONE_PACKET == 0 {
        sync_one(ns, &v, ct, ct.timeout(), pkts);
    }
}

fn sync_one(ns: &Netns, v: &SyncVars, c: &Conn, timeout: u32, pkts: i32) {
    let state = c.state();
    let view = ConnView {
        flags: c.flags(),
        protocol: c.protocol,
        state,
        old_state: c.sync_state.load(Relaxed),
        in_persistence: c.control.as_ref().is_some_and(|t| t.is_template()),
        timeout,
    };
    let orig = c.sync_endtime.load(Relaxed);
    let now = crate::kapi::jiffies64();
    let Needed::Maybe { endtime, force } = wire::sync_needed(v, &view, pkts, orig, now, HZ) else {
        return;
    };
    c.sync_state.store(state, Relaxed);
    let won = c
        .sync_endtime
        .compare_exchange(orig, endtime, Relaxed, Relaxed)
        .is_ok();
    if !won && !force {
        return;
    }
    if let Some(entry) = entry_of(c, view.flags, state, timeout) {
        ns.sync().enqueue(ns, c, &entry);
    }
}

/// The message entry of `c` with `flags`, `state` and `timeout` (jiffies). A persistence-engine
/// template is sent with its engine's name; one without a destination cannot be (ip_vs: "SYNC,
/// connection pe_data invalid").
fn entry_of(c: &Conn, flags: u32, state: u16, timeout: u32) -> Option<SyncConn<'_>> {
    let pe = c.pe.as_ref().map(|pe| pe.bytes());
    if pe.is_some() && c.dest.is_none() {
        return None;
    }
    Some(SyncConn {
        af: c.af,
        protocol: c.protocol,
        flags,
        state,
        cport: c.cport,
        vport: c.vport,
        dport: c.dport,
        fwmark: c.fwmark,
        timeout: timeout / HZ,
        caddr: c.caddr,
        vaddr: c.vaddr,
        daddr: c.daddr,
        seq: None,
        pe_data: pe,
        pe_name: pe.map(|_| &b"sip"[..]),
    })
}

/// rvs's full resync (`sync_resync`, docs/sync.md): queues every connection and template the
/// master's table holds in a state the master syncs, with the time it has left, then sends the
/// partly filled buffers at once. Process context (a master thread).
fn full_resync(ns: &Netns) {
    let v0 = ns.vars().sync_version() == 0;
    ns.conns().for_each(|c, left| {
        let flags = c.flags();
        let state = c.state();
        if flags & conn_flag::ONE_PACKET != 0
            || (v0 && c.af != AF_INET)
            || !wire::state_synced(c.protocol, state, c.is_template())
        {
            return;
        }
        if let Some(entry) = entry_of(c, flags, state, left.max(HZ)) {
            ns.sync().enqueue(ns, c, &entry);
        }
    });
    ns.sync().flush_all();
}

/// A master thread (`sync_thread_master`): sends the messages of its queue. Thread 0 of a
/// master started with `sync_resync` also answers backups' full-resync requests.
struct MasterThread {
    sock: Socket,
    id: usize,
    listener: Option<Socket>,
    syncid: u32,
    /// Jiffies of the last full resync.
    last_resync: Option<u64>,
}

impl MasterThread {
    fn send(&self, ns: &Netns, buf: &Buf) {
        let len = buf
            .bytes
            .get(2..4)
            .map_or(0, |s| usize::from(u16::from_be_bytes([s[0], s[1]])));
        let Some(msg) = buf.bytes.get(..len) else {
            return;
        };
        loop {
            match self.sock.send(msg) {
                Ok(_) => {
                    ns.sync().counters.tx_msgs.fetch_add(1, Relaxed);
                    return;
                }
                Err(e) if e == EAGAIN => {
                    if syncsock::should_stop() {
                        return;
                    }
                    self.sock.wait(true, HZ);
                }
                Err(_) => {
                    // ip_vs_send_sync_msg: an error other than EAGAIN drops the message.
                    ns.sync().counters.tx_dropped.fetch_add(1, Relaxed);
                    return;
                }
            }
        }
    }
}

impl MasterThread {
    /// Answers a full-resync request waiting on the listener, if any (one per interval).
    fn resync_requests(&mut self, ns: &Netns) {
        let Some(l) = &self.listener else { return };
        let mut buf = [0u8; 64];
        let mut asked = false;
        while let Ok(len) = l.recv(&mut buf) {
            if wire::is_resync_request(buf.get(..len).unwrap_or(&[]), self.syncid) {
                ns.sync().counters.rx_resync_requests.fetch_add(1, Relaxed);
                asked = true;
            }
        }
        let now = crate::kapi::jiffies64();
        if asked
            && self
                .last_resync
                .map_or(true, |t| now.wrapping_sub(t) >= RESYNC_INTERVAL)
        {
            self.last_resync = Some(now);
            full_resync(ns);
            ns.sync().counters.tx_resyncs.fetch_add(1, Relaxed);
        }
    }
}

impl ThreadFn for MasterThread {
    fn run(&mut self, net: &Net) {
        while !syncsock::should_stop() {
            if let Some(ns) = Netns::of(net) {
                self.resync_requests(ns);
                for buf in ns.sync().collect(self.id, false) {
                    self.send(ns, &buf);
                }
            }
            syncsock::sleep(SEND_DELAY.max(1));
        }
    }
}

/// A backup thread (`sync_thread_backup`): receives messages and applies them.
struct BackupThread {
    sock: Socket,
    buf: KVec<u8>,
    syncid: u32,
    /// With `sync_resync` (thread 0): where to ask for a full resync.
    resync: Option<Endpoint>,
}

impl ThreadFn for BackupThread {
    fn run(&mut self, net: &Net) {
        let buf = &mut self.buf[..];
        let request = wire::resync_request(self.syncid);
        let mut requests = if self.resync.is_some() {
            RESYNC_REQUESTS
        } else {
            0
        };
        while !syncsock::should_stop() {
            if let (Some(to), true) = (&self.resync, requests > 0) {
                // A lost request costs nothing: the next one goes a second later.
                let _ = self.sock.send_to(&request, to);
                requests -= 1;
            }
            self.sock.wait(false, HZ);
            while let Ok(len) = self.sock.recv(buf) {
                if len == 0 {
                    break;
                }
                if let (Some(ns), Some(msg)) = (Netns::of(net), buf.get(..len)) {
                    process_message(ns, msg, self.syncid);
                }
            }
        }
    }
}

/// `ip_vs_process_message`: applies a received datagram's entries and counts what it was.
fn process_message(ns: &Netns, buf: &[u8], syncid: u32) {
    let c = &ns.sync().counters;
    c.rx_msgs.fetch_add(1, Relaxed);
    let msg = match Message::parse(buf, syncid) {
        Ok(m) => m,
        Err(wire::Reason::OtherSyncId) => {
            c.rx_other_syncid.fetch_add(1, Relaxed);
            return;
        }
        Err(_) => {
            c.rx_malformed.fetch_add(1, Relaxed);
            return;
        }
    };
    let guard = rcu::read_lock();
    for item in msg.items() {
        match item {
            Item::Conn(s) => {
                if proc_conn(ns, &s, &guard) {
                    c.rx_conns.fetch_add(1, Relaxed);
                } else {
                    c.rx_failed.fetch_add(1, Relaxed);
                }
            }
            Item::Skip(_) => {
                c.rx_skipped.fetch_add(1, Relaxed);
            }
            Item::Fatal(_) => {
                c.rx_malformed.fetch_add(1, Relaxed);
            }
        }
    }
}

/// `ip_vs_find_dest`: the destination `daddr`:`dport` of the service the entry names.
fn find_dest<'a>(ns: &'a Netns, s: &SyncConn<'_>, guard: &'a Guard) -> Option<Arc<Dest>> {
    let svc = ns.find_service(s.af, s.protocol, &s.vaddr, s.vport, s.fwmark, guard)?;
    let port = if s.fwmark != 0 && s.flags & conn_flag::FWD_MASK != conn_flag::MASQ {
        0
    } else {
        s.dport
    };
    let lookup = |port: u16| {
        svc.dests(guard)
            .iter()
            .find(|d| d.af == s.af && d.port == port && addr_equal(s.af, &d.addr, &s.daddr))
            .cloned()
    };
    lookup(port).or_else(|| lookup(port ^ s.dport))
}

/// `ip_vs_proc_conn`: creates or updates the entry a message describes. False if it could
/// not be added.
fn proc_conn(ns: &Netns, s: &SyncConn<'_>, guard: &Guard) -> bool {
    let flags = s.flags;
    let template = flags & conn_flag::TEMPLATE != 0;
    // Only templates keep engine data (the SIP Call-ID); connections drop it.
    let pe = match (template, s.pe_data) {
        (true, Some(data)) => match PeData::new(data) {
            Some(pe) => Some(pe),
            None => return false,
        },
        _ => None,
    };
    let key = if !template {
        conn::key(
            s.af,
            s.protocol,
            conntab::DIR_IN,
            &s.caddr,
            s.cport,
            &s.vaddr,
            s.vport,
        )
    } else if let Some(pe) = &pe {
        conn::pe_key(
            ns.pe_seeds(),
            s.af,
            s.protocol,
            &s.caddr,
            pe.bytes(),
            &s.vaddr,
            s.vport,
        )
    } else {
        conn::key(
            s.af,
            s.protocol,
            conntab::DIR_TEMPLATE,
            &s.caddr,
            s.cport,
            &s.vaddr,
            s.vport,
        )
    };
    let mut found = ns.conns().lookup(&key, guard);
    if let Some(pe) = &pe {
        found = found.filter(|ct| ct.pe_matches(&s.caddr, pe.bytes()));
    }
    if let Some(cp) = &found {
        let replace =
            if !template && (cp.dport != s.dport || !addr_equal(cp.daf, &cp.daddr, &s.daddr)) {
                if flags & conn_flag::INACTIVE != 0 {
                    // The expiry message of a connection that was replaced already.
                    return true;
                }
                true
            } else {
                // `ip_vs_try_bind_dest`: an entry that arrived before its destination is bound once
                // the destination exists. rvs's entries keep their destination for life, so a bound
                // copy takes the entry's keys (below) and the unbound one expires.
                cp.dest.is_none() && find_dest(ns, s, guard).is_some()
            };
        if replace {
            // Invalid: the new entry hides it (and an invalid template no lookup finds).
            cp.invalidate();
            cp.expire_now();
            found = None;
        }
    }
    let cp: Ref<Conn> = match found {
        Some(cp) => {
            cp.apply_sync(flags, s.state);
            cp
        }
        None => {
            let dest = find_dest(ns, s, guard);
            let flags = if ns.vars().conntrack() != 0 {
                flags | conn_flag::NFCT
            } else {
                flags
            };
            let mut c = Conn::synced(
                s.af,
                s.protocol,
                s.caddr,
                s.cport,
                s.vaddr,
                s.vport,
                s.daddr,
                s.dport,
                flags,
                s.state,
                dest.as_ref(),
            )
            .with_fwmark(s.fwmark);
            let inserted = if template {
                if let Some(pe) = pe {
                    c = c.with_pe(pe);
                }
                ns.conns()
                    .insert_replacing(c, &key, 3 * HZ, guard, |old| old.is_invalid())
            } else {
                let keys = [c.in_key(), c.out_key()];
                ns.conns().insert(c, &keys, 3 * HZ)
            };
            match inserted {
                Ok(cp) => cp,
                Err(_) => return false,
            }
        }
    };
    let (threshold, _) = ns.vars().sync_threshold();
    cp.in_pkts.store(threshold as u32, Relaxed);
    let secs = if s.timeout != 0 {
        s.timeout.min(u32::MAX / HZ)
    } else if !template {
        proto_timeout(ns, s.protocol, s.state, guard)
    } else {
        DEFAULT_TIMEOUT_SECS
    };
    cp.set_timeout(secs.saturating_mul(HZ));
    cp.put();
    true
}

/// `pd->timeout_table[state]`, seconds.
fn proto_timeout(ns: &Netns, protocol: u8, state: u16, guard: &Guard) -> u32 {
    use crate::rvs_core::proto::{sctp::SctpState, tcp::TcpState};
    let pd = ns.proto(guard);
    match protocol {
        conn::TCP => TcpState::from_raw(state).map_or(DEFAULT_TIMEOUT_SECS, |s| pd.tcp.timeout(s)),
        conn::UDP => pd.udp.timeout(),
        conn::SCTP => {
            SctpState::from_raw(state).map_or(DEFAULT_TIMEOUT_SECS, |s| pd.sctp.timeout(s))
        }
        _ => DEFAULT_TIMEOUT_SECS,
    }
}

fn until_nul(b: &[u8]) -> &[u8] {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..n]
}

/// An interface name for messages.
struct IfName<'a>(&'a [u8]);

impl core::fmt::Display for IfName<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for &b in self.0 {
            core::fmt::Write::write_char(f, b as char)?;
        }
        Ok(())
    }
}
