//! Fuzzes the AMI wire format as the call guard reads it from the socket: messages read from a
//! byte stream (`tg_guard::ami::read_message`) through a buffer of a fuzzer-chosen size, then
//! each message as a security event (`security_event`), and every value through the strict
//! field parsers (`parse_remote_address`, `parse_event_tv`).
//!
//! The first input byte picks the read buffer's size (1 to 256 bytes), the rest is the stream.
//! Checked: no panic; the stream reads the same messages, and fails at the same place, through
//! the small buffer as through a large one (lines split across reads); a message has at most
//! `MAX_HEADERS` headers, keys without `:` or line breaks, values without line breaks; a
//! security event's address is the one its `RemoteAddress` names, canonical (no IPv4-mapped
//! IPv6); `parse_event_tv` accepts only a `±HHMM` zone (hours to 23, minutes to 59).
//!
//! Run: `scripts/fuzz ami` (or `cargo fuzz run ami`).

#![no_main]

use std::future::Future;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use tg_guard::ami::{
    parse_event_tv, parse_remote_address, read_message, security_event, Message, MAX_HEADERS,
};

/// Runs a future that never waits: reading from a byte slice is always ready.
fn now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("reading a byte slice was pending"),
    }
}

/// Every message of `stream` read through a buffer of `capacity` bytes, and how reading ended.
fn read_all(stream: &[u8], capacity: usize) -> (Vec<Message>, Option<std::io::ErrorKind>) {
    let mut r = tokio::io::BufReader::with_capacity(capacity, stream);
    let mut out = Vec::new();
    loop {
        match now(read_message(&mut r)) {
            Ok(Some(m)) => out.push(m),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e.kind())),
        }
    }
}

fn check_event_tv(text: &str) {
    if parse_event_tv(text).is_some() {
        let t = text.trim().as_bytes();
        let zone = &t[t.len() - 5..];
        assert!(
            matches!(zone[0], b'+' | b'-') && zone[1..].iter().all(u8::is_ascii_digit),
            "zone {:?} accepted",
            String::from_utf8_lossy(zone)
        );
        assert!(zone[1..3] <= b"23"[..], "zone hours over 23 accepted");
        assert!(zone[3] < b'6', "zone minutes over 59 accepted");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, stream)) = data.split_first() else {
        return;
    };
    let (small, small_end) = read_all(stream, usize::from(first) + 1);
    let (large, large_end) = read_all(stream, 64 * 1024);
    assert_eq!(small, large, "the read buffer's size changed the messages");
    assert_eq!(
        small_end, large_end,
        "the read buffer's size changed the end"
    );
    for msg in &large {
        assert!(!msg.headers.is_empty() && msg.headers.len() <= MAX_HEADERS);
        for (k, v) in &msg.headers {
            assert!(!k.contains([':', '\n']), "key {k:?}");
            assert!(!v.contains('\n'), "value {v:?}");
            let _ = parse_remote_address(v);
            check_event_tv(v);
        }
        if let Some(ev) = security_event(msg, 0) {
            assert_eq!(Some(ev.event.as_str()), msg.event());
            let (ip, port, transport) =
                parse_remote_address(msg.get("RemoteAddress").expect("an address")).unwrap();
            assert_eq!((ev.ip, ev.port, &ev.transport), (ip, port, &transport));
            if let std::net::IpAddr::V6(v6) = ev.ip {
                assert!(v6.to_ipv4_mapped().is_none(), "mapped address not folded");
            }
            assert_eq!(ev.to_finding().ip, ev.ip);
        }
    }
});
