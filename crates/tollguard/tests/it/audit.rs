//! `tollguard audit` as a user runs it: the built binary on the fixture trees of `tg-audit`.
//! Exit codes 0/1/2, the JSON contract, the SARIF shape, no secret in any output, and
//! `tollguard firewall render` reading the PBX's configuration as the audit does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tg-audit/tests/fixtures")
        .join(name)
}

fn audit(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollguard"))
        .arg("audit")
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("run tollguard")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn hardened_tree_exits_0() {
    let out = audit(&fixture("hardened"), &["--asterisk-version", "22.10.1"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("score 100/100"), "{text}");
}

#[test]
fn insecure_tree_exits_1_with_the_json_contract() {
    let out = audit(
        &fixture("insecure"),
        &["--asterisk-version", "13.20.0", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    let findings = doc["findings"].as_array().expect("findings array");
    assert!(findings.len() > 50, "{}", findings.len());
    let categories = [
        "weak-secret",
        "no-acl",
        "guest-calls",
        "ami-exposed",
        "http-exposed",
        "international-dialing",
        "dialplan-injection",
        "disa",
        "voicemail",
        "vulnerable-version",
        "logging",
        "firewall",
        "ssh",
        "web",
        "rootkit",
        "other",
    ];
    for f in findings {
        for key in [
            "id", "category", "severity", "file", "line", "title", "why", "fix",
        ] {
            assert!(f.get(key).is_some(), "{key} missing in {f}");
        }
        assert!(categories.contains(&f["category"].as_str().unwrap()), "{f}");
        assert!(
            ["info", "low", "medium", "high", "critical"]
                .contains(&f["severity"].as_str().unwrap()),
            "{f}"
        );
    }
    // Every category of the contract is exercised by the insecure tree.
    for c in categories {
        assert!(
            findings.iter().any(|f| f["category"] == c),
            "no finding of category {c}"
        );
    }
    let score = doc["score"].as_u64().expect("score");
    assert!(score <= 100);
    assert_eq!(score, 0, "this many criticals floor the score");
    let guest = findings
        .iter()
        .find(|f| f["id"] == "sip.allowguest")
        .expect("sip.allowguest");
    assert_eq!(guest["file"], "/etc/asterisk/sip.conf");
    assert_eq!(guest["line"], 3);
    assert_eq!(guest["severity"], "critical");
    assert!(guest["fix"].as_str().unwrap().contains("allowguest=no"));
}

#[test]
fn sarif_has_rules_results_and_locations() {
    let out = audit(
        &fixture("insecure"),
        &["--asterisk-version", "13.20.0", "--format", "sarif"],
    );
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let rule_ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(rule_ids.contains(&"sip.allowguest"));
    assert_eq!(run["tool"]["driver"]["name"], "tollguard");
    let results = run["results"].as_array().expect("results");
    assert!(!results.is_empty());
    for r in results {
        let id = r["ruleId"].as_str().expect("ruleId");
        assert!(rule_ids.contains(&id), "{id} not among the rules");
        let index = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], id);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(r["message"]["text"].as_str().is_some_and(|t| !t.is_empty()));
    }
    let located = results
        .iter()
        .find(|r| r["ruleId"] == "ami.bind.public")
        .expect("ami.bind.public");
    let loc = &located["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "etc/asterisk/manager.conf");
    assert_eq!(loc["artifactLocation"]["uriBaseId"], "ROOT");
    assert_eq!(loc["region"]["startLine"], 4);
}

#[test]
fn broken_trees_exit_2_naming_file_and_line() {
    for (tree, want) in [
        ("broken/unterminated-section", "/etc/asterisk/sip.conf:4"),
        ("broken/include-cycle", "include cycle"),
        (
            "broken/binary-junk",
            "/etc/asterisk/pjsip.conf:4: binary data",
        ),
    ] {
        let out = audit(&fixture(tree), &[]);
        assert_eq!(out.status.code(), Some(2), "{tree}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{tree}: {err}");
        assert!(err.contains("auditing --root"), "{tree}: {err}");
        assert!(out.stdout.is_empty(), "{tree}: no report on broken input");
    }
}

#[test]
fn an_unreadable_config_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where a file should be cannot be read, even by root (CI runs as root).
    std::fs::create_dir_all(dir.path().join("etc/asterisk/manager.conf")).unwrap();
    let out = audit(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/etc/asterisk/manager.conf: cannot read"),
        "{err}"
    );
}

#[test]
fn no_output_format_contains_a_fixture_secret() {
    let secrets = [
        "alice2024!",
        "passw0rd",
        "456789",
        "83920175",
        "xK9#q",
        "Vq7mXe2LpR9sKd4T",
        "palice99",
        "abcabcabc",
        "5550123456",
        "Zq8!vT",
        "Hs4nQw8ZtB2vLm6Y",
        "iax-amy-1",
        "amp109",
        "1111111111",
        "271828182",
        "Kp3$x",
        "Wd5rTy8NcX3bQz7P",
        "amp111",
        "report2024",
        "121212",
        "60451839",
        "aB3$",
        "Rt6yUi9OpL2kJh5G",
        "ari-app-secret",
        "ari_password",
        "zzzzzzzz",
        "73019468",
        "Qw9!x",
        "4242",
    ];
    for format in ["text", "json", "sarif"] {
        let out = audit(
            &fixture("insecure"),
            &["--asterisk-version", "13.20.0", "--format", format],
        );
        let all = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(all.len() > 1000, "{format}: {all}");
        for s in secrets {
            assert!(
                !all.contains(s),
                "{format} output contains the secret {s:?}"
            );
        }
    }
}

#[test]
fn text_groups_by_severity_with_where_why_and_fix() {
    let out = audit(&fixture("freepbx"), &["--asterisk-version", "16.30.1"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let crit = text.find("\nCRITICAL (").expect("critical group");
    let high = text.find("\nHIGH (").expect("high group");
    let medium = text.find("\nMEDIUM (").expect("medium group");
    assert!(crit < high && high < medium, "{text}");
    assert!(
        text.contains("at:  /etc/asterisk/sip_additional.conf:4"),
        "{text}"
    );
    assert!(text.contains("why: "), "{text}");
    assert!(
        text.contains("fix: /etc/asterisk/sip_additional.conf:4: secret=<"),
        "{text}"
    );
}

/// Issue #11: the firewall had its own reader, which ended a block comment at the first `--;`;
/// it trusted a trunk the audit (and Asterisk) read as commented out.
#[test]
fn a_nested_block_comment_hides_a_trunk_from_the_audit_and_the_firewall_alike() {
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc/asterisk");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("sip.conf"),
        "[general]\nallowguest=no\n\
         [visible]\ntype=peer\nhost=203.0.113.7\nsecret=1234\n\
         ;-- outer ;-- inner --; still comment\n\
         [hidden]\ntype=peer\nhost=198.51.100.66\nsecret=1234\n\
         --;\n",
    )
    .unwrap();

    let out = audit(dir.path(), &["--asterisk-version", "22.10.1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("SIP peer 'visible'"), "{text}");
    assert!(!text.contains("hidden"), "{text}");

    let config = dir.path().join("tollguard.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\nstate_dir = {:?}\n[firewall]\ntrust_from_asterisk = true\nasterisk_dir = {:?}\n\
             [firewall.services.sip]\nzones = [\"trusted\"]\n[firewall.services.ssh]\nzones = [\"anyone\"]\n",
            dir.path().join("state"),
            etc
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tollguard"))
        .args(["firewall", "render", "--config"])
        .arg(&config)
        .output()
        .expect("run tollguard");
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(script.contains("203.0.113.7"), "{script}");
    assert!(!script.contains("198.51.100.66"), "{script}");
}
