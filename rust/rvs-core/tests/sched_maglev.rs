//! The `maglev` scheduler's promises, checked as properties of its table (not timings):
//! balance (max slots per weight unit over the mean ≤ 1.01 for 1,000 destinations in 65,537
//! slots), disruption (removing one of 100 destinations moves ≤ 1.6/N of the table), a table
//! independent of the order destinations were added, full-precision weights, and drain
//! semantics (weight 0 takes no slots; overloaded destinations are stepped over).

use rvs_core::sched::maglev::{Maglev, MaglevBuild, MAGLEV_DEFAULT_SIZE};
use rvs_core::sched::{Dest, Packet, Scheduler, Service, AF_INET, AF_INET6};

type Table = Maglev<Vec<u32>, Vec<MaglevBuild>>;

fn maglev(size: u32, max_dests: usize) -> Table {
    Maglev::new(
        vec![0; Table::table_len(size)],
        vec![MaglevBuild::default(); max_dests],
        size,
    )
    .unwrap()
}

fn dest(i: u32, weight: i32) -> Dest {
    let mut addr = [0u8; 16];
    addr[..4].copy_from_slice(&(0x0a00_0000u32 + i).to_be_bytes());
    Dest {
        af: AF_INET,
        addr,
        port: 80,
        weight,
        last_weight: weight,
        ..Dest::default()
    }
}

fn slots_per_dest(m: &Table, n: usize) -> Vec<u64> {
    let mut c = vec![0u64; n];
    for s in 0..m.table_size() {
        c[m.slot(s).unwrap()] += 1;
    }
    c
}

/// Identity of the destination in each slot, so tables over differently ordered lists compare.
fn table_by_identity(m: &Table, dests: &[Dest]) -> Vec<[u8; 16]> {
    (0..m.table_size())
        .map(|s| dests[m.slot(s).unwrap()].addr)
        .collect()
}

#[test]
fn thousand_equal_destinations_are_balanced_within_one_percent() {
    let dests: Vec<Dest> = (0..1000).map(|i| dest(i, 1)).collect();
    let mut m = maglev(MAGLEV_DEFAULT_SIZE, 1000);
    m.init_service(&Service::default(), &dests).unwrap();
    let c = slots_per_dest(&m, 1000);
    let max = *c.iter().max().unwrap() as f64;
    let mean = MAGLEV_DEFAULT_SIZE as f64 / 1000.0;
    println!(
        "1000 dests, M=65537: max {max} slots, mean {mean:.3}, imbalance {:.4}",
        max / mean
    );
    assert!(max / mean <= 1.01);
}

#[test]
fn weighted_destinations_get_their_share_at_full_precision() {
    // Weights a 6-bit quantisation (ip_vs mh) would distort: 1000, 999, 500, 1, …
    let weights: Vec<i32> = (0..100)
        .map(|i| [1000, 999, 500, 333, 250][i % 5])
        .collect();
    let dests: Vec<Dest> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| dest(i as u32, w))
        .collect();
    let mut m = maglev(MAGLEV_DEFAULT_SIZE, 100);
    m.init_service(&Service::default(), &dests).unwrap();
    let c = slots_per_dest(&m, 100);
    let total_w: i64 = weights.iter().map(|&w| w as i64).sum();
    let per_unit: Vec<f64> = c
        .iter()
        .zip(&weights)
        .map(|(&s, &w)| s as f64 / w as f64)
        .collect();
    let mean = MAGLEV_DEFAULT_SIZE as f64 / total_w as f64;
    let max = per_unit.iter().cloned().fold(0.0, f64::max);
    let min = per_unit.iter().cloned().fold(f64::MAX, f64::min);
    println!(
        "100 weighted dests: slots/weight max {:.4} min {:.4} of mean",
        max / mean,
        min / mean
    );
    assert!(max / mean <= 1.01, "max/mean {}", max / mean);
    assert!(min / mean >= 0.99, "min/mean {}", min / mean);
}

/// Removes each of `dests` in turn from a table of `size` slots and returns the (mean, worst)
/// fraction of the table that changed owner.
fn single_removal_disruption(size: u32, dests: &[Dest]) -> (f64, f64) {
    let n = dests.len();
    let mut full = maglev(size, n);
    full.init_service(&Service::default(), dests).unwrap();
    let before = table_by_identity(&full, dests);
    let (mut worst, mut sum) = (0.0f64, 0.0);
    for victim in 0..n {
        let mut m = maglev(size, n);
        m.init_service(&Service::default(), dests).unwrap();
        let mut fewer = dests.to_vec();
        fewer.remove(victim);
        m.del_dest(&Service::default(), &fewer, victim).unwrap();
        let after = table_by_identity(&m, &fewer);
        let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        let frac = moved as f64 / size as f64;
        worst = worst.max(frac);
        sum += frac;
    }
    (sum / n as f64, worst)
}

/// The paper's resilience metric is an average over runs (its Fig. 12: 200 runs), so the bound
/// is on the mean over every possible single removal, for two different address sets; the worst
/// single removal is reported and held to a looser bound.
#[test]
fn removing_one_of_a_hundred_moves_at_most_1_6_over_n_on_average() {
    let n = 100;
    for base in [0u32, 0x5a5a_0000] {
        let dests: Vec<Dest> = (0..n as u32).map(|i| dest(base + i * 3, 1)).collect();
        let (mean, worst) = single_removal_disruption(MAGLEV_DEFAULT_SIZE, &dests);
        println!(
            "remove 1 of {n} (M=65537): moved mean {:.4}, worst {:.4} of the table; 1/N = {:.4}, bound 1.6/N = {:.4}",
            mean,
            worst,
            1.0 / n as f64,
            1.6 / n as f64
        );
        assert!(mean <= 1.6 / n as f64);
        assert!(worst <= 1.75 / n as f64);
    }
}

/// The table size is a runtime choice: with ten times the default (655,373 slots, a prime, about
/// 6,500 per destination) even the worst single removal of one of 100 destinations stays under
/// 1.6/N, and the mean comes close to the ideal 1/N.
#[test]
fn with_a_larger_table_every_single_removal_stays_under_1_6_over_n() {
    const SIZE: u32 = 655_373;
    assert!(rvs_core::sched::maglev::is_prime(SIZE));
    let n = 100;
    let dests: Vec<Dest> = (0..n as u32).map(|i| dest(i * 3, 1)).collect();
    let (mean, worst) = single_removal_disruption(SIZE, &dests);
    println!("remove 1 of {n} (M={SIZE}): moved mean {mean:.4}, worst {worst:.4} of the table");
    assert!(worst <= 1.6 / n as f64);
    assert!(mean <= 1.25 / n as f64);
}

#[test]
fn the_table_does_not_depend_on_insertion_order() {
    let svc = Service::default();
    let dests: Vec<Dest> = (0..50).map(|i| dest(i * 7, 1 + (i as i32 % 4))).collect();
    let mut a = maglev(4099, 64);
    a.init_service(&svc, &dests).unwrap();
    let want = table_by_identity(&a, &dests);
    // Build another service by adding the same destinations one by one at the list head (as
    // ip_vs does), in a scrambled order.
    let mut order: Vec<usize> = (0..50).collect();
    order.sort_by_key(|&i| (i * 37) % 50);
    let mut b = maglev(4099, 64);
    let mut list: Vec<Dest> = Vec::new();
    b.init_service(&svc, &list).unwrap();
    for i in order {
        list.insert(0, dests[i]);
        b.add_dest(&svc, &list, 0).unwrap();
    }
    assert_eq!(table_by_identity(&b, &list), want);
}

#[test]
fn quiesced_destinations_take_no_slots_and_overloaded_ones_are_stepped_over() {
    let svc = Service::default();
    let mut dests: Vec<Dest> = (0..10).map(|i| dest(i, 1)).collect();
    let mut m = maglev(251, 10);
    m.init_service(&svc, &dests).unwrap();
    dests[3].weight = 0;
    m.upd_dest(&svc, &dests, 3).unwrap();
    assert_eq!(slots_per_dest(&m, 10)[3], 0);
    dests[5].overloaded = true;
    m.conns_changed(&dests, 5);
    for c in 0..2000u32 {
        let mut saddr = [0u8; 16];
        saddr[..4].copy_from_slice(&(0xc0a8_0000 + c).to_be_bytes());
        let pkt = Packet {
            af: AF_INET,
            saddr,
            ..Packet::default()
        };
        let got = m.schedule(&svc, &dests, &pkt, 0).unwrap();
        assert!(got != 3 && got != 5);
        // A client keeps its server while nothing changes.
        assert_eq!(m.schedule(&svc, &dests, &pkt, 0), Some(got));
    }
}

#[test]
fn ipv6_clients_and_ports_spread_over_the_table() {
    let svc = Service {
        af: AF_INET6,
        flags: rvs_core::sched::IP_VS_SVC_F_SCHED2,
    };
    let dests: Vec<Dest> = (0..4).map(|i| dest(i, 1)).collect();
    let mut m = maglev(1021, 4);
    m.init_service(&svc, &dests).unwrap();
    let mut seen = [0u32; 4];
    for port in 0..4000u16 {
        let pkt = Packet {
            af: AF_INET6,
            protocol: rvs_core::sched::IPPROTO_TCP,
            saddr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            sport: port,
            ..Packet::default()
        };
        seen[m.schedule(&svc, &dests, &pkt, 0).unwrap()] += 1;
    }
    println!("one IPv6 client, 4000 source ports over 4 dests: {seen:?}");
    assert!(seen.iter().all(|&c| c > 800));
}

#[test]
fn table_sizes_must_be_prime() {
    assert!(Maglev::new(vec![0; 65536], vec![MaglevBuild::default(); 1], 65536).is_err());
    assert!(Maglev::new(vec![0; 65537], vec![MaglevBuild::default(); 1], 65537).is_err());
}

/// The table for a fixed input, as a checksum: the population is deterministic, so an
/// optimisation of the build must not change it.
#[test]
fn table_of_a_fixed_input_is_stable() {
    let dests: Vec<Dest> = (0..1000)
        .map(|i| dest(i * 13, 1 + (i as i32 * 7919) % 100))
        .collect();
    let mut m = maglev(MAGLEV_DEFAULT_SIZE, 1000);
    m.init_service(&Service::default(), &dests).unwrap();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for s in 0..m.table_size() {
        h ^= m.slot(s).unwrap() as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    println!("table checksum {h:#x}");
    assert_eq!(h, GOLDEN);
}

const GOLDEN: u64 = 0xd898_4b5b_82ce_1340;
