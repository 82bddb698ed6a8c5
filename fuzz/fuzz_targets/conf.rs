//! Fuzzes the reader of Asterisk's `.conf` dialect (`tg_asterisk::conf::Loader::parse_text`),
//! strict (the audit's) and lenient (the firewall's), as `/etc/asterisk/extensions.conf` on a
//! small machine whose `/etc/asterisk` holds a few files to `#include` (one includes itself,
//! one is broken, one sits in a directory for globs).
//!
//! Checked: no panic; the lenient reader never fails; a strict error names a file under
//! `/etc/asterisk` and, for the fuzzed file, a line inside it; when the strict reader accepts
//! the text, the lenient one reads exactly the same sections and skips the same lines (the
//! reader's documented promise); every section, entry and skipped line of the fuzzed file is
//! at a line inside it; keys and values hold no line break.
//!
//! Run: `scripts/fuzz conf` (or `cargo fuzz run conf`).

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tg_asterisk::conf::{ConfError, ConfFile, Loader, Skipped, Sources};
use tg_asterisk::root::Root;

const MAIN: &str = "/etc/asterisk/extensions.conf";

/// A machine root in the temporary directory with a few files to include.
fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir: PathBuf =
            std::env::temp_dir().join(format!("tollguard-fuzz-conf-{}", std::process::id()));
        let etc = dir.join("etc/asterisk");
        std::fs::create_dir_all(etc.join("pjsip.d")).expect("temporary directory");
        for (name, text) in [
            (
                "sip_custom.conf",
                &b"[general]\nallowguest=no\n[trunk](!)\nhost=itsp.example\nsecret=abc\n"[..],
            ),
            (
                "extensions_additional.conf",
                b"[from-internal]\nexten => _00.,1,Dial(PJSIP/${EXTEN}@trunk)\ninclude => outbound\n",
            ),
            ("loop.conf", b"#include loop.conf\n[loop]\nx=1\n"),
            ("broken.conf", b"[broken\nkey=value\n\x01\n"),
            ("pjsip.d/a.conf", b"[a](trunk)\ntype=endpoint\n"),
            ("pjsip.d/b.conf", b"[b](+)\nx+=1\n"),
        ] {
            std::fs::write(etc.join(name), text).expect("temporary file");
        }
        Root::new(dir)
    })
}

fn parse(text: &[u8], lenient: bool) -> (Result<ConfFile, ConfError>, Vec<Skipped>, Sources) {
    let mut sources = Sources::default();
    let mut skipped = Vec::new();
    let mut loader = Loader::new(root(), "/etc/asterisk", &mut sources, &mut skipped);
    if lenient {
        loader = loader.lenient();
    }
    let result = loader.parse_text(Path::new(MAIN), text);
    (result, skipped, sources)
}

/// The line an error names, and its file.
fn error_place(e: &ConfError) -> (&str, Option<u32>) {
    match e {
        ConfError::Unreadable { file, .. } => (file, None),
        ConfError::Binary { file, line, .. }
        | ConfError::UnterminatedSection { file, line }
        | ConfError::UnterminatedOptions { file, line }
        | ConfError::NoSection { file, line }
        | ConfError::UnknownTemplate { file, line, .. }
        | ConfError::AppendToMissing { file, line, .. }
        | ConfError::MissingInclude { file, line, .. }
        | ConfError::IncludeCycle { file, line, .. }
        | ConfError::TooDeep { file, line } => (file, Some(*line)),
    }
}

fuzz_target!(|data: &[u8]| {
    let body = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    let lines = body.split(|&b| b == b'\n').count() as u32;
    let (strict, strict_skipped, _) = parse(data, false);
    let (lenient, lenient_skipped, sources) = parse(data, true);
    let lenient = lenient.expect("the lenient reader never fails on readable text");
    let main = sources.all().iter().position(|p| p == Path::new(MAIN));
    let in_main = |at: tg_asterisk::conf::Loc| {
        sources.path(at.file) != Path::new(MAIN) || (1..=lines).contains(&at.line)
    };
    assert!(main.is_some(), "the main file is a source");
    for s in &lenient.sections {
        assert!(in_main(s.at), "section at line {} of {lines}", s.at.line);
        for e in &s.entries {
            assert!(in_main(e.at), "entry at line {} of {lines}", e.at.line);
            assert!(!e.key.contains('\n') && !e.value.contains('\n'));
        }
    }
    for s in &lenient_skipped {
        assert!(in_main(s.at), "skipped line {} of {lines}", s.at.line);
    }
    match strict {
        Ok(conf) => {
            assert_eq!(
                format!("{:?}", conf.sections),
                format!("{:?}", lenient.sections),
                "lenient and strict read an accepted file differently"
            );
            assert_eq!(
                format!("{strict_skipped:?}"),
                format!("{lenient_skipped:?}"),
                "lenient and strict skipped different lines of an accepted file"
            );
        }
        Err(e) => {
            let (file, line) = error_place(&e);
            assert!(file.starts_with("/etc/asterisk/"), "{e}");
            if let (MAIN, Some(line)) = (file, line) {
                assert!((1..=lines).contains(&line), "{e}: of {lines} lines");
            }
            assert!(e.to_string().starts_with(file));
        }
    }
});
