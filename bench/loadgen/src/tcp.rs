//! TCP: a request/response server that closes first, and a client that keeps many short
//! connections in flight (one transaction per connection, netperf's TCP_CRR).

use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::thread;
use std::time::{Duration, Instant};

use crate::args::Args;
use crate::sys::{self, Epoll, Event, ERR, IN, OUT};

const LISTENER: u64 = 1 << 63;

/// `tcp-serve`: every thread listens on every port (SO_REUSEPORT spreads the connections).
pub fn serve(args: &Args) -> Result<(), String> {
    let addr = args.addr("addr", Ipv4Addr::UNSPECIFIED)?;
    let ports = args.ports("port")?;
    let response = vec![b'x'; args.get("response-bytes", 128usize)?];
    let threads = args.get("threads", 1usize)?.max(1);
    sys::raise_nofile();
    let mut handles = Vec::new();
    for _ in 0..threads {
        let listeners: Vec<OwnedFd> = ports
            .iter()
            .map(|&p| sys::tcp_listen(addr, p).map_err(|e| format!("listen on {addr}:{p}: {e}")))
            .collect::<Result<_, _>>()?;
        let response = response.clone();
        handles.push(thread::spawn(move || serve_thread(listeners, &response)));
    }
    args.ready()?;
    for h in handles {
        h.join()
            .map_err(|_| "a server thread panicked".to_string())?
            .map_err(|e| format!("server: {e}"))?;
    }
    Ok(())
}

fn serve_thread(listeners: Vec<OwnedFd>, response: &[u8]) -> io::Result<()> {
    let ep = Epoll::new()?;
    for (i, l) in listeners.iter().enumerate() {
        ep.add(l.as_raw_fd(), IN, LISTENER | i as u64)?;
    }
    let mut conns: HashMap<RawFd, OwnedFd> = HashMap::new();
    let mut events = vec![Event { events: 0, u64: 0 }; 256];
    let mut buf = [0u8; 4096];
    loop {
        for ev in ep.wait(&mut events, -1)? {
            let token = ev.u64;
            if token & LISTENER != 0 {
                let l = listeners[(token & !LISTENER) as usize].as_raw_fd();
                while let Some(c) = sys::accept(l)? {
                    let fd = c.as_raw_fd();
                    ep.add(fd, IN, fd as u64)?;
                    conns.insert(fd, c);
                }
                continue;
            }
            let fd = token as RawFd;
            match sys::read(fd, &mut buf) {
                // The request (a few bytes, one segment): answer it and close, which sends our FIN.
                Ok(n) if n > 0 => {
                    let _ = sys::write(fd, response);
                    conns.remove(&fd);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                _ => {
                    conns.remove(&fd);
                }
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Idle,
    Connecting,
    Reading,
}

struct Slot {
    fd: Option<OwnedFd>,
    state: State,
    started: Instant,
    got: usize,
}

/// What one client thread counted.
#[derive(Default)]
struct Counts {
    transactions: u64,
    errors: u64,
    /// Transaction latencies: bucket i holds those in [2^i, 2^(i+1)) microseconds.
    latency_log2_us: [u64; 32],
}

struct CrrConfig {
    to: Ipv4Addr,
    port: u16,
    bind: Vec<Ipv4Addr>,
    concurrency: usize,
    request: Vec<u8>,
    response_bytes: usize,
    begin: Instant,
    end: Instant,
}

/// `tcp-crr`: prints `{"transactions", "errors", "seconds", "rate", "p50_us", "p99_us"}`.
pub fn crr(args: &Args) -> Result<(), String> {
    let threads = args.get("threads", 1usize)?.max(1);
    let concurrency = args.get("concurrency", 64usize)?.max(threads);
    let duration = args.get("duration", 10.0f64)?;
    let warmup = args.get("warmup", 1.0f64)?;
    let start = Instant::now();
    let begin = start + Duration::from_secs_f64(warmup);
    let cfg = CrrConfig {
        to: args.required("to")?,
        port: args.required("port")?,
        bind: args.addrs("bind")?,
        concurrency: 0,
        request: vec![b'r'; args.get("request-bytes", 64usize)?.max(1)],
        response_bytes: args.get("response-bytes", 128usize)?,
        begin,
        end: begin + Duration::from_secs_f64(duration),
    };
    sys::raise_nofile();
    let mut handles = Vec::new();
    for t in 0..threads {
        let cfg = CrrConfig {
            concurrency: concurrency / threads + usize::from(t < concurrency % threads),
            bind: cfg.bind.clone(),
            request: cfg.request.clone(),
            ..cfg
        };
        handles.push(thread::spawn(move || crr_thread(&cfg, t)));
    }
    let mut total = Counts::default();
    for h in handles {
        let c = h
            .join()
            .map_err(|_| "a client thread panicked".to_string())?
            .map_err(|e| format!("client: {e}"))?;
        total.transactions += c.transactions;
        total.errors += c.errors;
        for (a, b) in total.latency_log2_us.iter_mut().zip(c.latency_log2_us) {
            *a += b;
        }
    }
    println!(
        "{{\"test\":\"tcp-crr\",\"transactions\":{},\"errors\":{},\"seconds\":{:.3},\"rate\":{:.1},\"concurrency\":{},\"p50_us\":{},\"p99_us\":{}}}",
        total.transactions,
        total.errors,
        duration,
        total.transactions as f64 / duration,
        concurrency,
        quantile(&total.latency_log2_us, 0.50),
        quantile(&total.latency_log2_us, 0.99),
    );
    Ok(())
}

/// The upper bound of the log2 bucket holding quantile `q`.
fn quantile(h: &[u64; 32], q: f64) -> u64 {
    let n: u64 = h.iter().sum();
    let want = (n as f64 * q).ceil() as u64;
    let mut seen = 0;
    for (i, &c) in h.iter().enumerate() {
        seen += c;
        if seen >= want && c > 0 {
            return 1 << (i + 1);
        }
    }
    0
}

fn crr_thread(cfg: &CrrConfig, thread_index: usize) -> io::Result<Counts> {
    let ep = Epoll::new()?;
    let now = Instant::now();
    let mut slots: Vec<Slot> = (0..cfg.concurrency)
        .map(|_| Slot {
            fd: None,
            state: State::Idle,
            started: now,
            got: 0,
        })
        .collect();
    let mut counts = Counts::default();
    let mut events = vec![Event { events: 0, u64: 0 }; 256];
    let mut buf = [0u8; 4096];
    let mut next_bind = thread_index;
    loop {
        let now = Instant::now();
        if now >= cfg.end {
            break;
        }
        // (Re)start every idle slot.
        for (i, s) in slots.iter_mut().enumerate() {
            if s.state != State::Idle {
                continue;
            }
            let from = if cfg.bind.is_empty() {
                None
            } else {
                next_bind = (next_bind + 1) % cfg.bind.len();
                Some(cfg.bind[next_bind])
            };
            match sys::tcp_connect(from, cfg.to, cfg.port) {
                Ok(fd) => {
                    ep.add(fd.as_raw_fd(), OUT, i as u64)?;
                    *s = Slot {
                        fd: Some(fd),
                        state: State::Connecting,
                        started: now,
                        got: 0,
                    };
                }
                Err(_) => {
                    if now >= cfg.begin {
                        counts.errors += 1;
                    }
                }
            }
        }
        for ev in ep.wait(&mut events, 10)? {
            let i = ev.u64 as usize;
            let s = &mut slots[i];
            let Some(fd) = s.fd.as_ref().map(|f| f.as_raw_fd()) else {
                continue;
            };
            let mut failed = false;
            let mut done = false;
            match s.state {
                State::Connecting => {
                    if ev.events & (OUT | ERR) != 0 {
                        if sys::socket_error(fd).is_ok() && sys::write(fd, &cfg.request).is_ok() {
                            ep.modify(fd, IN, i as u64)?;
                            s.state = State::Reading;
                        } else {
                            failed = true;
                        }
                    }
                }
                State::Reading => loop {
                    match sys::read(fd, &mut buf) {
                        Ok(0) => {
                            if s.got >= cfg.response_bytes {
                                done = true;
                            } else {
                                failed = true;
                            }
                            break;
                        }
                        Ok(n) => s.got += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => {
                            failed = true;
                            break;
                        }
                    }
                },
                State::Idle => {}
            }
            if done || failed {
                let t = Instant::now();
                if t >= cfg.begin && t < cfg.end {
                    if done {
                        counts.transactions += 1;
                        let us = t.duration_since(s.started).as_micros().max(1) as u64;
                        counts.latency_log2_us[(63 - us.leading_zeros()) as usize] += 1;
                    } else {
                        counts.errors += 1;
                    }
                }
                // Closing the socket removes it from the epoll set.
                s.fd = None;
                s.state = State::Idle;
            }
        }
    }
    Ok(counts)
}
