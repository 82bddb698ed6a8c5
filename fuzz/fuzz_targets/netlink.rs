//! Fuzzes the kernel's netlink replies as tollguard reads them: a received datagram split into
//! messages (`tg_nft::netlink::messages`), each message's attributes, nested ones included
//! (`attributes`), every `NLMSG_ERROR` read as an acknowledgement (`parse_ack`, what the ban
//! writer and the conntrack code act on), and every other message read as a conntrack dump entry
//! (`tg_enforce::parse_conntrack_entry`, whose key is sent back to the kernel to delete a flow).
//!
//! Checked: no panic; every message and attribute lies inside the datagram, in order, and
//! `whole` is the attribute's header then its value; an acknowledgement's errno is 0 or a
//! positive errno, its text at most 512 bytes of the datagram; a conntrack entry's source is
//! one of the datagram's 4- or 16-byte runs, and its delete key starts with an attribute copied
//! from the datagram and is 4-byte aligned.
//!
//! Run: `scripts/fuzz netlink` (or `cargo fuzz run netlink`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tg_nft::netlink::{self, attributes, messages, parse_ack, NLMSG_ERROR, NLMSG_HDRLEN};

/// The offset of `part` inside `whole` (both borrowed from the same buffer).
fn offset(whole: &[u8], part: &[u8]) -> usize {
    let at = (part.as_ptr() as usize)
        .checked_sub(whole.as_ptr() as usize)
        .expect("slice before the buffer");
    assert!(at + part.len() <= whole.len(), "slice past the buffer");
    at
}

/// Walks nested attributes to a bounded depth, checking each one's layout.
fn walk(buf: &[u8], depth: u32) {
    let mut end = 0;
    for a in attributes(buf) {
        let at = offset(buf, a.whole);
        assert!(at >= end, "attributes overlap or go backwards");
        assert!(a.whole.len() >= 4);
        assert_eq!(&a.whole[4..], a.value);
        end = at + a.whole.len();
        if depth < 4 {
            walk(a.value, depth + 1);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut end = 0;
    for msg in messages(data) {
        // The payload follows its 16-byte header, inside the datagram.
        let at = offset(data, msg.payload);
        assert!(at >= end + NLMSG_HDRLEN, "messages overlap");
        end = at + msg.payload.len();
        walk(msg.payload, 0);
        walk(msg.payload.get(4..).unwrap_or_default(), 0);
        if msg.msg_type == NLMSG_ERROR {
            let ack = parse_ack(&msg);
            assert!(ack.errno >= 0, "negative errno {}", ack.errno);
            if let Some(text) = &ack.message {
                assert!(!text.is_empty());
                assert!(text.chars().count() <= 512, "extended-ack text not capped");
            }
        } else if let Some((ip, key)) = tg_enforce::parse_conntrack_entry(msg.payload) {
            let raw: Vec<u8> = match ip {
                std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
                std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            assert!(
                msg.payload.windows(raw.len()).any(|w| w == raw),
                "conntrack source {ip} not in the message"
            );
            assert_eq!(key.len() % 4, 0, "delete key not aligned");
            assert!(key.len() >= 4);
            let first = u16::from_ne_bytes([key[0], key[1]]) as usize;
            assert!(first >= 4 && first <= key.len());
            assert!(
                msg.payload.windows(first).any(|w| w == &key[..first]),
                "delete key not copied from the message"
            );
            assert!(netlink::align(first) <= key.len());
        }
    }
});
