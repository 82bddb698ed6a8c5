//! Fuzzes the detector entry point: arbitrary bytes into `Detectors::detect`, with the built-in
//! detectors alone and with a custom `[[detector]]` pattern.
//!
//! Checked here: no panic; a reported address is always a canonical one (no IPv4-mapped
//! IPv6) and is written in the line (or, for a JSON line, in one of its unescaped strings): a
//! detector never makes up or computes an address. Bounded time per line follows from the construction rather than from a timeout: the
//! built-in detectors are hand-written scans whose loops each advance through the line (at most
//! line length × longest fixed text, ≤ 60 bytes), and custom patterns run on the `regex` crate,
//! which matches with finite automata in time linear in the input (no backtracking) under a
//! compiled-size limit. libFuzzer's `-timeout` would still flag any slow input.
//!
//! Run: `scripts/fuzz detect` (or `cargo fuzz run detect`).

#![no_main]

use std::net::IpAddr;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tg_config::detector::CustomDetector;
use tg_detect::{Detectors, Outcome};

fn with_custom() -> &'static Detectors {
    static DETECTORS: OnceLock<Detectors> = OnceLock::new();
    DETECTORS.get_or_init(|| {
        let custom: CustomDetector = toml::from_str(
            "name = \"fuzz\"\nservice = \"custom\"\nkind = \"other\"\n\
             pattern = 'login (?:failed|refused) for \\S+ from <HOST>( port \\d+)?$'\n",
        )
        .expect("the fuzz detector parses");
        Detectors::with_custom(&[custom]).expect("the fuzz pattern compiles")
    })
}

/// Whether some run of address characters in `text` reads as `ip` (IPv4-mapped folded).
fn written_in(text: &[u8], ip: IpAddr) -> bool {
    let addr_byte = |b: &u8| b.is_ascii_hexdigit() || matches!(b, b'.' | b':');
    text.split(|b| !addr_byte(b)).any(|run| {
        (0..run.len()).any(|i| {
            (i + 1..=run.len().min(i + 64)).any(|j| {
                std::str::from_utf8(&run[i..j])
                    .ok()
                    .and_then(|s| s.parse::<IpAddr>().ok())
                    .is_some_and(|a| tg_model::canonical_ip(a) == ip)
            })
        })
    })
}

/// Every string in a JSON value (keys and values), unescaped.
fn json_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, v)| {
            out.push(k.clone());
            json_strings(v, out);
        }),
        _ => {}
    }
}

fn appears(line: &[u8], ip: IpAddr) -> bool {
    if written_in(line, ip) {
        return true;
    }
    let Some(brace) = line.iter().position(|&b| b == b'{') else {
        return false;
    };
    let mut strings = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(&line[brace..]).into_iter();
    if let Some(Ok(v)) = de.next() {
        json_strings(&v, &mut strings);
    }
    strings.iter().any(|s| written_in(s.as_bytes(), ip))
}

fuzz_target!(|data: &[u8]| {
    for outcome in [
        Detectors::builtin().detect(data),
        with_custom().detect(data),
    ] {
        if let Outcome::Found(d) = outcome {
            if let IpAddr::V6(v6) = d.ip {
                assert!(v6.to_ipv4_mapped().is_none(), "mapped address not folded");
            }
            assert!(appears(data, d.ip), "{} is not written in the line", d.ip);
        }
    }
});
