//! The SIP persistence engine's parser (`ip_vs_pe_sip.c`'s `get_callid`, on
//! `ct_sip_get_header` and `callid_len` of `nf_conntrack_sip.c`): the Call-ID of a SIP message,
//! which `--pe sip` services persist on instead of the client's address alone.
//!
//! Byte for byte as the kernel: a header is found at the start of a line (never the first
//! line), by its name "Call-ID" or its compact form "i" (followed by a non-letter), in any case;
//! blanks and folded continuation lines may surround the colon; the value is a word, optionally
//! `word@word`, of the characters `iswordc` accepts. Letters and digits are the kernel's
//! `ctype` ones, which include Latin-1's.

/// `IP_VS_PEDATA_MAXLEN`: longer Call-IDs are refused.
pub const PEDATA_MAXLEN: usize = 255;

/// The kernel's `_ctype` letters (`isalpha`): ASCII and Latin-1 (192..=255 but 215 and 247).
fn isalpha(c: u8) -> bool {
    c.is_ascii_alphabetic() || (c >= 192 && c != 215 && c != 247)
}

fn isalnum(c: u8) -> bool {
    isalpha(c) || c.is_ascii_digit()
}

/// `iswordc`.
fn iswordc(c: u8) -> bool {
    isalnum(c)
        || matches!(
            c,
            b'!' | b'"' | b'%' | b'('..=b'+' | b':' | b'<' | b'>' | b'?'
        )
        || matches!(c, b'[' ..= b']' | b'_' | b'`' | b'{' | b'}' | b'~' | b'-' ..= b'/' | b'\'')
}

fn word_len(d: &[u8], from: usize) -> usize {
    d.get(from..)
        .map_or(0, |s| s.iter().take_while(|&&c| iswordc(c)).count())
}

/// `callid_len`: a word, or `word@word` (0 when the domain after `@` is empty).
fn callid_len(d: &[u8], from: usize) -> usize {
    let len = word_len(d, from);
    let at = from + len;
    if len == 0 || d.get(at) != Some(&b'@') {
        return len;
    }
    let domain = word_len(d, at + 1);
    if domain == 0 {
        return 0;
    }
    len + 1 + domain
}

/// `sip_follow_continuation` from the line end at `i`: the first non-blank of a continuation
/// line, or `None` when the next line is not one.
fn follow_continuation(d: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    if i >= d.len() {
        return None;
    }
    if d.get(i - 1) == Some(&b'\r') && d.get(i) == Some(&b'\n') {
        i += 1;
        if i >= d.len() {
            return None;
        }
    }
    if !matches!(d.get(i), Some(b' ' | b'\t')) {
        return None;
    }
    while matches!(d.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    Some(i)
}

/// `sip_skip_whitespace`.
fn skip_whitespace(d: &[u8], mut i: usize) -> Option<usize> {
    while let Some(&c) = d.get(i) {
        if c == b' ' || c == b'\t' {
            i += 1;
            continue;
        }
        if c == b'\r' || c == b'\n' {
            i = follow_continuation(d, i)?;
        }
        break;
    }
    (i < d.len()).then_some(i)
}

/// What `ct_sip_get_header` found from `dataoff` on.
enum Header {
    /// `1`: the value at (offset, length).
    Found(usize, usize),
    /// `-1`: a Call-ID header with an empty value; the offset is where its value starts.
    Empty(usize),
    /// `0`: none.
    None,
}

/// `ct_sip_get_header(.., SIP_HDR_CALL_ID, ..)`. Its `for (..; dptr < limit; dptr++)` loop
/// steps over the character it `continue`s on, even when that is the line end of an empty line
/// (so a header right after an empty line ending in a bare LF is not seen); so does this.
fn get_header(d: &[u8], dataoff: usize) -> Header {
    const NAME: &[u8] = b"Call-Id";
    let at = |i: usize| d.get(i).copied().unwrap_or(0);
    let limit = d.len();
    let mut i = dataoff;
    while i < limit {
        // Find the beginning of a line.
        if at(i) != b'\r' && at(i) != b'\n' {
            i += 1;
            continue;
        }
        i += 1;
        if i >= limit {
            break;
        }
        if at(i - 1) == b'\r' && at(i) == b'\n' {
            i += 1;
            if i >= limit {
                break;
            }
        }
        let rest = d.get(i..).unwrap_or(&[]);
        // Skip continuation lines.
        if at(i) == b' ' || at(i) == b'\t' {
            i += 1;
            continue;
        }
        if rest
            .get(..NAME.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(NAME))
        {
            i += NAME.len();
        } else if rest.len() >= 2 && at(i).eq_ignore_ascii_case(&b'i') && !isalpha(at(i + 1)) {
            i += 1;
        } else {
            i += 1;
            continue;
        }
        // Find and skip the colon, and the blanks after it.
        let Some(j) = skip_whitespace(d, i) else {
            break;
        };
        if at(j) != b':' || j + 1 >= limit {
            break;
        }
        let Some(j) = skip_whitespace(d, j + 1) else {
            break;
        };
        let len = callid_len(d, j);
        if len == 0 {
            return Header::Empty(j);
        }
        return Header::Found(j, len);
    }
    Header::None
}

/// `get_callid` on a UDP payload: the Call-ID's offset and length, or `None` (the packet is
/// then dropped by a `--pe sip` service, as ip_vs's `ip_vs_sip_fill_param` fails it).
pub fn call_id(d: &[u8]) -> Option<(usize, usize)> {
    let mut dataoff = 0usize;
    let (off, len) = loop {
        match get_header(d, dataoff) {
            Header::Found(off, len) => break (off, len),
            Header::None => return None,
            // ip_vs adds the (absolute) offset to dataoff and searches again.
            Header::Empty(off) => dataoff = dataoff.checked_add(off)?,
        }
    };
    if len > PEDATA_MAXLEN || off + len == d.len() {
        return None;
    }
    matches!(d.get(off + len), Some(b'\r' | b'\n')).then_some((off, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(msg: &[u8]) -> Option<&[u8]> {
        call_id(msg).map(|(o, l)| &msg[o..o + l])
    }

    #[test]
    fn finds_the_call_id() {
        let m = b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\nCall-ID: abc123@host.example\r\n\r\n";
        assert_eq!(id(m), Some(&b"abc123@host.example"[..]));
        let compact = b"INVITE sip:x SIP/2.0\r\ni :  f81d4fae-7dec\r\nTo: y\r\n";
        assert_eq!(id(compact), Some(&b"f81d4fae-7dec"[..]));
        let case = b"X\ncall-id:Q\n";
        assert_eq!(id(case), Some(&b"Q"[..]));
        // Folded onto a continuation line.
        let folded = b"X\r\nCall-ID:\r\n   folded\r\n";
        assert_eq!(id(folded), Some(&b"folded"[..]));
    }

    #[test]
    fn refuses_what_ip_vs_refuses() {
        // Not on the first line, not without a line end, not when too long.
        assert_eq!(id(b"Call-ID: a\r\n"), None);
        assert_eq!(id(b"X\r\nCall-ID: abc"), None);
        let mut long = b"X\r\nCall-ID: ".to_vec();
        long.extend([b'a'; 256]);
        long.extend(b"\r\n");
        assert_eq!(id(&long), None);
        long.truncate(long.len() - 3);
        long.extend(b"\r\n");
        assert_eq!(id(&long).map(<[u8]>::len), Some(255));
        // A compact name must be followed by a non-letter; "If-Match" is not "i".
        assert_eq!(id(b"X\r\nIf: a\r\n"), None);
        // An empty line ending in a bare LF hides the line after it (the kernel's loop steps
        // over that LF); with CRLF it does not.
        assert_eq!(id(b"X\n\nCall-ID: a\n"), None);
        assert_eq!(id(b"X\r\n\r\nCall-ID: a\r\n"), Some(&b"a"[..]));
        // No colon after the name ends the search.
        assert_eq!(id(b"X\r\nCall-ID a\r\nCall-ID: b\r\n"), None);
        // An empty domain after '@' is no value; the search goes on from there.
        assert_eq!(id(b"X\r\nCall-ID: a@\r\nCall-ID: b\r\n"), Some(&b"b"[..]));
        // A value ending in a non-word character that is not a line end.
        assert_eq!(id(b"X\r\nCall-ID: a b\r\n"), None);
        assert_eq!(id(b""), None);
    }

    #[test]
    fn never_panics_on_any_prefix() {
        let m = b"INVITE sip:x SIP/2.0\r\nCall-ID:\r\n\t a@b\r\n";
        for n in 0..=m.len() {
            let _ = call_id(&m[..n]);
        }
    }

    proptest::proptest! {
        /// Any payload: no panic, and a Call-ID found is a word (or word@word) inside the
        /// payload, followed by a line end, at most 255 bytes.
        #[test]
        fn any_payload(d in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Some((off, len)) = call_id(&d) {
                proptest::prop_assert!(len > 0 && len <= PEDATA_MAXLEN);
                proptest::prop_assert!(matches!(d.get(off + len), Some(b'\r' | b'\n')));
                proptest::prop_assert!(d[off..off + len].iter().all(|&c| iswordc(c) || c == b'@'));
            }
        }
    }
}
