//! rvs-loadgen: the traffic of `make bench`, one long-running process per side (starting a
//! process costs up to a second under TCG, so nothing here forks per connection).
//!
//! ```text
//! rvs-loadgen tcp-serve --port P[,P|A-B..] [--addr A] [--response-bytes N] [--threads T] [--ready-file F]
//! rvs-loadgen tcp-crr   --to ADDR --port P [--bind A,B..] [--concurrency C] [--duration S]
//!                       [--warmup S] [--request-bytes N] [--response-bytes N] [--threads T]
//! rvs-loadgen udp-sink  --port P[,P..] [--addr A] [--ready-file F]
//! rvs-loadgen udp-flood --to ADDR --port P [--flows F] [--duration S] [--payload-bytes N] [--batch B]
//! rvs-loadgen udp-raw   --to ADDR --port P --src A --count N (--fill | --replay --duration S
//!                       [--sample K]) [--payload-bytes N] [--batch B]
//! ```
//!
//! - `tcp-serve` answers each connection's first bytes with `--response-bytes` bytes and closes
//!   (HTTP/1.0 style: the server closes first).
//! - `tcp-crr` keeps `--concurrency` connections in flight; each connects, sends its request, reads
//!   the response until the server's FIN, and closes; a new one replaces it at once. It counts the
//!   transactions that completed within `--duration` after `--warmup`.
//! - `udp-sink` drains datagrams (no answers: the benchmarks count packets at the director).
//! - `udp-flood` sends small datagrams from `--flows` sockets (one source port each) as fast as the
//!   path takes them.
//! - `udp-raw` builds UDP packets from `--count` distinct source tuples (addresses from `--src`
//!   upwards, 50,000 ports each) on a raw socket: `--fill` sends one packet per tuple (one
//!   connection entry each on the director), `--replay` cycles over `--sample` tuples spread
//!   evenly over them for `--duration` seconds.
//!
//! Every client prints one JSON line of results on stdout.

mod args;
mod sys;
mod tcp;
mod udp;

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let Some(cmd) = argv.next() else {
        eprintln!("usage: rvs-loadgen tcp-serve|tcp-crr|udp-sink|udp-flood|udp-raw OPTIONS (see the source's header)");
        return ExitCode::from(2);
    };
    let args = match args::Args::parse(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rvs-loadgen {cmd}: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cmd.as_str() {
        "tcp-serve" => tcp::serve(&args),
        "tcp-crr" => tcp::crr(&args),
        "udp-sink" => udp::sink(&args),
        "udp-flood" => udp::flood(&args),
        "udp-raw" => udp::raw(&args),
        _ => Err(format!("unknown command `{cmd}'")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rvs-loadgen {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}
