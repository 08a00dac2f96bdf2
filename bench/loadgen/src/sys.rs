//! The few system calls the load generators need that std does not offer (epoll, non-blocking
//! connect with a chosen source address, sendmmsg/recvmmsg, raw IPv4 sockets), each behind a
//! small safe function. Every `unsafe` block of the crate is in this file.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn sockaddr(addr: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in = unsafe { zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = port.to_be();
    sa.sin_addr.s_addr = u32::from(addr).to_be();
    sa
}

fn setsockopt_int(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the option value points to a live c_int of the length given.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Raises the open-file limit to its hard maximum (a pool server listens on thousands of ports).
pub fn raise_nofile() {
    let want = 1 << 20;
    let lim = libc::rlimit {
        rlim_cur: want,
        rlim_max: want,
    };
    // SAFETY: lim is a valid rlimit; a failure only leaves the limit as it was.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        // SAFETY: as above; getrlimit fills a valid rlimit.
        unsafe {
            let mut cur: libc::rlimit = zeroed();
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur) == 0 {
                cur.rlim_cur = cur.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &cur);
            }
        }
    }
}

/// An epoll instance.
pub struct Epoll(OwnedFd);

/// What a ready descriptor is ready for.
pub type Event = libc::epoll_event;

pub const IN: u32 = libc::EPOLLIN as u32;
pub const OUT: u32 = libc::EPOLLOUT as u32;
pub const ERR: u32 = (libc::EPOLLERR | libc::EPOLLHUP) as u32;

impl Epoll {
    pub fn new() -> io::Result<Self> {
        // SAFETY: a plain system call; the descriptor it returns is ours alone.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: fd was just created and is owned by nobody else.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: ev is a valid epoll_event for the duration of the call.
        cvt(unsafe { libc::epoll_ctl(self.0.as_raw_fd(), op, fd, &mut ev) }).map(drop)
    }

    pub fn add(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, token)
    }

    pub fn modify(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, token)
    }

    /// Waits up to `timeout_ms` and returns the ready events (a prefix of `events`).
    pub fn wait<'a>(&self, events: &'a mut [Event], timeout_ms: i32) -> io::Result<&'a [Event]> {
        // SAFETY: events is a writable buffer of events.len() epoll_events.
        let n = unsafe {
            libc::epoll_wait(
                self.0.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as libc::c_int,
                timeout_ms,
            )
        };
        match cvt(n) {
            Ok(n) => Ok(&events[..n as usize]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(&events[..0]),
            Err(e) => Err(e),
        }
    }
}

fn socket(ty: libc::c_int, proto: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: a plain system call; the descriptor it returns is ours alone.
    let fd = cvt(unsafe { libc::socket(libc::AF_INET, ty | libc::SOCK_CLOEXEC, proto) })?;
    // SAFETY: fd was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn bind(fd: RawFd, addr: Ipv4Addr, port: u16) -> io::Result<()> {
    let sa = sockaddr(addr, port);
    // SAFETY: sa is a valid sockaddr_in of the length given.
    cvt(unsafe {
        libc::bind(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// Starts a non-blocking TCP connection to `to:port`, from `from` (a port chosen at connect time,
/// IP_BIND_ADDRESS_NO_PORT, so the four-tuple only has to be unique) or the route's source.
pub fn tcp_connect(from: Option<Ipv4Addr>, to: Ipv4Addr, port: u16) -> io::Result<OwnedFd> {
    let fd = socket(libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0)?;
    if let Some(from) = from {
        setsockopt_int(
            fd.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            1,
        )?;
        bind(fd.as_raw_fd(), from, 0)?;
    }
    let sa = sockaddr(to, port);
    // SAFETY: sa is a valid sockaddr_in of the length given.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    match cvt(r) {
        Ok(_) => Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(fd),
        Err(e) => Err(e),
    }
}

/// The pending error of a socket (SO_ERROR): how a non-blocking connect ended.
pub fn socket_error(fd: RawFd) -> io::Result<()> {
    let mut err: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: err and len are valid for writing, len holds err's size.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    if err == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(err))
    }
}

/// A non-blocking TCP listener on `addr:port`, with SO_REUSEPORT so each server thread can hold its
/// own on the same port.
pub fn tcp_listen(addr: Ipv4Addr, port: u16) -> io::Result<OwnedFd> {
    let fd = socket(libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0)?;
    setsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    setsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    bind(fd.as_raw_fd(), addr, port)?;
    // SAFETY: a plain system call on our descriptor.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), 4096) })?;
    Ok(fd)
}

/// Accepts one pending connection (non-blocking), or None when there is none.
pub fn accept(fd: RawFd) -> io::Result<Option<OwnedFd>> {
    // SAFETY: a null address is allowed; the returned descriptor is ours alone.
    let r = unsafe {
        libc::accept4(
            fd,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    match cvt(r) {
        // SAFETY: r is a fresh descriptor nobody else owns.
        Ok(fd) => Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) })),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ECONNABORTED) | Some(libc::EINTR)
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is writable for buf.len() bytes.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: buf is readable for buf.len() bytes.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// A UDP socket bound to `addr:port` (port 0: any) with a receive buffer of `rcvbuf` bytes
/// (SO_RCVBUFFORCE, root only; falls back to SO_RCVBUF).
pub fn udp_bind(addr: Ipv4Addr, port: u16, rcvbuf: i32) -> io::Result<OwnedFd> {
    let fd = socket(libc::SOCK_DGRAM, 0)?;
    setsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    if rcvbuf > 0
        && setsockopt_int(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            rcvbuf,
        )
        .is_err()
    {
        setsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, rcvbuf)?;
    }
    bind(fd.as_raw_fd(), addr, port)?;
    Ok(fd)
}

/// A UDP socket connected to `to:port` from an ephemeral port.
pub fn udp_connect(to: Ipv4Addr, port: u16) -> io::Result<OwnedFd> {
    let fd = socket(libc::SOCK_DGRAM, 0)?;
    let sa = sockaddr(to, port);
    // SAFETY: sa is a valid sockaddr_in of the length given.
    cvt(unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    })?;
    Ok(fd)
}

/// Sends `count` copies of `payload` on a connected socket in one sendmmsg; returns how many left.
pub fn send_copies(fd: RawFd, payload: &[u8], count: usize) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    // SAFETY: mmsghdr is plain data; all-zero is a valid value.
    let mut msgs: Vec<libc::mmsghdr> = (0..count).map(|_| unsafe { zeroed() }).collect();
    for m in &mut msgs {
        m.msg_hdr.msg_iov = &mut iov;
        m.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: every header points to one iovec over `payload`, which the kernel only reads.
    let n = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), count as libc::c_uint, 0) };
    cvt(n).map(|n| n as usize)
}

/// Receives up to `bufs.len()` datagrams in one recvmmsg (blocking for the first); returns how many.
pub fn recv_many(fd: RawFd, bufs: &mut [[u8; 2048]]) -> io::Result<usize> {
    let mut iovs: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: mmsghdr is plain data; all-zero is a valid value.
    let mut msgs: Vec<libc::mmsghdr> = (0..iovs.len()).map(|_| unsafe { zeroed() }).collect();
    for (m, iov) in msgs.iter_mut().zip(iovs.iter_mut()) {
        m.msg_hdr.msg_iov = iov;
        m.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: every header points to one iovec over a distinct writable buffer of bufs.
    let n = unsafe {
        libc::recvmmsg(
            fd,
            msgs.as_mut_ptr(),
            msgs.len() as libc::c_uint,
            libc::MSG_WAITFORONE,
            std::ptr::null_mut(),
        )
    };
    cvt(n).map(|n| n as usize)
}

/// A raw IPv4 socket whose packets carry their own IP header (IPPROTO_RAW implies IP_HDRINCL).
pub fn raw_socket() -> io::Result<OwnedFd> {
    let fd = socket(libc::SOCK_RAW, libc::IPPROTO_RAW)?;
    // A large send buffer: a batch of packets queued at once must not block half-way.
    let _ = setsockopt_int(
        fd.as_raw_fd(),
        libc::SOL_SOCKET,
        libc::SO_SNDBUFFORCE,
        8 << 20,
    );
    Ok(fd)
}

/// Sends each of `packets` (complete IPv4 packets) to `to` through a raw socket in one sendmmsg;
/// returns how many left.
pub fn send_raw(fd: RawFd, to: Ipv4Addr, packets: &[Vec<u8>]) -> io::Result<usize> {
    let mut sa = sockaddr(to, 0);
    let mut iovs: Vec<libc::iovec> = packets
        .iter()
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut libc::c_void,
            iov_len: p.len(),
        })
        .collect();
    // SAFETY: mmsghdr is plain data; all-zero is a valid value.
    let mut msgs: Vec<libc::mmsghdr> = (0..iovs.len()).map(|_| unsafe { zeroed() }).collect();
    for (m, iov) in msgs.iter_mut().zip(iovs.iter_mut()) {
        m.msg_hdr.msg_name = (&mut sa as *mut libc::sockaddr_in).cast();
        m.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        m.msg_hdr.msg_iov = iov;
        m.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: every header points to the destination address and to one iovec over a packet of
    // `packets`, which the kernel only reads.
    let n = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), msgs.len() as libc::c_uint, 0) };
    cvt(n).map(|n| n as usize)
}
