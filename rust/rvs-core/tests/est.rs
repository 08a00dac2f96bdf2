//! The rate estimator against values computed by hand from ip_vs_est.c's formulas:
//! `rate = delta << 9` (cps/pps) or `<< 4` (bps), `avg += ((s64)rate - (s64)avg) >> 2`, read as
//! `(avg + 0x1FF) >> 10` or `(avg + 0xF) >> 5`.

use rvs_core::est::{Counters, Estimator, StatsTracker};

fn conns(n: u64) -> Counters {
    Counters {
        conns: n,
        ..Counters::default()
    }
}

#[test]
fn steady_load_converges_a_quarter_at_a_time() {
    // The director schedules 100 connections, 1000 packets and 1,000,000 bytes every 2 s
    // (50 conn/s, 500 pkt/s, 500,000 B/s).
    let mut est = Estimator::new();
    let mut want = [(12800u64, 12u64), (22400, 22), (29600, 29), (35000, 34)];
    for (tick, (scaled, per_sec)) in want.iter_mut().enumerate() {
        let n = tick as u64 + 1;
        est.estimate(&Counters {
            conns: 100 * n,
            inpkts: 1000 * n,
            outpkts: 0,
            inbytes: 1_000_000 * n,
            outbytes: 0,
        });
        assert_eq!(est.scaled().cps, *scaled, "tick {n}");
        assert_eq!(est.read().cps, *per_sec, "tick {n}");
        println!(
            "tick {n}: cps scaled {} -> {} conn/s",
            est.scaled().cps,
            est.read().cps
        );
    }
    let mut first = Estimator::new();
    first.estimate(&Counters {
        conns: 100,
        inpkts: 1000,
        outpkts: 0,
        inbytes: 1_000_000,
        outbytes: 0,
    });
    // 1000 pkts << 9 = 512000, a quarter: 128000 -> (128000 + 511) >> 10 = 125 pkt/s.
    assert_eq!(first.scaled().inpps, 128_000);
    assert_eq!(first.read().inpps, 125);
    // 1e6 bytes << 4 = 16e6, a quarter: 4e6 -> (4e6 + 15) >> 5 = 125000 B/s.
    assert_eq!(first.scaled().inbps, 4_000_000);
    assert_eq!(first.read().inbps, 125_000);
    assert_eq!(first.read().outpps, 0);
    println!("first tick: 125 pkt/s, 125000 B/s");
}

#[test]
fn idle_decay_shifts_arithmetically() {
    // One connection, then silence: the signed shift rounds towards minus infinity
    // (-54 >> 2 = -14, -30 >> 2 = -8, -22 >> 2 = -6).
    let mut est = Estimator::new();
    est.estimate(&conns(1));
    let mut seen = vec![est.scaled().cps];
    for _ in 0..7 {
        est.estimate(&conns(1));
        seen.push(est.scaled().cps);
    }
    assert_eq!(seen, vec![128, 96, 72, 54, 40, 30, 22, 16]);
    assert_eq!(est.read().cps, 0, "(16 + 511) >> 10");
    println!("decay: {seen:?}");
}

#[test]
fn readout_rounding_thresholds() {
    // 5 conns per tick: 2560 / 4 = 640 -> (640 + 511) >> 10 = 1.
    let mut est = Estimator::new();
    est.estimate(&conns(5));
    assert_eq!((est.scaled().cps, est.read().cps), (640, 1));
    // 4 conns: 512 -> (512 + 511) >> 10 = 0.
    let mut est = Estimator::new();
    est.estimate(&conns(4));
    assert_eq!((est.scaled().cps, est.read().cps), (512, 0));
    // 10 bytes: 160 / 4 = 40 -> (40 + 15) >> 5 = 1; 8 bytes: 32 -> 47 >> 5 = 1; 4 bytes: 16 -> 0.
    for (bytes, scaled, per_sec) in [(10u64, 40u64, 1u64), (8, 32, 1), (4, 16, 0)] {
        let mut est = Estimator::new();
        est.estimate(&Counters {
            outbytes: bytes,
            ..Counters::default()
        });
        assert_eq!(
            (est.scaled().outbps, est.read().outbps),
            (scaled, per_sec),
            "{bytes} B"
        );
    }
}

#[test]
fn counters_wrap_like_u64() {
    // A counter wrapping around: the delta is still 15.
    let mut est = Estimator::new();
    est.estimate(&conns(u64::MAX - 9));
    est.zero(&conns(u64::MAX - 9));
    est.estimate(&conns(5));
    assert_eq!(est.scaled().cps, (15 << 9) >> 2);
    // A delta whose shift overflows loses its high bits, as in C: (1 << 60) << 9 == 0.
    let mut est = Estimator::new();
    est.estimate(&conns(1 << 60));
    assert_eq!(est.scaled().cps, 0);
    // Averages above i64::MAX are handled as the kernel's s64 casts do, without panicking.
    let mut est = Estimator::new();
    est.estimate(&conns(u64::MAX >> 9));
    est.estimate(&conns(u64::MAX >> 9));
    let _ = est.read();
}

#[test]
fn zeroing_restarts_counters_and_rates() {
    // ipvsadm -Z: totals become the zero point, rates restart from 0.
    let mut stats = StatsTracker::new();
    stats.estimate(&Counters {
        conns: 100,
        inpkts: 1000,
        outpkts: 900,
        inbytes: 1_000_000,
        outbytes: 2_000_000,
    });
    let before = stats.show();
    assert_eq!(
        (before.conns, before.cps, before.outbps),
        (100, 12, 250_000)
    );
    stats.zero();
    let after = stats.show();
    assert_eq!(after, Default::default());
    stats.estimate(&Counters {
        conns: 150,
        inpkts: 1000,
        outpkts: 900,
        inbytes: 1_000_000,
        outbytes: 2_000_000,
    });
    let later = stats.show();
    // 50 more conns: 25600 / 4 = 6400 -> (6400 + 511) >> 10 = 6.
    assert_eq!(
        (later.conns, later.cps, later.inpkts, later.inpps),
        (50, 6, 0, 0)
    );
    println!("after -Z: conns {} cps {}", later.conns, later.cps);
}

#[test]
fn the_32_bit_nest_truncates() {
    // STATS (and struct ip_vs_stats_user) carry (u32) counters and rates but 64-bit bytes.
    let mut stats = StatsTracker::new();
    stats.estimate(&Counters {
        conns: (1 << 32) + 5,
        inpkts: 0,
        outpkts: 0,
        inbytes: (1 << 40) + 1,
        outbytes: 0,
    });
    let user = stats.show().to_user();
    assert_eq!(user.conns, 5);
    assert_eq!(user.inbytes, (1 << 40) + 1);
}

#[test]
fn proc_ip_vs_stats_text() {
    // ip_vs_stats_show: "%8LX %8LX %8LX %16LX %16LX" twice, under fixed headings.
    let mut stats = StatsTracker::new();
    stats.estimate(&Counters {
        conns: 100,
        inpkts: 1000,
        outpkts: 900,
        inbytes: 1_000_000,
        outbytes: 2_000_000,
    });
    let mut text = String::new();
    rvs_core::est::write_proc_stats(&mut text, &stats.show()).unwrap();
    let want = "   Total Incoming Outgoing         Incoming         Outgoing\n\
                \x20  Conns  Packets  Packets            Bytes            Bytes\n\
                \x20     64      3E8      384            F4240           1E8480\n\
                \n\
                \x20Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n\
                \x20      C       7D       70            1E848            3D090\n";
    assert_eq!(text, want);
    println!("{text}");
}
