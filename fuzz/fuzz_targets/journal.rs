//! Fuzzes the journal entry reader: one line of `journalctl -o json` (any bytes; any local
//! program can log an entry with fields of its choosing) into the syslog-style line the
//! detectors read (`tg_source::journal::parse_entry`), plus the cursor check that decides
//! whether a stored cursor is handed back to journalctl (`cursor_well_formed`).
//!
//! Checked: no panic; an entry's line holds no line break (one entry can never pass for two
//! lines), starts with a `Mmm dd HH:MM:SS ` stamp and ends with the message; its cursor is the
//! entry's `__CURSOR`; a cursor journalctl is given holds no line break or NUL.
//!
//! Run: `scripts/fuzz journal` (or `cargo fuzz run journal`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tg_source::journal::{cursor_well_formed, parse_entry};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if cursor_well_formed(text) {
            assert!(!text.contains(['\n', '\0']), "cursor {text:?} accepted");
        }
    }
    let Some(entry) = parse_entry(data) else {
        return;
    };
    let line = &entry.line;
    assert!(!line.contains(&b'\n'), "a line break in the line");
    assert!(line.len() >= 16, "no stamp");
    let stamp = &line[..16];
    assert!(
        stamp[..3].iter().all(u8::is_ascii_alphabetic)
            && stamp[3] == b' '
            && (stamp[4] == b' ' || stamp[4].is_ascii_digit())
            && stamp[5].is_ascii_digit()
            && stamp[6] == b' '
            && stamp[9] == b':'
            && stamp[12] == b':'
            && stamp[15] == b' ',
        "stamp {:?}",
        String::from_utf8_lossy(stamp)
    );
    let v: serde_json::Value = serde_json::from_slice(data).expect("an entry is JSON");
    assert_eq!(v["__CURSOR"].as_str(), Some(entry.cursor.as_str()));
    if let Some(message) = v["MESSAGE"].as_str() {
        let flat: Vec<u8> = message.bytes().filter(|&b| b != b'\n').collect();
        assert!(line.ends_with(&flat), "the message is not the line's end");
    }
});
