//! Fuzzes the control socket's request reader (`tg_daemon::protocol::read_request`): what a
//! local client sends, read the way the daemon reads it (first line, at most `MAX_REQUEST`
//! bytes, JSON).
//!
//! Checked: no panic; a request read writes back as JSON that reads as the same request; the
//! answer to a bad request is one line of JSON (a client's text cannot add lines to it).
//!
//! Run: `scripts/fuzz control` (or `cargo fuzz run control`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tg_daemon::protocol::{read_request, Request, Response};

fuzz_target!(|data: &[u8]| {
    let Ok(read) = read_request(data) else {
        return; // not UTF-8: the daemon hangs up without an answer
    };
    match read {
        Ok(request) => {
            let text = serde_json::to_string(&request).expect("a request serialises");
            let again: Request = serde_json::from_str(&text).expect("it reads back");
            assert_eq!(again, request);
        }
        Err(message) => {
            let out = serde_json::to_vec(&Response::failed(message)).expect("serialises");
            assert!(!out.contains(&b'\n'), "the answer spans lines");
            let back: Response = serde_json::from_slice(&out).expect("reads back");
            assert!(!back.ok);
        }
    }
});
