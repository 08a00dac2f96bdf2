//! The UDP header as IPVS reads it. A zero checksum means the sender computed none (IPv4 only);
//! IPVS's NAT handlers then compute a full one rather than updating it.

use super::{be16, bytes, PacketError};

/// Offset of the checksum field in the UDP header.
pub const UDP_CHECK_OFF: usize = 6;

/// A UDP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UdpHdr {
    /// Source port.
    pub source: u16,
    /// Destination port.
    pub dest: u16,
    /// The length field (header and payload).
    pub len: u16,
    /// The checksum field (0: none).
    pub check: u16,
}

impl UdpHdr {
    /// Reads the header at the start of `seg`.
    pub fn parse(seg: &[u8]) -> Result<UdpHdr, PacketError> {
        let h: [u8; 8] = bytes(seg, 0).ok_or(PacketError::Truncated)?;
        let field = |at| be16(&h, at).unwrap_or(0);
        Ok(UdpHdr {
            source: field(0),
            dest: field(2),
            len: field(4),
            check: field(6),
        })
    }
}
