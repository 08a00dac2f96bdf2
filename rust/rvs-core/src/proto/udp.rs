//! UDP connection state and timeout (`ip_vs_proto_udp.c`).
//!
//! UDP has a single state, `UDP` (`IP_VS_UDP_S_NORMAL`), and every packet in either direction
//! re-arms the one timeout (5 minutes by default, `ipvsadm --set … udp`). The state never changes,
//! so a UDP connection never moves between ActiveConn and InActConn: it stays where
//! `ip_vs_bind_dest` counted it (InActConn, since new connections carry `IP_VS_CONN_F_INACTIVE`).

use super::{Activity, Direction, Transition};

/// The only UDP state (`IP_VS_UDP_S_NORMAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UdpState {
    /// `UDP`.
    Normal = 0,
}

/// `udp_state_name`: `UDP` for state 0, `ERR!` past it.
pub const fn state_name(state: u16) -> &'static str {
    if state == 0 {
        "UDP"
    } else {
        "ERR!"
    }
}

/// The default UDP timeout in seconds (`udp_timeouts[IP_VS_UDP_S_NORMAL]`).
pub const UDP_DEFAULT_TIMEOUT_SECS: u32 = 5 * 60;

/// The per-namespace UDP protocol data: its one timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UdpData {
    timeout: u32,
}

impl Default for UdpData {
    fn default() -> Self {
        Self::new()
    }
}

impl UdpData {
    /// Default timeout (`__udp_init`).
    pub const fn new() -> UdpData {
        UdpData {
            timeout: UDP_DEFAULT_TIMEOUT_SECS,
        }
    }

    /// The UDP timeout in seconds.
    pub const fn timeout(&self) -> u32 {
        self.timeout
    }

    /// Sets the UDP timeout in seconds.
    pub fn set_timeout(&mut self, secs: u32) {
        self.timeout = secs;
    }

    /// `udp_state_transition`: the timeout is refreshed, flags and counters are left alone, and
    /// an output packet (the real server answered) assures the controlling template.
    pub const fn transition(&self, flags: u32, direction: Direction) -> Transition<UdpState> {
        Transition {
            state: UdpState::Normal,
            flags,
            timeout_secs: self.timeout,
            activity: Activity::Unchanged,
            assure_template: matches!(direction, Direction::Output),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_packet_refreshes_the_timeout() {
        let mut data = UdpData::new();
        let t = data.transition(0x0100, Direction::Input);
        assert_eq!(
            (t.timeout_secs, t.flags, t.assure_template),
            (300, 0x0100, false)
        );
        data.set_timeout(30);
        let t = data.transition(0, Direction::Output);
        assert_eq!(
            (t.timeout_secs, t.activity, t.assure_template),
            (30, Activity::Unchanged, true)
        );
        assert_eq!(state_name(0), "UDP");
        assert_eq!(state_name(1), "ERR!");
    }
}
