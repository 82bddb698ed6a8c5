//! The benchmark workload (`testdata/workload/gen_asterisk_log.py`), small: every attack line
//! is found, every attacker in the `.truth` file is found, and no other address is reported.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

use tg_detect::{Detectors, Outcome};

fn generator() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/workload/gen_asterisk_log.py")
}

#[test]
fn generated_workload_finds_exactly_the_attackers() {
    let generator = generator();
    assert!(generator.exists(), "missing {}", generator.display());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("w.log");
    let status = Command::new("python3")
        .arg(&generator)
        .args(["--seed", "7", "--lines", "50000", "--attack-ratio", "0.2"])
        .args(["--attackers", "100", "--out"])
        .arg(&log)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs the generator");
    assert!(status.success());

    let truth: BTreeSet<IpAddr> = std::fs::read_to_string(log.with_extension("log.truth"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(log.with_extension("log.stats.json")).unwrap())
            .unwrap();
    let attack_lines = stats["attack_lines"].as_u64().unwrap();

    let text = std::fs::read(&log).unwrap();
    let det = Detectors::builtin();
    let mut found = BTreeSet::new();
    let (mut hits, mut suspicious, mut stamped) = (0u64, 0u64, 0u64);
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        match det.detect(line) {
            Outcome::Found(d) => {
                hits += 1;
                stamped += u64::from(d.stamp.is_some());
                found.insert(d.ip);
            }
            Outcome::Suspicious(_) => suspicious += 1,
            Outcome::Nothing => {}
        }
    }
    assert_eq!(truth.len(), 100);
    let missing: Vec<_> = truth.difference(&found).collect();
    let extra: Vec<_> = found.difference(&truth).collect();
    assert!(missing.is_empty(), "attackers not found: {missing:?}");
    assert!(
        extra.is_empty(),
        "addresses that are not attackers: {extra:?}"
    );
    assert_eq!(hits, attack_lines, "every attack line, and only those");
    assert_eq!(stamped, hits, "every finding has its time");
    assert_eq!(suspicious, 0);
}
