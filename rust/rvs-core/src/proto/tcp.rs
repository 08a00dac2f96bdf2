//! TCP connection states, timeouts and transitions (`ip_vs_proto_tcp.c`).
//!
//! IPVS does not track TCP as a full state machine: it looks at one flag of each segment (RST,
//! else SYN, else FIN, else ACK, in that order) and at the direction, and moves through one of two
//! tables: `tcp_states`, and `tcp_states_dos`, which the `secure_tcp` defence switches in while the
//! director is short of memory (it keeps half-open connections in SYN_RECV/SYNACK with short
//! timeouts instead of trusting an unanswered client ACK). Both tables are transcribed verbatim
//! below, laid out as in the C source so the two can be compared line by line.

use super::{account, effective_direction, Direction, Transition};

/// A TCP connection state (`IP_VS_TCP_S_*`), numbered as in IPVS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    /// `NONE`: just created.
    None = 0,
    /// `ESTABLISHED`.
    Established = 1,
    /// `SYN_SENT`.
    SynSent = 2,
    /// `SYN_RECV`.
    SynRecv = 3,
    /// `FIN_WAIT`.
    FinWait = 4,
    /// `TIME_WAIT`.
    TimeWait = 5,
    /// `CLOSE`.
    Close = 6,
    /// `CLOSE_WAIT`.
    CloseWait = 7,
    /// `LAST_ACK`.
    LastAck = 8,
    /// `LISTEN`: set by the FTP helper for an expected data connection.
    Listen = 9,
    /// `SYNACK`: only reached through the secure_tcp table.
    SynAck = 10,
}

/// `IP_VS_TCP_S_LAST`: the number of TCP states.
pub const TCP_S_LAST: usize = 11;

impl TcpState {
    /// Every state, in IPVS order (index = state number).
    pub const ALL: [TcpState; TCP_S_LAST] = [
        TcpState::None,
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::SynAck,
    ];

    /// The state with IPVS number `n` (`cp->state`), if there is one.
    pub const fn from_raw(n: u16) -> Option<TcpState> {
        Some(match n {
            0 => TcpState::None,
            1 => TcpState::Established,
            2 => TcpState::SynSent,
            3 => TcpState::SynRecv,
            4 => TcpState::FinWait,
            5 => TcpState::TimeWait,
            6 => TcpState::Close,
            7 => TcpState::CloseWait,
            8 => TcpState::LastAck,
            9 => TcpState::Listen,
            10 => TcpState::SynAck,
            _ => return None,
        })
    }

    /// The name `/proc/net/ip_vs_conn` prints (`tcp_state_name_table`).
    pub const fn name(self) -> &'static str {
        match self {
            TcpState::None => "NONE",
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait => "FIN_WAIT",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::SynAck => "SYNACK",
        }
    }

    /// `tcp_state_active_table`: whether a connection in this state counts in ActiveConn.
    pub const fn is_active(self) -> bool {
        matches!(
            self,
            TcpState::Established | TcpState::SynSent | TcpState::SynRecv | TcpState::SynAck
        )
    }

    /// `tcp_timeouts[]`: the default timeout of the state, in seconds.
    pub const fn default_timeout(self) -> u32 {
        match self {
            TcpState::None => 2,
            TcpState::Established => 15 * 60,
            TcpState::SynSent => 2 * 60,
            TcpState::SynRecv => 60,
            TcpState::FinWait => 2 * 60,
            TcpState::TimeWait => 2 * 60,
            TcpState::Close => 10,
            TcpState::CloseWait => 60,
            TcpState::LastAck => 30,
            TcpState::Listen => 2 * 60,
            TcpState::SynAck => 120,
        }
    }
}

/// `tcp_state_name`: the name for a raw state number, `ERR!` past the last state.
pub const fn state_name(state: u16) -> &'static str {
    match TcpState::from_raw(state) {
        Some(s) => s.name(),
        None => "ERR!",
    }
}

/// The four TCP header flags IPVS looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags {
    /// FIN.
    pub fin: bool,
    /// SYN.
    pub syn: bool,
    /// RST.
    pub rst: bool,
    /// ACK.
    pub ack: bool,
}

impl TcpFlags {
    /// The flags from byte 13 of the TCP header (CWR ECE URG ACK PSH RST SYN FIN).
    pub const fn from_byte(b: u8) -> TcpFlags {
        TcpFlags {
            fin: b & 0x01 != 0,
            syn: b & 0x02 != 0,
            rst: b & 0x04 != 0,
            ack: b & 0x10 != 0,
        }
    }

    /// `tcp_state_idx`: the table row within a direction (syn 0, fin 1, ack 2, rst 3), RST
    /// winning over SYN over FIN over ACK; `None` for a segment with none of them.
    pub const fn state_idx(self) -> Option<usize> {
        if self.rst {
            Some(3)
        } else if self.syn {
            Some(0)
        } else if self.fin {
            Some(1)
        } else if self.ack {
            Some(2)
        } else {
            None
        }
    }
}

/// Which transition table is in force (`pd->tcp_state_table`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TcpStateTable {
    /// `tcp_states`.
    #[default]
    Normal,
    /// `tcp_states_dos`, while the secure_tcp defence is active.
    SecureTcp,
}

const ES: TcpState = TcpState::Established;
const SS: TcpState = TcpState::SynSent;
const SR: TcpState = TcpState::SynRecv;
const FW: TcpState = TcpState::FinWait;
const TW: TcpState = TcpState::TimeWait;
const CL: TcpState = TcpState::Close;
const CW: TcpState = TcpState::CloseWait;
const LA: TcpState = TcpState::LastAck;
const LI: TcpState = TcpState::Listen;
const SA: TcpState = TcpState::SynAck;

/// Rows: INPUT syn/fin/ack/rst, OUTPUT syn/fin/ack/rst, INPUT-ONLY syn/fin/ack/rst
/// (`TCP_DIR_INPUT` 0, `TCP_DIR_OUTPUT` 4, `TCP_DIR_INPUT_ONLY` 8); columns: current state.
type Table = [[TcpState; TCP_S_LAST]; 12];

/// `tcp_states` (ip_vs_proto_tcp.c).
#[rustfmt::skip]
pub const TCP_STATES: Table = [
    //  INPUT
    //   sNO sES sSS sSR sFW sTW sCL sCW sLA sLI sSA
    /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
    /*fin*/ [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
    //  OUTPUT
    //   sNO sES sSS sSR sFW sTW sCL sCW sLA sLI sSA
    /*syn*/ [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
    /*fin*/ [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
    /*rst*/ [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    //  INPUT-ONLY
    //   sNO sES sSS sSR sFW sTW sCL sCW sLA sLI sSA
    /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
    /*fin*/ [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
];

/// `tcp_states_dos` (ip_vs_proto_tcp.c), the secure_tcp table.
#[rustfmt::skip]
pub const TCP_STATES_DOS: Table = [
    //  INPUT
    //   sNO sES sSS sSR sFW sTW sCL sCW sLA sLI sSA
    /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA],
    /*fin*/ [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA],
    /*ack*/ [ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA],
    /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    //  OUTPUT
    //   sNO sES sSS sSR sFW sTW sCL sCW sLA sLI sSA
    /*syn*/ [SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA],
    /*fin*/ [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
    /*rst*/ [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    //  INPUT-ONLY
    //   sNO sES sSS sSR sFW sTW sCL sCW sLA sLI sSA
    /*syn*/ [SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA],
    /*fin*/ [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
];

impl TcpStateTable {
    /// The next state in this table for a connection in `state` seeing a segment with the
    /// given row (`tcp_state_idx`) in the given (already NOOUTPUT-adjusted) direction.
    pub fn next_state(self, direction: Direction, idx: usize, state: TcpState) -> TcpState {
        let table = match self {
            TcpStateTable::Normal => &TCP_STATES,
            TcpStateTable::SecureTcp => &TCP_STATES_DOS,
        };
        let row = (direction as usize).saturating_mul(4).saturating_add(idx);
        // Every index is in range by construction (direction < 3, idx < 4, state < 11); the
        // fallback only keeps the function total.
        table
            .get(row)
            .and_then(|r| r.get(state as usize))
            .copied()
            .unwrap_or(TcpState::Close)
    }
}

/// The per-namespace TCP protocol data (`struct ip_vs_proto_data` for TCP): its timeout table
/// and the transition table in force.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TcpData {
    timeouts: [u32; TCP_S_LAST],
    /// The transition table in force; `secure_tcp` flips it (`tcp_timeout_change`).
    pub table: TcpStateTable,
}

impl Default for TcpData {
    fn default() -> Self {
        Self::new()
    }
}

impl TcpData {
    /// The data of a fresh namespace: default timeouts, normal table (`__ip_vs_tcp_init`).
    pub const fn new() -> TcpData {
        let mut timeouts = [0; TCP_S_LAST];
        let mut i = 0;
        while i < TCP_S_LAST {
            // A const loop: indexes are bounded by the loop condition and checked at compile
            // time, so this cannot fail at run time.
            #[allow(clippy::indexing_slicing)]
            {
                timeouts[i] = TcpState::ALL[i].default_timeout();
            }
            i += 1;
        }
        TcpData {
            timeouts,
            table: TcpStateTable::Normal,
        }
    }

    /// The timeout of `state`, in seconds.
    pub fn timeout(&self, state: TcpState) -> u32 {
        self.timeouts.get(state as usize).copied().unwrap_or(0)
    }

    /// Sets the timeout of `state`, in seconds.
    pub fn set_timeout(&mut self, state: TcpState, secs: u32) {
        if let Some(t) = self.timeouts.get_mut(state as usize) {
            *t = secs;
        }
    }

    /// `tcp_timeout_change`: `secure_tcp_on` is `sysctl_secure_tcp > 1` as
    /// `update_defense_level` passes it.
    pub fn timeout_change(&mut self, secure_tcp_on: bool) {
        self.table = if secure_tcp_on {
            TcpStateTable::SecureTcp
        } else {
            TcpStateTable::Normal
        };
    }

    /// `ip_vs_tcp_conn_listen`: the state and timeout the FTP helper gives an expected data
    /// connection (the connection flags and counters are not touched).
    pub fn conn_listen(&self) -> (TcpState, u32) {
        (TcpState::Listen, self.timeout(TcpState::Listen))
    }

    /// `set_tcp_state`: the transition for one segment. `flags` are the connection's flags,
    /// `has_dest` whether it is bound to a destination (only then do counters move),
    /// `direction` is `Input` or `Output` as the hook sees the packet.
    ///
    /// As in IPVS, a segment with none of RST/SYN/FIN/ACK moves the connection to CLOSE, and
    /// the timeout is refreshed on every segment even when the state does not change.
    pub fn transition(
        &self,
        state: TcpState,
        flags: u32,
        has_dest: bool,
        direction: Direction,
        th: TcpFlags,
    ) -> Transition<TcpState> {
        self.transition_on(self.table, state, flags, has_dest, direction, th)
    }

    /// [`TcpData::transition`] on `table` instead of the one in force here: the module keeps
    /// the secure_tcp switch beside the timeouts, so that the defence can flip it from its
    /// timer without republishing them.
    pub fn transition_on(
        &self,
        table: TcpStateTable,
        state: TcpState,
        flags: u32,
        has_dest: bool,
        direction: Direction,
        th: TcpFlags,
    ) -> Transition<TcpState> {
        let (direction, flags) = effective_direction(flags, direction);
        let new_state = match th.state_idx() {
            Some(idx) => table.next_state(direction, idx, state),
            None => TcpState::Close,
        };
        let changed = new_state != state;
        let (flags, activity) = account(flags, has_dest, changed, new_state.is_active());
        Transition {
            state: new_state,
            flags,
            timeout_secs: self.timeout(new_state),
            activity,
            assure_template: changed && new_state == TcpState::Established,
        }
    }
}

/// The first test of `tcp_conn_schedule`: whether a segment that matched no connection may
/// create one. RST never does; otherwise SYN does, and with `sloppy_tcp` any segment does. There
/// is deliberately no ACK test, so SYN+ACK schedules (active FTP).
pub const fn may_schedule(th: TcpFlags, sloppy_tcp: bool) -> bool {
    !th.rst && (sloppy_tcp || th.syn)
}

/// `is_new_conn_expected` for TCP: whether a SYN that hits this existing connection may replace
/// it (`conn_reuse_mode`). `controlled` is `cp->control != NULL` (FTP data or persistence).
pub const fn is_new_conn_expected(
    state: TcpState,
    flags: u32,
    conn_reuse_mode: u32,
    controlled: bool,
) -> bool {
    if controlled {
        return false;
    }
    matches!(state, TcpState::TimeWait | TcpState::Close)
        || (conn_reuse_mode & 2 != 0
            && matches!(state, TcpState::FinWait)
            && flags & super::CONN_F_NOOUTPUT != 0)
}

#[cfg(test)]
mod tests {
    use super::super::{new_conn_flags, Activity, CONN_F_INACTIVE, CONN_F_MASQ, CONN_F_NOOUTPUT};
    use super::*;
    use std::println;

    const SYN: TcpFlags = TcpFlags {
        syn: true,
        fin: false,
        rst: false,
        ack: false,
    };
    const SYNACK: TcpFlags = TcpFlags {
        syn: true,
        fin: false,
        rst: false,
        ack: true,
    };
    const ACK: TcpFlags = TcpFlags {
        syn: false,
        fin: false,
        rst: false,
        ack: true,
    };
    const FINACK: TcpFlags = TcpFlags {
        syn: false,
        fin: true,
        rst: false,
        ack: true,
    };
    const RST: TcpFlags = TcpFlags {
        syn: false,
        fin: false,
        rst: true,
        ack: false,
    };

    /// Runs a packet sequence through a connection and returns the states and active counter.
    fn run(
        data: &TcpData,
        fwd: u32,
        seq: &[(Direction, TcpFlags)],
    ) -> std::vec::Vec<(TcpState, u32, i32)> {
        let mut state = TcpState::None;
        let mut flags = new_conn_flags(fwd);
        // ip_vs_bind_dest counts the connection active only if it is not INACTIVE.
        let mut active = i32::from(flags & CONN_F_INACTIVE == 0);
        let mut out = std::vec::Vec::new();
        for &(dir, th) in seq {
            let t = data.transition(state, flags, true, dir, th);
            state = t.state;
            flags = t.flags;
            active += match t.activity {
                Activity::Unchanged => 0,
                Activity::Activated => 1,
                Activity::Deactivated => -1,
            };
            // The INACTIVE flag and the counter always agree.
            assert_eq!(active == 1, flags & CONN_F_INACTIVE == 0);
            out.push((state, t.timeout_secs, active));
        }
        out
    }

    #[test]
    fn nat_handshake_and_close_through_director() {
        let data = TcpData::new();
        use Direction::{Input as I, Output as O};
        let seq = [
            (I, SYN),
            (O, SYNACK),
            (I, ACK),
            (I, FINACK),
            (O, FINACK),
            (I, ACK),
        ];
        let got = run(&data, CONN_F_MASQ, &seq);
        let want = [
            (TcpState::SynRecv, 60, 1),
            (TcpState::SynRecv, 60, 1), // output SYN in SYN_RECV stays SYN_RECV
            (TcpState::Established, 900, 1),
            (TcpState::CloseWait, 60, 0),
            (TcpState::TimeWait, 120, 0),
            (TcpState::TimeWait, 120, 0),
        ];
        for (g, w) in got.iter().zip(want.iter()) {
            println!("nat: {:?} -> {} {}s active={}", g.0, g.0.name(), g.1, g.2);
            assert_eq!(g, w);
        }
    }

    #[test]
    fn dr_connection_uses_input_only_rows() {
        let data = TcpData::new();
        let seq = [
            (Direction::Input, SYN),
            (Direction::Input, ACK),
            (Direction::Input, FINACK),
        ];
        let got = run(&data, 3, &seq);
        // INPUT-ONLY fin on ESTABLISHED is FIN_WAIT (INPUT would say CLOSE_WAIT).
        assert_eq!(got[2], (TcpState::FinWait, 120, 0));
        assert_eq!(got[1], (TcpState::Established, 900, 1));
    }

    #[test]
    fn output_packet_clears_nooutput() {
        let data = TcpData::new();
        let flags = CONN_F_NOOUTPUT | CONN_F_INACTIVE;
        let t = data.transition(TcpState::None, flags, true, Direction::Output, SYN);
        assert_eq!(t.flags, 0);
        assert_eq!(t.state, TcpState::SynSent);
        assert_eq!(t.activity, Activity::Activated);
        // Same state: the flag still clears, but the counters never move without a change.
        let t = data.transition(TcpState::SynRecv, flags, true, Direction::Output, SYNACK);
        assert_eq!((t.state, t.flags), (TcpState::SynRecv, CONN_F_INACTIVE));
        assert_eq!(t.activity, Activity::Unchanged);
    }

    #[test]
    fn secure_tcp_holds_unanswered_ack_in_syn_recv() {
        let mut data = TcpData::new();
        let t = data.transition(TcpState::SynRecv, 0, true, Direction::Input, ACK);
        assert_eq!(t.state, TcpState::Established);
        data.timeout_change(true);
        let t = data.transition(TcpState::SynRecv, 0, true, Direction::Input, ACK);
        assert_eq!(t.state, TcpState::SynRecv);
        let t = data.transition(TcpState::SynRecv, 0, true, Direction::Output, SYNACK);
        assert_eq!((t.state, t.timeout_secs), (TcpState::SynAck, 120));
        data.timeout_change(false);
        assert_eq!(data.table, TcpStateTable::Normal);
    }

    #[test]
    fn flagless_segment_closes_and_rst_wins() {
        let data = TcpData::new();
        let t = data.transition(
            TcpState::Established,
            0,
            true,
            Direction::Input,
            TcpFlags::default(),
        );
        assert_eq!(t.state, TcpState::Close);
        assert_eq!(t.activity, Activity::Deactivated);
        let all = TcpFlags {
            syn: true,
            fin: true,
            rst: true,
            ack: true,
        };
        assert_eq!(all.state_idx(), Some(3));
        assert_eq!(
            TcpFlags {
                syn: true,
                fin: true,
                ..TcpFlags::default()
            }
            .state_idx(),
            Some(0)
        );
        assert_eq!(TcpFlags::from_byte(0x12), SYNACK);
    }

    #[test]
    fn no_dest_no_accounting() {
        let data = TcpData::new();
        let t = data.transition(
            TcpState::None,
            CONN_F_INACTIVE,
            false,
            Direction::Input,
            SYN,
        );
        assert_eq!(t.state, TcpState::SynRecv);
        assert_eq!(t.activity, Activity::Unchanged);
        assert_eq!(t.flags, CONN_F_INACTIVE);
    }

    #[test]
    fn scheduling_and_reuse() {
        assert!(may_schedule(SYN, false));
        assert!(may_schedule(SYNACK, false));
        assert!(!may_schedule(ACK, false));
        assert!(may_schedule(ACK, true));
        assert!(!may_schedule(RST, true));
        assert!(is_new_conn_expected(TcpState::TimeWait, 0, 0, false));
        assert!(!is_new_conn_expected(TcpState::TimeWait, 0, 0, true));
        assert!(!is_new_conn_expected(
            TcpState::FinWait,
            CONN_F_NOOUTPUT,
            1,
            false
        ));
        assert!(is_new_conn_expected(
            TcpState::FinWait,
            CONN_F_NOOUTPUT,
            2,
            false
        ));
        assert!(!is_new_conn_expected(TcpState::Established, 0, 3, false));
    }

    #[test]
    fn names_timeouts_and_activity_match_c_tables() {
        let names = [
            "NONE",
            "ESTABLISHED",
            "SYN_SENT",
            "SYN_RECV",
            "FIN_WAIT",
            "TIME_WAIT",
            "CLOSE",
            "CLOSE_WAIT",
            "LAST_ACK",
            "LISTEN",
            "SYNACK",
        ];
        let timeouts = [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120];
        let active = [
            false, true, true, true, false, false, false, false, false, false, true,
        ];
        for (i, s) in TcpState::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
            assert_eq!(TcpState::from_raw(i as u16), Some(*s));
            assert_eq!(s.name(), names[i]);
            assert_eq!(s.default_timeout(), timeouts[i]);
            assert_eq!(s.is_active(), active[i]);
        }
        assert_eq!(state_name(11), "ERR!");
        assert_eq!(TcpData::new().conn_listen(), (TcpState::Listen, 120));
    }
}
