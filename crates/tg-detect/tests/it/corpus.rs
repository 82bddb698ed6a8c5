//! The public corpus (`testdata/corpus/*.tsv`, lines labelled by fail2ban and CrowdSec; origin
//! and licences in `testdata/README.md`) run through the built-in detectors.
//!
//! - Asterisk files: at least 95% of the labelled offenders found with the right address.
//! - Every file: no address on a line labelled 0, never a wrong address on any line.
//! - Every labelled offender of the services we cover is found, except the lines listed in
//!   [`NOT_MATCHED`], each with the reason; the test also checks that list stays true.

use std::net::IpAddr;
use std::path::PathBuf;

use tg_detect::{Detectors, Outcome};
use tg_model::canonical_ip;

/// Corpus lines we deliberately do not report with an address: (file, text in the line, why).
const NOT_MATCHED: &[(&str, &str, &str)] = &[
    (
        "apache-auth.tsv",
        "AH02031: Hostname www.testdom.com provided via SNI, but no hostname",
        "TLS SNI/Host mismatch is not an authentication failure; browsers, monitors and \
         misconfigured clients trigger it",
    ),
    (
        "apache-auth.tsv",
        "AH02032: Hostname www.testdom.com provided via SNI and hostname dummy.com",
        "TLS SNI/Host mismatch, as above",
    ),
    (
        "apache-auth.tsv",
        "AH02033: No hostname was provided via SNI",
        "TLS client without SNI, as above",
    ),
];

/// Corpus lines whose label contradicts the server's own grammar: (file, text in the line,
/// the address the server's grammar gives, why). Each is a hand-made injection test that the
/// labelling tool read from the right; the server cannot have written the line that way round.
const GRAMMAR_SAYS: &[(&str, &str, &str, &str)] = &[(
    "nginx-http-auth.tsv",
    "host: \"localhost:8443\"\": was not found in",
    "127.0.0.1",
    "nginx logs as the user name the part of a Basic `Authorization` before its first `:`, so \
     the name cannot hold `, client: `; the first `, client: <ip>, server: ` is nginx's and the \
     second sits in the client's Host header",
)];

/// Files of services tollguard does not cover: only "never a wrong address" is checked.
const FOREIGN: &[&str] = &["freeswitch.tsv", "recidive.tsv"];

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/corpus")
}

struct Row {
    expect_match: bool,
    expect_host: String,
    line: String,
}

fn rows(text: &str) -> Vec<Row> {
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut cols = l.splitn(3, '\t');
            let m = cols.next().unwrap();
            let host = cols.next().unwrap();
            let line = cols.next().unwrap();
            Row {
                expect_match: m == "1",
                expect_host: host.to_string(),
                line: line.to_string(),
            }
        })
        .collect()
}

#[test]
fn corpus() {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "corpus incomplete in {}", dir.display());

    let det = Detectors::builtin();
    let mut failures = Vec::new();
    let mut used_exceptions = vec![false; NOT_MATCHED.len()];
    println!(
        "{:<24} {:>6} {:>9} {:>7} {:>10} {:>6} {:>8}",
        "file", "rows", "offenders", "found", "suspicious", "missed", "label-0"
    );
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let rows = rows(&text);
        let foreign = FOREIGN.contains(&name.as_str());
        let (mut offenders, mut found, mut suspicious, mut missed, mut zeros) = (0, 0, 0, 0, 0);
        for (i, row) in rows.iter().enumerate() {
            let where_ = format!("{name} row {}", i + 1);
            let outcome = det.detect(row.line.as_bytes());
            let expected: Option<IpAddr> = row.expect_host.parse().ok().map(canonical_ip);
            if !row.expect_match {
                zeros += 1;
                if let Outcome::Found(d) = &outcome {
                    failures.push(format!("{where_}: labelled 0 but reported {}", d.ip));
                }
                continue;
            }
            offenders += 1;
            match (&outcome, expected) {
                (Outcome::Found(d), Some(want)) if d.ip == want => {
                    found += 1;
                    continue;
                }
                (Outcome::Found(d), _)
                    if GRAMMAR_SAYS.iter().any(|(f, text, ours, _)| {
                        *f == name
                            && row.line.contains(text)
                            && ours.parse::<IpAddr>().ok() == Some(d.ip)
                    }) =>
                {
                    found += 1;
                    continue;
                }
                (Outcome::Found(d), _) => {
                    failures.push(format!(
                        "{where_}: WRONG address {} (label {:?})",
                        d.ip, row.expect_host
                    ));
                    continue;
                }
                (Outcome::Suspicious(_), _) => suspicious += 1,
                (Outcome::Nothing, _) => {}
            }
            missed += 1;
            if foreign || expected.is_none() {
                continue;
            }
            match NOT_MATCHED
                .iter()
                .position(|(f, text, _)| *f == name && row.line.contains(text))
            {
                Some(k) => used_exceptions[k] = true,
                None => failures.push(format!(
                    "{where_}: missed {} ({:?}): {}",
                    row.expect_host, outcome, row.line
                )),
            }
        }
        println!(
            "{name:<24} {:>6} {offenders:>9} {found:>7} {suspicious:>10} {missed:>6} {zeros:>8}",
            rows.len()
        );
        if name.starts_with("asterisk") {
            assert!(
                found * 100 >= offenders * 95,
                "{name}: only {found} of {offenders} offenders found"
            );
        }
    }
    for (k, used) in used_exceptions.iter().enumerate() {
        if !used {
            failures.push(format!(
                "NOT_MATCHED entry {k} ({:?}) matched no missed line",
                NOT_MATCHED[k].1
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
