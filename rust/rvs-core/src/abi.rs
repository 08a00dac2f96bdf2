//! The IPVS generic-netlink ABI (`include/uapi/linux/ip_vs.h`): family, commands and attributes.
//!
//! rvs speaks this ABI so that stock `ipvsadm` and `keepalived` drive it unchanged; rvsadm speaks it
//! to drive both rvs and stock ip_vs. Numbers here are the kernel's, one source of truth for the
//! module and the CLI.

/// Generic-netlink family name of stock ip_vs, and of rvs loaded with `ipvs_compat=1`.
pub const IPVS_GENL_NAME: &str = "IPVS";
/// Generic-netlink family name of rvs loaded with `ipvs_compat=0`, so it can sit beside ip_vs.
pub const RVS_GENL_NAME: &str = "RVS";
/// Family version announced in replies (`IPVS_GENL_VERSION`).
pub const IPVS_GENL_VERSION: u8 = 1;

/// `IP_VS_VERSION_CODE`: the IPVS version the ABI is compatible with, 1.2.1.
pub const IP_VS_VERSION_CODE: u32 = 0x0001_0201;

/// Default connection-table size reported by `IPVS_CMD_GET_INFO` (ip_vs's `1 << 12`).
pub const CONN_TAB_DEFAULT_SIZE: u32 = 1 << 12;

/// Generic-netlink commands (`enum IPVS_CMD_*`).
pub mod cmd {
    /// Unused command 0.
    pub const UNSPEC: u8 = 0;
    /// Add a service; also the command of each message in a service dump.
    pub const NEW_SERVICE: u8 = 1;
    /// Modify a service.
    pub const SET_SERVICE: u8 = 2;
    /// Delete a service.
    pub const DEL_SERVICE: u8 = 3;
    /// Get one service, or dump all.
    pub const GET_SERVICE: u8 = 4;
    /// Add a destination; also the command of each message in a destination dump.
    pub const NEW_DEST: u8 = 5;
    /// Modify a destination.
    pub const SET_DEST: u8 = 6;
    /// Delete a destination.
    pub const DEL_DEST: u8 = 7;
    /// Dump the destinations of a service.
    pub const GET_DEST: u8 = 8;
    /// Start a sync daemon.
    pub const NEW_DAEMON: u8 = 9;
    /// Stop a sync daemon.
    pub const DEL_DAEMON: u8 = 10;
    /// Dump the running sync daemons.
    pub const GET_DAEMON: u8 = 11;
    /// Set timeouts; also the reply command of `GET_CONFIG`.
    pub const SET_CONFIG: u8 = 12;
    /// Get timeouts.
    pub const GET_CONFIG: u8 = 13;
    /// Reply command of `GET_INFO` (never accepted as a request).
    pub const SET_INFO: u8 = 14;
    /// Get version and connection-table size.
    pub const GET_INFO: u8 = 15;
    /// Zero statistics.
    pub const ZERO: u8 = 16;
    /// Delete every service.
    pub const FLUSH: u8 = 17;
    /// Highest command (`IPVS_CMD_MAX`).
    pub const MAX: u8 = 17;
}

/// Attributes of the `IPVS_CMD_GET_INFO` reply (`IPVS_INFO_ATTR_*`).
pub mod info_attr {
    /// `u32`: `IP_VS_VERSION_CODE`.
    pub const VERSION: u16 = 1;
    /// `u32`: connection-table size (number of hash buckets).
    pub const CONN_TAB_SIZE: u16 = 2;
}

/// Top-level attributes of every IPVS command (`IPVS_CMD_ATTR_*`).
pub mod cmd_attr {
    /// Nested service (`IPVS_SVC_ATTR_*`).
    pub const SERVICE: u16 = 1;
    /// Nested destination (`IPVS_DEST_ATTR_*`).
    pub const DEST: u16 = 2;
    /// Nested sync daemon (`IPVS_DAEMON_ATTR_*`).
    pub const DAEMON: u16 = 3;
    /// `u32`: TCP ESTABLISHED timeout, seconds.
    pub const TIMEOUT_TCP: u16 = 4;
    /// `u32`: TCP FIN_WAIT timeout, seconds.
    pub const TIMEOUT_TCP_FIN: u16 = 5;
    /// `u32`: UDP timeout, seconds.
    pub const TIMEOUT_UDP: u16 = 6;
    /// Highest top-level attribute (`IPVS_CMD_ATTR_MAX`).
    pub const MAX: u16 = 6;
}

/// Attributes nested in `IPVS_CMD_ATTR_SERVICE` (`IPVS_SVC_ATTR_*`).
pub mod svc_attr {
    /// `u16`: address family.
    pub const AF: u16 = 1;
    /// `u16`: IP protocol of the service.
    pub const PROTOCOL: u16 = 2;
    /// Binary, at most 16 bytes: virtual address in network order (`union nf_inet_addr`).
    pub const ADDR: u16 = 3;
    /// `u16` in network byte order: virtual port.
    pub const PORT: u16 = 4;
    /// `u32`: firewall mark of a fwmark service.
    pub const FWMARK: u16 = 5;
    /// NUL-terminated string of at most 15 characters: scheduler name.
    pub const SCHED_NAME: u16 = 6;
    /// Binary `struct ip_vs_flags { u32 flags; u32 mask; }`.
    pub const FLAGS: u16 = 7;
    /// `u32`: persistence timeout, seconds.
    pub const TIMEOUT: u16 = 8;
    /// `u32` (`__be32`): persistence netmask, or IPv6 prefix length.
    pub const NETMASK: u16 = 9;
    /// Nested statistics with 32-bit counters (output only).
    pub const STATS: u16 = 10;
    /// NUL-terminated string of at most 16 characters: persistence engine name.
    pub const PE_NAME: u16 = 11;
    /// Nested statistics with 64-bit counters (output only).
    pub const STATS64: u16 = 12;
    /// Highest service attribute (`IPVS_SVC_ATTR_MAX`).
    pub const MAX: u16 = 12;
}

/// Attributes nested in `IPVS_CMD_ATTR_DEST` (`IPVS_DEST_ATTR_*`).
pub mod dest_attr {
    /// Binary, at most 16 bytes: real-server address in network order.
    pub const ADDR: u16 = 1;
    /// `u16` in network byte order: real-server port.
    pub const PORT: u16 = 2;
    /// `u32`: forwarding method (`IP_VS_CONN_F_FWD_MASK` bits of the connection flags).
    pub const FWD_METHOD: u16 = 3;
    /// `u32`, read as `int`: weight.
    pub const WEIGHT: u16 = 4;
    /// `u32`: upper connection threshold (0 = none).
    pub const U_THRESH: u16 = 5;
    /// `u32`: lower connection threshold.
    pub const L_THRESH: u16 = 6;
    /// `u32`: active connections (output only).
    pub const ACTIVE_CONNS: u16 = 7;
    /// `u32`: inactive connections (output only).
    pub const INACT_CONNS: u16 = 8;
    /// `u32`: persistence templates pointing here (output only).
    pub const PERSIST_CONNS: u16 = 9;
    /// Nested statistics with 32-bit counters (output only).
    pub const STATS: u16 = 10;
    /// `u16`: address family of the destination (absent or 0: the service's).
    pub const ADDR_FAMILY: u16 = 11;
    /// Nested statistics with 64-bit counters (output only).
    pub const STATS64: u16 = 12;
    /// `u8`: tunnel type (`tunnel_type::*`).
    pub const TUN_TYPE: u16 = 13;
    /// `u16` in network byte order: GUE destination port.
    pub const TUN_PORT: u16 = 14;
    /// `u16`: tunnel encapsulation flags (`tunnel_flag::*`).
    pub const TUN_FLAGS: u16 = 15;
    /// Highest destination attribute (`IPVS_DEST_ATTR_MAX`).
    pub const MAX: u16 = 15;
}

/// Attributes nested in `IPVS_CMD_ATTR_DAEMON` (`IPVS_DAEMON_ATTR_*`).
pub mod daemon_attr {
    /// `u32`: `daemon_state::MASTER` or `daemon_state::BACKUP`.
    pub const STATE: u16 = 1;
    /// NUL-terminated string of at most 15 characters: multicast interface.
    pub const MCAST_IFN: u16 = 2;
    /// `u32`: sync id.
    pub const SYNC_ID: u16 = 3;
    /// `u16`: UDP payload size of sync messages.
    pub const SYNC_MAXLEN: u16 = 4;
    /// `u32` in network byte order: IPv4 multicast group.
    pub const MCAST_GROUP: u16 = 5;
    /// 16 bytes: IPv6 multicast group.
    pub const MCAST_GROUP6: u16 = 6;
    /// `u16`: base UDP port (host byte order).
    pub const MCAST_PORT: u16 = 7;
    /// `u8`: multicast TTL / hop limit.
    pub const MCAST_TTL: u16 = 8;
    /// Highest daemon attribute (`IPVS_DAEMON_ATTR_MAX`).
    pub const MAX: u16 = 8;
}

/// Attributes nested in the `STATS`/`STATS64` attributes (`IPVS_STATS_ATTR_*`).
pub mod stats_attr {
    /// Connections scheduled.
    pub const CONNS: u16 = 1;
    /// Incoming packets.
    pub const INPKTS: u16 = 2;
    /// Outgoing packets.
    pub const OUTPKTS: u16 = 3;
    /// Incoming bytes (`u64` in both nests).
    pub const INBYTES: u16 = 4;
    /// Outgoing bytes (`u64` in both nests).
    pub const OUTBYTES: u16 = 5;
    /// Connection rate, per second.
    pub const CPS: u16 = 6;
    /// Incoming packet rate, per second.
    pub const INPPS: u16 = 7;
    /// Outgoing packet rate, per second.
    pub const OUTPPS: u16 = 8;
    /// Incoming byte rate, per second.
    pub const INBPS: u16 = 9;
    /// Outgoing byte rate, per second.
    pub const OUTBPS: u16 = 10;
    /// Padding that aligns 64-bit values on some architectures; ignored.
    pub const PAD: u16 = 11;
    /// Highest statistics attribute (`IPVS_STATS_ATTR_MAX`).
    pub const MAX: u16 = 11;
}

/// Highest `IPVS_INFO_ATTR_*` (`IPVS_INFO_ATTR_MAX`).
pub const INFO_ATTR_MAX: u16 = 2;

/// Virtual service flags (`IP_VS_SVC_F_*`).
pub mod svc_flag {
    /// Persistent service.
    pub const PERSISTENT: u32 = 0x0001;
    /// The service is hashed (set by the kernel).
    pub const HASHED: u32 = 0x0002;
    /// One-packet scheduling.
    pub const ONEPACKET: u32 = 0x0004;
    /// Scheduler flag 1.
    pub const SCHED1: u32 = 0x0008;
    /// Scheduler flag 2.
    pub const SCHED2: u32 = 0x0010;
    /// Scheduler flag 3.
    pub const SCHED3: u32 = 0x0020;
    /// sh: fall back to another destination when the hashed one is unavailable.
    pub const SCHED_SH_FALLBACK: u32 = SCHED1;
    /// sh: hash the source port too.
    pub const SCHED_SH_PORT: u32 = SCHED2;
    /// mh: fall back to another destination when the hashed one is unavailable.
    pub const SCHED_MH_FALLBACK: u32 = SCHED1;
    /// mh: hash the source port too.
    pub const SCHED_MH_PORT: u32 = SCHED2;
}

/// Connection flags (`IP_VS_CONN_F_*`); the low three bits are the forwarding method.
pub mod conn_flag {
    /// Mask of the forwarding method.
    pub const FWD_MASK: u32 = 0x0007;
    /// NAT (masquerading).
    pub const MASQ: u32 = 0x0000;
    /// Local node.
    pub const LOCALNODE: u32 = 0x0001;
    /// IP tunneling.
    pub const TUNNEL: u32 = 0x0002;
    /// Direct routing.
    pub const DROUTE: u32 = 0x0003;
    /// Cache bypass.
    pub const BYPASS: u32 = 0x0004;
    /// Entry created by the sync daemon.
    pub const SYNC: u32 = 0x0020;
    /// Hashed entry.
    pub const HASHED: u32 = 0x0040;
    /// No output packets.
    pub const NOOUTPUT: u32 = 0x0080;
    /// Not established.
    pub const INACTIVE: u32 = 0x0100;
    /// Output sequence adjustment needed.
    pub const OUT_SEQ: u32 = 0x0200;
    /// Input sequence adjustment needed.
    pub const IN_SEQ: u32 = 0x0400;
    /// Both sequence-adjustment bits.
    pub const SEQ_MASK: u32 = 0x0600;
    /// Client port not yet set.
    pub const NO_CPORT: u32 = 0x0800;
    /// Persistence template, not a connection.
    pub const TEMPLATE: u32 = 0x1000;
    /// Forward only one packet.
    pub const ONE_PACKET: u32 = 0x2000;
    /// Bits a backup accepts from a sync message.
    pub const BACKUP_MASK: u32 = FWD_MASK | NOOUTPUT | INACTIVE | SEQ_MASK | NO_CPORT | TEMPLATE;
    /// Bits a backup updates on an existing connection.
    pub const BACKUP_UPD_MASK: u32 = INACTIVE | SEQ_MASK;
    /// Use netfilter conntrack (never synced).
    pub const NFCT: u32 = 1 << 16;
    /// Destination connection flags user space may change.
    pub const DEST_MASK: u32 = FWD_MASK | ONE_PACKET | NFCT;
}

/// Tunnel types of the tunneling forwarding method (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
pub mod tunnel_type {
    /// IP-in-IP.
    pub const IPIP: u8 = 0;
    /// Generic UDP encapsulation.
    pub const GUE: u8 = 1;
    /// Generic routing encapsulation.
    pub const GRE: u8 = 2;
    /// One past the last type.
    pub const MAX: u8 = 3;
}

/// Tunnel encapsulation flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
pub mod tunnel_flag {
    /// No checksum.
    pub const NOCSUM: u16 = 0;
    /// Outer checksum.
    pub const CSUM: u16 = 1 << 0;
    /// Remote checksum offload.
    pub const REMCSUM: u16 = 1 << 1;
}

/// Sync daemon states (`IP_VS_STATE_*`).
pub mod daemon_state {
    /// Stopped.
    pub const NONE: u32 = 0;
    /// Running as master.
    pub const MASTER: u32 = 1;
    /// Running as backup.
    pub const BACKUP: u32 = 2;
}

/// Size of a scheduler-name buffer, NUL included (`IP_VS_SCHEDNAME_MAXLEN`).
pub const IP_VS_SCHEDNAME_MAXLEN: usize = 16;
/// Size of a persistence-engine name buffer (`IP_VS_PENAME_MAXLEN`).
pub const IP_VS_PENAME_MAXLEN: usize = 16;
/// Size of an interface-name buffer, NUL included (`IP_VS_IFNAME_MAXLEN`).
pub const IP_VS_IFNAME_MAXLEN: usize = 16;
/// Maximum persistence-engine data length (`IP_VS_PEDATA_MAXLEN`).
pub const IP_VS_PEDATA_MAXLEN: usize = 255;

/// `AF_INET`.
pub const AF_INET: u16 = 2;
/// `AF_INET6`.
pub const AF_INET6: u16 = 10;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: u16 = 6;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u16 = 17;
/// `IPPROTO_SCTP`.
pub const IPPROTO_SCTP: u16 = 132;

/// Legacy `setsockopt`/`getsockopt` option numbers (`IP_VS_SO_*`), IPv4 only.
pub mod sockopt {
    /// `IP_VS_BASE_CTL`.
    pub const BASE_CTL: i32 = 64 + 1024 + 64;
    /// Set: no-op.
    pub const SET_NONE: i32 = BASE_CTL;
    /// Set: unused.
    pub const SET_INSERT: i32 = BASE_CTL + 1;
    /// Set: add a service.
    pub const SET_ADD: i32 = BASE_CTL + 2;
    /// Set: edit a service.
    pub const SET_EDIT: i32 = BASE_CTL + 3;
    /// Set: delete a service.
    pub const SET_DEL: i32 = BASE_CTL + 4;
    /// Set: delete every service.
    pub const SET_FLUSH: i32 = BASE_CTL + 5;
    /// Set: unused.
    pub const SET_LIST: i32 = BASE_CTL + 6;
    /// Set: add a destination.
    pub const SET_ADDDEST: i32 = BASE_CTL + 7;
    /// Set: delete a destination.
    pub const SET_DELDEST: i32 = BASE_CTL + 8;
    /// Set: edit a destination.
    pub const SET_EDITDEST: i32 = BASE_CTL + 9;
    /// Set: timeouts.
    pub const SET_TIMEOUT: i32 = BASE_CTL + 10;
    /// Set: start a sync daemon.
    pub const SET_STARTDAEMON: i32 = BASE_CTL + 11;
    /// Set: stop a sync daemon.
    pub const SET_STOPDAEMON: i32 = BASE_CTL + 12;
    /// Set: unused.
    pub const SET_RESTORE: i32 = BASE_CTL + 13;
    /// Set: unused.
    pub const SET_SAVE: i32 = BASE_CTL + 14;
    /// Set: zero statistics.
    pub const SET_ZERO: i32 = BASE_CTL + 15;
    /// Highest set option.
    pub const SET_MAX: i32 = SET_ZERO;
    /// Get: version string.
    pub const GET_VERSION: i32 = BASE_CTL;
    /// Get: `struct ip_vs_getinfo`.
    pub const GET_INFO: i32 = BASE_CTL + 1;
    /// Get: services.
    pub const GET_SERVICES: i32 = BASE_CTL + 2;
    /// Get: one service.
    pub const GET_SERVICE: i32 = BASE_CTL + 3;
    /// Get: destinations of a service.
    pub const GET_DESTS: i32 = BASE_CTL + 4;
    /// Get: unused.
    pub const GET_DEST: i32 = BASE_CTL + 5;
    /// Get: timeouts.
    pub const GET_TIMEOUT: i32 = BASE_CTL + 6;
    /// Get: sync daemons.
    pub const GET_DAEMON: i32 = BASE_CTL + 7;
    /// Highest get option.
    pub const GET_MAX: i32 = GET_DAEMON;
}
