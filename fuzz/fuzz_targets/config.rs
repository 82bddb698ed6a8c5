//! Fuzzes the configuration parser and validator (`tg_config::Config::parse`) with any text, as
//! `tollguard.toml`.
//!
//! Checked: no panic; a configuration either parses or gives at least one problem, each naming
//! a line inside the text or (for a value without a place) its key; an accepted configuration
//! gives its jails and warnings, and its `[[detector]]` patterns compile for the detectors
//! (validation promises that a pattern that does not is reported at its line).
//!
//! Run: `scripts/fuzz config` (or `cargo fuzz run config`).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tg_config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return; // the file is read as UTF-8 before it is parsed
    };
    let lines = text.split('\n').count();
    match Config::parse(text, Path::new("t.toml")) {
        Ok(config) => {
            let _ = config.jails();
            let _ = config.warnings();
            if let Err(e) = tg_detect::Detectors::with_custom(&config.detector) {
                panic!("a validated [[detector]] does not compile: {e}");
            }
        }
        Err(e) => {
            assert!(!e.problems.is_empty(), "an error without a problem");
            for p in &e.problems {
                match p.line {
                    Some(line) => assert!((1..=lines).contains(&line), "line {line} of {lines}"),
                    None => assert!(
                        p.key.is_some(),
                        "a problem with neither line nor key: {p:?}"
                    ),
                }
            }
            let _ = e.to_string();
        }
    }
});
