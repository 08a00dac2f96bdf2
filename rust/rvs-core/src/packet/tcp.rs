//! The TCP header as IPVS reads it: ports, the flags its state machine looks at, and the
//! checksum field its NAT handlers update.

use super::super::proto::tcp::TcpFlags;
use super::{bytes, PacketError};

/// Offset of the checksum field in the TCP header.
pub const TCP_CHECK_OFF: usize = 16;

/// The fixed 20 bytes of a TCP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TcpHdr {
    /// Source port.
    pub source: u16,
    /// Destination port.
    pub dest: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack_seq: u32,
    /// Data offset in bytes (not validated: IPVS reads only the fixed header).
    pub doff: usize,
    /// The flag byte (byte 13).
    pub flag_byte: u8,
    /// The checksum field.
    pub check: u16,
}

impl TcpHdr {
    /// Reads the fixed header at the start of `seg` (`skb_header_pointer(skb, iph->len,
    /// sizeof(struct tcphdr))`).
    pub fn parse(seg: &[u8]) -> Result<TcpHdr, PacketError> {
        let h: [u8; 20] = bytes(seg, 0).ok_or(PacketError::Truncated)?;
        let [s0, s1, d0, d1, q0, q1, q2, q3, a0, a1, a2, a3, off, fl, _, _, c0, c1, _, _] = h;
        Ok(TcpHdr {
            source: u16::from_be_bytes([s0, s1]),
            dest: u16::from_be_bytes([d0, d1]),
            seq: u32::from_be_bytes([q0, q1, q2, q3]),
            ack_seq: u32::from_be_bytes([a0, a1, a2, a3]),
            doff: usize::from(off >> 4) * 4,
            flag_byte: fl,
            check: u16::from_be_bytes([c0, c1]),
        })
    }

    /// The SYN/FIN/RST/ACK flags for the state machine.
    pub const fn flags(&self) -> TcpFlags {
        TcpFlags::from_byte(self.flag_byte)
    }
}
