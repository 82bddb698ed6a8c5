//! `[[detector]]`: custom detectors for services tollguard does not know.
//!
//! A pattern is a regular expression with exactly one `<HOST>` placeholder; the detector crate
//! compiles it. Here we only check what can be checked without compiling.

use serde::Deserialize;
use toml::Spanned;

use crate::{problem_at, Problem};

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

impl CustomDetector {
    pub(crate) fn validate(&self, text: &str, problems: &mut Vec<Problem>) {
        let n = self.pattern.get_ref().matches("<HOST>").count();
        if n != 1 {
            problems.push(problem_at(
                text,
                self.pattern.span(),
                "detector.pattern",
                format!(
                    "detector {:?}: the pattern must contain <HOST> exactly once (found {n})",
                    self.name
                ),
            ));
        }
        if tg_model::Service::from_name(&self.service).is_none() {
            problems.push(problem_at(
                text,
                self.pattern.span(),
                "detector.service",
                format!(
                    "detector {:?}: unknown service {:?}",
                    self.name, self.service
                ),
            ));
        }
    }
}
