//! The sync daemon's kernel sockets and threads (`syncsock.c`).
//!
//! [`Socket`] is a UDP kernel socket set up as ip_vs's `make_send_sock` / `make_receive_sock`
//! do, released on drop. [`Thread`] is a kthread running [`ThreadFn::run`] for a namespace; it
//! owns the data the thread works on and stops the thread (`kthread_stop`) before that data
//! goes, so a thread never sees freed data. A thread's `run` loops until [`should_stop`].

use core::{
    ffi::{c_int, c_void},
    ptr::NonNull,
};

use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    error::{to_result, Error, Result},
};

use super::{bindings, pernet::Net};

/// The interface called `name` (NUL-terminated) in `net`: its index and MTU (`-ENODEV`).
pub(crate) fn device(net: &Net, name: &[u8; 16]) -> Result<(i32, u32)> {
    let (mut ifindex, mut mtu) = (0i32, 0u32);
    if !name.contains(&0) {
        return Err(kernel::error::code::ENODEV);
    }
    // SAFETY: `net` is live; `name` is NUL-terminated (checked above); the outputs are locals.
    to_result(unsafe {
        bindings::rvs_sync_dev(net.as_ptr(), name.as_ptr().cast(), &mut ifindex, &mut mtu)
    })?;
    Ok((ifindex, mtu))
}

/// A kernel UDP socket of the sync daemon.
///
/// # Invariants
///
/// `sock` is a `struct socket` from `rvs_sync_sock_*`, released only by [`Drop`].
pub(crate) struct Socket {
    sock: NonNull<c_void>,
}

// SAFETY: Kernel sockets may be used and released from any thread; the socket layer locks.
unsafe impl Send for Socket {}
// SAFETY: As above: sending and receiving take the socket's own locks.
unsafe impl Sync for Socket {}

/// Where a sync socket talks: family (`AF_INET`/`AF_INET6`), group (IPv4 in the first 4
/// bytes), port and interface.
#[derive(Clone, Copy)]
pub(crate) struct Endpoint {
    pub(crate) af: u16,
    pub(crate) group: [u8; 16],
    pub(crate) port: u16,
    pub(crate) ifindex: i32,
}

impl Socket {
    fn from_raw(ret: c_int, sock: *mut c_void) -> Result<Self> {
        to_result(ret)?;
        // INVARIANT: a successful call returned a socket that is ours.
        NonNull::new(sock)
            .map(|sock| Self { sock })
            .ok_or(kernel::error::code::ENOMEM)
    }

    /// A master's sending socket (`make_send_sock`): multicast TTL `ttl`, `SO_SNDBUF` from
    /// `sndbuf` when positive.
    pub(crate) fn master(net: &Net, to: &Endpoint, ttl: u8, sndbuf: i32) -> Result<Self> {
        let mut sock = core::ptr::null_mut();
        // SAFETY: `net` is live; `group` has 16 readable bytes; `sock` is a local.
        let ret = unsafe {
            bindings::rvs_sync_sock_master(
                net.as_ptr(),
                to.ifindex,
                i32::from(to.af),
                to.group.as_ptr(),
                to.port,
                ttl,
                sndbuf,
                &mut sock,
            )
        };
        Self::from_raw(ret, sock)
    }

    /// A backup's receiving socket (`make_receive_sock`): bound to the group and port on the
    /// interface, group joined, `SO_RCVBUF` from `rcvbuf` when positive.
    pub(crate) fn backup(net: &Net, on: &Endpoint, rcvbuf: i32) -> Result<Self> {
        let mut sock = core::ptr::null_mut();
        // SAFETY: As in `master`.
        let ret = unsafe {
            bindings::rvs_sync_sock_backup(
                net.as_ptr(),
                on.ifindex,
                i32::from(on.af),
                on.group.as_ptr(),
                on.port,
                rcvbuf,
                &mut sock,
            )
        };
        Self::from_raw(ret, sock)
    }

    /// Sends one datagram without blocking; `EAGAIN` when the send buffer is full.
    pub(crate) fn send(&self, msg: &[u8]) -> Result<usize> {
        // SAFETY: The socket is live (type invariant); `msg` is readable for its length.
        let ret =
            unsafe { bindings::rvs_sync_send(self.sock.as_ptr(), msg.as_ptr().cast(), msg.len()) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(ret as usize)
    }

    /// Sends one datagram to `to`'s group and port without blocking.
    pub(crate) fn send_to(&self, msg: &[u8], to: &Endpoint) -> Result<usize> {
        // SAFETY: The socket is live (type invariant); `msg` and `group` are readable.
        let ret = unsafe {
            bindings::rvs_sync_sendto(
                self.sock.as_ptr(),
                msg.as_ptr().cast(),
                msg.len(),
                i32::from(to.af),
                to.group.as_ptr(),
                to.port,
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(ret as usize)
    }

    /// Receives one datagram into `buf` without blocking (`EAGAIN` when none is queued); a
    /// longer one is cut to `buf`'s length.
    pub(crate) fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: The socket is live (type invariant); `buf` is writable for its length.
        let ret = unsafe {
            bindings::rvs_sync_recv(self.sock.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
        };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(ret as usize)
    }

    /// Sleeps (interruptibly, in a [`Thread`]) until a datagram is queued (`write`: the socket
    /// can send), the thread is asked to stop, or `timeout` jiffies passed.
    pub(crate) fn wait(&self, write: bool, timeout: u32) {
        // SAFETY: The socket is live (type invariant).
        unsafe { bindings::rvs_sync_wait(self.sock.as_ptr(), write, timeout as _) };
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: The socket is ours (type invariant) and nothing uses it any more.
        unsafe { bindings::rvs_sync_sock_release(self.sock.as_ptr()) };
    }
}

/// What a [`Thread`] does.
pub(crate) trait ThreadFn: Send + 'static {
    /// The thread's work for namespace `net`; returns once [`should_stop`] says so. The thread
    /// has its data to itself.
    fn run(&mut self, net: &Net);
}

struct Inner<T> {
    net: *mut bindings::net,
    data: T,
}

/// A running kthread.
///
/// # Invariants
///
/// `task` is a started kthread (with a task reference of ours) whose argument is `inner`,
/// (`_inner`), which stays allocated until the thread is stopped in [`Drop`] and which nothing but the
/// thread touches meanwhile; `inner.net` outlives it.
pub(crate) struct Thread<T: ThreadFn> {
    task: NonNull<c_void>,
    _inner: KBox<Inner<T>>,
}

// SAFETY: The thread may be stopped from any thread; `T` is `Send`.
unsafe impl<T: ThreadFn> Send for Thread<T> {}
// SAFETY: `&Thread` gives access to nothing.
unsafe impl<T: ThreadFn> Sync for Thread<T> {}

impl<T: ThreadFn> Thread<T> {
    /// Starts a kthread called `name` (up to 15 bytes shown) running `data.run(net)`; `net`
    /// must outlive the returned value.
    pub(crate) fn start(net: &Net, data: T, name: &[u8]) -> Result<Self> {
        let mut cname = [0u8; 32];
        let n = name.len().min(cname.len() - 1);
        cname[..n].copy_from_slice(&name[..n]);
        let inner = KBox::new(
            Inner {
                net: net.as_ptr(),
                data,
            },
            GFP_KERNEL,
        )?;
        let mut inner = inner;
        let arg = core::ptr::from_mut::<Inner<T>>(&mut inner).cast::<c_void>();
        // SAFETY: `arg` stays valid until `Drop` stopped the thread; `cname` is NUL-terminated
        // and copied by `kthread_create`.
        let task = unsafe {
            bindings::rvs_kthread_start(Some(Self::trampoline), arg, cname.as_ptr().cast())
        };
        // SAFETY: Reading an error pointer has no preconditions.
        let err = unsafe { bindings::rvs_ptr_err(task) };
        if err != 0 {
            return Err(Error::from_errno(err as i32));
        }
        let task = NonNull::new(task).ok_or(kernel::error::code::ENOMEM)?;
        // INVARIANT: started above with `inner` as its argument.
        Ok(Self {
            task,
            _inner: inner,
        })
    }

    /// The kthread's function.
    ///
    /// # Safety
    ///
    /// Only `kthread` calls it, with the `Inner<T>` of a live [`Thread`].
    unsafe extern "C" fn trampoline(arg: *mut c_void) -> c_int {
        // SAFETY: `arg` is the `Inner<T>` its `Thread` keeps, untouched, until the thread
        // stopped: this thread has it to itself.
        let inner = unsafe { &mut *arg.cast::<Inner<T>>() };
        let net = inner.net;
        // SAFETY: The namespace outlives the thread (type invariant of `Thread`).
        inner.data.run(unsafe { Net::from_raw(net) });
        // `kthread_stop` expects the thread to be there until it asks.
        while !should_stop() {
            sleep(super::HZ);
        }
        0
    }
}

impl<T: ThreadFn> Drop for Thread<T> {
    fn drop(&mut self) {
        // SAFETY: `task` is a started kthread with our reference (type invariant); this waits
        // for it to exit and drops the reference, after which `inner` is unused.
        unsafe { bindings::rvs_kthread_stop(self.task.as_ptr()) };
    }
}

/// Whether the current kthread was asked to stop.
pub(crate) fn should_stop() -> bool {
    // SAFETY: Only called from a `Thread`'s function, a kthread.
    unsafe { bindings::rvs_kthread_should_stop() }
}

/// Sleeps interruptibly for `timeout` jiffies (woken early by a stop request).
pub(crate) fn sleep(timeout: u32) {
    // SAFETY: Process context (a kthread).
    unsafe { bindings::rvs_kthread_sleep(timeout as _) };
}
