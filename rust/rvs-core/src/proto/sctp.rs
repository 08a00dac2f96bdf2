//! SCTP association states, timeouts and transitions (`ip_vs_proto_sctp.c`).
//!
//! IPVS maps the first chunk of each packet to an event (DATA, INIT, INIT ACK, COOKIE ECHO,
//! COOKIE ACK, SHUTDOWN, SHUTDOWN ACK, SHUTDOWN COMPLETE, ERROR, ABORT) and moves through
//! `sctp_states[direction][event][state]`, transcribed verbatim below. A COOKIE ECHO or COOKIE
//! ACK bundled with an ABORT right behind it counts as the ABORT. Only ESTABLISHED is an active
//! state. `sloppy_sctp` only widens which packets may create a connection ([`may_schedule`]).

use super::{account, effective_direction, Direction, Transition};

/// An SCTP connection state (`IP_VS_SCTP_S_*`), numbered as in IPVS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SctpState {
    /// `NONE`.
    None = 0,
    /// `INIT1`: first client INIT sent (short timeout for dropped INITs).
    Init1 = 1,
    /// `INIT`: a further client INIT sent.
    Init = 2,
    /// `C-SENT`: server INIT ACK sent.
    CookieSent = 3,
    /// `C-REPLIED`: client COOKIE ECHO sent.
    CookieReplied = 4,
    /// `C-WAIT`: server-initiated INIT sent.
    CookieWait = 5,
    /// `COOKIE`: client INIT ACK to a server INIT.
    Cookie = 6,
    /// `C-ECHOED`: server COOKIE ECHO sent.
    CookieEchoed = 7,
    /// `ESTABLISHED`.
    Established = 8,
    /// `S-SENT`.
    ShutdownSent = 9,
    /// `S-RECEIVED`.
    ShutdownReceived = 10,
    /// `S-ACK-SENT`.
    ShutdownAckSent = 11,
    /// `REJECTED`: INIT answered with ABORT.
    Rejected = 12,
    /// `CLOSED`.
    Closed = 13,
}

/// `IP_VS_SCTP_S_LAST`: the number of SCTP states.
pub const SCTP_S_LAST: usize = 14;

/// `IP_VS_SCTP_MAX_RTO` in seconds: (60 + 1) s.
const MAX_RTO: u32 = 60 + 1;

impl SctpState {
    /// Every state, in IPVS order (index = state number).
    pub const ALL: [SctpState; SCTP_S_LAST] = [
        SctpState::None,
        SctpState::Init1,
        SctpState::Init,
        SctpState::CookieSent,
        SctpState::CookieReplied,
        SctpState::CookieWait,
        SctpState::Cookie,
        SctpState::CookieEchoed,
        SctpState::Established,
        SctpState::ShutdownSent,
        SctpState::ShutdownReceived,
        SctpState::ShutdownAckSent,
        SctpState::Rejected,
        SctpState::Closed,
    ];

    /// The state with IPVS number `n`, if there is one.
    pub const fn from_raw(n: u16) -> Option<SctpState> {
        Some(match n {
            0 => SctpState::None,
            1 => SctpState::Init1,
            2 => SctpState::Init,
            3 => SctpState::CookieSent,
            4 => SctpState::CookieReplied,
            5 => SctpState::CookieWait,
            6 => SctpState::Cookie,
            7 => SctpState::CookieEchoed,
            8 => SctpState::Established,
            9 => SctpState::ShutdownSent,
            10 => SctpState::ShutdownReceived,
            11 => SctpState::ShutdownAckSent,
            12 => SctpState::Rejected,
            13 => SctpState::Closed,
            _ => return None,
        })
    }

    /// The name `/proc/net/ip_vs_conn` prints (`sctp_state_name_table`).
    pub const fn name(self) -> &'static str {
        match self {
            SctpState::None => "NONE",
            SctpState::Init1 => "INIT1",
            SctpState::Init => "INIT",
            SctpState::CookieSent => "C-SENT",
            SctpState::CookieReplied => "C-REPLIED",
            SctpState::CookieWait => "C-WAIT",
            SctpState::Cookie => "COOKIE",
            SctpState::CookieEchoed => "C-ECHOED",
            SctpState::Established => "ESTABLISHED",
            SctpState::ShutdownSent => "S-SENT",
            SctpState::ShutdownReceived => "S-RECEIVED",
            SctpState::ShutdownAckSent => "S-ACK-SENT",
            SctpState::Rejected => "REJECTED",
            SctpState::Closed => "CLOSED",
        }
    }

    /// Only ESTABLISHED counts in ActiveConn.
    pub const fn is_active(self) -> bool {
        matches!(self, SctpState::Established)
    }

    /// `sctp_timeouts[]`: the default timeout of the state, in seconds.
    pub const fn default_timeout(self) -> u32 {
        match self {
            SctpState::None => 2,
            SctpState::Init1 | SctpState::Rejected => 3 + 1,
            SctpState::Established => 15 * 60,
            _ => MAX_RTO,
        }
    }
}

/// `sctp_state_name`: the name for a raw state number, `ERR!` past the last state.
pub const fn state_name(state: u16) -> &'static str {
    match SctpState::from_raw(state) {
        Some(s) => s.name(),
        None => "ERR!",
    }
}

/// SCTP chunk types IPVS distinguishes (`SCTP_CID_*`).
pub mod chunk {
    /// DATA.
    pub const DATA: u8 = 0;
    /// INIT.
    pub const INIT: u8 = 1;
    /// INIT ACK.
    pub const INIT_ACK: u8 = 2;
    /// SACK.
    pub const SACK: u8 = 3;
    /// HEARTBEAT.
    pub const HEARTBEAT: u8 = 4;
    /// HEARTBEAT ACK.
    pub const HEARTBEAT_ACK: u8 = 5;
    /// ABORT.
    pub const ABORT: u8 = 6;
    /// SHUTDOWN.
    pub const SHUTDOWN: u8 = 7;
    /// SHUTDOWN ACK.
    pub const SHUTDOWN_ACK: u8 = 8;
    /// ERROR.
    pub const ERROR: u8 = 9;
    /// COOKIE ECHO.
    pub const COOKIE_ECHO: u8 = 10;
    /// COOKIE ACK.
    pub const COOKIE_ACK: u8 = 11;
    /// ECNE.
    pub const ECN_ECNE: u8 = 12;
    /// CWR.
    pub const ECN_CWR: u8 = 13;
    /// SHUTDOWN COMPLETE.
    pub const SHUTDOWN_COMPLETE: u8 = 14;
}

/// The event a packet stands for (`enum ipvs_sctp_event_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SctpEvent {
    /// DATA, SACK, HEARTBEATs, ECN chunks and every unknown chunk type.
    Data = 0,
    /// INIT.
    Init = 1,
    /// INIT ACK.
    InitAck = 2,
    /// COOKIE ECHO.
    CookieEcho = 3,
    /// COOKIE ACK.
    CookieAck = 4,
    /// SHUTDOWN.
    Shutdown = 5,
    /// SHUTDOWN ACK.
    ShutdownAck = 6,
    /// SHUTDOWN COMPLETE.
    ShutdownComplete = 7,
    /// ERROR.
    Error = 8,
    /// ABORT.
    Abort = 9,
}

/// `IP_VS_SCTP_EVENT_LAST`.
const EVENT_LAST: usize = 10;

impl SctpEvent {
    /// `sctp_events[]`: the event of a chunk type; types past SHUTDOWN COMPLETE count as DATA.
    pub const fn from_chunk_type(t: u8) -> SctpEvent {
        match t {
            chunk::INIT => SctpEvent::Init,
            chunk::INIT_ACK => SctpEvent::InitAck,
            chunk::ABORT => SctpEvent::Abort,
            chunk::SHUTDOWN => SctpEvent::Shutdown,
            chunk::SHUTDOWN_ACK => SctpEvent::ShutdownAck,
            chunk::ERROR => SctpEvent::Error,
            chunk::COOKIE_ECHO => SctpEvent::CookieEcho,
            chunk::COOKIE_ACK => SctpEvent::CookieAck,
            chunk::SHUTDOWN_COMPLETE => SctpEvent::ShutdownComplete,
            _ => SctpEvent::Data,
        }
    }

    /// The event of a packet, from the bytes after its 12-byte common header, as
    /// `set_sctp_state` reads them: the first chunk's type, except that a COOKIE ECHO or COOKIE
    /// ACK whose length is at least 4 and which is followed (at its length rounded up to 4) by an
    /// ABORT chunk counts as ABORT. `None` when not even a chunk header is there: IPVS then leaves
    /// the connection untouched.
    pub fn from_chunks(chunks: &[u8]) -> Option<SctpEvent> {
        let first = chunks.get(..4)?;
        let mut chunk_type = *first.first()?;
        if chunk_type == chunk::COOKIE_ECHO || chunk_type == chunk::COOKIE_ACK {
            let clen = usize::from(u16::from_be_bytes([
                *first.get(2).unwrap_or(&0),
                *first.get(3).unwrap_or(&0),
            ]));
            if clen >= 4 {
                // ALIGN(clen, 4): clen < 65536, so this cannot overflow.
                let next = (clen + 3) & !3;
                // Only the 4-byte chunk header must be present for IPVS to look at it.
                if let Some(hdr) = chunks.get(next..next.saturating_add(4)) {
                    if hdr.first() == Some(&chunk::ABORT) {
                        chunk_type = chunk::ABORT;
                    }
                }
            }
        }
        Some(SctpEvent::from_chunk_type(chunk_type))
    }
}

const I1: SctpState = SctpState::Init1;
const IN: SctpState = SctpState::Init;
const CS: SctpState = SctpState::CookieSent;
const CR: SctpState = SctpState::CookieReplied;
const CW: SctpState = SctpState::CookieWait;
const CO: SctpState = SctpState::Cookie;
const CE: SctpState = SctpState::CookieEchoed;
const ES: SctpState = SctpState::Established;
const SS: SctpState = SctpState::ShutdownSent;
const SR: SctpState = SctpState::ShutdownReceived;
const SA: SctpState = SctpState::ShutdownAckSent;
const RJ: SctpState = SctpState::Rejected;
const CL: SctpState = SctpState::Closed;

type Table = [[[SctpState; SCTP_S_LAST]; EVENT_LAST]; 3];

/// `sctp_states[IP_VS_DIR_LAST][IP_VS_SCTP_EVENT_LAST][IP_VS_SCTP_S_LAST]` (ip_vs_proto_sctp.c).
#[rustfmt::skip]
pub const SCTP_STATES: Table = [
    [ // INPUT
        //        sNO sI1 sIN sCS sCR sCW sCO sCE sES sSS sSR sSA sRJ sCL
        /* d   */ [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        /* i   */ [I1, IN, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, IN, IN],
        /* i_a */ [CW, CW, CW, CS, CR, CO, CO, CE, ES, SS, SR, SA, RJ, CL],
        /* c_e */ [CR, IN, IN, CR, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        /* c_a */ [ES, I1, IN, CS, CR, CW, CO, ES, ES, SS, SR, SA, RJ, CL],
        /* s   */ [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL],
        /* s_a */ [CL, IN, IN, CS, CR, CW, CO, CE, ES, CL, SR, CL, RJ, CL],
        /* s_c */ [CL, CL, CL, CS, CR, CW, CO, CE, ES, SS, SR, CL, RJ, CL],
        /* err */ [CL, I1, IN, CS, CR, CW, CO, CL, ES, SS, SR, SA, RJ, CL],
        /* ab  */ [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL],
    ],
    [ // OUTPUT
        //        sNO sI1 sIN sCS sCR sCW sCO sCE sES sSS sSR sSA sRJ sCL
        /* d   */ [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        /* i   */ [CW, CW, CW, CW, CW, CW, CW, CW, ES, CW, CW, CW, CW, CW],
        /* i_a */ [CS, CS, CS, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        /* c_e */ [CE, CE, CE, CE, CE, CE, CE, CE, ES, SS, SR, SA, RJ, CL],
        /* c_a */ [ES, ES, ES, ES, ES, ES, ES, ES, ES, SS, SR, SA, RJ, CL],
        /* s   */ [SS, SS, SS, SS, SS, SS, SS, SS, SS, SS, SR, SA, RJ, CL],
        /* s_a */ [SA, SA, SA, SA, SA, CW, CO, CE, ES, SA, SA, SA, RJ, CL],
        /* s_c */ [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        /* err */ [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        /* ab  */ [CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL],
    ],
    [ // INPUT-ONLY
        //        sNO sI1 sIN sCS sCR sCW sCO sCE sES sSS sSR sSA sRJ sCL
        /* d   */ [ES, I1, IN, CS, CR, ES, CO, CE, ES, SS, SR, SA, RJ, CL],
        /* i   */ [I1, IN, IN, IN, IN, IN, CO, CE, ES, SS, SR, SA, IN, IN],
        /* i_a */ [CE, CE, CE, CE, CE, CE, CO, CE, ES, SS, SR, SA, RJ, CL],
        /* c_e */ [ES, ES, ES, ES, ES, ES, CO, CE, ES, SS, SR, SA, RJ, CL],
        /* c_a */ [ES, I1, IN, ES, ES, CW, ES, ES, ES, SS, SR, SA, RJ, CL],
        /* s   */ [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL],
        /* s_a */ [CL, IN, IN, CS, CR, CW, CO, CE, CL, CL, SR, CL, RJ, CL],
        /* s_c */ [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, CL, CL, RJ, CL],
        /* err */ [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
        /* ab  */ [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL],
    ],
];

/// `sctp_states[direction][event][state]`, for an already NOOUTPUT-adjusted direction.
pub fn next_state(direction: Direction, event: SctpEvent, state: SctpState) -> SctpState {
    // In range by construction; the fallback only keeps the function total.
    SCTP_STATES
        .get(direction as usize)
        .and_then(|d| d.get(event as usize))
        .and_then(|e| e.get(state as usize))
        .copied()
        .unwrap_or(SctpState::Closed)
}

/// The per-namespace SCTP protocol data: its timeout table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SctpData {
    timeouts: [u32; SCTP_S_LAST],
}

impl Default for SctpData {
    fn default() -> Self {
        Self::new()
    }
}

impl SctpData {
    /// Default timeouts (`__ip_vs_sctp_init`).
    pub const fn new() -> SctpData {
        let mut timeouts = [0; SCTP_S_LAST];
        let mut i = 0;
        while i < SCTP_S_LAST {
            // A const loop bounded by its condition, evaluated at compile time.
            #[allow(clippy::indexing_slicing)]
            {
                timeouts[i] = SctpState::ALL[i].default_timeout();
            }
            i += 1;
        }
        SctpData { timeouts }
    }

    /// The timeout of `state`, in seconds.
    pub fn timeout(&self, state: SctpState) -> u32 {
        self.timeouts.get(state as usize).copied().unwrap_or(0)
    }

    /// Sets the timeout of `state` (IPVS offers no control for this; kept for symmetry with TCP).
    pub fn set_timeout(&mut self, state: SctpState, secs: u32) {
        if let Some(t) = self.timeouts.get_mut(state as usize) {
            *t = secs;
        }
    }

    /// `set_sctp_state`: the transition for one packet whose event is `event`
    /// ([`SctpEvent::from_chunks`]). The timeout is refreshed even when the state stays.
    pub fn transition(
        &self,
        state: SctpState,
        flags: u32,
        has_dest: bool,
        direction: Direction,
        event: SctpEvent,
    ) -> Transition<SctpState> {
        let (direction, flags) = effective_direction(flags, direction);
        let new_state = next_state(direction, event, state);
        let changed = new_state != state;
        let (flags, activity) = account(flags, has_dest, changed, new_state.is_active());
        Transition {
            state: new_state,
            flags,
            timeout_secs: self.timeout(new_state),
            activity,
            assure_template: changed && new_state == SctpState::Established,
        }
    }
}

/// The first test of `sctp_conn_schedule`: a packet that matched no connection may create one if
/// its first chunk is INIT, or with `sloppy_sctp` anything but ABORT. `chunks` are the bytes
/// after the common header; without a chunk header IPVS accepts the packet without scheduling.
pub fn may_schedule(chunks: &[u8], sloppy_sctp: bool) -> bool {
    match chunks.first() {
        Some(&t) => t != chunk::ABORT && (sloppy_sctp || t == chunk::INIT),
        None => false,
    }
}

/// `is_new_conn_expected` for SCTP: an INIT may replace a CLOSED, uncontrolled connection.
pub const fn is_new_conn_expected(state: SctpState, controlled: bool) -> bool {
    !controlled && matches!(state, SctpState::Closed)
}

#[cfg(test)]
mod tests {
    use super::super::{new_conn_flags, Activity, CONN_F_INACTIVE, CONN_F_MASQ};
    use super::*;
    use std::println;

    fn chunk(t: u8, len: u16) -> [u8; 4] {
        let l = len.to_be_bytes();
        [t, 0, l[0], l[1]]
    }

    #[test]
    fn nat_association_setup_and_shutdown() {
        let data = SctpData::new();
        use Direction::{Input as I, Output as O};
        use SctpEvent as E;
        let seq = [
            (I, E::Init, SctpState::Init1, 4),
            (O, E::InitAck, SctpState::CookieSent, 61),
            (I, E::CookieEcho, SctpState::CookieReplied, 61),
            (O, E::CookieAck, SctpState::Established, 900),
            (I, E::Data, SctpState::Established, 900),
            (I, E::Shutdown, SctpState::ShutdownReceived, 61),
            (O, E::ShutdownAck, SctpState::ShutdownAckSent, 61),
            (I, E::ShutdownComplete, SctpState::Closed, 61),
        ];
        let mut state = SctpState::None;
        let mut flags = new_conn_flags(CONN_F_MASQ);
        for (dir, ev, want, secs) in seq {
            let t = data.transition(state, flags, true, dir, ev);
            println!(
                "sctp {dir:?} {ev:?}: {} -> {} ({}s)",
                state.name(),
                t.state.name(),
                t.timeout_secs
            );
            assert_eq!((t.state, t.timeout_secs), (want, secs));
            if want == SctpState::Established && state != want {
                assert_eq!(t.activity, Activity::Activated);
                assert!(t.assure_template);
            }
            state = t.state;
            flags = t.flags;
        }
        assert_ne!(flags & CONN_F_INACTIVE, 0);
    }

    #[test]
    fn init_rejected_by_abort() {
        let data = SctpData::new();
        let t = data.transition(
            SctpState::Init1,
            0,
            true,
            Direction::Output,
            SctpEvent::Abort,
        );
        assert_eq!((t.state, t.timeout_secs), (SctpState::Rejected, 4));
    }

    #[test]
    fn cookie_echo_bundled_with_abort_is_abort() {
        let mut pkt = std::vec::Vec::new();
        pkt.extend_from_slice(&chunk(chunk::COOKIE_ECHO, 5));
        pkt.extend_from_slice(&[0xaa, 0, 0, 0]); // 1 byte of cookie + padding
        pkt.extend_from_slice(&chunk(chunk::ABORT, 4));
        assert_eq!(SctpEvent::from_chunks(&pkt), Some(SctpEvent::Abort));
        // A DATA chunk behind it changes nothing.
        let n = pkt.len();
        pkt[n - 4] = chunk::DATA;
        assert_eq!(SctpEvent::from_chunks(&pkt), Some(SctpEvent::CookieEcho));
        // Length below 4 disables the look-ahead.
        assert_eq!(
            SctpEvent::from_chunks(&chunk(chunk::COOKIE_ACK, 0)),
            Some(SctpEvent::CookieAck)
        );
        assert_eq!(SctpEvent::from_chunks(&[1, 0, 0]), None);
        assert_eq!(SctpEvent::from_chunk_type(200), SctpEvent::Data);
        assert_eq!(
            SctpEvent::from_chunk_type(chunk::HEARTBEAT),
            SctpEvent::Data
        );
    }

    #[test]
    fn scheduling_and_names() {
        assert!(may_schedule(&chunk(chunk::INIT, 20), false));
        assert!(!may_schedule(&chunk(chunk::DATA, 20), false));
        assert!(may_schedule(&chunk(chunk::DATA, 20), true));
        assert!(!may_schedule(&chunk(chunk::ABORT, 4), true));
        assert!(!may_schedule(&[], true));
        let names = [
            "NONE",
            "INIT1",
            "INIT",
            "C-SENT",
            "C-REPLIED",
            "C-WAIT",
            "COOKIE",
            "C-ECHOED",
            "ESTABLISHED",
            "S-SENT",
            "S-RECEIVED",
            "S-ACK-SENT",
            "REJECTED",
            "CLOSED",
        ];
        let timeouts = [2, 4, 61, 61, 61, 61, 61, 61, 900, 61, 61, 61, 4, 61];
        for (i, s) in SctpState::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
            assert_eq!(SctpState::from_raw(i as u16), Some(*s));
            assert_eq!(s.name(), names[i]);
            assert_eq!(s.default_timeout(), timeouts[i]);
        }
        assert_eq!(state_name(14), "ERR!");
        assert!(is_new_conn_expected(SctpState::Closed, false));
        assert!(!is_new_conn_expected(SctpState::Closed, true));
    }
}
