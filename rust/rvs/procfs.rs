//! `/proc/net/ip_vs`: the services and their real servers in ip_vs's exact format
//! (`ip_vs_info_seq_show`), read from the RCU-published table without taking the control lock,
//! as ip_vs reads it.

use core::fmt::Write;

use kernel::error::{code::ENODEV, Result};

use crate::{
    kapi::{
        pernet::Net,
        proc::{SeqFile, Show},
        rcu,
    },
    netns::Netns,
    rvs_core::{
        abi::{self, conn_flag, svc_flag},
        est, proto,
    },
};

/// The contents of `/proc/net/ip_vs`.
pub(crate) struct Services;

/// `ip_vs_proto_name`.
struct ProtoName(u16);

impl core::fmt::Display for ProtoName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            abi::IPPROTO_TCP => f.write_str("TCP"),
            abi::IPPROTO_UDP => f.write_str("UDP"),
            abi::IPPROTO_SCTP => f.write_str("SCTP"),
            0 => f.write_str("IP"),
            1 => f.write_str("ICMP"),
            58 => f.write_str("ICMPv6"),
            p => write!(f, "IP_{p}"),
        }
    }
}

/// `ip_vs_fwd_name`.
fn fwd_name(conn_flags: u32) -> &'static str {
    match conn_flags & conn_flag::FWD_MASK {
        conn_flag::LOCALNODE => "Local",
        conn_flag::TUNNEL => "Tunnel",
        conn_flag::DROUTE => "Route",
        _ => "Masq",
    }
}

/// `%pI6`: eight groups of four lower-case hex digits.
struct Ip6<'a>(&'a [u8; 16]);

impl core::fmt::Display for Ip6<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, pair) in self.0.chunks_exact(2).enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            let word = u16::from_be_bytes([pair[0], pair[1]]);
            write!(f, "{word:04x}")?;
        }
        Ok(())
    }
}

/// `%08X` of an IPv4 address in host order.
fn ip4(addr: &[u8; 16]) -> u32 {
    u32::from_be_bytes([addr[0], addr[1], addr[2], addr[3]])
}

impl Show for Services {
    fn show(net: &Net, out: &mut SeqFile<'_>) -> Result {
        let netns = Netns::of(net).ok_or(ENODEV)?;
        let v = abi::IP_VS_VERSION_CODE;
        let _ = write!(
            out,
            "IP Virtual Server version {}.{}.{} (size={})\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n",
            v >> 16,
            (v >> 8) & 0xff,
            v & 0xff,
            netns.conn_tab_size()
        );
        let guard = rcu::read_lock();
        for svc in netns.table().read(&guard).services() {
            let conf = svc.conf(&guard);
            let key = &svc.key;
            let sched = conf.sched.as_str().unwrap_or("");
            let ops = if conf.flags & svc_flag::ONEPACKET != 0 {
                "ops "
            } else {
                ""
            };
            let _ = if key.fwmark != 0 {
                write!(out, "FWM  {:08X} {} {}", key.fwmark, sched, ops)
            } else if key.af == abi::AF_INET6 {
                write!(
                    out,
                    "{}  [{}]:{:04X} {} ",
                    ProtoName(key.protocol),
                    Ip6(&key.addr),
                    key.port,
                    sched
                )
            } else {
                write!(
                    out,
                    "{}  {:08X}:{:04X} {} {} ",
                    ProtoName(key.protocol),
                    ip4(&key.addr),
                    key.port,
                    sched,
                    ops
                )
            };
            let _ = if conf.flags & svc_flag::PERSISTENT != 0 {
                // ip_vs prints the timeout in jiffies and the netmask in host order.
                writeln!(
                    out,
                    "persistent {} {:08X}",
                    conf.timeout as i32,
                    u32::from_be(conf.netmask)
                )
            } else {
                writeln!(out)
            };
            for dest in svc.dests(&guard) {
                use core::sync::atomic::Ordering::Relaxed;
                let fwd = fwd_name(dest.conn_flags.load(Relaxed));
                let weight = dest.weight.load(Relaxed);
                let active = dest.activeconns.load(Relaxed) as i32;
                let inactive = (dest.totalconns.load(Relaxed) as i32)
                    .wrapping_sub(active)
                    .max(0);
                let _ = if dest.af == abi::AF_INET6 {
                    writeln!(
                        out,
                        "  -> [{}]:{:04X}      {:<7} {:<6} {:<10} {:<10}",
                        Ip6(&dest.addr),
                        dest.port,
                        fwd,
                        weight,
                        active,
                        inactive
                    )
                } else {
                    writeln!(
                        out,
                        "  -> {:08X}:{:04X}      {:<7} {:<6} {:<10} {:<10}",
                        ip4(&dest.addr),
                        dest.port,
                        fwd,
                        weight,
                        active,
                        inactive
                    )
                };
            }
        }
        Ok(())
    }
}

/// The contents of `/proc/net/ip_vs_conn` (`ip_vs_conn_seq_show`): every connection and
/// template of the namespace, in table order.
pub(crate) struct Conns;

/// An address column: `%08X` for IPv4, `%pI6` for IPv6.
struct AddrCol<'a>(u16, &'a [u8; 16]);

impl core::fmt::Display for AddrCol<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 == abi::AF_INET6 {
            write!(f, "{}", Ip6(self.1))
        } else {
            write!(f, "{:08X}", ip4(self.1))
        }
    }
}

impl Show for Conns {
    fn show(net: &Net, out: &mut SeqFile<'_>) -> Result {
        show_conns(net, out, false)
    }
}

/// The contents of `/proc/net/ip_vs_conn_sync` (`ip_vs_conn_sync_seq_show`): the same rows with
/// the connection's origin (`LOCAL`, or `SYNC` for entries a sync daemon created) instead of
/// the persistence-engine columns.
pub(crate) struct ConnsSync;

impl Show for ConnsSync {
    fn show(net: &Net, out: &mut SeqFile<'_>) -> Result {
        show_conns(net, out, true)
    }
}

fn show_conns(net: &Net, out: &mut SeqFile<'_>, sync: bool) -> Result {
    let netns = Netns::of(net).ok_or(ENODEV)?;
    let _ = out.write_str(if sync {
        "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Origin Expires\n"
    } else {
        "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n"
    });
    netns.conns().for_each(|c, left| {
        // A connection replaced by a new one with its keys (rescheduled, or rebound by the sync
        // daemon) is hidden behind it until it expires: listed once, as the new one.
        if !c.is_template() && c.is_invalid() {
            return;
        }
        let secs = u64::from(left) * 1000 / u64::from(crate::kapi::HZ) / 1000;
        let state = proto::state_name(c.protocol, c.state(), c.flags());
        // Fwmark templates keep the mark in the virtual address, printed as IPv4.
        let vaf = if c.protocol == 0 { abi::AF_INET } else { c.af };
        let _ = write!(
            out,
            "{:<3} {} {:04X} {} {:04X} {} {:04X} {:<11} ",
            ProtoName(u16::from(c.protocol)),
            AddrCol(c.af, &c.caddr),
            c.cport,
            AddrCol(vaf, &c.vaddr),
            c.vport,
            AddrCol(c.daf, &c.daddr),
            c.dport,
            state,
        );
        let _ = if sync {
            let origin = if c.flags() & conn_flag::SYNC != 0 {
                "SYNC"
            } else {
                "LOCAL"
            };
            writeln!(out, "{origin:<6} {secs:7}")
        } else {
            // A persistence-engine template: " PENAME PEDATA" (the Call-ID, as it came).
            match &c.pe {
                Some(pe) => {
                    let _ = write!(out, "{secs:7} sip ");
                    out.write_bytes(pe.bytes());
                    writeln!(out)
                }
                None => writeln!(out, "{secs:7}"),
            }
        };
    });
    Ok(())
}

/// The contents of `/proc/net/ip_vs_stats` (`ip_vs_stats_show`).
pub(crate) struct TotalStats;

impl Show for TotalStats {
    fn show(net: &Net, out: &mut SeqFile<'_>) -> Result {
        let netns = Netns::of(net).ok_or(ENODEV)?;
        let _ = est::write_proc_stats(out, &netns.stats().report());
        Ok(())
    }
}

/// The contents of `/proc/net/ip_vs_stats_percpu` (`ip_vs_stats_percpu_show`).
pub(crate) struct TotalStatsPercpu;

impl Show for TotalStatsPercpu {
    fn show(net: &Net, out: &mut SeqFile<'_>) -> Result {
        let netns = Netns::of(net).ok_or(ENODEV)?;
        let stats = netns.stats();
        let cpus = crate::kapi::percpu::possible_cpus().map(|cpu| (cpu, stats.of_cpu(cpu)));
        let _ = est::write_proc_stats_percpu(out, cpus, &stats.report());
        Ok(())
    }
}

/// The contents of `/proc/net/ip_vs_app` (`ip_vs_app_seq_show`): the FTP helper's ports, each
/// with the number of connections bound to it (`usecnt`). ip_vs counts as connections bind and
/// unbind; rvs counts the table's connections as the file is read.
pub(crate) struct Apps;

impl Show for Apps {
    fn show(net: &Net, out: &mut SeqFile<'_>) -> Result {
        let netns = Netns::of(net).ok_or(ENODEV)?;
        let _ = out.write_str("prot port    usecnt name\n");
        let ports = crate::kapi::param::ftp_ports();
        let mut counts = [0i32; 8];
        netns.conns().for_each(|c, _| {
            if c.app().is_some() {
                if let Some(i) = ports.iter().position(|&p| p != 0 && p == c.vport) {
                    counts[i] = counts[i].saturating_add(1);
                }
            }
        });
        // ip_vs lists the newest registration first: the ports in reverse.
        for (i, &port) in ports.iter().enumerate().rev() {
            if port == 0 || ports[..i].contains(&port) {
                continue;
            }
            let _ = writeln!(
                out,
                "{:<3}  {:<7} {:<6} {:<17}",
                ProtoName(abi::IPPROTO_TCP),
                port,
                counts[i],
                "ftp"
            );
        }
        Ok(())
    }
}

/// The contents of `/proc/net/rvs_sync_stats`: the sync daemon's counters (rvs's own; ip_vs
/// counts nothing of this), one `name value` line each.
pub(crate) struct SyncStats;

impl Show for SyncStats {
    fn show(net: &Net, out: &mut SeqFile<'_>) -> Result {
        use core::sync::atomic::Ordering::Relaxed;
        let netns = Netns::of(net).ok_or(ENODEV)?;
        let c = netns.sync().counters();
        for (name, v) in [
            ("rx_msgs", &c.rx_msgs),
            ("rx_conns", &c.rx_conns),
            ("rx_other_syncid", &c.rx_other_syncid),
            ("rx_malformed", &c.rx_malformed),
            ("rx_skipped", &c.rx_skipped),
            ("rx_failed", &c.rx_failed),
            ("tx_msgs", &c.tx_msgs),
            ("tx_dropped", &c.tx_dropped),
            ("rx_resync_requests", &c.rx_resync_requests),
            ("tx_resyncs", &c.tx_resyncs),
        ] {
            let _ = writeln!(out, "{name} {}", v.load(Relaxed));
        }
        Ok(())
    }
}
