//! Cost per pick of every scheduler at 10, 100, 1,000 and 10,000 destinations, plus Maglev
//! lookup and table build, and ip_vs's own O(n) scan for comparison.
//!
//! A "pick" for the schedulers that keep counters (lc, wlc, sed, nq, fo, ovf, lblc, lblcr, twos)
//! is what the data path pays per new connection in rvs in a steady state of 4 open connections
//! per destination: `schedule()`, the new connection's counters reported through
//! `conns_changed()`, and the oldest open connection ending (another `conns_changed()`).
//! rr/wrr/dh/sh/mh/maglev picks are `schedule()` alone. Packets rotate over 1,024 clients.
//! Run: `cargo bench -p rvs-core --bench sched`.

// criterion_group! defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rvs_core::sched::dh::Dh;
use rvs_core::sched::fo::Fo;
use rvs_core::sched::lblc::{Lblc, LblcEntry, IP_VS_LBLC_TAB_SIZE, LBLC_MAX_ENTRIES};
use rvs_core::sched::lblcr::{Lblcr, LblcrEntry, LblcrMember};
use rvs_core::sched::lc::Lc;
use rvs_core::sched::maglev::{Maglev, MaglevBuild, MAGLEV_DEFAULT_SIZE};
use rvs_core::sched::mh::{Mh, DEFAULT_TAB_INDEX};
use rvs_core::sched::nq::Nq;
use rvs_core::sched::ovf::Ovf;
use rvs_core::sched::rr::Rr;
use rvs_core::sched::sed::Sed;
use rvs_core::sched::sh::Sh;
use rvs_core::sched::tree::{Node, PickTree};
use rvs_core::sched::twos::{RandomSource, Twos};
use rvs_core::sched::wlc::{ip_vs_wlc_schedule, Wlc, WlcRank};
use rvs_core::sched::wrr::Wrr;
use rvs_core::sched::{Dest, Packet, Scheduler, Service, AF_INET, IPPROTO_TCP};

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

struct XorShift(u32);

impl RandomSource for XorShift {
    fn random_u32_below(&mut self, ceil: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0 % ceil
    }
}

fn dests(n: usize) -> Vec<Dest> {
    let mut r = XorShift(0x1234_5678);
    (0..n)
        .map(|i| {
            let mut addr = [0u8; 16];
            addr[..4].copy_from_slice(&(0x0a00_0000u32 + i as u32).to_be_bytes());
            let w = 1 + r.random_u32_below(100) as i32;
            let a = r.random_u32_below(50) as i32;
            Dest {
                af: AF_INET,
                addr,
                port: 80,
                weight: w,
                last_weight: w,
                activeconns: a,
                totalconns: a + r.random_u32_below(200) as i32,
                ..Dest::default()
            }
        })
        .collect()
}

fn packets() -> Vec<Packet> {
    let mut r = XorShift(0x9e37_79b9);
    (0..1024)
        .map(|_| {
            let mut saddr = [0u8; 16];
            saddr[..4].copy_from_slice(&r.random_u32_below(u32::MAX).to_be_bytes());
            let mut daddr = [0u8; 16];
            // lblc/lblcr key on the destination address: a pool of 1,000 cache targets.
            daddr[..4].copy_from_slice(&(0xc0a8_0000 + r.random_u32_below(1000)).to_be_bytes());
            Packet {
                af: AF_INET,
                protocol: IPPROTO_TCP,
                saddr,
                daddr,
                sport: r.random_u32_below(65536) as u16,
                dport: 80,
                inverse: false,
            }
        })
        .collect()
}

fn tree<K: Copy + Default>(n: usize) -> Vec<Node<K>> {
    vec![Node::default(); PickTree::<Vec<Node<(i32, i32)>>, WlcRank>::storage_len(n)]
}

fn make(name: &str, n: usize) -> Box<dyn Scheduler> {
    match name {
        "rr" => Box::new(Rr::new()),
        "wrr" => Box::new(Wrr::new()),
        "lc" => Box::new(Lc::new(tree(n))),
        "wlc" => Box::new(Wlc::new(tree(n))),
        "sed" => Box::new(Sed::new(tree(n))),
        "nq" => Box::new(Nq::new(tree(n))),
        "fo" => Box::new(Fo::new(tree(n))),
        "ovf" => Box::new(Ovf::new(tree(n))),
        "dh" => Box::new(Dh),
        "sh" => Box::new(Sh::new()),
        "mh" => Box::new(
            Mh::new(
                vec![0; Mh::<Vec<u32>>::storage_len(DEFAULT_TAB_INDEX, n)],
                DEFAULT_TAB_INDEX,
            )
            .unwrap(),
        ),
        "twos" => Box::new(Twos::new(vec![0u64; 2 * n + 1], XorShift(7))),
        "lblc" => Box::new(
            Lblc::new(
                vec![LblcEntry::default(); LBLC_MAX_ENTRIES],
                vec![0; IP_VS_LBLC_TAB_SIZE],
                tree(n),
                1000,
            )
            .unwrap(),
        ),
        "lblcr" => Box::new(
            Lblcr::new(
                vec![LblcrEntry::default(); LBLC_MAX_ENTRIES],
                vec![LblcrMember::default(); 4 * LBLC_MAX_ENTRIES],
                vec![0; IP_VS_LBLC_TAB_SIZE],
                tree(n),
                1000,
            )
            .unwrap(),
        ),
        "maglev" => Box::new(
            Maglev::new(
                vec![0; Maglev::<Vec<u32>, Vec<MaglevBuild>>::table_len(MAGLEV_DEFAULT_SIZE)],
                vec![MaglevBuild::default(); n],
                MAGLEV_DEFAULT_SIZE,
            )
            .unwrap(),
        ),
        other => panic!("{other}"),
    }
}

/// Schedulers whose pick is followed by connection accounting (see the file comment).
fn accounts(name: &str) -> bool {
    matches!(
        name,
        "lc" | "wlc" | "sed" | "nq" | "fo" | "ovf" | "twos" | "lblc" | "lblcr"
    )
}

fn picks(c: &mut Criterion) {
    let pkts = packets();
    let svc = Service {
        af: AF_INET,
        flags: 0,
    };
    let names = [
        "rr", "wrr", "lc", "wlc", "sed", "nq", "fo", "ovf", "lblc", "lblcr", "dh", "sh", "mh",
        "twos", "maglev",
    ];
    for name in names {
        let mut g = c.benchmark_group(format!("pick/{name}"));
        for n in SIZES {
            if name == "mh" && n > 4093 {
                // ip_vs's mh refuses more destinations than its 4093 slots.
                continue;
            }
            let mut d = dests(n);
            let mut s = make(name, n);
            s.init_service(&svc, &d).unwrap();
            let account = accounts(name);
            // The open connections, oldest first: a steady state of 4 per destination.
            let mut open: std::collections::VecDeque<u32> =
                (0..4 * n).map(|c| (c % n) as u32).collect();
            for &i in &open {
                d[i as usize].activeconns += 1;
                d[i as usize].totalconns += 1;
            }
            s.init_service(&svc, &d).unwrap();
            let mut k = 0usize;
            g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| {
                    let p = &pkts[k & 1023];
                    k = k.wrapping_add(1);
                    let got = s.schedule(&svc, &d, black_box(p), k as u64);
                    if account {
                        // The new connection binds to its destination, the oldest one ends.
                        if let Some(i) = got {
                            d[i].activeconns += 1;
                            d[i].totalconns += 1;
                            s.conns_changed(&d, i);
                            open.push_back(i as u32);
                        }
                        if let Some(j) = open.pop_front().map(|j| j as usize) {
                            d[j].activeconns -= 1;
                            d[j].totalconns -= 1;
                            s.conns_changed(&d, j);
                        }
                    }
                    got
                })
            });
        }
        g.finish();
    }

    // The parts of an accounted pick, for wlc: the pick alone (a root read), and one counter
    // update on an arbitrary destination (a leaf-to-root walk, usually cut short).
    let mut g = c.benchmark_group("parts/wlc");
    for n in SIZES {
        let mut d = dests(n);
        let mut s = make("wlc", n);
        s.init_service(&svc, &d).unwrap();
        g.bench_with_input(BenchmarkId::new("pick-only", n), &n, |b, _| {
            b.iter(|| s.schedule(&svc, &d, black_box(&pkts[0]), 0))
        });
        let mut k = 0usize;
        g.bench_with_input(BenchmarkId::new("conns-changed", n), &n, |b, &n| {
            b.iter(|| {
                k = k.wrapping_add(1);
                let j = k.wrapping_mul(2_654_435_761) % n;
                // Alternate +1/-1 so counters stay put over the run.
                if k & 1 == 0 {
                    d[j].activeconns += 1;
                } else if d[j].activeconns > 0 {
                    d[j].activeconns -= 1;
                }
                s.conns_changed(&d, j);
            })
        });
    }
    g.finish();
    for name in ["lc", "wlc", "sed", "nq"] {
        let mut g = c.benchmark_group(format!("pick-bind/{name}"));
        for n in SIZES {
            let mut d = dests(n);
            let mut s = make(name, n);
            s.init_service(&svc, &d).unwrap();
            g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| {
                    let i = s.schedule(&svc, &d, black_box(&pkts[0]), 0).unwrap();
                    d[i].activeconns += 1;
                    d[i].totalconns += 1;
                    s.conns_changed(&d, i);
                })
            });
        }
        g.finish();
    }

    // ip_vs's O(n) WLC scan, the cost rvs's tree replaces.
    let mut g = c.benchmark_group("ipvs-scan/wlc");
    for n in SIZES {
        let d = dests(n);
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| ip_vs_wlc_schedule(black_box(&d)))
        });
    }
    g.finish();
}

fn maglev(c: &mut Criterion) {
    let svc = Service::default();
    let d = dests(1000);
    let mut m = Maglev::new(
        vec![0u32; Maglev::<Vec<u32>, Vec<MaglevBuild>>::table_len(MAGLEV_DEFAULT_SIZE)],
        vec![MaglevBuild::default(); 1000],
        MAGLEV_DEFAULT_SIZE,
    )
    .unwrap();
    c.bench_function("maglev/build/65537x1000", |b| {
        b.iter(|| m.build(black_box(&d)).unwrap())
    });
    let equal: Vec<Dest> = d.iter().map(|x| Dest { weight: 1, ..*x }).collect();
    c.bench_function("maglev/build/65537x1000-equal-weights", |b| {
        b.iter(|| m.build(black_box(&equal)).unwrap())
    });
    m.init_service(&svc, &d).unwrap();
    let pkts = packets();
    let mut k = 0usize;
    c.bench_function("maglev/lookup/1000", |b| {
        b.iter(|| {
            k = k.wrapping_add(1);
            m.schedule(&svc, &d, black_box(&pkts[k & 1023]), 0)
        })
    });
}

criterion_group!(benches, picks, maglev);
criterion_main!(benches);
