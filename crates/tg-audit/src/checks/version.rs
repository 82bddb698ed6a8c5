//! The Asterisk version against the bundled advisory and end-of-life tables: one finding per
//! applicable advisory, one for an unsupported series, one when the version is unknown.

use crate::finding::{Finding, Severity};
use crate::version::{applicable, series_of, Version};

/// Advisories that matter most for toll fraud and takeover (research notes §6): AMI/ARI to
/// shell, identification bypasses, username enumeration, dial-string injection.
const TOLL_FRAUD_RELEVANT: &[&str] = &[
    "AST-2009-007",
    "AST-2009-008",
    "AST-2010-002",
    "AST-2011-013",
    "AST-2012-004",
    "AST-2012-012",
    "AST-2012-013",
    "AST-2013-003",
    "AST-2014-017",
    "AST-2014-018",
    "AST-2018-008",
    "AST-2019-006",
    "AST-2019-007",
    "GHSA-qqxj-v78h-hrf9",
    "GHSA-c4cg-9275-6w44",
    "GHSA-33x6-fj46-6rfh",
    "GHSA-2grh-7mhv-fcfw",
    "GHSA-vrfp-mg3q-3959",
    "GHSA-wcvv-g26m-wx5c",
    "GHSA-r6c2-hwc2-j4mp",
];

/// Where the version came from, for messages.
#[derive(Clone, Debug)]
pub enum Known {
    /// A version string and where it came from (`--asterisk-version`, `/usr/sbin/asterisk -V`).
    Yes(String, String),
    /// Unknown, and why.
    No(String),
}

/// Version checks. `today` is YYYY-MM-DD.
pub fn check(known: &Known, today: &str, out: &mut Vec<Finding>) {
    let (text, from) = match known {
        Known::Yes(t, f) => (t, f),
        Known::No(why) => {
            out.push(Finding::new(
                "version.unknown",
                format!("The Asterisk version is unknown ({why})"),
                "run `tollguard audit --asterisk-version $(asterisk -V | cut -d' ' -f2)`",
            ));
            return;
        }
    };
    let Some(v) = Version::parse(text) else {
        out.push(Finding::new(
            "version.unknown",
            format!("The Asterisk version '{text}' (from {from}) is not a release number"),
            "pass --asterisk-version with a release number such as 20.9.2",
        ));
        return;
    };
    for (adv, fix) in applicable(&v) {
        let severity = if TOLL_FRAUD_RELEVANT.contains(&adv.id.as_str()) {
            Severity::Critical
        } else {
            Severity::High
        };
        out.push(
            Finding::new(
                "version.advisory",
                format!("Asterisk {v} is affected by {}: {}", adv.id, adv.title),
                format!(
                    "upgrade to {fix} or later on this branch (advisory source: {})",
                    adv.source
                ),
            )
            .severity(severity),
        );
    }
    if let Some(series) = series_of(&v) {
        if series.eol.as_str() <= today {
            let newer_than_eol = crate::version::advisories()
                .iter()
                .filter(|a| !a.date.is_empty() && a.date > series.eol)
                .count();
            out.push(Finding::new(
                "version.eol",
                format!(
                    "Asterisk {v}: the {} series ({}) reached end of life on {}; {newer_than_eol} advisories in the bundled table were published after that and are not fixed for it",
                    series.name, series.kind, series.eol
                ),
                "upgrade to a supported series (an LTS such as 20 or 22)".to_string(),
            ));
        }
    }
}
