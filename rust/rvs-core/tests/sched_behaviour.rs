//! One scenario per scheduler, from IPVS's documented behaviour (ipvsadm(8), ip_vs_*.c
//! comments): what a user of each scheduler expects to see. The exhaustive comparison with the
//! kernel's code is `sched_ipvs.rs`; these read as examples.

use rvs_core::sched::dh::Dh;
use rvs_core::sched::fo::Fo;
use rvs_core::sched::lblc::{Lblc, LblcEntry, IP_VS_LBLC_TAB_SIZE, LBLC_MAX_ENTRIES};
use rvs_core::sched::lblcr::{Lblcr, LblcrEntry, LblcrMember};
use rvs_core::sched::lc::Lc;
use rvs_core::sched::mh::{Mh, DEFAULT_TAB_INDEX};
use rvs_core::sched::nq::Nq;
use rvs_core::sched::ovf::Ovf;
use rvs_core::sched::rr::Rr;
use rvs_core::sched::sed::Sed;
use rvs_core::sched::sh::Sh;
use rvs_core::sched::tree::{Node, PickTree};
use rvs_core::sched::twos::{RandomSource, Twos};
use rvs_core::sched::wlc::{Wlc, WlcRank};
use rvs_core::sched::wrr::Wrr;
use rvs_core::sched::{
    Dest, Packet, Scheduler, Service, AF_INET, IPPROTO_TCP, IP_VS_SVC_F_SCHED_MH_FALLBACK,
    IP_VS_SVC_F_SCHED_SH_FALLBACK, IP_VS_SVC_F_SCHED_SH_PORT,
};

const HZ: u64 = 1000;

/// rs1, rs2, … with the given weights, in list order.
fn servers(weights: &[i32]) -> Vec<Dest> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let mut addr = [0u8; 16];
            addr[..4].copy_from_slice(&[10, 0, 0, 1 + i as u8]);
            Dest {
                af: AF_INET,
                addr,
                port: 80,
                weight: w,
                last_weight: w,
                ..Dest::default()
            }
        })
        .collect()
}

fn client(last: u8, port: u16) -> Packet {
    let mut saddr = [0u8; 16];
    saddr[..4].copy_from_slice(&[192, 168, 0, last]);
    let mut daddr = [0u8; 16];
    daddr[..4].copy_from_slice(&[10, 10, 0, last]);
    Packet {
        af: AF_INET,
        protocol: IPPROTO_TCP,
        saddr,
        daddr,
        sport: port,
        dport: 80,
        inverse: false,
    }
}

fn tree<K: Copy + Default>() -> Vec<Node<K>> {
    vec![Node::default(); PickTree::<Vec<Node<(i32, i32)>>, WlcRank>::storage_len(64)]
}

/// Run `n` picks for the same client and name the servers (rs1 = index 0).
fn picks(s: &mut dyn Scheduler, svc: &Service, d: &[Dest], n: usize) -> String {
    (0..n)
        .map(|_| match s.schedule(svc, d, &client(1, 1000), 0) {
            Some(i) => format!("rs{}", i + 1),
            None => "-".to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn rr_takes_turns_and_skips_quiesced_and_overloaded_servers() {
    let svc = Service::default();
    let mut d = servers(&[1, 1, 1, 1]);
    d[1].weight = 0;
    d[2].overloaded = true;
    let mut s = Rr::new();
    s.init_service(&svc, &d).unwrap();
    let got = picks(&mut s, &svc, &d, 4);
    println!("rr over rs1, rs2 (weight 0), rs3 (overloaded), rs4: {got}");
    assert_eq!(got, "rs1 rs4 rs1 rs4");
}

#[test]
fn wrr_interleaves_by_weight() {
    // ip_vs_wrr.c: weights 4, 3, 2 give the sequence A A B A B C A B C.
    let svc = Service::default();
    let d = servers(&[4, 3, 2]);
    let mut s = Wrr::new();
    s.init_service(&svc, &d).unwrap();
    let got = picks(&mut s, &svc, &d, 9);
    println!("wrr 4:3:2: {got}");
    assert_eq!(got, "rs1 rs1 rs2 rs1 rs2 rs3 rs1 rs2 rs3");
}

#[test]
fn lc_counts_active_connections_256_times_inactive_ones() {
    let svc = Service::default();
    let mut d = servers(&[1, 5, 1]);
    d[0].activeconns = 1; // overhead 256 + 1
    d[0].totalconns = 1;
    d[1].totalconns = 300; // overhead 300, weight ignored
    d[2].activeconns = 1; // overhead 257: ties with rs1, rs1 is first
    d[2].totalconns = 1;
    let mut s = Lc::new(tree());
    s.init_service(&svc, &d).unwrap();
    let got = picks(&mut s, &svc, &d, 1);
    println!("lc: rs1 257, rs2 300, rs3 257 -> {got}");
    assert_eq!(got, "rs1");
}

#[test]
fn wlc_divides_by_weight_and_keeps_the_first_on_ties() {
    let svc = Service::default();
    let mut d = servers(&[1, 3, 3]);
    for (x, a) in d.iter_mut().zip([1, 3, 3]) {
        x.activeconns = a;
        x.totalconns = a;
    }
    let mut s = Wlc::new(tree());
    s.init_service(&svc, &d).unwrap();
    assert_eq!(picks(&mut s, &svc, &d, 1), "rs1");
    // A new connection on rs1 makes rs2 (first of the two equal ones) the least loaded.
    d[0].activeconns += 1;
    d[0].totalconns += 1;
    s.conns_changed(&d, 0);
    let got = picks(&mut s, &svc, &d, 1);
    println!("wlc after rs1 took one more: {got}");
    assert_eq!(got, "rs2");
}

#[test]
fn sed_ignores_inactive_connections() {
    let svc = Service::default();
    let mut d = servers(&[1, 1]);
    d[0].totalconns = 1000; // all inactive
    d[1].activeconns = 1;
    d[1].totalconns = 1;
    let mut s = Sed::new(tree());
    s.init_service(&svc, &d).unwrap();
    let got = picks(&mut s, &svc, &d, 1);
    println!("sed: rs1 idle with 1000 inactive, rs2 one active -> {got}");
    assert_eq!(got, "rs1");
}

#[test]
fn nq_sends_to_an_idle_server_first() {
    let svc = Service::default();
    let mut d = servers(&[100, 1, 1]);
    d[0].activeconns = 1;
    d[1].activeconns = 4;
    let mut s = Nq::new(tree());
    s.init_service(&svc, &d).unwrap();
    let got = picks(&mut s, &svc, &d, 1);
    println!("nq: rs3 is idle -> {got}");
    assert_eq!(got, "rs3");
}

#[test]
fn fo_fails_over_to_the_next_highest_weight() {
    let svc = Service::default();
    let mut d = servers(&[5, 10, 10]);
    let mut s = Fo::new(tree());
    s.init_service(&svc, &d).unwrap();
    assert_eq!(picks(&mut s, &svc, &d, 1), "rs2");
    d[1].overloaded = true;
    s.conns_changed(&d, 1);
    let got = picks(&mut s, &svc, &d, 1);
    println!("fo: rs2 overloaded -> {got}");
    assert_eq!(got, "rs3");
}

#[test]
fn ovf_overflows_when_active_connections_exceed_the_weight() {
    let svc = Service::default();
    let mut d = servers(&[2, 1]);
    let mut s = Ovf::new(tree());
    s.init_service(&svc, &d).unwrap();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let i = s.schedule(&svc, &d, &client(1, 1), 0);
        seen.push(i.map_or("-".to_string(), |i| format!("rs{}", i + 1)));
        if let Some(i) = i {
            d[i].activeconns += 1;
            s.conns_changed(&d, i);
        }
    }
    println!("ovf 2:1, connections stay open: {}", seen.join(" "));
    assert_eq!(seen.join(" "), "rs1 rs1 rs1 rs2");
}

#[test]
fn dh_maps_a_destination_address_to_one_server_without_fallback() {
    let svc = Service::default();
    let mut d = servers(&[1, 1, 1]);
    let mut s = Dh;
    s.init_service(&svc, &d).unwrap();
    let first = s.schedule(&svc, &d, &client(7, 1), 0).unwrap();
    assert_eq!(s.schedule(&svc, &d, &client(7, 2), 0), Some(first));
    d[first].weight = 0;
    assert_eq!(s.schedule(&svc, &d, &client(7, 3), 0), None);
}

#[test]
fn sh_keeps_a_client_on_its_server_and_falls_back_only_when_asked() {
    let mut svc = Service::default();
    let mut d = servers(&[1, 1, 1, 1]);
    let mut s = Sh::new();
    s.init_service(&svc, &d).unwrap();
    let home = s.schedule(&svc, &d, &client(9, 1111), 0).unwrap();
    assert_eq!(s.schedule(&svc, &d, &client(9, 2222), 0), Some(home));
    d[home].overloaded = true;
    assert_eq!(s.schedule(&svc, &d, &client(9, 1111), 0), None);
    svc.flags = IP_VS_SVC_F_SCHED_SH_FALLBACK;
    let other = s.schedule(&svc, &d, &client(9, 1111), 0).unwrap();
    assert_ne!(other, home);
    // sh-port: the same client spreads over servers by source port.
    d[home].overloaded = false;
    svc.flags = IP_VS_SVC_F_SCHED_SH_PORT;
    let spread: std::collections::BTreeSet<_> = (0..64)
        .map(|p| s.schedule(&svc, &d, &client(9, p), 0).unwrap())
        .collect();
    println!("sh-port: one client, 64 ports -> {} servers", spread.len());
    assert!(spread.len() > 1);
}

#[test]
fn mh_quiesced_server_keeps_its_slots_unless_mh_fallback() {
    let mut svc = Service::default();
    let mut d = servers(&[1, 1, 1]);
    let mut s = Mh::new(
        vec![0; Mh::<Vec<u32>>::storage_len(DEFAULT_TAB_INDEX, 8)],
        DEFAULT_TAB_INDEX,
    )
    .unwrap();
    s.init_service(&svc, &d).unwrap();
    let home = s.schedule(&svc, &d, &client(3, 1), 0).unwrap();
    d[home].weight = 0; // last_weight stays 1, so the table does not change
    s.upd_dest(&svc, &d, home).unwrap();
    assert_eq!(s.schedule(&svc, &d, &client(3, 1), 0), None);
    svc.flags = IP_VS_SVC_F_SCHED_MH_FALLBACK;
    let other = s.schedule(&svc, &d, &client(3, 1), 0).unwrap();
    println!(
        "mh: rs{} quiesced, mh-fallback -> rs{}",
        home + 1,
        other + 1
    );
    assert_ne!(other, home);
}

#[test]
fn twos_picks_the_less_loaded_of_two_weighted_draws() {
    struct Draws(Vec<u32>);
    impl RandomSource for Draws {
        fn random_u32_below(&mut self, _ceil: u32) -> u32 {
            self.0.remove(0)
        }
    }
    let svc = Service::default();
    let mut d = servers(&[1, 1, 1]);
    d[0].activeconns = 5;
    // Draws 1 and 3 land on rs1 and rs3; rs3 has fewer connections.
    let mut s = Twos::new(vec![0u64; 7], Draws(vec![1, 3]));
    s.init_service(&svc, &d).unwrap();
    assert_eq!(picks(&mut s, &svc, &d, 1), "rs3");
}

#[test]
fn lblc_keeps_a_destination_address_on_its_cache_server_until_expiry() {
    let svc = Service::default();
    let mut d = servers(&[10, 10]);
    let mut s = Lblc::new(
        vec![LblcEntry::default(); LBLC_MAX_ENTRIES],
        vec![0; IP_VS_LBLC_TAB_SIZE],
        tree(),
        HZ,
    )
    .unwrap();
    s.init_service(&svc, &d).unwrap();
    let first = s.schedule(&svc, &d, &client(5, 1), 0).unwrap();
    // Load the cached server more than the other: still the cached one (not lblc-overloaded).
    d[first].activeconns = 3;
    s.conns_changed(&d, first);
    assert_eq!(s.schedule(&svc, &d, &client(5, 2), 1), Some(first));
    // Over its weight while the other is below half of its own: re-picked by WLC.
    d[first].activeconns = 11;
    s.conns_changed(&d, first);
    let moved = s.schedule(&svc, &d, &client(5, 3), 2).unwrap();
    assert_ne!(moved, first);
    // A day later, the full check (every 30th timer run) drops the idle entry.
    assert_eq!(s.entries(), 1);
    let day = 24 * 60 * 60 * HZ;
    for t in 1..=30 {
        s.check_expire(day + 2 + t * 60 * HZ);
    }
    println!("lblc entries after a day idle: {}", s.entries());
    assert_eq!(s.entries(), 0);
}

#[test]
fn lblcr_replicates_a_busy_destination_address_over_more_servers() {
    let svc = Service::default();
    let mut d = servers(&[10, 10, 10]);
    let mut s = Lblcr::new(
        vec![LblcrEntry::default(); 64],
        vec![LblcrMember::default(); 64],
        vec![0; IP_VS_LBLC_TAB_SIZE],
        tree(),
        HZ,
    )
    .unwrap();
    s.init_service(&svc, &d).unwrap();
    let first = s.schedule(&svc, &d, &client(8, 1), 0).unwrap();
    d[first].activeconns = 11;
    s.conns_changed(&d, first);
    let second = s.schedule(&svc, &d, &client(8, 2), 1).unwrap();
    assert_ne!(second, first);
    let mut set = [None; 4];
    let n = s
        .cached_set(AF_INET, &client(8, 0).daddr, &mut set)
        .unwrap();
    println!("lblcr set for 10.10.0.8: {:?}", &set[..n]);
    assert_eq!(n, 2);
    assert_eq!(set[0], Some(second)); // newest member first
}
