//! Netfilter hooks: ip_vs's hook table, registered per namespace and family.
//!
//! The table itself (hook points and priorities of `ip_vs_ops4`/`ip_vs_ops6`) is declarative data
//! in `datapath.c`; its functions are the trampolines below, which hand the packet to
//! `crate::hooks` as an [`Skb`] and turn its [`Verdict`] back into `NF_*`. A [`Hooks`] value holds
//! one family's registration in one namespace and unregisters it when dropped
//! (`nf_unregister_net_hooks` waits until no hook of the table runs any more).

use kernel::error::{to_result, Result};

use super::{
    bindings,
    pernet::Net,
    skb::{Skb, Verdict},
};

/// Where in the stack a hook runs (`NF_INET_*`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum HookPoint {
    /// `NF_INET_LOCAL_IN`.
    LocalIn,
    /// `NF_INET_FORWARD`.
    Forward,
    /// `NF_INET_LOCAL_OUT`.
    LocalOut,
}

/// What a hook call knows besides its packet.
pub(crate) struct HookState<'a> {
    /// The namespace the packet is in.
    pub(crate) net: &'a Net,
    /// The hook point.
    pub(crate) hook: HookPoint,
    /// The packet is IPv6 (`NFPROTO_IPV6`), else IPv4.
    pub(crate) ipv6: bool,
}

const NF_DROP: u32 = 0;
const NF_ACCEPT: u32 = 1;
const NF_STOLEN: u32 = 2;

/// Runs `f` for a hook call and turns its answer into a netfilter verdict.
///
/// # Safety
///
/// `skb` and `state` must be those of a running netfilter hook call.
unsafe fn run(
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
    f: fn(Skb, &HookState<'_>) -> Verdict,
) -> u32 {
    // SAFETY: The hook call's state is valid for the call.
    let st = unsafe { &*state };
    let hook = match st.hook as u32 {
        bindings::nf_inet_hooks_NF_INET_LOCAL_IN => HookPoint::LocalIn,
        bindings::nf_inet_hooks_NF_INET_FORWARD => HookPoint::Forward,
        bindings::nf_inet_hooks_NF_INET_LOCAL_OUT => HookPoint::LocalOut,
        _ => return NF_ACCEPT,
    };
    if st.net.is_null() {
        return NF_ACCEPT;
    }
    // SAFETY: The namespace of a running hook call is live for the call.
    let net = unsafe { Net::from_raw(st.net) };
    // SAFETY: The skb is the hook call's, ours until we answer.
    let Some(skb) = (unsafe { Skb::from_hook(skb) }) else {
        return NF_ACCEPT;
    };
    let hs = HookState {
        net,
        hook,
        ipv6: u32::from(st.pf) == bindings::NFPROTO_IPV6,
    };
    match f(skb, &hs) {
        Verdict::Accept(skb) => {
            let _ = skb.into_raw();
            NF_ACCEPT
        }
        Verdict::Drop(skb) => {
            let _ = skb.into_raw();
            NF_DROP
        }
        Verdict::Stolen(_) => NF_STOLEN,
    }
}

/// `ip_vs_in_hook`'s slot of the table.
///
/// # Safety
///
/// Only netfilter calls it, as a hook of [`Hooks`].
#[no_mangle]
unsafe extern "C" fn rvs_hook_in(
    _priv: *mut core::ffi::c_void,
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> u32 {
    // SAFETY: Called by netfilter with a hook call's skb and state.
    unsafe { run(skb, state, crate::hooks::in_hook) }
}

/// `ip_vs_out_hook`'s slot of the table.
///
/// # Safety
///
/// Only netfilter calls it, as a hook of [`Hooks`].
#[no_mangle]
unsafe extern "C" fn rvs_hook_out(
    _priv: *mut core::ffi::c_void,
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> u32 {
    // SAFETY: Called by netfilter with a hook call's skb and state.
    unsafe { run(skb, state, crate::hooks::out_hook) }
}

/// `ip_vs_forward_icmp`'s slot of the table.
///
/// # Safety
///
/// Only netfilter calls it, as a hook of [`Hooks`].
#[no_mangle]
unsafe extern "C" fn rvs_hook_forward_icmp(
    _priv: *mut core::ffi::c_void,
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> u32 {
    // SAFETY: Called by netfilter with a hook call's skb and state.
    unsafe { run(skb, state, crate::hooks::forward_icmp_hook) }
}

/// One family's hooks, registered in one namespace.
///
/// # Invariants
///
/// The table `ops` is registered in `net`, which outlives this value.
pub(crate) struct Hooks {
    net: *mut bindings::net,
    ops: *const bindings::nf_hook_ops,
}

// SAFETY: Unregistering may happen from any thread in process context.
unsafe impl Send for Hooks {}
// SAFETY: `&Hooks` gives access to nothing.
unsafe impl Sync for Hooks {}

impl Hooks {
    /// Registers ip_vs's hook table of one family in `net` (process context). The caller keeps
    /// the value no longer than the namespace lives.
    pub(crate) fn register(net: &Net, ipv6: bool) -> Result<Self> {
        // Taking the address of the shim's static tables reads nothing.
        let ops = if ipv6 {
            (&raw const bindings::rvs_hook_ops6).cast::<bindings::nf_hook_ops>()
        } else {
            (&raw const bindings::rvs_hook_ops4).cast::<bindings::nf_hook_ops>()
        };
        // SAFETY: `net` is live; the table is static and so outlives the registration.
        to_result(unsafe {
            bindings::nf_register_net_hooks(net.as_ptr(), ops, bindings::RVS_HOOK_OPS_COUNT)
        })?;
        // INVARIANT: registered above.
        Ok(Self {
            net: net.as_ptr(),
            ops,
        })
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        // SAFETY: The table is registered in the live `net` (type invariant). The call waits for
        // running hooks (synchronize_net).
        unsafe {
            bindings::nf_unregister_net_hooks(self.net, self.ops, bindings::RVS_HOOK_OPS_COUNT)
        }
    }
}
