//! `[[detector]]`: custom detectors for services tollguard does not know.
//!
//! A pattern is a regular expression with exactly one `<HOST>` placeholder. The rules that make
//! it a detector live here, once: [`CustomDetector::compile`] is what tg-detect matches with, and
//! validation compiles every pattern the same way, so a bad one is reported with its line like
//! any other config error (and tg-detect cannot fail on a validated config).
//!
//! Bounded time: the `regex` crate matches in time linear in the line (finite automata, no
//! backtracking), and the compiled size is capped, so a hostile line cannot stall a detector.

use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;
use tg_model::{Kind, Service};
use toml::Spanned;

use crate::{problem_at, Problem};

/// What `<HOST>` becomes: a bracketed IPv6 with optional port, or an IPv4/IPv6 address with an
/// optional port (tg-detect accepts an unbracketed port only after IPv4).
const HOST_GROUP: &str = r"(?P<host>\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?|[0-9A-Fa-f:.]+)";

/// Compiled-program size cap: generous for any sane pattern, small enough to refuse a blow-up.
const SIZE_LIMIT: usize = 2 << 20;

/// One `[[detector]]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomDetector {
    /// A name for messages and JSON output.
    pub name: String,
    /// The service findings are counted under (default `custom`).
    #[serde(default = "custom")]
    pub service: String,
    /// The kind of finding (default `other`).
    #[serde(default = "other")]
    pub kind: String,
    /// A regex with one `<HOST>`; anchored at the start of the message unless it starts with `^`.
    pub pattern: Spanned<String>,
}

fn custom() -> String {
    "custom".into()
}
fn other() -> String {
    "other".into()
}

/// A custom detector's pattern, compiled: what tg-detect runs on a line.
#[derive(Clone, Debug)]
pub struct CompiledPattern {
    /// The service its findings count under.
    pub service: Service,
    /// The kind of its findings.
    pub kind: Kind,
    /// The pattern, anchored at the start, `<HOST>` as the capture group `host`.
    pub regex: Regex,
    /// The pattern started with `^`: it is matched against the whole line, not the message.
    pub whole_line: bool,
}

/// Why a `[[detector]]` cannot be compiled. The texts are sentences without the detector's
/// name; callers add it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum PatternError {
    /// `<HOST>` is missing or repeated.
    #[error("the pattern must contain <HOST> exactly once (found {0})")]
    HostCount(usize),
    /// `service` names no service.
    #[error("unknown service {0:?}")]
    UnknownService(String),
    /// `kind` names no kind.
    #[error(
        "unknown kind {0:?} (use auth-failure, unknown-account, acl-denied, call-rejected, \
         bad-request, flood or other)"
    )]
    UnknownKind(String),
    /// The regex does not compile (syntax, or larger than the size cap).
    #[error("invalid regular expression: {0}")]
    Regex(regex::Error),
}

impl CustomDetector {
    /// Compiles the detector: `<HOST>` exactly once, a known service and kind, a regex that
    /// compiles within the size cap. Anchored at the start of the message, or of the line when
    /// the pattern starts with `^`.
    pub fn compile(&self) -> Result<CompiledPattern, PatternError> {
        let pattern = self.pattern.get_ref();
        host_once(pattern)?;
        let service = service(&self.service)?;
        let kind = kind(&self.kind)?;
        let regex = regex(pattern)?;
        Ok(CompiledPattern {
            service,
            kind,
            regex,
            whole_line: pattern.starts_with('^'),
        })
    }

    /// Every problem [`CustomDetector::compile`] would find, at the pattern's line.
    pub(crate) fn validate(&self, text: &str, problems: &mut Vec<Problem>) {
        let mut report = |key: &str, e: PatternError| {
            problems.push(problem_at(
                text,
                self.pattern.span(),
                key,
                format!("detector {:?}: {e}", self.name),
            ));
        };
        let pattern = self.pattern.get_ref();
        if let Err(e) = host_once(pattern).and_then(|()| regex(pattern).map(drop)) {
            report("detector.pattern", e);
        }
        if let Err(e) = service(&self.service) {
            report("detector.service", e);
        }
        if let Err(e) = kind(&self.kind) {
            report("detector.kind", e);
        }
    }
}

fn host_once(pattern: &str) -> Result<(), PatternError> {
    match pattern.matches("<HOST>").count() {
        1 => Ok(()),
        n => Err(PatternError::HostCount(n)),
    }
}

fn service(name: &str) -> Result<Service, PatternError> {
    Service::from_name(name).ok_or_else(|| PatternError::UnknownService(name.to_string()))
}

fn kind(name: &str) -> Result<Kind, PatternError> {
    Kind::from_name(name).ok_or_else(|| PatternError::UnknownKind(name.to_string()))
}

fn regex(pattern: &str) -> Result<Regex, PatternError> {
    // Syntax first, on the user's own text (`<HOST>` as a group of the same width), so that a
    // syntax error quotes what the user wrote and points at the right column.
    Regex::new(&pattern.replace("<HOST>", "(?:.+)")).map_err(PatternError::Regex)?;
    let body = pattern.strip_prefix('^').unwrap_or(pattern);
    let source = format!("^(?:{})", body.replace("<HOST>", HOST_GROUP));
    RegexBuilder::new(&source)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
        .map_err(PatternError::Regex)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::Config;

    fn problems(body: &str) -> String {
        Config::parse(body, Path::new("t.toml"))
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn every_problem_of_a_detector_is_reported_at_its_pattern_line() {
        let e = problems(
            "# custom\n[[detector]]\nname = \"broken\"\nservice = \"nope\"\nkind = \"odd\"\n\
             pattern = 'x <HOST> (unclosed'\n",
        );
        let lines: Vec<&str> = e.lines().filter(|l| l.starts_with("t.toml:")).collect();
        assert!(
            lines[0].starts_with(
                "t.toml:6: detector.pattern: detector \"broken\": invalid regular expression:"
            ),
            "{e}"
        );
        assert!(
            e.contains("t.toml:6: detector.service: detector \"broken\": unknown service \"nope\""),
            "{e}"
        );
        assert!(
            e.contains("t.toml:6: detector.kind: detector \"broken\": unknown kind \"odd\""),
            "{e}"
        );
        let e = problems("[[detector]]\nname = \"twice\"\npattern = '<HOST> <HOST>'\n");
        assert_eq!(
            e,
            "t.toml:3: detector.pattern: detector \"twice\": the pattern must contain <HOST> \
             exactly once (found 2)"
        );
        let e = problems("[[detector]]\nname = \"huge\"\npattern = 'from <HOST>(a{1000}){1000}'\n");
        assert!(e.contains("t.toml:3: detector.pattern"), "{e}");
        assert!(e.contains("invalid regular expression"), "{e}");
    }

    #[test]
    fn a_valid_detector_compiles_as_the_detectors_run_it() {
        let c = Config::parse(
            "[[detector]]\nname = \"ok\"\nservice = \"ssh\"\nkind = \"auth-failure\"\n\
             pattern = '^\\S+ login failed from <HOST>$'\n",
            Path::new("t.toml"),
        )
        .unwrap();
        let p = c.detector[0].compile().unwrap();
        assert_eq!(
            (p.service, p.kind, p.whole_line),
            (tg_model::Service::Ssh, tg_model::Kind::AuthFailure, true)
        );
        let caps = p
            .regex
            .captures(b"pbx login failed from [2001:db8::1]:5060")
            .unwrap();
        assert_eq!(&caps["host"], b"[2001:db8::1]:5060");
    }
}
