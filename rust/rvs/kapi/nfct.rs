//! Netfilter conntrack entries that are not a packet's (the packet's own entry is reached through
//! [`super::skb::Skb::conntrack`]): removing the entry of a connection that ended
//! (`ip_vs_conn_drop_conntrack`'s lookup and kill), conntrack's hooks held for a service
//! (`ip_vs_register_conntrack`), and the expectations rvs leaves behind.

use super::{bindings, pernet::Net};

/// Kills the conntrack entry of namespace `net` (zone 0) whose original tuple is
/// `saddr:sport -> daddr:dport` of `protocol` (`nf_conntrack_find_get` + `nf_ct_kill`), if
/// there is one. IPv4 addresses are in the first 4 bytes, the rest zero. Any context.
pub(crate) fn kill(
    net: &Net,
    af: u16,
    protocol: u8,
    saddr: &[u8; 16],
    sport: u16,
    daddr: &[u8; 16],
    dport: u16,
) {
    // SAFETY: `net` is live; the addresses are 16 readable bytes each; the call takes and
    // gives back its own reference to what it finds.
    unsafe {
        bindings::rvs_ct_kill_tuple(
            net.as_ptr(),
            af,
            protocol,
            saddr.as_ptr(),
            sport.to_be(),
            daddr.as_ptr(),
            dport.to_be(),
        )
    }
}

/// Conntrack's hooks in a namespace for one family, held while it lives (`nf_ct_netns_get` /
/// `nf_ct_netns_put`): ip_vs holds them for an FTP service with NAT real servers, whose
/// connections the FTP helper must see tracked.
pub(crate) struct NetnsConntrack {
    net: *mut bindings::net,
    af: u16,
}

// SAFETY: Only the pointer to the namespace, which outlives the value, is kept; get and put may
// run on any CPU.
unsafe impl Send for NetnsConntrack {}
// SAFETY: As above: the value has no shared state.
unsafe impl Sync for NetnsConntrack {}

impl NetnsConntrack {
    /// Takes conntrack's hooks of family `af` in `net`, which must outlive the value (process
    /// context).
    pub(crate) fn get(net: &Net, af: u16) -> kernel::error::Result<Self> {
        // SAFETY: `net` is live; process context, as the call may sleep.
        let ret = unsafe { bindings::rvs_ct_netns_get(net.as_ptr(), af) };
        kernel::error::to_result(ret)?;
        Ok(Self {
            net: net.as_ptr(),
            af,
        })
    }
}

impl Drop for NetnsConntrack {
    fn drop(&mut self) {
        // SAFETY: Taken in `get` on a namespace that is still live (it outlives the value).
        unsafe { bindings::rvs_ct_netns_put(self.net, self.af) }
    }
}

/// Removes the conntrack expectations rvs made (their callback is rvs's code) and waits for a
/// callback that is running: at unload, after the hooks are gone.
pub(crate) struct ExpectCleanup;

impl Drop for ExpectCleanup {
    fn drop(&mut self) {
        // SAFETY: Process context (module unload); the call may sleep.
        unsafe { bindings::rvs_ct_expect_cleanup() }
    }
}

/// The C side of rvs's expectation callback (`rvs_expectfn` in kapi/datapath.c calls it for a
/// new conntrack entry an expectation of ours matched): which end of the entry's reply tuple to
/// change ([`bindings::RVS_EXPECT_REPLY_DST`] or `_SRC`, with `addr`/`port` set, as
/// [`crate::ftp::expected`] answers) or [`bindings::RVS_EXPECT_NONE`].
///
/// # Safety
///
/// Called under RCU with a live namespace, 16 readable bytes at `saddr` and `daddr`, 16
/// writable ones at `addr`, and a writable `port`. Ports are big-endian.
#[no_mangle]
pub(crate) unsafe extern "C" fn rvs_ftp_expected(
    net: *mut bindings::net,
    l3num: u16,
    protonum: u8,
    saddr: *const u8,
    sport: u16,
    daddr: *const u8,
    dport: u16,
    addr: *mut u8,
    port: *mut u16,
) -> i32 {
    // SAFETY: The caller passes a live namespace and readable addresses (see above).
    let (net, s, d) = unsafe {
        (
            Net::from_raw(net),
            &*saddr.cast::<[u8; 16]>(),
            &*daddr.cast::<[u8; 16]>(),
        )
    };
    let Some((reply_dst, a, p)) = crate::ftp::expected(
        net,
        l3num,
        protonum,
        s,
        u16::from_be(sport),
        d,
        u16::from_be(dport),
    ) else {
        return bindings::RVS_EXPECT_NONE;
    };
    // SAFETY: The caller passes 16 writable bytes at `addr` and a writable `port`.
    unsafe {
        core::ptr::copy_nonoverlapping(a.as_ptr(), addr, 16);
        *port = p.to_be();
    }
    if reply_dst {
        bindings::RVS_EXPECT_REPLY_DST
    } else {
        bindings::RVS_EXPECT_REPLY_SRC
    }
}
