//! CRC32c (Castagnoli), the SCTP checksum (RFC 9260 appendix A), as `sctp_compute_cksum` uses it.
//!
//! IPVS recomputes the whole SCTP checksum after rewriting a port (`sctp_nat_csum`): CRC32c
//! cannot be updated incrementally as cheaply as the Internet checksum. This is the reflected
//! table-driven form of `lib/crc32.c` with polynomial `CRC32C_POLY_LE` (0x82f63b78); the table is
//! built at compile time.

/// `CRC32C_POLY_LE`.
const POLY: u32 = 0x82f6_3b78;

/// The byte-at-a-time table (`crc32ctable_le[0]`).
const TABLE: [u32; 256] = build_table();

const fn build_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        // Evaluated at compile time and bounded by the loop condition.
        #[allow(clippy::indexing_slicing)]
        {
            table[i] = crc;
        }
        i += 1;
    }
    table
}

/// `crc32c(crc, buf, len)`: continues a CRC32c (no pre- or post-inversion).
pub fn crc32c(crc: u32, buf: &[u8]) -> u32 {
    buf.iter().fold(crc, |crc, &b| {
        let idx = ((crc ^ u32::from(b)) & 0xff) as u8;
        // The table has 256 entries, so any u8 index is present.
        (crc >> 8) ^ TABLE.get(usize::from(idx)).copied().unwrap_or(0)
    })
}

/// The SCTP checksum of a whole SCTP packet (common header and chunks) with its checksum field
/// (bytes 8..12) taken as zero, as the 4 bytes to store there (`sctp_compute_cksum` returns
/// `cpu_to_le32(~crc)`: the value goes on the wire little-endian).
pub fn sctp_checksum(sctp: &[u8]) -> [u8; 4] {
    let head = sctp.get(..8).unwrap_or(sctp);
    let mut crc = crc32c(!0, head);
    if sctp.len() >= 12 {
        crc = crc32c(crc, &[0; 4]);
        crc = crc32c(crc, sctp.get(12..).unwrap_or(&[]));
    } else if let Some(rest) = sctp.get(8..) {
        // A packet too short to hold the field: treat its bytes as the (zeroed) field.
        crc = crc32c(crc, [0u8; 4].get(..rest.len()).unwrap_or(&[]));
    }
    (!crc).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        // The standard CRC-32C check value of "123456789".
        assert_eq!(!crc32c(!0, b"123456789"), 0xe306_9283);
        // RFC 3720 B.4: 32 bytes of zeros.
        assert_eq!(!crc32c(!0, &[0u8; 32]), 0x8a91_36aa);
        assert_eq!(!crc32c(!0, &[0xffu8; 32]), 0x62a8_ab43);
    }
}
