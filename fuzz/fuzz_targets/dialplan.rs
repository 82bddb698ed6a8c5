//! Fuzzes the dialplan view (`tg_asterisk::dialplan`): any text read leniently as
//! `extensions.conf`, built into contexts (`Dialplan::from_conf`), then every question the
//! audit asks of each context (`reach`, `international_from`, `dials_out`) and the pattern
//! helpers on every extension.
//!
//! Checked: no panic, and bounded work on include and `Goto` cycles; each context name is
//! listed once; `reach` starts at the context asked about, lists each reached context once and
//! only known ones; every step `international_from` returns belongs to a reached context and
//! has an international pattern; a context that reaches such a step `dials_out`.
//!
//! Run: `scripts/fuzz dialplan` (or `cargo fuzz run dialplan`).

#![no_main]

use std::collections::HashSet;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tg_asterisk::conf::{Loader, Sources};
use tg_asterisk::dialplan::{self, Dialplan};
use tg_asterisk::root::Root;

fuzz_target!(|data: &[u8]| {
    let root = Root::new("/nonexistent-tollguard-fuzz-root");
    let mut sources = Sources::default();
    let mut skipped = Vec::new();
    let conf = Loader::new(&root, "/etc/asterisk", &mut sources, &mut skipped)
        .lenient()
        .parse_text(Path::new("/etc/asterisk/extensions.conf"), data)
        .expect("the lenient reader never fails");
    let dp = Dialplan::from_conf(&conf);
    let names: HashSet<String> = dp.order.iter().map(|n| n.to_ascii_lowercase()).collect();
    assert_eq!(names.len(), dp.order.len(), "a context listed twice");
    assert_eq!(names.len(), dp.contexts.len());
    for name in &dp.order {
        let lower = name.to_ascii_lowercase();
        let reach = dp.reach(name);
        assert_eq!(
            reach.first(),
            Some(&lower),
            "reach does not start at {name:?}"
        );
        let unique: HashSet<&String> = reach.iter().collect();
        assert_eq!(unique.len(), reach.len(), "a context reached twice");
        assert!(reach.iter().all(|r| dp.contexts.contains_key(r)));
        let international = dp.international_from(name);
        for step in &international {
            assert!(dialplan::is_international(&step.exten));
            assert!(reach
                .iter()
                .any(|r| dp.contexts[r].steps.iter().any(|s| std::ptr::eq(s, *step))));
        }
        if !international.is_empty() {
            assert!(dp.dials_out(name), "{name:?} dials abroad but not out");
        }
        for step in &dp.contexts[&lower].steps {
            let _ = dialplan::is_trunk_dial(step);
            let _ = dialplan::is_open_ended(&step.exten);
            if let Some(pattern) = step.exten.strip_prefix('_') {
                let _ = dialplan::pattern_matches(pattern, &step.args);
            }
        }
    }
});
