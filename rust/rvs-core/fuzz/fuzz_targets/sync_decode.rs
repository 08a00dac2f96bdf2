//! Fuzzes the sync-message decoder (`rvs_core::sync`) with arbitrary datagrams, as a backup
//! receives them from the network.
//!
//! Beyond "never panics": the walk yields at most `nr_conns` items and ends at the first fatal
//! one; every accepted entry carries only the flags a backup may store; and an accepted entry
//! re-encodes to a message that decodes to the same entry.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rvs_core::abi::conn_flag;
use rvs_core::sync::{EncodeError, Item, Message, MessageWriter, Version};

fuzz_target!(|data: &[u8]| {
    for syncid in [0, 1] {
        let Ok(m) = Message::parse(data, syncid) else {
            continue;
        };
        let mut n = 0usize;
        let mut ended = false;
        for item in m.items() {
            assert!(!ended, "item after a fatal one");
            n += 1;
            match item {
                Item::Fatal(_) => ended = true,
                Item::Skip(_) => {}
                Item::Conn(c) => {
                    assert_ne!(c.flags & conn_flag::SYNC, 0);
                    assert_eq!(c.flags & !(conn_flag::BACKUP_MASK | conn_flag::SYNC), 0);
                    let mut buf = [0u8; 2048];
                    let mut w = MessageWriter::new(&mut buf, m.version, 0).unwrap();
                    match w.push(&c) {
                        Ok(()) => {}
                        Err(EncodeError::Unsendable) if m.version == Version::V0 => continue,
                        Err(e) => panic!("re-encoding an accepted entry failed: {e:?}"),
                    }
                    let again = w.as_bytes().to_vec();
                    let back: Vec<Item<'_>> =
                        Message::parse(&again, 0).unwrap().items().collect();
                    let mut want = c;
                    if want.pe_data.is_none() {
                        want.pe_name = None;
                    }
                    assert_eq!(back, [Item::Conn(want)]);
                }
            }
        }
        assert!(n <= usize::from(m.nr_conns));
    }
});
