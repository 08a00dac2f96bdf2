//! UDP: a sink, a flood from a few sockets, and raw-socket packets from many source tuples (to
//! fill a balancer's connection table without a socket per entry).

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::thread;
use std::time::{Duration, Instant};

use crate::args::Args;
use crate::sys;

/// Source ports per source address in `udp-raw`'s tuples.
const PORTS_PER_ADDR: u32 = 50_000;
const FIRST_PORT: u32 = 10_000;

/// `udp-sink`: one draining thread per port; never answers.
pub fn sink(args: &Args) -> Result<(), String> {
    let addr = args.addr("addr", Ipv4Addr::UNSPECIFIED)?;
    let socks: Vec<OwnedFd> = args
        .ports("port")?
        .into_iter()
        .map(|p| sys::udp_bind(addr, p, 8 << 20).map_err(|e| format!("bind {addr}:{p}: {e}")))
        .collect::<Result<_, _>>()?;
    let handles: Vec<_> = socks
        .into_iter()
        .map(|s| {
            thread::spawn(move || {
                let mut bufs = vec![[0u8; 2048]; 64];
                while sys::recv_many(s.as_raw_fd(), &mut bufs).is_ok() {}
            })
        })
        .collect();
    args.ready()?;
    for h in handles {
        let _ = h.join();
    }
    Ok(())
}

/// `udp-flood`: prints `{"sent", "errors", "seconds", "rate"}` (the sender's view; the harness
/// counts what the director forwarded).
pub fn flood(args: &Args) -> Result<(), String> {
    let to: Ipv4Addr = args.required("to")?;
    let port: u16 = args.required("port")?;
    let flows = args.get("flows", 16usize)?.max(1);
    let duration = Duration::from_secs_f64(args.get("duration", 10.0f64)?);
    let payload = vec![b'p'; args.get("payload-bytes", 18usize)?];
    let batch = args.get("batch", 32usize)?.max(1);
    let socks: Vec<OwnedFd> = (0..flows)
        .map(|_| sys::udp_connect(to, port).map_err(|e| format!("connect {to}:{port}: {e}")))
        .collect::<Result<_, _>>()?;
    let (mut sent, mut errors) = (0u64, 0u64);
    let start = Instant::now();
    let end = start + duration;
    'outer: loop {
        for s in &socks {
            match sys::send_copies(s.as_raw_fd(), &payload, batch) {
                Ok(n) => sent += n as u64,
                Err(_) => errors += 1,
            }
            if Instant::now() >= end {
                break 'outer;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"test\":\"udp-flood\",\"sent\":{sent},\"errors\":{errors},\"seconds\":{secs:.3},\"rate\":{:.1}}}",
        sent as f64 / secs
    );
    Ok(())
}

/// The source tuple number `i` of `udp-raw`: `src + i / 50,000`, port `10,000 + i % 50,000`.
fn tuple(src: Ipv4Addr, i: u32) -> (Ipv4Addr, u16) {
    (
        Ipv4Addr::from(u32::from(src) + i / PORTS_PER_ADDR),
        (FIRST_PORT + i % PORTS_PER_ADDR) as u16,
    )
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

fn sum16(bytes: &[u8]) -> u32 {
    bytes
        .chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
        .sum()
}

/// A complete IPv4/UDP packet (the kernel fills in the IP checksum and identification; the UDP
/// checksum is ours).
fn packet(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let total = 20 + udp_len;
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        17,
        0,
        0,
    ]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&(udp_len as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    let pseudo = sum16(&src.octets()) + sum16(&dst.octets()) + 17 + udp_len as u32;
    let csum = !fold(pseudo + sum16(&p[20..]));
    let csum = if csum == 0 { 0xffff } else { csum };
    p[26..28].copy_from_slice(&csum.to_be_bytes());
    p
}

/// `udp-raw`: prints `{"sent", "errors", "seconds", "rate", "tuples"}`. `--threads T` splits the
/// tuples (fill) or the sample (replay) over T threads, each with its own raw socket: on veth the
/// sender's CPU carries each packet through every namespace's stack, so one thread uses one CPU.
pub fn raw(args: &Args) -> Result<(), String> {
    let to: Ipv4Addr = args.required("to")?;
    let port: u16 = args.required("port")?;
    let src: Ipv4Addr = args.required("src")?;
    let count: u32 = args.required("count")?;
    let payload = vec![b'p'; args.get("payload-bytes", 18usize)?];
    let batch = args.get("batch", 32usize)?.max(1);
    let threads = args.get("threads", 1u32)?.max(1);
    // The tuple numbers to send: all of them once (fill), or a sample spread evenly over them,
    // over and over until the deadline (replay).
    let (tuples, stride, deadline) = if args.flag("fill") {
        (count, 1, None)
    } else if args.flag("replay") {
        let sample = args.get("sample", 65_536u32)?.clamp(1, count.max(1));
        let duration = Duration::from_secs_f64(args.get("duration", 10.0f64)?);
        (sample, (count / sample).max(1), Some(duration))
    } else {
        return Err("give --fill or --replay".into());
    };
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let payload = payload.clone();
            // Thread t takes the t-th share of the tuple numbers.
            let (lo, hi) = (
                tuples / threads * t,
                if t + 1 == threads {
                    tuples
                } else {
                    tuples / threads * (t + 1)
                },
            );
            thread::spawn(move || -> Result<(u64, u64), String> {
                let fd = sys::raw_socket().map_err(|e| format!("raw socket: {e}"))?;
                let build = |j: u32| {
                    let (a, p) = tuple(src, j * stride);
                    packet(a, p, to, port, &payload)
                };
                let (mut sent, mut errors) = (0u64, 0u64);
                let mut send = |pkts: &[Vec<u8>]| {
                    let mut off = 0;
                    while off < pkts.len() {
                        match sys::send_raw(fd.as_raw_fd(), to, &pkts[off..]) {
                            Ok(n) => {
                                sent += n as u64;
                                off += n.max(1);
                            }
                            Err(_) => {
                                errors += 1;
                                off += 1;
                            }
                        }
                    }
                };
                match deadline {
                    None => {
                        let mut i = lo;
                        while i < hi {
                            let n = (hi - i).min(batch as u32);
                            let pkts: Vec<Vec<u8>> = (i..i + n).map(build).collect();
                            send(&pkts);
                            i += n;
                        }
                    }
                    Some(d) => {
                        let pkts: Vec<Vec<u8>> = (lo..hi).map(build).collect();
                        let end = start + d;
                        'outer: loop {
                            for chunk in pkts.chunks(batch) {
                                send(chunk);
                                if Instant::now() >= end {
                                    break 'outer;
                                }
                            }
                        }
                    }
                }
                Ok((sent, errors))
            })
        })
        .collect();
    let (mut sent, mut errors) = (0u64, 0u64);
    for h in handles {
        let (s, e) = h
            .join()
            .map_err(|_| "a sender thread panicked".to_string())??;
        sent += s;
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"test\":\"udp-raw\",\"sent\":{sent},\"errors\":{errors},\"seconds\":{secs:.3},\"rate\":{:.1},\"tuples\":{tuples}}}",
        sent as f64 / secs
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_checksum_verifies() {
        let p = packet(
            Ipv4Addr::new(10, 64, 0, 1),
            10_000,
            Ipv4Addr::new(192, 0, 2, 1),
            9000,
            b"hello",
        );
        // The sum over pseudo-header and datagram, checksum included, folds to all ones.
        let pseudo = sum16(&p[12..16]) + sum16(&p[16..20]) + 17 + (p.len() as u32 - 20);
        assert_eq!(fold(pseudo + sum16(&p[20..])), 0xffff);
    }

    #[test]
    fn tuples_are_distinct_across_addresses() {
        let src = Ipv4Addr::new(10, 64, 0, 0);
        assert_eq!(tuple(src, 0), (src, 10_000));
        assert_eq!(tuple(src, 49_999), (src, 59_999));
        assert_eq!(tuple(src, 50_000), (Ipv4Addr::new(10, 64, 0, 1), 10_000));
    }
}
