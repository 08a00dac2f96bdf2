//! Protocol state machines and timeouts, transcribed from IPVS's `ip_vs_proto*.c`.
//!
//! IPVS keeps, per network namespace and per protocol, a `struct ip_vs_proto_data` holding a
//! private copy of the protocol's timeout table (and, for TCP, which transition table is in force).
//! [`tcp::TcpData`], [`udp::UdpData`] and [`sctp::SctpData`] are those objects. Their
//! `transition` methods are pure functions of (connection state, connection flags, direction,
//! packet event) that return the new state, the new timeout and how the destination's
//! active/inactive counters move — exactly what `set_tcp_state()`, `udp_state_transition()` and
//! `set_sctp_state()` do to `cp->state`, `cp->timeout`, `cp->flags` and `dest->activeconns`.
//!
//! Timeouts are kept in seconds: every IPVS default is a whole number of seconds and the control
//! ABI sets and reports seconds (`ip_vs_set_timeout` multiplies by `HZ`, `__ip_vs_get_timeouts`
//! divides). The module converts to jiffies when it arms a timer.

pub mod ftp;
pub mod icmp;
pub mod sctp;
pub mod sip;
pub mod tcp;
pub mod udp;

/// `IP_VS_CONN_F_NOOUTPUT`: the connection sees no output packets (DR/TUN), so state changes use
/// the INPUT_ONLY rows until an output packet shows up.
pub const CONN_F_NOOUTPUT: u32 = 0x0080;
/// `IP_VS_CONN_F_INACTIVE`: the connection is counted in the destination's inactive connections.
pub const CONN_F_INACTIVE: u32 = 0x0100;
/// `IP_VS_CONN_F_TEMPLATE`: a persistence template rather than a connection.
pub const CONN_F_TEMPLATE: u32 = 0x1000;
/// `IP_VS_CONN_F_FWD_MASK`: the forwarding method bits of the connection flags.
pub const CONN_F_FWD_MASK: u32 = 0x0007;
/// `IP_VS_CONN_F_MASQ`: forwarding by NAT (masquerading).
pub const CONN_F_MASQ: u32 = 0x0000;

/// Timeout of a connection just created, before its first state transition
/// (`ip_vs_conn_new`: `cp->timeout = 3*HZ`).
pub const CONN_INIT_TIMEOUT_SECS: u32 = 3;

/// The connection flags a new connection to a destination starts with, as `__ip_vs_update_dest`
/// (ip_vs_ctl.c) builds `dest->conn_flags`: the forwarding method, [`CONN_F_INACTIVE`] (a new
/// connection is not yet established) and, for every method but NAT, [`CONN_F_NOOUTPUT`].
pub const fn new_conn_flags(fwd_method: u32) -> u32 {
    let fwd = fwd_method & CONN_F_FWD_MASK;
    let mut flags = fwd | CONN_F_INACTIVE;
    if fwd != CONN_F_MASQ {
        flags |= CONN_F_NOOUTPUT;
    }
    flags
}

/// Which way a packet travels relative to the connection (`IP_VS_DIR_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to real server (`IP_VS_DIR_INPUT`).
    Input = 0,
    /// Real server to client, seen only for NAT (`IP_VS_DIR_OUTPUT`).
    Output = 1,
    /// Input on a connection that never saw output: DR/TUN (`IP_VS_DIR_INPUT_ONLY`). IPVS
    /// switches to it itself when [`CONN_F_NOOUTPUT`] is set; callers pass `Input` or `Output`.
    InputOnly = 2,
}

/// How a state change moves the connection between the destination's counters.
///
/// IPVS only counts `activeconns`; `inactconns` is derived as `totalconns - activeconns`
/// (`ip_vs_dest_inactconns`), so a deactivation moves one connection from ActiveConn to InActConn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activity {
    /// The counters do not move.
    Unchanged,
    /// `atomic_dec(&dest->activeconns)` and [`CONN_F_INACTIVE`] set.
    Deactivated,
    /// `atomic_inc(&dest->activeconns)` and [`CONN_F_INACTIVE`] cleared.
    Activated,
}

/// The outcome of one state transition: what IPVS writes back into the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transition<S> {
    /// The new `cp->state`.
    pub state: S,
    /// The new `cp->flags` ([`CONN_F_NOOUTPUT`] and [`CONN_F_INACTIVE`] may change).
    pub flags: u32,
    /// The new `cp->timeout`, in seconds.
    pub timeout_secs: u32,
    /// How `dest->activeconns` moves (only when the connection has a destination).
    pub activity: Activity,
    /// The state changed to ESTABLISHED: IPVS calls `ip_vs_control_assure_ct()` to mark the
    /// controlling template assured.
    pub assure_template: bool,
}

/// Applies IPVS's NOOUTPUT rule shared by TCP and SCTP: an output packet clears
/// [`CONN_F_NOOUTPUT`]; any other packet on such a connection uses the INPUT_ONLY rows.
const fn effective_direction(flags: u32, direction: Direction) -> (Direction, u32) {
    if flags & CONN_F_NOOUTPUT != 0 {
        if let Direction::Output = direction {
            (Direction::Output, flags & !CONN_F_NOOUTPUT)
        } else {
            (Direction::InputOnly, flags)
        }
    } else {
        (direction, flags)
    }
}

/// The active/inactive accounting of `set_tcp_state`/`set_sctp_state` for a state change:
/// runs only when the state changed and the connection has a destination.
const fn account(flags: u32, has_dest: bool, changed: bool, now_active: bool) -> (u32, Activity) {
    if !changed || !has_dest {
        return (flags, Activity::Unchanged);
    }
    let inactive = flags & CONN_F_INACTIVE != 0;
    if !inactive && !now_active {
        (flags | CONN_F_INACTIVE, Activity::Deactivated)
    } else if inactive && now_active {
        (flags & !CONN_F_INACTIVE, Activity::Activated)
    } else {
        (flags, Activity::Unchanged)
    }
}

/// The three timeouts `ipvsadm --set tcp tcpfin udp` reads and writes (`struct
/// ip_vs_timeout_user`, `IPVS_CMD_SET_CONFIG`), in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TimeoutUser {
    /// TCP ESTABLISHED timeout; 0 leaves it unchanged.
    pub tcp_timeout: i32,
    /// TCP FIN_WAIT timeout; 0 leaves it unchanged.
    pub tcp_fin_timeout: i32,
    /// UDP timeout; 0 leaves it unchanged.
    pub udp_timeout: i32,
}

/// `ip_vs_set_timeout` refused the values (`-EINVAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InvalidTimeout;

/// `ip_vs_set_timeout`: each value must lie in `0..=INT_MAX / HZ` (all are checked before any is
/// applied); a zero leaves that timeout as it is. `hz` is the kernel's `HZ`.
pub fn set_timeout(
    tcp: &mut tcp::TcpData,
    udp: &mut udp::UdpData,
    user: TimeoutUser,
    hz: u32,
) -> Result<(), InvalidTimeout> {
    let max = i32::MAX
        .checked_div(i32::try_from(hz).unwrap_or(i32::MAX))
        .unwrap_or(0);
    let valid = |v: i32| (0..=max).contains(&v);
    if !valid(user.tcp_timeout) || !valid(user.tcp_fin_timeout) || !valid(user.udp_timeout) {
        return Err(InvalidTimeout);
    }
    // The range check above makes every value non-negative, so the conversions cannot fail.
    if let Ok(secs @ 1..) = u32::try_from(user.tcp_timeout) {
        tcp.set_timeout(tcp::TcpState::Established, secs);
    }
    if let Ok(secs @ 1..) = u32::try_from(user.tcp_fin_timeout) {
        tcp.set_timeout(tcp::TcpState::FinWait, secs);
    }
    if let Ok(secs @ 1..) = u32::try_from(user.udp_timeout) {
        udp.set_timeout(secs);
    }
    Ok(())
}

/// `__ip_vs_get_timeouts`: the current three timeouts, in seconds.
pub fn get_timeouts(tcp: &tcp::TcpData, udp: &udp::UdpData) -> TimeoutUser {
    let clamp = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    TimeoutUser {
        tcp_timeout: clamp(tcp.timeout(tcp::TcpState::Established)),
        tcp_fin_timeout: clamp(tcp.timeout(tcp::TcpState::FinWait)),
        udp_timeout: clamp(udp.timeout()),
    }
}

/// IP protocol numbers of the protocols IPVS knows.
pub mod ipproto {
    /// `IPPROTO_IP`: fwmark templates show this protocol.
    pub const IP: u8 = 0;
    /// `IPPROTO_ICMP`.
    pub const ICMP: u8 = 1;
    /// `IPPROTO_IPIP`.
    pub const IPIP: u8 = 4;
    /// `IPPROTO_TCP`.
    pub const TCP: u8 = 6;
    /// `IPPROTO_UDP`.
    pub const UDP: u8 = 17;
    /// `IPPROTO_GRE`.
    pub const GRE: u8 = 47;
    /// `IPPROTO_ESP`.
    pub const ESP: u8 = 50;
    /// `IPPROTO_AH`.
    pub const AH: u8 = 51;
    /// `IPPROTO_ICMPV6`.
    pub const ICMPV6: u8 = 58;
    /// `IPPROTO_SCTP`.
    pub const SCTP: u8 = 132;
}

/// `ip_vs_proto_name`: the protocol column of `/proc/net/ip_vs_conn`. `None` means IPVS prints
/// `IP_<n>` (`"IP_%u"`), which the caller formats.
pub const fn proto_name(protocol: u8) -> Option<&'static str> {
    match protocol {
        ipproto::IP => Some("IP"),
        ipproto::UDP => Some("UDP"),
        ipproto::TCP => Some("TCP"),
        ipproto::SCTP => Some("SCTP"),
        ipproto::ICMP => Some("ICMP"),
        ipproto::ICMPV6 => Some("ICMPv6"),
        _ => None,
    }
}

/// `ip_vs_state_name`: the State column of `/proc/net/ip_vs_conn` for a connection with this
/// protocol, raw `cp->state` and flags. Templates print `NONE`/`ASSURED`; protocols without state
/// names print `NONE` for `IPPROTO_IP` and `ERR!` otherwise.
pub const fn state_name(protocol: u8, state: u16, flags: u32) -> &'static str {
    if flags & CONN_F_TEMPLATE != 0 {
        return match state {
            0 => "NONE",
            1 => "ASSURED",
            _ => "ERR!",
        };
    }
    match protocol {
        ipproto::TCP => tcp::state_name(state),
        ipproto::UDP => udp::state_name(state),
        ipproto::SCTP => sctp::state_name(state),
        // AH and ESP are registered protocols without a state_name hook.
        ipproto::IP => "NONE",
        _ => "ERR!",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_connections_start_inactive_and_dr_tun_without_output() {
        assert_eq!(new_conn_flags(CONN_F_MASQ), CONN_F_INACTIVE);
        // IP_VS_CONN_F_DROUTE = 3, IP_VS_CONN_F_TUNNEL = 2.
        assert_eq!(new_conn_flags(3), 3 | CONN_F_INACTIVE | CONN_F_NOOUTPUT);
        assert_eq!(new_conn_flags(2), 2 | CONN_F_INACTIVE | CONN_F_NOOUTPUT);
    }

    #[test]
    fn ipvsadm_set_timeouts_like_ip_vs_set_timeout() {
        let mut tcp = tcp::TcpData::new();
        let mut udp = udp::UdpData::new();
        assert_eq!(
            get_timeouts(&tcp, &udp),
            TimeoutUser {
                tcp_timeout: 900,
                tcp_fin_timeout: 120,
                udp_timeout: 300
            }
        );
        // ipvsadm --set 0 30 0: only tcpfin changes.
        let user = TimeoutUser {
            tcp_timeout: 0,
            tcp_fin_timeout: 30,
            udp_timeout: 0,
        };
        assert_eq!(set_timeout(&mut tcp, &mut udp, user, 250), Ok(()));
        assert_eq!(
            get_timeouts(&tcp, &udp),
            TimeoutUser {
                tcp_timeout: 900,
                tcp_fin_timeout: 30,
                udp_timeout: 300
            }
        );
        // INT_MAX / HZ is the largest accepted value; one more is -EINVAL and nothing changes.
        let max = i32::MAX / 250;
        let bad = TimeoutUser {
            tcp_timeout: 7,
            tcp_fin_timeout: 0,
            udp_timeout: max + 1,
        };
        assert_eq!(
            set_timeout(&mut tcp, &mut udp, bad, 250),
            Err(InvalidTimeout)
        );
        assert_eq!(tcp.timeout(tcp::TcpState::Established), 900);
        let neg = TimeoutUser {
            tcp_timeout: -1,
            ..TimeoutUser::default()
        };
        assert_eq!(
            set_timeout(&mut tcp, &mut udp, neg, 250),
            Err(InvalidTimeout)
        );
        let ok = TimeoutUser {
            tcp_timeout: max,
            tcp_fin_timeout: 0,
            udp_timeout: 5,
        };
        assert_eq!(set_timeout(&mut tcp, &mut udp, ok, 250), Ok(()));
        assert_eq!(tcp.timeout(tcp::TcpState::Established), max as u32);
        assert_eq!(udp.timeout(), 5);
    }

    #[test]
    fn proc_ip_vs_conn_names() {
        assert_eq!(proto_name(6), Some("TCP"));
        assert_eq!(proto_name(0), Some("IP"));
        assert_eq!(proto_name(58), Some("ICMPv6"));
        assert_eq!(proto_name(50), None);
        assert_eq!(state_name(6, 1, 0), "ESTABLISHED");
        assert_eq!(state_name(17, 0, 0), "UDP");
        assert_eq!(state_name(132, 11, 0), "S-ACK-SENT");
        assert_eq!(state_name(6, 0, CONN_F_TEMPLATE), "NONE");
        assert_eq!(state_name(0, 1, CONN_F_TEMPLATE), "ASSURED");
        assert_eq!(state_name(0, 0, 0), "NONE");
        assert_eq!(state_name(50, 0, 0), "ERR!");
        assert_eq!(state_name(6, 11, 0), "ERR!");
    }
}
