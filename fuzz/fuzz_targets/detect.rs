//! Fuzzes the detector entry point: arbitrary bytes into `Detectors::detect`, with the built-in
//! detectors alone and with a custom `[[detector]]` pattern.
//!
//! Checked here: no panic, and a reported address is always a canonical one (no IPv4-mapped
//! IPv6). Bounded time per line follows from the construction rather than from a timeout: the
//! built-in detectors are hand-written scans whose loops each advance through the line (at most
//! line length × longest fixed text, ≤ 60 bytes), and custom patterns run on the `regex` crate,
//! which matches with finite automata in time linear in the input (no backtracking) under a
//! compiled-size limit. libFuzzer's `-timeout` would still flag any slow input.
//!
//! Run: `cargo +nightly fuzz run detect` from the repository root.

#![no_main]

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

fuzz_target!(|data: &[u8]| {
    for outcome in [
        Detectors::builtin().detect(data),
        with_custom().detect(data),
    ] {
        if let Outcome::Found(d) = outcome {
            if let std::net::IpAddr::V6(v6) = d.ip {
                assert!(v6.to_ipv4_mapped().is_none(), "mapped address not folded");
            }
        }
    }
});
