//! Generic netlink: a family with a table of commands, and the request/reply of a `doit`.
//!
//! Shaped after `rust/kernel/net/phy.rs`: the C `genl_small_ops` table is built in const context
//! from [`SmallOp::doit`], one trampoline per handler type, and a [`Registration`] unregisters the
//! family on drop. Attribute policies are C tables from `kapi/shim.c` ([`Policy`]).

use core::{
    ffi::{c_int, c_void},
    marker::PhantomData,
    sync::atomic::{AtomicBool, Ordering},
};

use kernel::{
    error::{
        code::{EBUSY, EINVAL, ENOMEM},
        from_result, to_result, Result,
    },
    types::Opaque,
    ThisModule,
};

use super::{bindings, errno, pernet::Net};

/// A command handler run in process context (`doit`) with the request's attributes.
pub(crate) trait DoIt {
    /// Handles one request; an error becomes the netlink error answer.
    fn doit(req: &Request<'_>) -> Result;
}

/// A command's dump handler (`dumpit`), run in process context once per reply message.
pub(crate) trait DumpIt {
    /// Fills `dump` with the entries from [`Dump::position`] on; an error ends the dump with it.
    fn dumpit(dump: &mut Dump<'_>) -> Result;
}

/// One entry of a family's command table (`struct genl_small_ops`).
#[repr(transparent)]
pub(crate) struct SmallOp(bindings::genl_small_ops);

/// The callback types of a command table entry.
type DoItFn = unsafe extern "C" fn(*mut bindings::sk_buff, *mut bindings::genl_info) -> c_int;
type DumpItFn =
    unsafe extern "C" fn(*mut bindings::sk_buff, *mut bindings::netlink_callback) -> c_int;

impl SmallOp {
    /// Restricted to CAP_NET_ADMIN and validated leniently, as every IPVS command is
    /// (`GENL_ADMIN_PERM`, `GENL_DONT_VALIDATE_STRICT | _DUMP`).
    const fn new(cmd: u8, doit: Option<DoItFn>, dumpit: Option<DumpItFn>) -> Self {
        Self(bindings::genl_small_ops {
            doit,
            dumpit,
            cmd,
            internal_flags: 0,
            flags: bindings::GENL_ADMIN_PERM as u8,
            validate: (bindings::genl_validate_flags_GENL_DONT_VALIDATE_STRICT
                | bindings::genl_validate_flags_GENL_DONT_VALIDATE_DUMP)
                as u8,
        })
    }

    /// Command `cmd` handled by `H` (no dump).
    pub(crate) const fn doit<H: DoIt>(cmd: u8) -> Self {
        Self::new(cmd, Some(doit_callback::<H>), None)
    }

    /// Command `cmd` as a dump only, by `H`.
    pub(crate) const fn dumpit<H: DumpIt>(cmd: u8) -> Self {
        Self::new(cmd, None, Some(dumpit_callback::<H>))
    }

    /// Command `cmd` handled by `H` as a request and by `D` as a dump.
    pub(crate) const fn doit_dumpit<H: DoIt, D: DumpIt>(cmd: u8) -> Self {
        Self::new(cmd, Some(doit_callback::<H>), Some(dumpit_callback::<D>))
    }
}

/// A top-level attribute policy table defined in `kapi/shim.c`.
#[derive(Clone, Copy)]
pub(crate) struct Policy {
    table: *const bindings::nla_policy,
    maxattr: u32,
}

impl Policy {
    /// ip_vs's `ip_vs_cmd_policy`.
    pub(crate) fn ipvs_cmd() -> Self {
        Self {
            table: core::ptr::addr_of!(bindings::rvs_cmd_policy).cast(),
            maxattr: bindings::RVS_CMD_ATTR_MAX,
        }
    }
}

/// What a family is called and what it answers.
pub(crate) struct Spec {
    /// Family name (at most 15 bytes).
    pub(crate) name: &'static str,
    /// Version announced in replies.
    pub(crate) version: u8,
    /// Top-level attribute policy.
    pub(crate) policy: Policy,
    /// Command table.
    pub(crate) ops: &'static [SmallOp],
    /// First command number that gets strict validation (`resv_start_op`).
    pub(crate) resv_start_op: u8,
}

/// A generic-netlink family, meant to live in a `static`.
pub(crate) struct Family {
    raw: Opaque<bindings::genl_family>,
    registered: AtomicBool,
}

// SAFETY: The C structure is written only in `register`, exclusively (guarded by `registered`)
// and before registration publishes it; afterwards only the kernel touches it.
unsafe impl Sync for Family {}

impl Family {
    /// An unregistered family.
    pub(crate) const fn new() -> Self {
        Self {
            raw: Opaque::uninit(),
            registered: AtomicBool::new(false),
        }
    }

    /// Registers the family described by `spec` in every network namespace (`netnsok`).
    pub(crate) fn register(
        &'static self,
        spec: &Spec,
        module: &'static ThisModule,
    ) -> Result<Registration> {
        if spec.name.len() >= bindings::GENL_NAMSIZ as usize || spec.ops.len() > u8::MAX as usize {
            return Err(EINVAL);
        }
        if self.registered.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        // SAFETY: All-zero is a valid `genl_family` (no ops, no callbacks, null pointers).
        let mut family: bindings::genl_family = unsafe { core::mem::zeroed() };
        for (dst, src) in family.name.iter_mut().zip(spec.name.bytes()) {
            *dst = src as _;
        }
        family.hdrsize = 0;
        family.version = spec.version.into();
        family.maxattr = spec.policy.maxattr;
        family.policy = spec.policy.table;
        family.set_netnsok(1);
        family.module = module.as_ptr().cast();
        // `SmallOp` is a transparent wrapper, so the slice is a `genl_small_ops` array.
        family.small_ops = spec.ops.as_ptr().cast();
        family.n_small_ops = spec.ops.len() as u8;
        family.resv_start_op = spec.resv_start_op;
        // SAFETY: `self.raw` is valid for writes and, by `registered`, not yet shared.
        unsafe { self.raw.get().write(family) };
        // SAFETY: `self.raw` is an initialised family in a `static` whose ops and policy are
        // `'static` too; `Registration::drop` unregisters it.
        let ret = unsafe { bindings::genl_register_family(self.raw.get()) };
        if let Err(e) = to_result(ret) {
            self.registered.store(false, Ordering::Release);
            return Err(e);
        }
        Ok(Registration { family: self })
    }
}

/// A registered [`Family`]; dropping it unregisters the family and waits for running handlers.
pub(crate) struct Registration {
    family: &'static Family,
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: `Family::register` registered this family and created `self`.
        unsafe { bindings::genl_unregister_family(self.family.raw.get()) };
        self.family.registered.store(false, Ordering::Release);
    }
}

/// The `doit` of every command handled by `H`.
///
/// # Safety
///
/// Only generic netlink calls it, with a `genl_info` valid for the duration of the call.
unsafe extern "C" fn doit_callback<H: DoIt>(
    _skb: *mut bindings::sk_buff,
    info: *mut bindings::genl_info,
) -> c_int {
    from_result(|| {
        // SAFETY: Generic netlink calls `doit` with a `genl_info` that stays valid until it
        // returns, which bounds the `Request`.
        let req = unsafe { Request::from_raw(info) };
        H::doit(&req)?;
        Ok(0)
    })
}

/// The `dumpit` of every command dumped by `H`.
///
/// # Safety
///
/// Only generic netlink calls it, with a message `skb` to fill and the dump's callback state.
unsafe extern "C" fn dumpit_callback<H: DumpIt>(
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
) -> c_int {
    // SAFETY: Generic netlink passes a dump callback whose `genl_dumpit_info` it set up in
    // `genl_start` (family, sequence, port, request header, namespace) and which outlives this
    // call; the request is valid for the same time.
    let info = unsafe { bindings::genl_info_dump(cb) }.cast_mut();
    // SAFETY: As above: `info` is valid for the duration of the call.
    let req = unsafe { Request::from_raw(info) };
    // SAFETY: `cb` is valid and its `args` belong to this family's dump.
    let position = unsafe { (*cb).__bindgen_anon_1.args[0] } as usize;
    let mut dump = Dump {
        skb,
        req: &req,
        position,
    };
    let result = H::dumpit(&mut dump);
    // SAFETY: As above.
    unsafe { (*cb).__bindgen_anon_1.args[0] = dump.position as _ };
    match result {
        // SAFETY: `skb` is the message being filled, valid for the call.
        Ok(()) => unsafe { (*skb).len as c_int },
        Err(e) => e.to_errno(),
    }
}

/// One message of a dump being filled.
///
/// # Invariants
///
/// `skb` is the dump's message, owned by generic netlink and valid for the callback's duration.
pub(crate) struct Dump<'a> {
    skb: *mut bindings::sk_buff,
    req: &'a Request<'a>,
    position: usize,
}

impl<'a> Dump<'a> {
    /// The request that started the dump (its namespace and its raw message).
    pub(crate) fn request(&self) -> &'a Request<'a> {
        self.req
    }

    /// How many entries earlier messages of this dump carried: skip that many.
    pub(crate) fn position(&self) -> usize {
        self.position
    }

    /// Appends one entry as a message of command `cmd` (`NLM_F_MULTI`) whose attributes are the
    /// already encoded `attrs`. Returns `false`, adding nothing, when the message is full: the
    /// handler must stop, and the next call of the dump resumes at this entry.
    pub(crate) fn add(&mut self, cmd: u8, attrs: &[u8]) -> Result<bool> {
        let info = self.req.info;
        // SAFETY: `skb` is valid (type invariant) and `info` is the dump's `genl_info`, whose
        // family is the registered family of this dump.
        let hdr = unsafe {
            bindings::genlmsg_put(
                self.skb,
                (*info).snd_portid,
                (*info).snd_seq,
                (*info).family,
                bindings::NLM_F_MULTI as c_int,
                cmd,
            )
        };
        if hdr.is_null() {
            return Ok(false);
        }
        // SAFETY: `skb` is valid and `hdr` the header just put in it.
        unsafe {
            if !put_raw(self.skb, attrs) {
                bindings::genlmsg_cancel(self.skb, hdr);
                return Ok(false);
            }
            bindings::genlmsg_end(self.skb, hdr);
        }
        self.position += 1;
        Ok(true)
    }
}

/// Appends `bytes` to `skb` if they fit in its tail room.
///
/// # Safety
///
/// `skb` must be a valid message being built by the caller.
unsafe fn put_raw(skb: *mut bindings::sk_buff, bytes: &[u8]) -> bool {
    // SAFETY: `skb` is valid (function contract).
    let room = unsafe { bindings::skb_tailroom(skb) };
    if room < 0 || bytes.len() > room as usize {
        return false;
    }
    // SAFETY: `skb` is valid and has room for `bytes`, so `skb_put_data` cannot overflow it.
    unsafe { bindings::skb_put_data(skb, bytes.as_ptr().cast(), bytes.len() as u32) };
    true
}

/// A generic-netlink request being handled by a `doit`.
///
/// # Invariants
///
/// `info` is the request's, valid for `'a`.
pub(crate) struct Request<'a> {
    info: *mut bindings::genl_info,
    _lifetime: PhantomData<&'a ()>,
}

impl<'a> Request<'a> {
    /// # Safety
    ///
    /// `info` must be the argument of a `doit` call that lasts for `'a`.
    unsafe fn from_raw(info: *mut bindings::genl_info) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            info,
            _lifetime: PhantomData,
        }
    }

    /// The network namespace of the requesting socket.
    pub(crate) fn net(&self) -> &'a Net {
        // SAFETY: `info` is valid (type invariant); the requesting socket holds a reference on
        // its namespace for the duration of the request.
        unsafe { Net::from_raw(bindings::genl_info_net(self.info)) }
    }

    /// The whole request message: `nlmsghdr`, `genlmsghdr` and attributes, as received (generic
    /// netlink checked that the header's length fits the message).
    pub(crate) fn bytes(&self) -> &'a [u8] {
        // SAFETY: `info` is valid (type invariant); `nlhdr` points to the request header, which
        // generic netlink checked to lie within the received message, of `nlmsg_len` bytes.
        unsafe {
            let nlh = (*self.info).nlhdr;
            core::slice::from_raw_parts(nlh.cast::<u8>(), (*nlh).nlmsg_len as usize)
        }
    }

    /// Starts the reply to this request, with command `cmd`.
    pub(crate) fn reply(&self, cmd: u8) -> Result<Reply<'_>> {
        // SAFETY: Allocating a fresh message has no precondition.
        let msg = unsafe {
            bindings::genlmsg_new(bindings::RVS_NLMSG_DEFAULT_SIZE, bindings::RVS_GFP_KERNEL)
        };
        if msg.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `msg` is a fresh message and `info` is valid (type invariant); `info->family` is
        // the registered family this request arrived on.
        let hdr =
            unsafe { bindings::genlmsg_put_reply(msg, self.info, (*self.info).family, 0, cmd) };
        let reply = Reply {
            msg,
            hdr,
            req: self,
        };
        if hdr.is_null() {
            return Err(errno::emsgsize());
        }
        Ok(reply)
    }
}

/// A reply being built; [`Reply::send`] sends it, dropping it discards it.
///
/// # Invariants
///
/// `msg` is a message owned by this value; `hdr` is its generic-netlink header (or null only
/// during construction).
pub(crate) struct Reply<'r> {
    msg: *mut bindings::sk_buff,
    hdr: *mut c_void,
    req: &'r Request<'r>,
}

impl Reply<'_> {
    /// Appends already encoded attributes.
    pub(crate) fn put_bytes(&mut self, attrs: &[u8]) -> Result {
        // SAFETY: `msg` is owned by `self` (type invariant).
        if unsafe { put_raw(self.msg, attrs) } {
            Ok(())
        } else {
            Err(errno::emsgsize())
        }
    }

    /// Finishes the message and unicasts it to the requester.
    pub(crate) fn send(self) -> Result {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `msg`/`hdr` are the owned message and its header (type invariant); `info` is
        // valid for the request. `genlmsg_reply` consumes the message whatever it returns, which
        // is why `self` is not dropped.
        unsafe {
            bindings::genlmsg_end(this.msg, this.hdr);
            to_result(bindings::genlmsg_reply(this.msg, this.req.info))
        }
    }
}

impl Drop for Reply<'_> {
    fn drop(&mut self) {
        // SAFETY: `msg` is owned by `self` and was not sent (`send` does not drop `self`).
        unsafe { bindings::nlmsg_free(self.msg) };
    }
}
