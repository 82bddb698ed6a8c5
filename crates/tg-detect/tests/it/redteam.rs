//! The red-team corpus of issue #12.1 (`testdata/redteam/decoys.tsv`, written by
//! `testdata/redteam/make_decoys.py`): every attacker-controlled field of every family, with a
//! decoy address in the server's own fixed text before the real address, after it, or on both
//! sides. An attacker must not escape its own ban by writing a second address, and the decoy
//! must never be the one found.
//!
//! Each row says what the detector must answer:
//! - `found`: the server's grammar places the address (only server text on one side of it; a
//!   field the server itself constrains, such as sshd's and nginx's user names that never hold a
//!   `:`, or the From that pjsip prints); the real address is found.
//! - `ambiguous`: the sender writes free text on both sides of the address and the server
//!   enforces no syntax that could tell the placements apart (chan_sip's caller and dialled
//!   number; security events with the sender's fields after the address: ChallengeResponseFailed,
//!   InvalidPassword, RequestNotAllowed; pam_unix's `ruser=`/`user=`; a line nginx cannot have
//!   written). The line is `Suspicious` naming both the real address and the decoy, and the
//!   daemon settles it with evidence from outside the line (the kernel's connection tracking,
//!   `tg_engine::step`); `scan` reports it.
//!
//! In no row is the decoy found.

use std::net::IpAddr;
use std::path::PathBuf;

use tg_detect::{Detectors, Outcome};

struct Row {
    family: String,
    field: String,
    placement: String,
    expect: String,
    real: IpAddr,
    decoy: IpAddr,
    line: String,
}

fn rows() -> Vec<Row> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/redteam/decoys.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.splitn(7, '\t').collect();
            assert_eq!(c.len(), 7, "{l}");
            Row {
                family: c[0].into(),
                field: c[1].into(),
                placement: c[2].into(),
                expect: c[3].into(),
                real: c[4].parse().unwrap(),
                decoy: c[5].parse().unwrap(),
                line: c[6].into(),
            }
        })
        .collect()
}

#[test]
fn decoys_never_move_the_address_nor_hide_the_attacker() {
    let det = Detectors::builtin();
    let rows = rows();
    assert!(rows.len() >= 70, "corpus incomplete: {} rows", rows.len());
    let mut failures = Vec::new();
    let (mut found, mut ambiguous) = (0, 0);
    for r in &rows {
        let what = format!("{} / {} / {}: {}", r.family, r.field, r.placement, r.line);
        assert!(
            r.line.contains(&r.real.to_string()) && r.line.contains(&r.decoy.to_string()),
            "row without both addresses: {what}"
        );
        let outcome = det.detect(r.line.as_bytes());
        if let Outcome::Found(d) = &outcome {
            if d.ip == r.decoy {
                failures.push(format!("DECOY FOUND: {what}"));
                continue;
            }
        }
        match (r.expect.as_str(), &outcome) {
            ("found", Outcome::Found(d)) if d.ip == r.real => found += 1,
            ("ambiguous", Outcome::Suspicious(s))
                if s.candidates.ips().any(|ip| ip == r.real)
                    && s.candidates.ips().any(|ip| ip == r.decoy) =>
            {
                ambiguous += 1
            }
            (want, got) => failures.push(format!("expected {want}, got {got:?}: {what}")),
        }
    }
    println!("{found} rows found by grammar, {ambiguous} ambiguous (left to evidence)");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
