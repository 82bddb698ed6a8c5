//! A generated 2,000-extension FreePBX-style tree is audited completely: every planted weak
//! password and PIN is found at its line, and nothing else. (Its speed is measured by
//! `bench/audit_scale.sh`, not here.)

#[path = "../examples/gen_pbx.rs"]
mod gen_pbx;

use tg_audit::{audit, Options};

#[test]
fn two_thousand_extensions_are_all_audited() {
    let dir = tempfile::tempdir().unwrap();
    gen_pbx::generate(dir.path(), 2000).unwrap();
    let mut opts = Options::new(dir.path());
    opts.asterisk_version = Some("22.10.1".to_string());
    opts.today = Some("2026-11-25".to_string());
    let report = audit(&opts).unwrap();
    let count = |id: &str| report.findings.iter().filter(|f| f.id == id).count();
    assert_eq!(count("pjsip.secret.equals-user"), 20);
    assert_eq!(count("pjsip.device.numeric-name"), 20);
    assert_eq!(count("voicemail.pin.equals-mailbox"), 40);
    let first = report
        .findings
        .iter()
        .filter(|f| f.id == "pjsip.secret.equals-user")
        .min_by_key(|f| f.line)
        .unwrap();
    assert_eq!(first.file.as_deref(), Some("/etc/asterisk/pjsip.auth.conf"));
    assert_eq!(first.line, Some(5), "the password line of [10000-auth]");
    let others: Vec<_> = report
        .findings
        .iter()
        .filter(|f| {
            ![
                "pjsip.secret.equals-user",
                "pjsip.device.numeric-name",
                "voicemail.pin.equals-mailbox",
                "host.firewall.absent",
            ]
            .contains(&f.id)
        })
        .collect();
    assert!(others.is_empty(), "{others:#?}");
}
