//! The SCTP common header as IPVS reads it, and its CRC32c checksum.

use super::super::proto::sctp::SctpEvent;
use super::{bytes, PacketError};

/// Length of the SCTP common header (`struct sctphdr`).
pub const SCTP_HDR_LEN: usize = 12;

/// An SCTP common header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SctpHdr {
    /// Source port.
    pub source: u16,
    /// Destination port.
    pub dest: u16,
    /// Verification tag.
    pub vtag: u32,
    /// The checksum field as it sits on the wire (CRC32c, little-endian).
    pub checksum: [u8; 4],
    /// The type of the first chunk, if its 4-byte header is present.
    pub first_chunk: Option<u8>,
}

impl SctpHdr {
    /// Reads the common header at the start of `seg`, and the first chunk type.
    pub fn parse(seg: &[u8]) -> Result<SctpHdr, PacketError> {
        let h: [u8; 12] = bytes(seg, 0).ok_or(PacketError::Truncated)?;
        let [s0, s1, d0, d1, v0, v1, v2, v3, c0, c1, c2, c3] = h;
        let first_chunk = bytes::<4>(seg, SCTP_HDR_LEN).map(|c| c[0]);
        Ok(SctpHdr {
            source: u16::from_be_bytes([s0, s1]),
            dest: u16::from_be_bytes([d0, d1]),
            vtag: u32::from_be_bytes([v0, v1, v2, v3]),
            checksum: [c0, c1, c2, c3],
            first_chunk,
        })
    }
}

/// The chunks of an SCTP packet (the bytes after the common header).
pub fn chunks(seg: &[u8]) -> &[u8] {
    seg.get(SCTP_HDR_LEN..).unwrap_or(&[])
}

/// The state-machine event of the SCTP packet `seg` (`set_sctp_state`'s chunk reading).
pub fn event(seg: &[u8]) -> Option<SctpEvent> {
    SctpEvent::from_chunks(chunks(seg))
}

/// Whether the CRC32c of the SCTP packet `seg` verifies (`sctp_csum_check`).
pub fn checksum_ok(seg: &[u8]) -> bool {
    bytes::<4>(seg, 8).is_some_and(|c| c == super::crc32c::sctp_checksum(seg))
}

/// `sctp_nat_csum`: recomputes and stores the CRC32c of the SCTP packet `seg`.
pub fn nat_csum(seg: &mut [u8]) -> Result<(), PacketError> {
    let sum = super::crc32c::sctp_checksum(seg);
    super::put(seg, 8, &sum)
}
