//! Socket buffers as the netfilter hooks hand them to rvs.
//!
//! An [`Skb`] is the packet of one hook call: the hook owns it until it answers. Answering
//! [`Verdict::Accept`] or [`Verdict::Drop`] gives it back to netfilter; every way of consuming it
//! ([`Skb::free`], [`Skb::local_out`], [`Skb::ip_local_out`]) returns the [`Stolen`] token that
//! [`Verdict::Stolen`] needs, so a packet can neither be used after it was sent nor be forgotten.
//!
//! The bytes of the packet are reached through [`Skb::network`]: the linear part of the buffer
//! from the IP header on. [`Skb::pull`] makes a prefix linear first (`pskb_may_pull`) and
//! [`Skb::make_writable`] makes it private and writable (`skb_ensure_writable`).

use core::ptr::NonNull;

use super::{
    bindings,
    netfilter::HookPoint,
    pernet::Net,
    route::{AnyRoute, Route},
};

/// `PACKET_HOST`.
const PACKET_HOST: u32 = 0;
/// `CHECKSUM_NONE`.
const CHECKSUM_NONE: u32 = 0;
/// `CHECKSUM_COMPLETE`.
const CHECKSUM_COMPLETE: u32 = 2;
/// `CHECKSUM_PARTIAL`.
const CHECKSUM_PARTIAL: u32 = 3;

/// What [`Skb::conntrack`] reports of a packet's conntrack entry.
#[derive(Clone, Copy)]
pub(crate) struct Conntrack {
    /// In conntrack's hash table already (`nf_ct_is_confirmed`).
    pub(crate) confirmed: bool,
    /// Being removed (`nf_ct_is_dying`).
    pub(crate) dying: bool,
    /// The packet travels in the entry's reply direction.
    pub(crate) reply: bool,
    /// The entry's transport protocol (`nf_ct_protonum`).
    pub(crate) protonum: u8,
}

/// The packet of one hook call.
///
/// # Invariants
///
/// `ptr` is a live `sk_buff` owned by the current hook call (until consumed).
pub(crate) struct Skb {
    ptr: NonNull<bindings::sk_buff>,
}

/// What `ip_vs_send_or_cont` does to a packet besides marking it handled.
#[derive(Clone, Copy)]
pub(crate) struct Handled {
    /// Untracked for conntrack (`ip_vs_notrack`).
    pub(crate) notrack: bool,
    /// An early-demux socket association dropped if it came in on a device
    /// (`ip_vs_drop_early_demux_sk`).
    pub(crate) orphan: bool,
}

impl Handled {
    fn bits(self) -> u32 {
        let mut b = 0;
        if self.notrack {
            b |= bindings::RVS_SEND_NOTRACK;
        }
        if self.orphan {
            b |= bindings::RVS_SEND_ORPHAN;
        }
        b
    }
}

/// Proof that the hook consumed its packet (sent or freed it).
pub(crate) struct Stolen(());

/// What a hook answers.
pub(crate) enum Verdict {
    /// `NF_ACCEPT`: the packet goes on through the stack.
    Accept(Skb),
    /// `NF_DROP`: netfilter frees the packet.
    Drop(Skb),
    /// `NF_STOLEN`: rvs consumed it.
    Stolen(Stolen),
}

impl Skb {
    /// Takes over the packet of a hook call.
    ///
    /// # Safety
    ///
    /// `ptr` must be the live `sk_buff` of a running hook call, used by nobody else until the
    /// hook returns.
    pub(crate) unsafe fn from_hook(ptr: *mut bindings::sk_buff) -> Option<Self> {
        // INVARIANT: the caller hands over a live skb of the hook call.
        NonNull::new(ptr).map(|ptr| Self { ptr })
    }

    /// The raw pointer, for the hook trampoline's answer.
    pub(crate) fn into_raw(self) -> *mut bindings::sk_buff {
        self.ptr.as_ptr()
    }

    fn raw(&self) -> *mut bindings::sk_buff {
        self.ptr.as_ptr()
    }

    fn sk(&self) -> &bindings::sk_buff {
        // SAFETY: `ptr` is live and ours (type invariant).
        unsafe { self.ptr.as_ref() }
    }

    /// `skb->len`: the length of the packet from its network header.
    pub(crate) fn len(&self) -> u32 {
        self.sk().len
    }

    /// The skb's headers group (`struct_group(headers, ..)`: the bitfields, marks and header
    /// offsets), read here rather than through C calls, as every hook reads some of it.
    fn hdr(&self) -> &bindings::sk_buff__bindgen_ty_4__bindgen_ty_1 {
        // SAFETY: The skb is live (type invariant); both views of the group are the same bytes.
        unsafe { self.sk().__bindgen_anon_4.__bindgen_anon_1.as_ref() }
    }

    /// `skb->mark` (the firewall mark).
    pub(crate) fn mark(&self) -> u32 {
        // SAFETY: `mark` and `reserved_tailroom` share a union; the packet path uses `mark`.
        unsafe { self.hdr().__bindgen_anon_4.mark }
    }

    /// `skb->ipvs_property`: already handled by rvs.
    pub(crate) fn ipvs_property(&self) -> bool {
        self.hdr().ipvs_property() != 0
    }

    /// Marks the packet as handled by rvs (`skb->ipvs_property = 1`).
    pub(crate) fn set_ipvs_property(&mut self) {
        // SAFETY: The skb is live and ours (type invariant).
        unsafe { bindings::rvs_skb_set_ipvs_property(self.raw()) }
    }

    /// `skb->pkt_type == PACKET_HOST`.
    pub(crate) fn is_for_host(&self) -> bool {
        u32::from(self.hdr().pkt_type()) == PACKET_HOST
    }

    /// `skb_dst(skb) != NULL`.
    pub(crate) fn has_dst(&self) -> bool {
        // SAFETY: The skb is live; `_skb_refdst` is the union's member while the skb is in the
        // IP stack (`skb_dst`: the pointer without its `SKB_DST_NOREF` bit).
        unsafe { self.sk().__bindgen_anon_3.__bindgen_anon_1._skb_refdst & !1 != 0 }
    }

    /// `!skb->dev || skb->dev->flags & IFF_LOOPBACK`: locally generated.
    pub(crate) fn locally_generated(&self) -> bool {
        // SAFETY: As above.
        unsafe { bindings::rvs_skb_dev_is_loopback_or_none(self.raw()) }
    }

    /// Whether the packet's current route is local (`RTCF_LOCAL`; IPv6: a loopback device).
    /// Only for packets with a route ([`Skb::has_dst`]).
    pub(crate) fn route_is_local(&self, ipv6: bool) -> bool {
        // SAFETY: The skb is live and, by the caller's check, has a route of its family.
        unsafe {
            if ipv6 {
                bindings::rvs_skb_rt6_is_local(self.raw())
            } else {
                bindings::rvs_skb_rt4_is_local(self.raw())
            }
        }
    }

    /// Whether the IPv4 packet's route is an input route (it came from outside).
    pub(crate) fn route_is_input(&self) -> bool {
        // SAFETY: The skb is live and has an IPv4 route (caller's check).
        unsafe { bindings::rvs_skb_rt_is_input(self.raw()) }
    }

    /// The checksum state is `CHECKSUM_PARTIAL` (the NIC, or the stack, completes it).
    pub(crate) fn csum_partial(&self) -> bool {
        u32::from(self.hdr().ip_summed()) == CHECKSUM_PARTIAL
    }

    /// For a `CHECKSUM_PARTIAL` packet: where the checksum's coverage starts, from the
    /// current data pointer (`skb_checksum_start_offset`), and where in it the checksum goes
    /// (`csum_offset`).
    pub(crate) fn partial_csum_at(&self) -> (i32, u16) {
        // SAFETY: The skb is live (type invariant).
        unsafe {
            (
                bindings::rvs_skb_checksum_start_offset(self.raw()),
                bindings::rvs_skb_csum_offset(self.raw()),
            )
        }
    }

    /// The checksum of a non-GSO packet is left to the receiver (GUE's remote checksum
    /// offload): `CHECKSUM_NONE`, not an encapsulation for offloads.
    pub(crate) fn remote_csum_done(&mut self) {
        // SAFETY: The skb is live and ours (type invariant).
        unsafe {
            if !bindings::rvs_skb_is_gso(self.raw()) {
                bindings::rvs_skb_set_ip_summed(self.raw(), CHECKSUM_NONE);
                bindings::rvs_skb_clear_encapsulation(self.raw());
            }
        }
    }

    /// After rewriting addresses or ports: a `CHECKSUM_COMPLETE` sum no longer holds
    /// (`CHECKSUM_NONE`, as ip_vs's NAT handlers set it).
    pub(crate) fn invalidate_complete_csum(&mut self) {
        // SAFETY: The skb is live and ours (type invariant).
        unsafe {
            if bindings::rvs_skb_ip_summed(self.raw()) == CHECKSUM_COMPLETE {
                bindings::rvs_skb_set_ip_summed(self.raw(), CHECKSUM_NONE);
            }
        }
    }

    /// Whether the packet is too big for a path of `mtu` bytes (`ip_vs_exceeds_mtu`, GSO-aware;
    /// IPv6 also by the largest fragment conntrack reassembled it from).
    pub(crate) fn exceeds_mtu(&self, mtu: u32, ipv6: bool) -> bool {
        // The usual answer without the call: an IPv4 packet within the MTU.
        if !ipv6 && self.len() <= mtu {
            return false;
        }
        // SAFETY: The skb is live (type invariant); the call only reads it.
        unsafe { bindings::rvs_skb_exceeds_mtu(self.raw(), mtu, ipv6) }
    }

    /// Copies the first bytes of the packet, from the network header on, into `buf` (as many
    /// as fit or as there are; `skb_copy_bits`), whatever the buffer's layout: reading headers
    /// this way never changes the packet (pulling bytes into the head would break the segment
    /// layout of a GSO packet). Returns how many bytes were copied.
    pub(crate) fn copy_prefix(&self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.len() as usize);
        let off = self.network_offset();
        let (Ok(off), Ok(n32)) = (i32::try_from(off), i32::try_from(n)) else {
            return 0;
        };
        // SAFETY: The skb is live; `buf` has room for `n` bytes, and `off + n` is within the
        // packet (`n <= skb->len` from the network header, which is at `off`).
        let ret = unsafe { bindings::skb_copy_bits(self.raw(), off, buf.as_mut_ptr().cast(), n32) };
        if ret == 0 {
            n
        } else {
            0
        }
    }

    /// An SCTP packet that the stack will segment (its CRC32c is computed per segment).
    pub(crate) fn is_gso_sctp(&self) -> bool {
        // SAFETY: The skb is live; the call only reads it.
        unsafe { bindings::rvs_skb_is_gso_sctp(self.raw()) }
    }

    /// Makes the first `n` bytes from the network header linear (`pskb_may_pull`); false if the
    /// packet is shorter or memory ran out.
    pub(crate) fn pull(&mut self, n: usize) -> bool {
        let Some(total) = self.network_offset().checked_add(n) else {
            return false;
        };
        let Ok(total) = u32::try_from(total) else {
            return false;
        };
        // SAFETY: The skb is live and ours (type invariant).
        unsafe { bindings::pskb_may_pull(self.raw(), total) }
    }

    /// Makes the first `n` bytes from the network header linear, private and writable
    /// (`skb_ensure_writable`).
    pub(crate) fn make_writable(&mut self, n: usize) -> bool {
        let Some(total) = self.network_offset().checked_add(n) else {
            return false;
        };
        let Ok(total) = u32::try_from(total) else {
            return false;
        };
        // SAFETY: The skb is live and ours (type invariant).
        unsafe { bindings::skb_ensure_writable(self.raw(), total) == 0 }
    }

    /// `skb_network_offset` (0 if negative), computed here: the packet path asks many times.
    fn network_offset(&self) -> usize {
        let sk = self.sk();
        let nh = self.hdr().network_header;
        let off = (sk.head as usize)
            .wrapping_add(usize::from(nh))
            .wrapping_sub(sk.data as usize) as isize;
        usize::try_from(off).unwrap_or(0)
    }

    /// The linear bytes from the network header on (the whole packet if it is linear).
    pub(crate) fn network(&self) -> &[u8] {
        let sk = self.sk();
        let headlen = (sk.len - sk.data_len) as usize;
        let off = self.network_offset();
        if off > headlen {
            return &[];
        }
        // SAFETY: `data .. data + headlen` is the linear part of the live skb; nothing writes it
        // while `&self` is borrowed.
        unsafe { core::slice::from_raw_parts(sk.data.add(off), headlen - off) }
    }

    /// The linear bytes from the network header on, writable. Only the prefix made writable by
    /// [`Skb::make_writable`] may be changed.
    pub(crate) fn network_mut(&mut self) -> &mut [u8] {
        let sk = self.sk();
        let headlen = (sk.len - sk.data_len) as usize;
        let data = sk.data;
        let off = self.network_offset();
        if off > headlen {
            return &mut [];
        }
        // SAFETY: As in `network`, with `&mut self` excluding every other access.
        unsafe { core::slice::from_raw_parts_mut(data.add(off), headlen - off) }
    }

    /// Hands the packet to conntrack as untracked (`ip_vs_notrack`).
    pub(crate) fn notrack(&mut self) {
        // SAFETY: The skb is live and ours.
        unsafe { bindings::rvs_skb_notrack(self.raw()) }
    }

    /// The packet's conntrack entry, if it has one (not untracked): what ip_vs_nfct.c checks
    /// before touching it.
    pub(crate) fn conntrack(&self) -> Option<Conntrack> {
        let mut protonum = 0u8;
        // SAFETY: The skb is live; the call only reads it and writes the local.
        let state = unsafe { bindings::rvs_skb_ct_state(self.raw(), &mut protonum) };
        if state & bindings::RVS_CT_PRESENT == 0 {
            return None;
        }
        Some(Conntrack {
            confirmed: state & bindings::RVS_CT_CONFIRMED != 0,
            dying: state & bindings::RVS_CT_DYING != 0,
            reply: state & bindings::RVS_CT_REPLY != 0,
            protonum,
        })
    }

    /// Changes one end of the reply tuple of the packet's conntrack entry
    /// (`nf_conntrack_alter_reply`): its source (`src`) or destination address becomes `addr`
    /// (an IPv4 address in the first 4 bytes, the rest zero), and its port `port` if given.
    /// Only for an entry [`Skb::conntrack`] found unconfirmed.
    pub(crate) fn alter_conntrack_reply(&mut self, src: bool, addr: &[u8; 16], port: Option<u16>) {
        // SAFETY: The skb is live and ours; `addr` is 16 readable bytes.
        unsafe {
            bindings::rvs_skb_ct_alter_reply(
                self.raw(),
                src,
                addr.as_ptr(),
                port.unwrap_or(0).to_be(),
                port.is_some(),
            )
        }
    }

    /// Adds the sequence-adjustment extension to the packet's unconfirmed conntrack entry, as
    /// ip_vs does for connections of an application helper (its mangling shifts sequence
    /// numbers); false only when it could not be added.
    pub(crate) fn ct_seqadj_add(&mut self) -> bool {
        // SAFETY: The skb is live and ours.
        unsafe { bindings::rvs_skb_ct_seqadj_add(self.raw()) }
    }

    /// `nf_nat_mangle_tcp_packet` with the packet's conntrack entry: `match_len` bytes at
    /// `match_off` of the TCP payload (the transport header at `l4off` from the network header)
    /// become `rep`, the checksums and the IP length follow, and conntrack adjusts the
    /// sequence numbers of the packets after it. 1 done, 0 the packet has no conntrack entry,
    /// -1 failed (memory).
    pub(crate) fn nat_mangle_tcp(
        &mut self,
        l4off: usize,
        match_off: usize,
        match_len: usize,
        rep: &[u8],
    ) -> i32 {
        let protoff = self.network_offset() + l4off;
        let (Ok(protoff), Ok(off), Ok(mlen), Ok(rlen)) = (
            u32::try_from(protoff),
            u32::try_from(match_off),
            u32::try_from(match_len),
            u32::try_from(rep.len()),
        ) else {
            return -1;
        };
        // SAFETY: The skb is live and ours; `rep` is `rlen` readable bytes; the call checks the
        // offsets against the packet.
        unsafe {
            bindings::rvs_skb_nat_mangle_tcp(
                self.raw(),
                protoff,
                off,
                mlen,
                rep.as_ptr().cast(),
                rlen,
            )
        }
    }

    /// `ip_vs_nfct_expect_related`: tells conntrack to expect a connection `saddr`:`sport` (0:
    /// any port) → `daddr`:`dport` related to the packet's entry (it only takes when that entry
    /// has a conntrack helper); rvs's callback fixes the new entry's reply tuple.
    pub(crate) fn ct_expect_related(
        &mut self,
        saddr: &[u8; 16],
        daddr: &[u8; 16],
        protocol: u8,
        sport: u16,
        dport: u16,
    ) {
        // SAFETY: The skb is live and ours; the addresses are 16 readable bytes each.
        unsafe {
            bindings::rvs_skb_ct_expect_related(
                self.raw(),
                saddr.as_ptr(),
                daddr.as_ptr(),
                protocol,
                sport.to_be(),
                dport.to_be(),
            )
        }
    }

    /// The checksum still needs verifying (`CHECKSUM_NONE` or `CHECKSUM_COMPLETE`), as
    /// `tcp_csum_check` sees it; not for `CHECKSUM_UNNECESSARY` and `CHECKSUM_PARTIAL`.
    pub(crate) fn csum_unverified(&self) -> bool {
        // SAFETY: The skb is live (type invariant).
        let s = unsafe { bindings::rvs_skb_ip_summed(self.raw()) };
        s == CHECKSUM_NONE || s == CHECKSUM_COMPLETE
    }

    /// Confirms the packet's conntrack entry now (`nf_conntrack_confirm`), as ip_vs does before
    /// encapsulating a packet whose connection keeps conntrack; false when the packet must be
    /// dropped (a clash with an entry confirmed meanwhile).
    pub(crate) fn confirm_conntrack(&mut self) -> bool {
        // SAFETY: The skb is live and ours.
        unsafe { bindings::rvs_skb_ct_confirm(self.raw()) }
    }

    /// `skb->ignore_df = 1`: the stack fragments rather than answering "fragmentation needed".
    pub(crate) fn set_ignore_df(&mut self) {
        // SAFETY: The skb is live and ours.
        unsafe { bindings::rvs_skb_set_ignore_df(self.raw()) }
    }

    /// Drops an early-demux socket association of a packet that came in on a device
    /// (`ip_vs_drop_early_demux_sk`).
    pub(crate) fn orphan_if_from_device(&mut self) {
        // SAFETY: The skb is live and ours.
        unsafe { bindings::rvs_skb_orphan_if_dev(self.raw()) }
    }

    /// Replaces the packet's route.
    pub(crate) fn set_route(&mut self, route: Route) {
        // SAFETY: The skb is live and ours; the route's reference moves into the skb.
        unsafe { bindings::rvs_skb_set_dst(self.raw(), route.into_raw()) }
    }

    /// Attaches a route, looked up for this packet or a destination's cached one
    /// (`skb_dst_set_noref`: valid while the RCU read section that found it lasts, which the
    /// packet is sent in; a queue that keeps the packet longer takes a reference itself).
    pub(crate) fn set_any_route(&mut self, route: AnyRoute<'_>) {
        match route {
            AnyRoute::Owned(r) => self.set_route(r),
            // SAFETY: The skb is live and ours; the dst is valid for the read section.
            AnyRoute::Cached(c) => unsafe { bindings::rvs_skb_set_dst_noref(self.raw(), c.dst()) },
        }
    }

    /// Re-routes a reply as if it came from this host (`ip_vs_route_me_harder`); false when the
    /// packet must be dropped.
    pub(crate) fn route_me_harder(&mut self, net: &Net, ipv6: bool) -> bool {
        // SAFETY: The skb is live, ours, and has a route of the family; `net` is live.
        unsafe { bindings::rvs_route_me_harder(net.as_ptr(), self.raw(), ipv6) == 0 }
    }

    /// Sends an ICMP error about this packet (`icmp_send`).
    pub(crate) fn icmp_send(&self, icmp_type: i32, code: i32, info: u32) {
        // SAFETY: The skb is live; icmp_send only reads it.
        unsafe { bindings::rvs_icmp_send(self.raw(), icmp_type, code, info.to_be()) }
    }

    /// Sends an ICMPv6 error about this packet (`icmpv6_send`).
    pub(crate) fn icmpv6_send(&mut self, net: &Net, icmp_type: u8, code: u8, info: u32) {
        // SAFETY: The skb is live and ours; `net` is live.
        unsafe { bindings::rvs_icmpv6_send(net.as_ptr(), self.raw(), icmp_type, code, info) }
    }

    /// Reassembles an IPv4 fragment (`ip_vs_gather_frags`, with `ip_vs_defrag_user`'s user for
    /// the hook): `Ok` with the whole datagram once this was its last missing piece, `Err`
    /// when the fragment was queued for the rest (or freed on error).
    pub(crate) fn gather_frags(self, net: &Net, hook: HookPoint) -> Result<Self, Stolen> {
        let user = match hook {
            HookPoint::LocalIn => bindings::RVS_IP_DEFRAG_VS_IN,
            HookPoint::Forward => bindings::RVS_IP_DEFRAG_VS_FWD,
            _ => bindings::RVS_IP_DEFRAG_VS_OUT,
        };
        // SAFETY: The skb is ours; on failure the call consumed it, on success it is still ours
        // (reassembled in place).
        if unsafe { bindings::rvs_ip_gather_frags(net.as_ptr(), self.raw(), user) } != 0 {
            return Err(Stolen(()));
        }
        Ok(self)
    }

    /// Drops the first `off` bytes from the network header on and makes what follows the
    /// packet's IPv4 header, `hlen` bytes long (linear, transport header after it, no IP
    /// options state). False if the packet is too short.
    pub(crate) fn pull_to_ipv4(&mut self, off: usize, hlen: usize) -> bool {
        let (Ok(off), Ok(hlen)) = (u32::try_from(off), u32::try_from(hlen)) else {
            return false;
        };
        // SAFETY: The skb is live and ours.
        unsafe { bindings::rvs_skb_pull_to_ipv4(self.raw(), off, hlen) == 0 }
    }

    /// Records a path MTU of `mtu` towards the destination of the IPv4 header at the network
    /// header (`ipv4_update_pmtu`).
    pub(crate) fn update_pmtu_v4(&mut self, net: &Net, mtu: u32) {
        // SAFETY: The skb is live and ours; its network header is a linear IPv4 header
        // (`pull_to_ipv4`).
        unsafe { bindings::rvs_ipv4_update_pmtu(self.raw(), net.as_ptr(), mtu) }
    }

    /// Frees the packet (`kfree_skb`).
    pub(crate) fn free(self) -> Stolen {
        // SAFETY: The skb is ours (type invariant) and `self` is consumed.
        unsafe { bindings::kfree_skb(self.raw()) };
        Stolen(())
    }

    /// Marks the packet as handled by rvs (`skb->ipvs_property = 1`) and does what `how` asks,
    /// in one call: `ip_vs_send_or_cont`'s part for a packet that stays on this host.
    pub(crate) fn mark_handled(&mut self, how: Handled) {
        // SAFETY: The skb is live and ours.
        unsafe { bindings::rvs_skb_mark_handled(self.raw(), how.bits()) }
    }

    /// [`Skb::mark_handled`], then sends the packet through `LOCAL_OUT` to its route
    /// (`NF_HOOK(..., dst_output)`, with `ignore_df` set, as ip_vs's `ip_vs_send_or_cont`
    /// does); the packet must have a route ([`Skb::set_route`]).
    pub(crate) fn send_local_out(self, net: &Net, ipv6: bool, how: Handled) -> Stolen {
        let pf = if ipv6 { 10 } else { 2 };
        // SAFETY: The skb is ours and has a route; the call consumes it.
        unsafe { bindings::rvs_send_local_out(pf, net.as_ptr(), self.raw(), how.bits()) };
        Stolen(())
    }

    /// Sends a packet with a freshly built outer header (`ip_local_out`/`ip6_local_out`).
    pub(crate) fn ip_local_out(self, net: &Net, ipv6: bool) -> Stolen {
        // SAFETY: The skb is ours, has a route and a complete outer header; the call consumes
        // it.
        unsafe {
            bindings::rvs_skb_tunnel_prepare(self.raw());
            if ipv6 {
                bindings::ip6_local_out(net.as_ptr(), core::ptr::null_mut(), self.raw());
            } else {
                bindings::ip_local_out(net.as_ptr(), core::ptr::null_mut(), self.raw());
            }
        }
        Stolen(())
    }

    /// Makes room for `n` bytes of outer headers in front of the packet (a private copy when
    /// the buffer is shared or short of headroom). On failure the packet is freed.
    pub(crate) fn reserve_headroom(mut self, n: u32) -> Result<Self, Stolen> {
        self.orphan_if_from_device();
        // SAFETY: The skb is live and ours.
        if unsafe { bindings::rvs_skb_needs_headroom(self.raw(), n) } {
            let mut raw = self.raw();
            // SAFETY: `raw` is our skb; on success it is replaced by the copy (the original is
            // consumed), on failure it is left alone.
            if unsafe { bindings::rvs_skb_realloc_headroom(&mut raw, n) } != 0 {
                return Err(self.free());
            }
            // INVARIANT: the copy is a live skb that we own now.
            self.ptr = NonNull::new(raw).ok_or(Stolen(()))?;
        }
        Ok(self)
    }

    /// `iptunnel_handle_offloads` for an encapsulation of GSO type `gso_type`; false on error.
    pub(crate) fn tunnel_offloads(&mut self, gso_type: u32) -> bool {
        // SAFETY: The skb is live and ours.
        unsafe { bindings::iptunnel_handle_offloads(self.raw(), gso_type as i32) == 0 }
    }

    /// Marks the current network header as the inner one (`transport_header`, inner protocol
    /// and inner MAC header), before outer headers are pushed.
    pub(crate) fn set_inner(&mut self, inner_proto: u8) {
        // SAFETY: The skb is live and ours.
        unsafe { bindings::rvs_skb_set_inner(self.raw(), inner_proto) }
    }

    /// Pushes `len` bytes of outer header and makes them the network header; returns them to
    /// be filled in. The headroom must have been reserved.
    pub(crate) fn push_outer(&mut self, len: u32, ipv6: bool) -> &mut [u8] {
        // SAFETY: The skb is live and ours, with `len` bytes of headroom reserved.
        unsafe { bindings::rvs_skb_push_outer(self.raw(), len, ipv6) };
        let out = self.network_mut();
        let n = (len as usize).min(out.len());
        &mut out[..n]
    }

    /// Pushes `len` bytes of tunnel transport header (UDP+GUE) in front of the packet, makes
    /// them the transport header and returns them to be filled in. The headroom must have been
    /// reserved.
    pub(crate) fn push_transport(&mut self, len: u32) -> &mut [u8] {
        // SAFETY: The skb is live and ours, with `len` bytes of headroom reserved; the pushed
        // bytes start at the returned pointer.
        let p = unsafe { bindings::rvs_skb_push_transport(self.raw(), len) };
        if p.is_null() {
            return &mut [];
        }
        // SAFETY: `len` bytes at `p` are the skb's linear data, ours while `&mut self` lasts.
        unsafe { core::slice::from_raw_parts_mut(p, len as usize) }
    }

    /// Computes (or, `nocheck`, leaves zero) the checksum of the UDP datagram at the transport
    /// header (`udp_set_csum`/`udp6_set_csum`).
    pub(crate) fn udp_set_csum(
        &mut self,
        nocheck: bool,
        saddr: &[u8; 16],
        daddr: &[u8; 16],
        ipv6: bool,
    ) {
        // SAFETY: The skb is live and ours with a complete UDP header at its transport header;
        // the addresses are 16 readable bytes (IPv4 uses the first 4).
        unsafe {
            bindings::rvs_udp_set_csum(nocheck, self.raw(), saddr.as_ptr(), daddr.as_ptr(), ipv6)
        }
    }

    /// The UDP source port of this flow for a UDP tunnel (`udp_flow_src_port`).
    pub(crate) fn udp_flow_src_port(&mut self, net: &Net) -> u16 {
        // SAFETY: The skb is live and ours; `net` is live.
        u16::from_be(unsafe { bindings::rvs_udp_flow_src_port(net.as_ptr(), self.raw()) })
    }

    /// Pushes a GRE header for an IPv4 or IPv6 inner packet (`gre_build_header`), with a
    /// checksum if asked. The headroom ([`gre_hlen`]) must have been reserved.
    pub(crate) fn push_gre(&mut self, csum: bool, inner_ipv6: bool) {
        // SAFETY: The skb is live and ours with the headroom reserved.
        unsafe { bindings::rvs_gre_encap(self.raw(), csum, inner_ipv6) }
    }

    /// `ip_select_ident` for the outer IPv4 header just pushed.
    pub(crate) fn select_ident(&mut self, net: &Net) {
        // SAFETY: The skb is live and ours, with an IPv4 network header.
        unsafe { bindings::rvs_ip_select_ident(net.as_ptr(), self.raw()) }
    }
}

/// The length of a GRE header with or without checksum (`gre_calc_hlen`).
pub(crate) fn gre_hlen(csum: bool) -> u32 {
    // SAFETY: A pure computation.
    unsafe { bindings::rvs_gre_hlen(csum) }
}
