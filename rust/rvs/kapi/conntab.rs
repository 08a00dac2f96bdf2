//! The connection table: a resizable RCU hash table (`rhashtable`) of reference-counted entries
//! that expire by timer, with ip_vs's connection lifetime rules (ip_vs_conn.c).
//!
//! Unlike ip_vs's fixed array of 4,096 buckets, an `rhashtable` grows (and shrinks) with the
//! number of entries, so lookups stay short with millions of connections. Lookups are lock-free
//! (RCU); inserts and removals take the table's per-bucket locks with bottom halves disabled.
//!
//! An entry has up to two keys ([`Key`]): the "in" key, which packets from the client match, and
//! the "out" key, which the real server's replies match. Like ip_vs (`ip_vs_conn_hashkey`), the
//! table hashes an entry once, by the client's address and port (the "in" key's source, the "out"
//! key's destination): entries of one client address and port are listed behind one node of an
//! `rhltable`, newest first, and a lookup compares the rest of the key along that list. An entry
//! with the same key as an older one therefore hides it, as ip_vs hashes a new connection in
//! front of the one it replaces; the older one stays in the table until its timer unlinks it.
//! Lookups of "in" and template keys also pass over entries their value calls hidden
//! ([`Timed::hidden`]: an invalidated template, which ip_vs re-keys out of reach).
//!
//! Lifetimes follow ip_vs exactly:
//!
//! - The table holds one reference, each [`Ref`] another. A new entry starts with the table's and
//!   the creator's, and its timer armed with the initial timeout.
//! - [`Ref::put`] re-arms the timer with the entry's timeout, as `ip_vs_conn_put` does after each
//!   packet; dropping a [`Ref`] only gives up the reference (`__ip_vs_conn_put`).
//! - When the timer fires, the entry leaves the table only if the table's reference is the last
//!   one (`refcount_dec_if_one`); otherwise it tries again in 60 s (`expire_later`). An entry held
//!   by another entry's [`Ref`] (a persistence template held by its connections) therefore lives
//!   as long as they do, which is ip_vs's `n_control` rule.
//! - A removed entry is told ([`Timed::unlinked`], with the table's namespace when its timer
//!   removed it) and freed after an RCU grace period, so a reader that found it just before still
//!   reads valid memory; a lookup never hands out a reference to an entry whose count reached
//!   zero.
//!
//! Dropping the [`Table`] (namespace exit, after the hooks are gone) stops every timer and frees
//! every entry.

use core::{
    marker::PhantomData,
    mem::offset_of,
    ptr::NonNull,
    sync::atomic::{fence, AtomicU32, AtomicUsize, Ordering},
};

use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    error::{
        code::{EEXIST, EINVAL, ENOMEM},
        to_result, Error, Result,
    },
    types::Opaque,
};

use super::{bindings, pernet::Net, rcu::Guard};

/// The key of one tuple (`struct rvs_conn_key`): plain bytes, built by callers.
pub(crate) type Key = bindings::rvs_conn_key;

/// The direction byte of an "in" tuple (client → virtual service).
pub(crate) const DIR_IN: u8 = 0;
/// The direction byte of an "out" tuple (real server → client).
pub(crate) const DIR_OUT: u8 = 1;
/// The direction byte of a persistence template's tuple.
pub(crate) const DIR_TEMPLATE: u8 = 2;
/// A persistence-engine template: its addresses are a digest of the client network and the
/// engine's data (see `conn::pe_key`).
pub(crate) const DIR_PE_TEMPLATE: u8 = 3;

/// What an entry of the table holds.
pub(crate) trait Timed: Sized + Send + Sync + 'static {
    /// The entry left the table: no lookup finds it any more and no [`Ref`] to it exists. Runs
    /// in the timer's softirq (or at table teardown); must not sleep. `net` is the table's
    /// namespace when the entry expired, `None` when it goes with the table (namespace exit:
    /// other subsystems of the namespace may be gone already, as ip_vs's `ipvs->enable` says) or
    /// never entered it.
    fn unlinked(&self, net: Option<&Net>);

    /// Whether lookups of "in" and template keys pass over the entry (one nothing may find any
    /// more; "out" lookups still find it, until an entry with the same key hides it).
    fn hidden(&self) -> bool {
        false
    }
}

/// One entry: its hashed node and keys, timer and count, then the value.
#[repr(C)]
struct Entry<T> {
    tuple: Opaque<bindings::rvs_tuple>,
    refcnt: AtomicU32,
    /// Timeout in jiffies, used by [`Ref::put`].
    timeout: AtomicU32,
    table: *const Inner,
    timer: Opaque<bindings::timer_list>,
    rcu: Opaque<bindings::callback_head>,
    value: T,
}

/// The part of the table entries point to; boxed so it never moves.
struct Inner {
    ht: Opaque<bindings::rhltable>,
    count: AtomicUsize,
    /// The entries' slab cache (sized for `Entry<T>`, so an entry costs its own size, not the
    /// next kmalloc bucket's).
    cache: NonNull<bindings::kmem_cache>,
    /// The namespace the table belongs to, which outlives it.
    net: *mut bindings::net,
}

/// Numbers the tables' slab caches, whose names must differ (one table per namespace).
static CACHES: AtomicUsize = AtomicUsize::new(0);

/// A connection table.
///
/// # Invariants
///
/// `inner.ht` is an initialised rhltable whose objects are tuples of live `Entry<T>`s;
/// `inner.net` is a namespace that outlives the table.
pub(crate) struct Table<T: Timed> {
    inner: KBox<Inner>,
    _entries: PhantomData<T>,
}

// SAFETY: The table is shared between CPUs by design; all access goes through the rhashtable's
// own synchronisation and atomics.
unsafe impl<T: Timed> Send for Table<T> {}
// SAFETY: As above.
unsafe impl<T: Timed> Sync for Table<T> {}

/// A counted reference to an entry.
///
/// # Invariants
///
/// `entry` is live and this value owns one count of its `refcnt`.
pub(crate) struct Ref<T: Timed> {
    entry: NonNull<Entry<T>>,
}

// SAFETY: A `Ref` is a count on a shared `T: Send + Sync`.
unsafe impl<T: Timed> Send for Ref<T> {}
// SAFETY: As above.
unsafe impl<T: Timed> Sync for Ref<T> {}

impl<T: Timed> Entry<T> {
    /// The entry a tuple belongs to.
    ///
    /// # Safety
    ///
    /// `t` must point to the tuple of a live `Entry<T>`.
    unsafe fn of_tuple(t: *mut bindings::rvs_tuple) -> *mut Self {
        // SAFETY: The tuple lies at its offset in its entry (caller).
        unsafe {
            t.cast::<u8>()
                .sub(offset_of!(Entry<T>, tuple))
                .cast::<Self>()
        }
    }

    /// Takes a reference unless the count already reached zero (`refcount_inc_not_zero`).
    fn try_get(&self) -> bool {
        let mut n = self.refcnt.load(Ordering::Relaxed);
        while n != 0 {
            match self
                .refcnt
                .compare_exchange_weak(n, n + 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(cur) => n = cur,
            }
        }
        false
    }

    fn timer(&self) -> *mut bindings::timer_list {
        self.timer.get()
    }

    /// The entry whose `rcu` field `head` is.
    ///
    /// # Safety
    ///
    /// `head` is the `rcu` field of an `Entry<T>`.
    unsafe fn of_rcu(head: *mut bindings::callback_head) -> *mut Self {
        // SAFETY: `rcu` lies at its offset in the entry (caller).
        unsafe {
            head.cast::<u8>()
                .sub(offset_of!(Entry<T>, rcu))
                .cast::<Self>()
        }
    }

    fn rearm(&self, after: u32) {
        // SAFETY: The timer was set up when the entry was created and the entry is live.
        unsafe {
            bindings::mod_timer(
                self.timer(),
                bindings::rvs_jiffies().wrapping_add(after as usize),
            )
        };
    }

    /// Removes the entry from the table if the table's reference is the last one; then tells
    /// the value and frees the entry after a grace period. False if still referenced.
    ///
    /// `expired`: the timer removes it (else the table is being torn down).
    ///
    /// # Safety
    ///
    /// `this` is a live entry of the table `inner`, and the caller may free it (it holds no
    /// reference of its own).
    unsafe fn try_unlink(this: *mut Self, inner: &Inner, expired: bool) -> bool {
        // SAFETY: Live entry (caller).
        let e = unsafe { &*this };
        if e.refcnt
            .compare_exchange(1, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // SAFETY: The tuple was inserted into `inner.ht`, and only this (the count's last
        // holder) removes it.
        unsafe { bindings::rvs_conntab_remove(inner.ht.get(), e.tuple.get()) };
        // A `put` that re-armed the timer just before giving up its reference: stop it.
        // SAFETY: The timer is set up.
        unsafe { bindings::timer_delete(e.timer()) };
        // SAFETY: The table's namespace outlives the table (type invariant of `Table`).
        let net = expired.then(|| unsafe { Net::from_raw(inner.net) });
        e.value.unlinked(net);
        // SAFETY: Nobody can take a new reference (count is zero) and the tuple is out of the
        // table; readers that found them are in RCU read sections, so the entry is freed after
        // a grace period. The rcu_head is the entry's own.
        unsafe { bindings::call_rcu(e.rcu.get(), Some(Self::free)) };
        // Last, as ip_vs_conn_expire drops conn_count: a table being torn down waits for the
        // count, so an expiry running on another CPU has queued its free before the teardown's
        // RCU barrier (a free queued after it would run once the table and module are gone).
        inner.count.fetch_sub(1, Ordering::Release);
        true
    }

    /// Frees an unlinked entry.
    ///
    /// # Safety
    ///
    /// Only `call_rcu` calls it, with the `rcu` field of an entry unlinked by `try_unlink`.
    unsafe extern "C" fn free(head: *mut bindings::callback_head) {
        // SAFETY: `head` is the `rcu` field of an entry nobody refers to any more.
        unsafe { Self::release(Self::of_rcu(head)) };
    }

    /// Drops the entry in place and gives its object back to the table's cache.
    ///
    /// # Safety
    ///
    /// `e` is an initialised entry from its table's cache that nothing uses any more; the
    /// table's `Inner` is still alive (tables wait for RCU frees before going).
    unsafe fn release(e: *mut Self) {
        // SAFETY: Per the function's contract.
        unsafe {
            let cache = (*(*e).table).cache;
            core::ptr::drop_in_place(e);
            bindings::rvs_cache_free(cache.as_ptr(), e.cast());
        }
    }

    /// The expiry timer (`ip_vs_conn_expire`).
    ///
    /// # Safety
    ///
    /// Only the timer core calls it, with the timer of a live entry.
    unsafe extern "C" fn expire(t: *mut bindings::timer_list) {
        // SAFETY: `t` is the `timer` field of a live entry.
        let this = unsafe {
            t.cast::<u8>()
                .sub(offset_of!(Entry<T>, timer))
                .cast::<Self>()
        };
        // SAFETY: A live entry's table outlives its timers (the table shuts them down first).
        let inner = unsafe { &*(*this).table };
        // SAFETY: The timer holds no reference; if the table's is the last, the entry is ours
        // to remove.
        if unsafe { Self::try_unlink(this, inner, true) } {
            return;
        }
        // expire_later: still referenced (a packet in flight, or connections it controls).
        // SAFETY: Not unlinked, so the entry stays live while the table's reference exists.
        let e = unsafe { &*this };
        let later = 60 * bindings::RVS_HZ;
        e.timeout.store(later, Ordering::Relaxed);
        e.rearm(later);
    }
}

impl<T: Timed> Table<T> {
    /// An empty table of namespace `net`, which must outlive it (process context).
    pub(crate) fn new(net: &Net) -> Result<Self> {
        // "rvs_conn_N\0": kmem_cache_create copies the name.
        let mut name = [0u8; 24];
        let mut w = super::NameBuf(&mut name, 0);
        let _ = core::fmt::Write::write_fmt(
            &mut w,
            format_args!("rvs_conn_{}", CACHES.fetch_add(1, Ordering::Relaxed)),
        );
        // SAFETY: `name` is NUL-terminated (the writer keeps the last byte 0); the size and
        // alignment are `Entry<T>`'s.
        let cache = unsafe {
            bindings::rvs_cache_create(
                name.as_ptr().cast(),
                core::mem::size_of::<Entry<T>>() as u32,
                core::mem::align_of::<Entry<T>>() as u32,
            )
        };
        let cache = NonNull::new(cache).ok_or(ENOMEM)?;
        let inner = match KBox::new(
            Inner {
                ht: Opaque::uninit(),
                count: AtomicUsize::new(0),
                cache,
                net: net.as_ptr(),
            },
            GFP_KERNEL,
        ) {
            Ok(i) => i,
            Err(e) => {
                // SAFETY: The cache is empty and ours.
                unsafe { bindings::rvs_cache_destroy(cache.as_ptr()) };
                return Err(e.into());
            }
        };
        // SAFETY: `ht` is boxed, so it never moves after initialisation.
        if let Err(e) = to_result(unsafe { bindings::rvs_conntab_init(inner.ht.get()) }) {
            // SAFETY: The cache is empty and ours.
            unsafe { bindings::rvs_cache_destroy(cache.as_ptr()) };
            return Err(e);
        }
        // INVARIANT: initialised above, empty; the caller keeps `net` alive.
        Ok(Self {
            inner,
            _entries: PhantomData,
        })
    }

    /// Number of entries.
    pub(crate) fn count(&self) -> usize {
        self.inner.count.load(Ordering::Relaxed)
    }

    /// Finds the newest entry with key `key` (passing over hidden ones unless `key` is an
    /// "out" key, and over those being unlinked) and takes a reference to it.
    pub(crate) fn lookup(&self, key: &Key, _guard: &Guard) -> Option<Ref<T>> {
        let skip_hidden = key.dir != DIR_OUT;
        let mut t = core::ptr::null_mut();
        loop {
            // SAFETY: The table is initialised; the caller is in an RCU read section, for which
            // `t` (null, or found by the previous call) stays in its group's list or at least
            // allocated with a valid link.
            t = unsafe { bindings::rvs_conntab_lookup(self.inner.ht.get(), key, t) };
            if t.is_null() {
                return None;
            }
            // SAFETY: Tuples in the table belong to entries that stay allocated for the read
            // section.
            let e = unsafe { &*Entry::<T>::of_tuple(t) };
            if skip_hidden && e.value.hidden() {
                continue;
            }
            if e.try_get() {
                // INVARIANT: `try_get` took the count this value owns.
                return Some(Ref {
                    entry: NonNull::from(e),
                });
            }
        }
    }

    fn alloc(&self, value: T, keys: &[Key], timeout: u32) -> Result<NonNull<Entry<T>>, Error> {
        // SAFETY: All-zero is a valid unlinked `rvs_tuple`.
        let tuple = Opaque::new(unsafe { core::mem::zeroed::<bindings::rvs_tuple>() });
        let set = match keys {
            // SAFETY: The tuple is a local we own; the key is readable.
            [k] => unsafe { bindings::rvs_tuple_set(tuple.get(), k, core::ptr::null()) },
            // SAFETY: As above, for both keys.
            [k, o] => unsafe { bindings::rvs_tuple_set(tuple.get(), k, o) },
            _ => EINVAL.to_errno(),
        };
        if set != 0 {
            // Keys of different clients: a caller's bug, refused as ip_vs could not hash it.
            value.unlinked(None);
            drop(value);
            return Err(EINVAL);
        }
        // SAFETY: The cache is live while the table is (it is destroyed last, in `Drop`).
        let Some(e) = NonNull::new(
            unsafe { bindings::rvs_cache_alloc(self.inner.cache.as_ptr()) }.cast::<Entry<T>>(),
        ) else {
            // The value goes as a value that never entered the table does.
            value.unlinked(None);
            drop(value);
            return Err(ENOMEM);
        };
        // SAFETY: `e` is a fresh object of the cache, sized and aligned for `Entry<T>`.
        unsafe {
            e.as_ptr().write(Entry {
                tuple,
                // The table's reference and the caller's.
                refcnt: AtomicU32::new(2),
                timeout: AtomicU32::new(timeout),
                table: &*self.inner,
                timer: Opaque::uninit(),
                rcu: Opaque::uninit(),
                value,
            })
        };
        // SAFETY: The entry is in its slab object and will not move; its timer is set up once,
        // here.
        unsafe { bindings::rvs_timer_setup((*e.as_ptr()).timer.get(), Some(Entry::<T>::expire)) };
        Ok(e)
    }

    /// Frees an entry that never became visible.
    ///
    /// # Safety
    ///
    /// `e` came from `alloc` and its tuple is not in the table.
    unsafe fn discard(e: NonNull<Entry<T>>) {
        // SAFETY: The entry is ours alone and its timer was never armed.
        unsafe {
            (*e.as_ptr()).value.unlinked(None);
            Entry::release(e.as_ptr());
        }
    }

    /// Adds an entry with keys `keys` (the "in" or template key, then the "out" key if any, of
    /// the same client address and port) and the timer armed for `timeout` jiffies; returns a
    /// reference to it. An older entry with the same keys stays, hidden behind the new one (ip_vs
    /// hashes a connection in front of the one it replaces), until its timer unlinks it.
    pub(crate) fn insert(&self, value: T, keys: &[Key], timeout: u32) -> Result<Ref<T>> {
        let e = self.alloc(value, keys, timeout)?;
        self.publish(e)
    }

    /// Puts an entry from `alloc` in the table and arms its timer with its timeout.
    fn publish(&self, e: NonNull<Entry<T>>) -> Result<Ref<T>> {
        // SAFETY: `e` is a live entry of ours.
        let entry = unsafe { e.as_ref() };
        // SAFETY: The table is initialised and the tuple lives in its entry's slab object.
        let ret = unsafe { bindings::rvs_conntab_insert(self.inner.ht.get(), entry.tuple.get()) };
        if ret != 0 {
            // SAFETY: The tuple did not go in, so nothing can have seen the entry.
            unsafe { Self::discard(e) };
            return Err(Error::from_errno(ret));
        }
        self.inner.count.fetch_add(1, Ordering::Relaxed);
        entry.rearm(entry.timeout.load(Ordering::Relaxed));
        // INVARIANT: the entry was created with the caller's count.
        Ok(Ref { entry: e })
    }

    /// Like [`Table::insert`] for a single-key entry (a template), but fails with `EEXIST` when
    /// the newest visible entry with the key is one `stale` says false of; one it says true of
    /// (a template whose engine data differs) is hidden by the new entry and expires now.
    pub(crate) fn insert_replacing(
        &self,
        value: T,
        key: &Key,
        timeout: u32,
        guard: &Guard,
        stale: impl Fn(&T) -> bool,
    ) -> Result<Ref<T>> {
        let e = self.alloc(value, core::slice::from_ref(key), timeout)?;
        if let Some(old) = self.lookup(key, guard) {
            if !stale(&old) {
                // SAFETY: The tuple is not in the table.
                unsafe { Self::discard(e) };
                return Err(EEXIST);
            }
            old.expire_now();
        }
        self.publish(e)
    }

    /// Calls `f` with every entry (once each) and the jiffies left until its timer fires.
    /// Runs inside one RCU read section per call of the walk; entries may come and go meanwhile.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&T, u32)) {
        self.walk(|e| {
            // SAFETY: The walk hands out live entries.
            let e = unsafe { &*e };
            // SAFETY: The timer is set up; reading `expires` races benignly with re-arming.
            let expires = unsafe { (*e.timer()).expires };
            // SAFETY: Reading jiffies has no preconditions.
            let now = unsafe { bindings::rvs_jiffies() };
            let left = expires.wrapping_sub(now) as i64;
            f(&e.value, left.clamp(0, i64::from(u32::MAX)) as u32);
        });
    }

    /// Visits the entries of `1/32` of the table's buckets (at least one bucket) chosen at
    /// random, as `ip_vs_random_dropentry` scans its table: `f` gets a reference to each entry
    /// and the jiffies left until its timer fires.
    pub(crate) fn sample(&self, mut f: impl FnMut(Ref<T>, u32)) {
        /// Tuples taken from one bucket (a longer chain is cut short: rhashtable keeps them
        /// short by growing).
        const CHAIN: usize = 16;
        let guard = super::rcu::read_lock();
        // SAFETY: The table is initialised; RCU is held.
        let buckets = unsafe { bindings::rvs_conntab_buckets(self.inner.ht.get()) };
        for _ in 0..(buckets >> 5).max(1) {
            let mut out = [core::ptr::null_mut::<bindings::rvs_tuple>(); CHAIN];
            // SAFETY: As above; `out` has room for `CHAIN` pointers.
            let n = unsafe {
                bindings::rvs_conntab_bucket(
                    self.inner.ht.get(),
                    super::random_u32_below(u32::MAX),
                    out.as_mut_ptr(),
                    CHAIN as u32,
                )
            };
            for &t in out.iter().take(n as usize) {
                // SAFETY: Tuples in the table belong to live entries while RCU is held.
                let e = unsafe { &*Entry::<T>::of_tuple(t) };
                if !e.try_get() {
                    continue;
                }
                // SAFETY: The timer is set up; reading `expires` races benignly with re-arming.
                let expires = unsafe { (*e.timer()).expires };
                // SAFETY: Reading jiffies has no preconditions.
                let now = unsafe { bindings::rvs_jiffies() };
                let left = (expires.wrapping_sub(now) as i64).clamp(0, i64::from(u32::MAX));
                // INVARIANT: `try_get` took the count this `Ref` owns.
                f(
                    Ref {
                        entry: NonNull::from(e),
                    },
                    left as u32,
                );
            }
        }
        drop(guard);
    }

    /// Walks the table, calling `f` once per entry inside RCU.
    fn walk(&self, mut f: impl FnMut(*mut Entry<T>)) {
        // SAFETY: All-zero is a valid iterator before `rhashtable_walk_enter`.
        let mut iter: bindings::rhashtable_iter = unsafe { core::mem::zeroed() };
        // SAFETY: The table is initialised; the iterator is a local, exited below.
        unsafe {
            bindings::rvs_conntab_walk_enter(self.inner.ht.get(), &mut iter);
            bindings::rvs_conntab_walk_start(&mut iter);
        }
        loop {
            // SAFETY: The walk was started above and is stopped below.
            let obj = unsafe { bindings::rhashtable_walk_next(&mut iter) };
            if obj.is_null() {
                break;
            }
            let addr = obj as usize;
            if addr > usize::MAX - 4095 {
                // ERR_PTR(-EAGAIN): the table was resized; the walk goes on.
                continue;
            }
            // SAFETY: Objects of the table are tuples of live entries during the walk.
            f(unsafe { Entry::<T>::of_tuple(obj.cast::<bindings::rvs_tuple>()) });
        }
        // SAFETY: Balances the start and enter above.
        unsafe {
            bindings::rhashtable_walk_stop(&mut iter);
            bindings::rhashtable_walk_exit(&mut iter);
        }
    }
}

impl<T: Timed> Drop for Table<T> {
    fn drop(&mut self) {
        // Nothing takes new references any more (the hooks are gone). Each pass stops the
        // timers and removes every entry only the table refers to; entries held by others
        // (templates held by their connections) go in a later pass, once the holders' RCU frees
        // gave their references back.
        for pass in 0..8 {
            let mut left = 0usize;
            let inner: &Inner = &self.inner;
            self.walk(|e| {
                // SAFETY: `e` is live during the walk; shutting the timer down waits for a
                // running callback and makes later re-arming a no-op.
                unsafe { bindings::timer_shutdown_sync((*e).timer()) };
                // SAFETY: `e` is live; we hold no reference of our own.
                let unlinked = unsafe { Entry::try_unlink(e, inner, false) };
                // SAFETY: `e` stays allocated for the walk's RCU read section.
                if !unlinked && unsafe { (*e).refcnt.load(Ordering::Relaxed) } != 0 {
                    left += 1;
                }
            });
            // `Acquire` pairs with `try_unlink`'s decrement, which follows its `call_rcu`.
            if self.inner.count.load(Ordering::Acquire) == 0 {
                break;
            }
            // SAFETY: Process context (namespace exit); waits for the frees queued above.
            unsafe { bindings::rcu_barrier() };
            if pass == 7 {
                kernel::pr_err!(
                    "connection table: {} entries still referenced at teardown\n",
                    left
                );
            }
        }
        fence(Ordering::SeqCst);
        // SAFETY: Every entry left the table (or is leaked on purpose above); the table is ours.
        unsafe { bindings::rvs_conntab_destroy(self.inner.ht.get()) };
        // SAFETY: Frees queued by the passes use no part of the table.
        unsafe { bindings::rcu_barrier() };
        // The cache goes once it is empty; entries leaked above keep it (and it them).
        if self.count() == 0 {
            // SAFETY: Every entry was freed (the barrier above waited for the RCU frees).
            unsafe { bindings::rvs_cache_destroy(self.inner.cache.as_ptr()) };
        }
    }
}

impl<T: Timed> Ref<T> {
    fn entry(&self) -> &Entry<T> {
        // SAFETY: The entry is live while we hold a count (type invariant).
        unsafe { self.entry.as_ref() }
    }

    /// The entry's timeout in jiffies.
    pub(crate) fn timeout(&self) -> u32 {
        self.entry().timeout.load(Ordering::Relaxed)
    }

    /// Sets the timeout [`Ref::put`] arms.
    pub(crate) fn set_timeout(&self, jiffies: u32) {
        self.entry().timeout.store(jiffies, Ordering::Relaxed);
    }

    /// Gives up the reference and re-arms the timer with the timeout (`ip_vs_conn_put`).
    pub(crate) fn put(self) {
        self.entry().rearm(self.timeout());
    }

    /// Makes the timer fire now, if it is pending later (`ip_vs_conn_expire_now`).
    pub(crate) fn expire_now(&self) {
        let t = self.entry().timer();
        // SAFETY: The timer is set up; the entry is live.
        unsafe {
            if bindings::rvs_timer_pending(t) {
                bindings::mod_timer_pending(t, bindings::rvs_jiffies());
            }
        }
    }

    /// References held besides the table's and this one (packets in flight, connections a
    /// template controls).
    pub(crate) fn others(&self) -> u32 {
        self.entry()
            .refcnt
            .load(Ordering::Relaxed)
            .saturating_sub(2)
    }

    /// Another reference to the same entry.
    pub(crate) fn clone_ref(&self) -> Self {
        self.entry().refcnt.fetch_add(1, Ordering::Relaxed);
        // INVARIANT: counted above.
        Self { entry: self.entry }
    }
}

impl<T: Timed> core::ops::Deref for Ref<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.entry().value
    }
}

impl<T: Timed> Drop for Ref<T> {
    fn drop(&mut self) {
        // Never the last count: the table's stays until the timer unlinks at exactly one.
        self.entry().refcnt.fetch_sub(1, Ordering::Release);
    }
}
