//! The fixture trees, audited through the library: every check fires exactly where the
//! insecure tree's table says (so removing a check fails this test), the hardened tree yields
//! nothing, the FreePBX layout is followed through its includes, and broken trees give errors
//! that name file and line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tg_audit::{audit, Options, Report, Severity, RULES};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn run(name: &str, version: Option<&str>) -> Report {
    let opts = Options {
        root: fixture(name),
        asterisk_version: version.map(str::to_string),
        today: Some("2026-11-25".to_string()),
    };
    audit(&opts).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `id<TAB>file[:line]` rows, without version.advisory (checked on its own).
fn rows(report: &Report) -> BTreeSet<String> {
    report
        .findings
        .iter()
        .filter(|f| f.id != "version.advisory")
        .map(|f| {
            let mut loc = f.file.clone().unwrap_or_else(|| "-".to_string());
            if let Some(l) = f.line {
                loc.push_str(&format!(":{l}"));
            }
            format!("{}\t{loc}", f.id)
        })
        .collect()
}

fn expected(file: &str) -> BTreeSet<String> {
    std::fs::read_to_string(fixture(file))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn insecure_tree_triggers_every_check_exactly_where_expected() {
    let report = run("insecure", Some("13.20.0"));
    let got = rows(&report);
    let want = expected("insecure.expected.tsv");
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing: {missing:#?}\nextra: {extra:#?}"
    );
}

#[test]
fn every_registered_check_has_a_trigger_in_the_insecure_table() {
    let table: BTreeSet<String> = expected("insecure.expected.tsv")
        .iter()
        .map(|r| r.split('\t').next().unwrap().to_string())
        .collect();
    for rule in RULES {
        let covered = table.contains(rule.id)
            || rule.id == "version.advisory" // asserted below with named advisories
            || rule.id == "version.unknown"; // asserted below without a version
        assert!(
            covered,
            "check {} has no trigger in the insecure tree",
            rule.id
        );
    }
}

#[test]
fn insecure_version_names_its_advisories_and_end_of_life() {
    let report = run("insecure", Some("13.20.0"));
    let advisories: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.id == "version.advisory")
        .map(|f| f.title.as_str())
        .collect();
    for id in ["AST-2019-006", "AST-2018-008", "AST-2018-009"] {
        assert!(
            advisories.iter().any(|t| t.contains(id)),
            "{id} not named in {advisories:#?}"
        );
    }
    let ami_shell = report
        .findings
        .iter()
        .find(|f| f.title.contains("AST-2019-006"))
        .unwrap();
    assert_eq!(
        ami_shell.severity,
        Severity::Critical,
        "toll-fraud relevant"
    );
    assert!(ami_shell.fix.contains("13.29.2"), "{}", ami_shell.fix);
    assert!(report.findings.iter().any(|f| f.id == "version.eol"));

    let fixed = run("insecure", Some("13.38.3"));
    assert!(!fixed
        .findings
        .iter()
        .any(|f| f.title.contains("AST-2019-006")));
}

#[test]
fn without_a_version_the_audit_says_so() {
    let report = run("insecure", None);
    let f = report
        .findings
        .iter()
        .find(|f| f.id == "version.unknown")
        .expect("version.unknown");
    assert_eq!(f.severity, Severity::Low);
    assert!(!report.findings.iter().any(|f| f.id == "version.advisory"));
}

#[test]
fn hardened_tree_has_no_findings_at_all() {
    let report = run("hardened", Some("22.10.1"));
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_eq!(report.score, 100);
    assert!(!report.needs_action());
}

#[test]
fn freepbx_layout_is_followed_through_its_includes() {
    let report = run("freepbx", Some("16.30.1"));
    let got = rows(&report);
    let want = expected("freepbx.expected.tsv");
    assert_eq!(got, want);
    for f in [
        "/etc/asterisk/sip_additional.conf",
        "/etc/asterisk/sip_custom_post.conf",
        "/etc/asterisk/pjsip.auth.conf",
        "/etc/asterisk/pjsip.endpoint_custom.conf",
        "/etc/asterisk/extensions_additional.conf",
        "/etc/asterisk/logger_logfiles_additional.conf",
        "/etc/asterisk/vm_general.inc",
    ] {
        assert!(report.files_read.iter().any(|r| r == f), "{f} not read");
    }
    let generated = report
        .findings
        .iter()
        .find(|f| f.file.as_deref() == Some("/etc/asterisk/sip_additional.conf"))
        .unwrap();
    assert!(
        generated.fix.contains("FreePBX regenerates this file"),
        "{}",
        generated.fix
    );
    let custom = report
        .findings
        .iter()
        .find(|f| f.file.as_deref() == Some("/etc/asterisk/extensions_custom.conf"))
        .unwrap();
    assert!(
        !custom.fix.contains("FreePBX regenerates"),
        "{}",
        custom.fix
    );
    // FreePBX's from-sip-external rejects unknown callers: guest calls are not a finding.
    assert!(!report.findings.iter().any(|f| f.id == "sip.allowguest"));
    assert!(!report.findings.iter().any(|f| f.id == "pjsip.anonymous"));
}

#[test]
fn broken_trees_give_errors_naming_file_and_line() {
    for (tree, message) in [
        (
            "broken/unterminated-section",
            "/etc/asterisk/sip.conf:4: section header has no closing ']'",
        ),
        (
            "broken/include-cycle",
            "/etc/asterisk/dialplan/b.conf:2: include cycle: /etc/asterisk/dialplan/a.conf:3 -> /etc/asterisk/dialplan/b.conf:2 -> /etc/asterisk/dialplan/a.conf",
        ),
        (
            "broken/binary-junk",
            "/etc/asterisk/pjsip.conf:4: binary data (control byte 0x1e); not an Asterisk configuration file",
        ),
        (
            "broken/no-section",
            "/etc/asterisk/manager.conf:1: setting outside any [section]",
        ),
        (
            "broken/missing-include",
            "/etc/asterisk/sip.conf:2: #include sip_additional.conf: no such file",
        ),
        (
            "broken/bad-template",
            "/etc/asterisk/sip.conf:3: inherits from 'phones', which is not defined before it",
        ),
    ] {
        let err = audit(&Options::new(fixture(tree))).expect_err(tree);
        assert_eq!(err.to_string(), message, "{tree}");
    }
}

#[test]
fn findings_never_carry_a_secret() {
    let report = run("insecure", Some("13.20.0"));
    let all = serde_json::to_string(&tg_audit::render::json(&report)).unwrap()
        + &tg_audit::render::text(&report)
        + &serde_json::to_string(&tg_audit::render::sarif(&report)).unwrap();
    for secret in fixture_secrets() {
        assert!(!all.contains(&secret), "secret {secret:?} leaked");
    }
}

/// Secrets of the insecure tree that are not also a name (a secret equal to its user name is
/// the name, which the finding must show).
pub fn fixture_secrets() -> Vec<String> {
    [
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
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn garbage_host_files_are_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    for f in [
        "proc/net/tcp",
        "proc/net/udp6",
        "etc/ssh/sshd_config",
        "var/www/html/admin/.htaccess",
        "etc/apache2/sites-enabled/000-default.conf",
        "etc/tollguard/tollguard.toml",
        "etc/nftables.conf",
        "proc/77/comm",
        "proc/77/cmdline",
    ] {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &junk).unwrap();
    }
    let report = audit(&Options::new(root)).expect("host files never fail the audit");
    assert!(report
        .findings
        .iter()
        .any(|f| f.id == "web.freepbx-dir.unprotected"));
}

#[test]
fn checks_md_lists_every_check() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("CHECKS.md")).unwrap();
    let listed: BTreeSet<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let registered: BTreeSet<&str> = RULES.iter().map(|r| r.id).collect();
    assert_eq!(listed, registered);
    for r in RULES {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", r.id)))
            .unwrap();
        assert!(
            row.contains(&format!(
                "| {} | {} |",
                r.category.as_str(),
                r.severity.as_str()
            )),
            "{row}"
        );
    }
}

#[test]
fn a_rules_file_decides_which_listening_ports_are_exposed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("proc/net")).unwrap();
    std::fs::create_dir_all(root.join("etc/iptables")).unwrap();
    // 0.0.0.0:5038 (AMI) and 0.0.0.0:22 (SSH) listening
    std::fs::write(
        root.join("proc/net/tcp"),
        "  sl  local_address rem_address   st\n   0: 00000000:13AE 00000000:0000 0A\n   1: 00000000:0016 00000000:0000 0A\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/iptables/rules.v4"),
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -s 192.0.2.0/24 -p tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp --dport 5038 -j ACCEPT\nCOMMIT\n",
    )
    .unwrap();
    let report = audit(&Options::new(root)).unwrap();
    let exposed: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.id == "host.port.exposed")
        .map(|f| f.title.as_str())
        .collect();
    assert_eq!(exposed.len(), 1, "{exposed:#?}");
    assert!(exposed[0].contains(":5038"), "{exposed:#?}");
    assert!(!report
        .findings
        .iter()
        .any(|f| f.id == "host.firewall.absent"));
}

#[test]
fn astetcdir_moves_the_configuration_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("etc/asterisk")).unwrap();
    std::fs::create_dir_all(root.join("opt/pbx/etc")).unwrap();
    std::fs::write(
        root.join("etc/asterisk/asterisk.conf"),
        "[directories]\nastetcdir => /opt/pbx/etc\n",
    )
    .unwrap();
    std::fs::write(
        root.join("opt/pbx/etc/sip.conf"),
        "[general]\nalwaysauthreject=no\n",
    )
    .unwrap();
    let report = audit(&Options::new(root)).unwrap();
    let f = report
        .findings
        .iter()
        .find(|f| f.id == "sip.alwaysauthreject.off")
        .expect("sip.conf read from astetcdir");
    assert_eq!(f.file.as_deref(), Some("/opt/pbx/etc/sip.conf"));
    assert_eq!(f.line, Some(2));
}
