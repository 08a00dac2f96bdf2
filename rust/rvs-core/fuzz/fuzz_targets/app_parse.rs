//! Fuzzes the application-payload parsers with arbitrary bytes: the FTP helper's (`proto::ftp`,
//! with `in4_pton`/`in6_pton`) and the SIP persistence engine's Call-ID (`proto::sip`).
//!
//! Beyond "never panics": every address and port the FTP parser reports lies in the payload it
//! was given, extended forms never report port 0, the text between `start` and `end` is what the
//! helper would replace, and an address the pton functions accept ends inside their input.
//! Input layout: the first byte picks the address family (odd: IPv6) and the delimiter for the
//! pton calls; the rest is the payload.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rvs_core::abi::{AF_INET, AF_INET6};
use rvs_core::proto::{ftp, sip};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, payload)) = data.split_first() else {
        return;
    };
    let af = if sel & 1 == 1 { AF_INET6 } else { AF_INET };
    for (pat, skip, ext, mode) in [
        (ftp::SERVER_PASV, Some(b'('), false, ftp::PASV),
        (ftp::SERVER_EPSV, Some(b'('), true, ftp::EPSV),
        (ftp::CLIENT_PORT, Some(b' '), false, ftp::ACTIVE),
        (ftp::CLIENT_EPRT, Some(b' '), true, ftp::EPRT),
        (ftp::CLIENT_EPRT, None, true, ftp::EPRT),
    ] {
        if let ftp::AddrPort::Found(f) = ftp::get_addrport(payload, pat, skip, ext, mode, af, [0; 16]) {
            assert!(f.start <= f.end && f.end <= payload.len());
            assert!(!ext || f.port != 0);
            if af == AF_INET {
                assert!(f.addr[4..].iter().all(|&b| b == 0));
            }
        }
    }
    let _ = ftp::scan_passive(payload, af);
    let delim = i32::from(sel >> 1) - 1;
    if let Ok((_, end)) = ftp::in4_pton(payload, delim) {
        assert!(end <= payload.len());
    }
    if let Ok((_, end)) = ftp::in6_pton(payload, delim) {
        assert!(end <= payload.len());
    }
    if let Some((off, len)) = sip::call_id(payload) {
        assert!(len > 0 && off + len <= payload.len());
    }
});
