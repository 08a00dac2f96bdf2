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
}

/// Attributes of the `IPVS_CMD_GET_INFO` reply (`IPVS_INFO_ATTR_*`).
pub mod info_attr {
    /// `u32`: `IP_VS_VERSION_CODE`.
    pub const VERSION: u16 = 1;
    /// `u32`: connection-table size (number of hash buckets).
    pub const CONN_TAB_SIZE: u16 = 2;
}
