//! Connections and persistence templates (`struct ip_vs_conn`, ip_vs_conn.c).
//!
//! A [`Conn`] is what the connection table ([`crate::kapi::conntab`]) holds: the addresses and
//! ports of a flow, its forwarding method (in its flags), its protocol state and the destination
//! it is bound to. Binding counts it in the destination's counters exactly as `ip_vs_bind_dest`
//! does, and the table's expiry unbinds it (`ip_vs_unbind_dest`), including the threshold
//! (overload) updates. A connection scheduled under a persistence template holds a reference to
//! the template, which keeps the template alive as long as it lives (ip_vs's `cp->control`).

use core::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering::Relaxed};

use kernel::{
    alloc::{flags::GFP_ATOMIC, KBox},
    sync::Arc,
};

use crate::{
    ftp,
    kapi::{
        conntab::{self, Key, Ref, Timed},
        pernet::Net,
    },
    nfct,
    rvs_core::{
        abi::{conn_flag, AF_INET6},
        hash::jhash,
        proto::{
            sctp::{SctpEvent, SctpState},
            sip::PEDATA_MAXLEN,
            tcp::{TcpFlags, TcpState, TcpStateTable},
            Activity, Direction, Transition,
        },
        sched::threshold::{OverloadEvent, Thresholds},
    },
    svc::{Dest, ProtoData},
};

/// `IPPROTO_TCP`, `IPPROTO_UDP`, `IPPROTO_SCTP`, `IPPROTO_IP` (fwmark templates).
pub(crate) const TCP: u8 = 6;
/// `IPPROTO_UDP`.
pub(crate) const UDP: u8 = 17;
/// `IPPROTO_SCTP`.
pub(crate) const SCTP: u8 = 132;
/// `IPPROTO_IP`: the protocol of fwmark templates.
pub(crate) const IP: u8 = 0;

/// `IP_VS_CTPL_S_ASSURED`: a template whose connection reached ESTABLISHED.
pub(crate) const CTPL_S_ASSURED: u16 = 1;

/// Where the application helper's state sits in `flags_state`.
const APP_SHIFT: u32 = 48;
const APP_MASK: u64 = 0xff << APP_SHIFT;
/// The protocol state's bits in `flags_state`.
const STATE_MASK: u64 = 0xffff << 32;

/// A connection or persistence template.
pub(crate) struct Conn {
    /// Family of the client side (the service's).
    pub(crate) af: u16,
    /// Family of the real server (differs for tunnels across families).
    pub(crate) daf: u16,
    /// Transport protocol (`IP` for fwmark templates).
    pub(crate) protocol: u8,
    /// Client address and port.
    pub(crate) caddr: [u8; 16],
    pub(crate) cport: u16,
    /// Virtual address (the fwmark, big-endian in the first 4 bytes, for fwmark templates) and
    /// port.
    pub(crate) vaddr: [u8; 16],
    pub(crate) vport: u16,
    /// Real server address and port.
    pub(crate) daddr: [u8; 16],
    pub(crate) dport: u16,
    /// `IP_VS_CONN_F_*` (low 32 bits), the protocol state (bits 32..48) and the application
    /// helper's state (bits 48..56: 0 for none, else 1 + the FTP helper's `app_data`), changed
    /// together.
    flags_state: AtomicU64,
    /// Packets seen client → server (`in_pkts`).
    pub(crate) in_pkts: AtomicU32,
    /// The destination it is bound to.
    pub(crate) dest: Option<Arc<Dest>>,
    /// The template that controls it.
    pub(crate) control: Option<Ref<Conn>>,
    /// A template whose destination became unavailable: lookups ignore it and a new template
    /// for the same client takes its place (ip_vs re-keys it with ports 0xffff).
    invalid: AtomicBool,
    /// A persistence-engine template's data (`pe_data`: the SIP Call-ID).
    pub(crate) pe: Option<KBox<PeData>>,
    /// What the master sync daemon last sent about it: the state (`old_state`) and when the
    /// message's information runs out, with a retry count in the low 2 bits (`sync_endtime`).
    pub(crate) sync_state: AtomicU16,
    pub(crate) sync_endtime: AtomicU64,
    /// The firewall mark of the packet that made it (`cp->fwmark`; 0 for connections made on
    /// the way out), which the sync daemon sends so a backup finds a fwmark service.
    pub(crate) fwmark: u32,
}

/// A persistence engine's data for a template (`pe_data`, at most `IP_VS_PEDATA_MAXLEN`).
pub(crate) struct PeData {
    len: u8,
    data: [u8; PEDATA_MAXLEN],
}

impl PeData {
    /// A copy of `bytes` (at most 255 of them), allocated on the packet path.
    pub(crate) fn new(bytes: &[u8]) -> Option<KBox<Self>> {
        let len = u8::try_from(bytes.len()).ok()?;
        let mut data = [0u8; PEDATA_MAXLEN];
        data.get_mut(..bytes.len())?.copy_from_slice(bytes);
        KBox::new(Self { len, data }, GFP_ATOMIC).ok()
    }

    /// The data.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.data.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// The key of a persistence-engine template for client network `snet`, the virtual service
/// and the engine's data. ip_vs hashes the data alone and compares every field on lookup; rvs's
/// fixed-size keys carry a 128-bit digest of the client network and the data, keyed with the
/// namespace's random seeds, in place of the client address, and the lookup still compares the
/// real fields ([`Conn::pe_matches`]).
pub(crate) fn pe_key(
    seeds: &[u32; 4],
    af: u16,
    protocol: u8,
    snet: &[u8; 16],
    data: &[u8],
    vaddr: &[u8; 16],
    vport: u16,
) -> Key {
    let mut input = [0u8; 16 + PEDATA_MAXLEN];
    input[..16].copy_from_slice(snet);
    let n = data.len().min(PEDATA_MAXLEN);
    input[16..16 + n].copy_from_slice(&data[..n]);
    let mut digest = [0u8; 16];
    for (chunk, seed) in digest.chunks_exact_mut(4).zip(seeds) {
        chunk.copy_from_slice(&jhash(&input[..16 + n], *seed).to_ne_bytes());
    }
    key(
        af,
        protocol,
        conntab::DIR_PE_TEMPLATE,
        &digest,
        0,
        vaddr,
        vport,
    )
}

impl Conn {
    /// A new connection to `dest` (`ip_vs_conn_new` + `ip_vs_bind_dest`), in state 0 with the
    /// destination's connection flags.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn bound(
        af: u16,
        protocol: u8,
        caddr: [u8; 16],
        cport: u16,
        vaddr: [u8; 16],
        vport: u16,
        dport: u16,
        flags: u32,
        dest: &Arc<Dest>,
        control: Option<Ref<Conn>>,
    ) -> Self {
        let mut conn_flags = dest.conn_flags.load(Relaxed);
        if protocol != UDP || flags & conn_flag::TEMPLATE != 0 {
            conn_flags &= !conn_flag::ONE_PACKET;
        }
        let mut flags = flags | conn_flags;
        let app = binds_ftp(protocol, flags, vport);
        if app {
            flags |= conn_flag::NFCT;
        }
        bind_dest(dest, flags);
        let c = Self {
            daf: dest.af,
            daddr: dest.addr,
            dport,
            dest: Some(dest.clone()),
            control,
            ..Self::unbound(af, protocol, caddr, cport, vaddr, vport, flags)
        };
        if app {
            c.set_app_state(ftp::ACTIVE);
        }
        c
    }

    /// A connection bound to nothing yet, in state 0.
    fn unbound(
        af: u16,
        protocol: u8,
        caddr: [u8; 16],
        cport: u16,
        vaddr: [u8; 16],
        vport: u16,
        flags: u32,
    ) -> Self {
        Self {
            af,
            daf: af,
            protocol,
            caddr,
            cport,
            vaddr,
            vport,
            daddr: [0; 16],
            dport: 0,
            flags_state: AtomicU64::new(u64::from(flags)),
            in_pkts: AtomicU32::new(0),
            dest: None,
            control: None,
            invalid: AtomicBool::new(false),
            pe: None,
            sync_state: AtomicU16::new(0),
            sync_endtime: AtomicU64::new(0),
            fwmark: 0,
        }
    }

    /// A connection or template a backup learnt from a sync message (`ip_vs_conn_new` from
    /// `ip_vs_proc_conn`), in state `state`, bound to `dest` if the backup has it. A bound one
    /// takes the destination's forwarding method and flags, but keeps the message's activity
    /// (`INACTIVE`), as `ip_vs_bind_dest` does for `IP_VS_CONN_F_SYNC`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn synced(
        af: u16,
        protocol: u8,
        caddr: [u8; 16],
        cport: u16,
        vaddr: [u8; 16],
        vport: u16,
        daddr: [u8; 16],
        dport: u16,
        flags: u32,
        state: u16,
        dest: Option<&Arc<Dest>>,
    ) -> Self {
        let mut flags = flags;
        let dest = dest.map(|d| {
            let mut conn_flags = d.conn_flags.load(Relaxed) & !conn_flag::ONE_PACKET;
            if flags & conn_flag::TEMPLATE == 0 {
                conn_flags &= !conn_flag::INACTIVE;
            }
            flags = (flags & !(conn_flag::FWD_MASK | conn_flag::NOOUTPUT)) | conn_flags;
            bind_dest(d, flags);
            d.clone()
        });
        // `ip_vs_conn_new` binds the application helper here too.
        let app = binds_ftp(protocol, flags, vport);
        if app {
            flags |= conn_flag::NFCT;
        }
        let c = Self {
            daf: dest.as_ref().map_or(af, |d| d.af),
            daddr,
            dport,
            dest,
            ..Self::unbound(af, protocol, caddr, cport, vaddr, vport, flags)
        };
        c.flags_state
            .store((u64::from(state) << 32) | u64::from(flags), Relaxed);
        if app {
            c.set_app_state(ftp::ACTIVE);
        }
        c.sync_state.store(state, Relaxed);
        c
    }

    /// A sync message about an existing entry (`ip_vs_proc_conn`): the bits of
    /// `IP_VS_CONN_F_BACKUP_UPD_MASK` and the state come from the message; a connection whose
    /// activity changed moves its destination's active count.
    pub(crate) fn apply_sync(&self, flags: u32, state: u16) {
        let mut cur = self.flags_state.load(Relaxed);
        loop {
            let old = cur as u32;
            let new_flags =
                (flags & conn_flag::BACKUP_UPD_MASK) | (old & !conn_flag::BACKUP_UPD_MASK);
            let new = (cur & APP_MASK) | (u64::from(state) << 32) | u64::from(new_flags);
            match self
                .flags_state
                .compare_exchange_weak(cur, new, Relaxed, Relaxed)
            {
                Ok(_) => {
                    if (old ^ flags) & conn_flag::INACTIVE != 0 && flags & conn_flag::TEMPLATE == 0
                    {
                        if let Some(d) = &self.dest {
                            if flags & conn_flag::INACTIVE != 0 {
                                d.activeconns.fetch_sub(1, Relaxed);
                            } else {
                                d.activeconns.fetch_add(1, Relaxed);
                            }
                            d.touch();
                        }
                    }
                    break;
                }
                Err(c) => cur = c,
            }
        }
        self.sync_state.store(state, Relaxed);
    }

    /// A `cache_bypass` connection (`ip_vs_leave`): no destination, forwarded to the packet's
    /// own destination (`IP_VS_CONN_F_BYPASS`).
    pub(crate) fn bypass(
        af: u16,
        protocol: u8,
        caddr: [u8; 16],
        cport: u16,
        vaddr: [u8; 16],
        vport: u16,
        flags: u32,
    ) -> Self {
        Self::unbound(
            af,
            protocol,
            caddr,
            cport,
            vaddr,
            vport,
            flags | conn_flag::BYPASS,
        )
    }

    /// The connection with firewall mark `mark`.
    pub(crate) fn with_fwmark(mut self, mark: u32) -> Self {
        self.fwmark = mark;
        self
    }

    /// A template carrying persistence-engine data.
    pub(crate) fn with_pe(mut self, pe: KBox<PeData>) -> Self {
        self.pe = Some(pe);
        self
    }

    /// `ip_vs_sip_ct_match`'s comparison: this template is for client network `snet` and the
    /// engine data `data` (the virtual service and protocol are in the key).
    pub(crate) fn pe_matches(&self, snet: &[u8; 16], data: &[u8]) -> bool {
        self.caddr == *snet && self.pe.as_ref().is_some_and(|pe| pe.bytes() == data)
    }

    /// Whether a template was invalidated.
    pub(crate) fn is_invalid(&self) -> bool {
        self.invalid.load(Relaxed)
    }

    /// Invalidates a template (`ip_vs_check_template` failing).
    pub(crate) fn invalidate(&self) {
        self.invalid.store(true, Relaxed);
    }

    /// `IP_VS_CONN_F_*`.
    pub(crate) fn flags(&self) -> u32 {
        self.flags_state.load(Relaxed) as u32
    }

    /// The protocol state (templates: `CTPL_S_*`).
    pub(crate) fn state(&self) -> u16 {
        (self.flags_state.load(Relaxed) >> 32) as u16
    }

    /// Sets the protocol state without a transition: the destination's counters stay as they
    /// are (`ip_vs_tcp_conn_listen`).
    pub(crate) fn set_state_raw(&self, state: u16) {
        let _ = self.flags_state.fetch_update(Relaxed, Relaxed, |cur| {
            Some((cur & !STATE_MASK) | (u64::from(state) << 32))
        });
    }

    /// The FTP helper's state (`app_data`) of a connection bound to it (`cp->app`), or `None`.
    pub(crate) fn app(&self) -> Option<u8> {
        let v = ((self.flags_state.load(Relaxed) & APP_MASK) >> APP_SHIFT) as u8;
        v.checked_sub(1)
    }

    /// Binds the connection to the FTP helper with state `state`, or sets its state.
    pub(crate) fn set_app_state(&self, state: u8) {
        let v = u64::from(state.saturating_add(1)) << APP_SHIFT;
        let _ = self
            .flags_state
            .fetch_update(Relaxed, Relaxed, |cur| Some((cur & !APP_MASK) | v));
    }

    /// Clears `IP_VS_CONN_F_NO_CPORT` (`ip_vs_conn_fill_cport`); true for the one caller that
    /// found it set.
    pub(crate) fn claim_no_cport(&self) -> bool {
        let old = self
            .flags_state
            .fetch_and(!u64::from(conn_flag::NO_CPORT), Relaxed);
        old & u64::from(conn_flag::NO_CPORT) != 0
    }

    /// The forwarding method (`IP_VS_CONN_F_FWD_MASK` bits).
    pub(crate) fn fwd(&self) -> u32 {
        self.flags() & conn_flag::FWD_MASK
    }

    /// A persistence template.
    pub(crate) fn is_template(&self) -> bool {
        self.flags() & conn_flag::TEMPLATE != 0
    }

    /// Whether the connection keeps netfilter conntrack (`IP_VS_CONN_F_NFCT`).
    pub(crate) fn uses_conntrack(&self) -> bool {
        self.flags() & conn_flag::NFCT != 0
    }

    /// Stops keeping conntrack (clears `IP_VS_CONN_F_NFCT`), so the entry's expiry leaves the
    /// conntrack entry of its tuple alone: a new connection with the same tuple owns it now.
    pub(crate) fn forget_conntrack(&self) {
        self.flags_state
            .fetch_and(!u64::from(conn_flag::NFCT), Relaxed);
    }

    /// Marks a template assured (`ip_vs_control_assure_ct`).
    pub(crate) fn assure(&self) {
        self.flags_state
            .fetch_or(u64::from(CTPL_S_ASSURED) << 32, Relaxed);
    }

    /// The "in" key: client → virtual service.
    pub(crate) fn in_key(&self) -> Key {
        let dir = if self.is_template() {
            conntab::DIR_TEMPLATE
        } else {
            conntab::DIR_IN
        };
        key(
            self.af,
            self.protocol,
            dir,
            &self.caddr,
            self.cport,
            &self.vaddr,
            self.vport,
        )
    }

    /// The "out" key: what the real server's replies carry. For NAT the real server's address
    /// and port, for the other methods the virtual ones (`ip_vs_conn_out_get`).
    pub(crate) fn out_key(&self) -> Key {
        if self.fwd() == conn_flag::MASQ {
            key(
                self.af,
                self.protocol,
                conntab::DIR_OUT,
                &self.daddr,
                self.dport,
                &self.caddr,
                self.cport,
            )
        } else {
            key(
                self.af,
                self.protocol,
                conntab::DIR_OUT,
                &self.vaddr,
                self.vport,
                &self.caddr,
                self.cport,
            )
        }
    }

    /// Applies a state transition computed from the current state: the CAS makes concurrent
    /// packets of one connection agree on one sequence of states, and only the winner of a
    /// transition moves the destination's counters.
    fn transit<S>(
        &self,
        step: impl Fn(u16, u32) -> Transition<S>,
        to_raw: impl Fn(&S) -> u16,
    ) -> Transition<S> {
        let mut cur = self.flags_state.load(Relaxed);
        loop {
            let t = step((cur >> 32) as u16, cur as u32);
            let new = (cur & APP_MASK) | (u64::from(to_raw(&t.state)) << 32) | u64::from(t.flags);
            match self
                .flags_state
                .compare_exchange_weak(cur, new, Relaxed, Relaxed)
            {
                Ok(_) => return t,
                Err(c) => cur = c,
            }
        }
    }

    fn account(&self, activity: Activity, assure: bool) {
        if let Some(d) = &self.dest {
            match activity {
                Activity::Activated => {
                    d.activeconns.fetch_add(1, Relaxed);
                    d.touch();
                }
                Activity::Deactivated => {
                    d.activeconns.fetch_sub(1, Relaxed);
                    d.touch();
                }
                Activity::Unchanged => {}
            }
        }
        if assure {
            if let Some(ct) = &self.control {
                ct.assure();
            }
        }
    }

    /// `set_tcp_state`; returns the new timeout in seconds.
    pub(crate) fn tcp_state(
        &self,
        pd: &ProtoData,
        table: TcpStateTable,
        dir: Direction,
        th: TcpFlags,
    ) -> u32 {
        let has_dest = self.dest.is_some();
        let t = self.transit(
            |s, f| {
                let state = TcpState::from_raw(s).unwrap_or(TcpState::None);
                pd.tcp.transition_on(table, state, f, has_dest, dir, th)
            },
            |s| *s as u16,
        );
        self.account(t.activity, t.assure_template);
        t.timeout_secs
    }

    /// `udp_state_transition`.
    pub(crate) fn udp_state(&self, pd: &ProtoData, dir: Direction) -> u32 {
        let t = pd.udp.transition(self.flags(), dir);
        self.account(t.activity, t.assure_template);
        t.timeout_secs
    }

    /// `set_sctp_state`.
    pub(crate) fn sctp_state(&self, pd: &ProtoData, dir: Direction, ev: SctpEvent) -> u32 {
        let has_dest = self.dest.is_some();
        let t = self.transit(
            |s, f| {
                let state = SctpState::from_raw(s).unwrap_or(SctpState::None);
                pd.sctp.transition(state, f, has_dest, dir, ev)
            },
            |s| *s as u16,
        );
        self.account(t.activity, t.assure_template);
        t.timeout_secs
    }
}

/// `ip_vs_bind_app` (`tcp_app_conn_bind`): a NAT TCP connection to a port of the FTP helper is
/// one of its control connections, which keep conntrack (`ip_vs_ftp_init_conn`).
fn binds_ftp(protocol: u8, flags: u32, vport: u16) -> bool {
    protocol == TCP && flags & conn_flag::FWD_MASK == conn_flag::MASQ && ftp::is_ftp_port(vport)
}

/// The key of one tuple. IPv4 addresses use the first 4 bytes; the rest must be zero.
pub(crate) fn key(
    af: u16,
    protocol: u8,
    dir: u8,
    saddr: &[u8; 16],
    sport: u16,
    daddr: &[u8; 16],
    dport: u16,
) -> Key {
    let mut k = Key {
        saddr: *saddr,
        daddr: *daddr,
        sport: sport.to_be(),
        dport: dport.to_be(),
        af: u8::from(af == AF_INET6),
        protocol,
        dir,
        pad: 0,
    };
    if af != AF_INET6 {
        k.saddr[4..].fill(0);
        k.daddr[4..].fill(0);
    }
    k
}

/// `ip_vs_bind_dest`'s counters.
fn bind_dest(dest: &Dest, flags: u32) {
    if flags & conn_flag::TEMPLATE != 0 {
        dest.persistconns.fetch_add(1, Relaxed);
        dest.touch();
        return;
    }
    if flags & conn_flag::INACTIVE == 0 {
        dest.activeconns.fetch_add(1, Relaxed);
    }
    let tc = dest.totalconns.fetch_add(1, Relaxed).wrapping_add(1);
    let th = thresholds(dest);
    if th.bind_triggers(tc as i32) {
        dest.update_overload(OverloadEvent::Bind);
    }
    dest.touch();
}

fn thresholds(dest: &Dest) -> Thresholds {
    Thresholds::new(
        dest.u_threshold.load(Relaxed),
        dest.l_threshold.load(Relaxed),
    )
}

impl Timed for Conn {
    /// The end of `ip_vs_conn_expire`: the conntrack entry goes (`ip_vs_conn_drop_conntrack`,
    /// not at namespace exit and not for one-packet connections), then `ip_vs_unbind_dest`.
    fn unlinked(&self, net: Option<&Net>) {
        let flags = self.flags();
        if let Some(net) = net {
            if flags & conn_flag::NFCT != 0 && flags & conn_flag::ONE_PACKET == 0 {
                nfct::drop_conntrack(net, self);
            }
            if flags & conn_flag::NO_CPORT != 0 {
                if let Some(ns) = crate::netns::Netns::of(net) {
                    ns.no_cport().fetch_sub(1, Relaxed);
                }
            }
        }
        let Some(dest) = &self.dest else { return };
        if flags & conn_flag::TEMPLATE != 0 {
            dest.persistconns.fetch_sub(1, Relaxed);
            dest.touch();
            return;
        }
        if flags & conn_flag::INACTIVE == 0 {
            dest.activeconns.fetch_sub(1, Relaxed);
        }
        let before = dest.totalconns.fetch_sub(1, Relaxed);
        if thresholds(dest).unbind_triggers(before as i32) {
            dest.update_overload(OverloadEvent::Unbind);
        }
        dest.touch();
    }

    /// An invalidated template: ip_vs re-keys it (ports 0xffff) so that no lookup finds it, and
    /// the template that takes its place is found instead. An invalidated connection stays
    /// visible until a new one hides it, as in ip_vs (a packet dropped for its confirmed
    /// conntrack entry finds it again).
    fn hidden(&self) -> bool {
        self.is_template() && self.is_invalid()
    }
}
