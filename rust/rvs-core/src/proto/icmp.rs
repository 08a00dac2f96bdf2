//! ICMP and ICMPv6 as IPVS treats them: not a load-balanced protocol, only *related* traffic.
//!
//! IPVS has no ICMP protocol entry with states or timeouts (`IP_VS_ICMP_S_NORMAL` is declared but
//! unused since the ICMP protocol module was removed): an ICMP error is forwarded along the
//! connection its embedded header belongs to (`ip_vs_in_icmp`, `ip_vs_out_icmp`), and every other
//! ICMP message (echo included) is left to the local stack. This file holds those decisions and
//! the type/code numbers IPVS sends; the byte-level parsing of the embedded header lives in
//! `packet::icmp`.

/// ICMP types and codes IPVS reads or sends.
pub mod icmpv4 {
    /// Echo reply.
    pub const ECHOREPLY: u8 = 0;
    /// `ICMP_DEST_UNREACH`.
    pub const DEST_UNREACH: u8 = 3;
    /// `ICMP_SOURCE_QUENCH`.
    pub const SOURCE_QUENCH: u8 = 4;
    /// Echo request.
    pub const ECHO: u8 = 8;
    /// `ICMP_TIME_EXCEEDED`.
    pub const TIME_EXCEEDED: u8 = 11;
    /// `ICMP_PORT_UNREACH` (code of DEST_UNREACH), sent by `ip_vs_leave` when no destination is
    /// available.
    pub const PORT_UNREACH: u8 = 3;
    /// `ICMP_FRAG_NEEDED` (code of DEST_UNREACH), sent when a DF packet exceeds the MTU.
    pub const FRAG_NEEDED: u8 = 4;
}

/// ICMPv6 types and codes IPVS reads or sends.
pub mod icmpv6 {
    /// `ICMPV6_DEST_UNREACH`.
    pub const DEST_UNREACH: u8 = 1;
    /// `ICMPV6_PKT_TOOBIG`.
    pub const PKT_TOOBIG: u8 = 2;
    /// `ICMPV6_TIME_EXCEED`.
    pub const TIME_EXCEED: u8 = 3;
    /// `ICMPV6_PARAMPROB`.
    pub const PARAMPROB: u8 = 4;
    /// `ICMPV6_ECHO_REQUEST`.
    pub const ECHO_REQUEST: u8 = 128;
    /// `ICMPV6_ECHO_REPLY`.
    pub const ECHO_REPLY: u8 = 129;
    /// `ICMPV6_PORT_UNREACH` (code of DEST_UNREACH).
    pub const PORT_UNREACH: u8 = 4;
    /// `ICMPV6_INFOMSG_MASK`: types with this bit set are informational, not errors.
    pub const INFOMSG_MASK: u8 = 0x80;
}

/// Whether an ICMP (IPv4) message of this type is related to a connection: only destination
/// unreachable, source quench and time exceeded are (`ip_vs_in_icmp`/`ip_vs_out_icmp`).
pub const fn is_related_v4(icmp_type: u8) -> bool {
    matches!(
        icmp_type,
        icmpv4::DEST_UNREACH | icmpv4::SOURCE_QUENCH | icmpv4::TIME_EXCEEDED
    )
}

/// Whether an ICMPv6 message of this type is related to a connection: every error type
/// (`!(type & ICMPV6_INFOMSG_MASK)`).
pub const fn is_related_v6(icmp_type: u8) -> bool {
    icmp_type & icmpv6::INFOMSG_MASK == 0
}

/// Whether the protocol of an ICMP error's embedded header has ports IPVS rewrites when it
/// NATs the error (`handle_response_icmp`, `ip_vs_in_icmp` via `ip_vs_icmp_xmit`).
pub const fn embedded_has_ports(protocol: u8) -> bool {
    matches!(
        protocol,
        super::ipproto::TCP | super::ipproto::UDP | super::ipproto::SCTP
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_are_related() {
        assert!(is_related_v4(icmpv4::DEST_UNREACH));
        assert!(is_related_v4(icmpv4::SOURCE_QUENCH));
        assert!(is_related_v4(icmpv4::TIME_EXCEEDED));
        assert!(!is_related_v4(icmpv4::ECHO));
        assert!(!is_related_v4(12)); // parameter problem is not related for IPv4 in IPVS
        assert!(is_related_v6(icmpv6::PKT_TOOBIG));
        assert!(is_related_v6(icmpv6::PARAMPROB));
        assert!(!is_related_v6(icmpv6::ECHO_REQUEST));
        assert!(embedded_has_ports(132));
        assert!(!embedded_has_ports(1));
    }
}
