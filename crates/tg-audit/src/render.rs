//! The three outputs of a [`Report`]: text for people (grouped by severity), JSON (the
//! contract: `findings[{id, category, severity, file, line, title, why, fix}]`, `score`),
//! and SARIF 2.1.0 for CI systems.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::finding::{Severity, RULES};
use crate::Report;

const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

/// Text for a terminal: a summary line, then each severity's findings with what, where,
/// why and fix. Control characters from configuration text are escaped.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let counts: Vec<String> = SEVERITIES
        .iter()
        .map(|s| format!("{} {}", report.count(*s), s.as_str()))
        .collect();
    let _ = writeln!(
        out,
        "tollguard audit of {}: score {}/100 ({})",
        clean(&report.root),
        report.score,
        counts.join(", ")
    );
    match &report.asterisk_version {
        Some(v) => {
            let _ = writeln!(out, "Asterisk version: {}", clean(v));
        }
        None => {
            let _ = writeln!(out, "Asterisk version: unknown");
        }
    }
    for s in SEVERITIES {
        let group: Vec<_> = report.findings.iter().filter(|f| f.severity == s).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n{} ({})",
            s.as_str().to_ascii_uppercase(),
            group.len()
        );
        for f in group {
            let _ = writeln!(out, "  [{}] {}", f.id, clean(&f.title));
            if let Some(file) = &f.file {
                match f.line {
                    Some(l) => {
                        let _ = writeln!(out, "      at:  {}:{l}", clean(file));
                    }
                    None => {
                        let _ = writeln!(out, "      at:  {}", clean(file));
                    }
                }
            }
            let _ = writeln!(out, "      why: {}", clean(&f.why));
            let _ = writeln!(out, "      fix: {}", clean(&f.fix));
        }
    }
    if report.findings.is_empty() {
        let _ = writeln!(out, "\nNo findings.");
    }
    out
}

/// The JSON document.
pub fn json(report: &Report) -> Value {
    let counts: serde_json::Map<String, Value> = SEVERITIES
        .iter()
        .map(|s| (s.as_str().to_string(), json!(report.count(*s))))
        .collect();
    json!({
        "findings": report.findings,
        "score": report.score,
        "score_formula": "100 - 25*critical - 10*high - 4*medium - 1*low, not below 0",
        "counts": counts,
        "needs_action": report.needs_action(),
        "asterisk_version": report.asterisk_version,
        "root": report.root,
        "files_read": report.files_read,
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// The SARIF 2.1.0 log: every check as a rule, every finding as a result located by
/// `artifactLocation.uri` (relative to the audited root, `uriBaseId` `ROOT`) and
/// `region.startLine`.
pub fn sarif(report: &Report) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.id.replace(['.', '-'], "_"),
                "shortDescription": { "text": r.id },
                "fullDescription": { "text": r.why },
                "defaultConfiguration": { "level": level(r.severity) },
                "properties": { "category": r.category.as_str(), "severity": r.severity.as_str() },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut result = json!({
                "ruleId": f.id,
                "ruleIndex": RULES.iter().position(|r| r.id == f.id),
                "level": level(f.severity),
                "message": { "text": format!("{} Fix: {}", f.title, f.fix) },
                "properties": { "category": f.category.as_str(), "severity": f.severity.as_str(), "why": f.why },
            });
            if let Some(file) = &f.file {
                let mut physical = json!({
                    "artifactLocation": {
                        "uri": uri_path(file.trim_start_matches('/')),
                        "uriBaseId": "ROOT",
                    }
                });
                if let Some(line) = f.line {
                    physical["region"] = json!({ "startLine": line });
                }
                result["locations"] = json!([{ "physicalLocation": physical }]);
            }
            result
        })
        .collect();
    let mut root_uri = format!("file://{}", uri_path(&report.root));
    if !root_uri.ends_with('/') {
        root_uri.push('/');
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "tollguard",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "originalUriBaseIds": { "ROOT": { "uri": root_uri } },
            "results": results,
        }]
    })
}

/// Percent-encodes everything but unreserved characters and `/`.
fn uri_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Escapes control, bidi and zero-width characters that configuration text could carry.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let dangerous = c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}');
        if dangerous {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Finding;

    fn report() -> Report {
        Report {
            findings: vec![
                Finding::new("sip.allowguest", "guest \u{1b}[2J calls", "allowguest=no")
                    .at("/etc/asterisk/sip.conf", Some(3)),
                Finding::new("host.firewall.absent", "no firewall", "add one"),
            ],
            score: 65,
            asterisk_version: None,
            root: "/tmp/a b".to_string(),
            files_read: vec![],
        }
    }

    #[test]
    fn text_groups_by_severity_and_escapes() {
        let t = text(&report());
        let crit = t.find("CRITICAL (1)").unwrap();
        let high = t.find("HIGH (1)").unwrap();
        assert!(crit < high);
        assert!(t.contains("at:  /etc/asterisk/sip.conf:3"));
        assert!(t.contains("\\u{1b}[2J"), "{t}");
    }

    #[test]
    fn sarif_locations_are_relative_to_root() {
        let s = sarif(&report());
        let r = &s["runs"][0]["results"][0];
        assert_eq!(r["level"], "error");
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "etc/asterisk/sip.conf"
        );
        assert_eq!(
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
        assert!(s["runs"][0]["results"][1].get("locations").is_none());
        assert_eq!(
            s["runs"][0]["originalUriBaseIds"]["ROOT"]["uri"],
            "file:///tmp/a%20b/"
        );
    }
}
