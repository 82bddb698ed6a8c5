//! The rendered script is what the kernel accepts: the commented example policy
//! (examples/config/firewall.toml) loads into a throwaway namespace, loads again unchanged (the
//! script is idempotent), and a smaller policy then replaces it without leftovers and without
//! touching the ban daemon's objects.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use tg_config::Config;
use tg_firewall::dns::Resolved;
use tg_firewall::policy::Policy;
use tg_firewall::render::{self, Live};
use tg_testnet::Netns;

fn load(ns: &Netns, script: &str) -> Result<(), String> {
    let mut child = ns
        .command(&["nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn list(ns: &Netns, json: bool) -> String {
    let argv: &[&str] = if json {
        &["nft", "-j", "list", "table", "inet", "tollguard"]
    } else {
        &["nft", "list", "table", "inet", "tollguard"]
    };
    let text = String::from_utf8_lossy(&ns.exec_ok(argv).unwrap().stdout).into_owned();
    // A ban's remaining time changes between two listings; nothing else may.
    text.split(" expires ")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                part.split_once(' ').map_or("", |(_, rest)| rest)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn policy(text: &str) -> Policy {
    let path = Path::new("firewall.toml");
    let config = Config::parse(text, path).unwrap();
    Policy::build(&config, text, path).unwrap()
}

#[test]
fn the_example_policy_loads_reloads_and_is_replaced_cleanly() {
    assert!(tg_testnet::available(), "needs root and iproute2");
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/config/firewall.toml"
    ))
    .unwrap();
    let example = example.replace(
        "asterisk_dir = \"/etc/asterisk\"",
        "asterisk_dir = \"/nonexistent\"",
    );
    let big = policy(&example);
    let mut resolved = Resolved::new();
    resolved.insert(
        "office.example.com".into(),
        vec![
            "203.0.113.50".parse().unwrap(),
            "2001:db8:1::5".parse().unwrap(),
        ],
    );
    let script = render::render(&big, &resolved);

    let ns = Netns::new("render").unwrap();
    load(&ns, "add table inet tollguard\nadd set inet tollguard banned_v4 { type ipv4_addr; flags timeout; }\n\
               add chain inet tollguard bans { type filter hook input priority -150; policy accept; }\n\
               add rule inet tollguard bans ip saddr @banned_v4 drop\n\
               add element inet tollguard banned_v4 { 198.18.0.66 timeout 1h }\n")
    .unwrap();
    load(&ns, &render::reconcile(&script.text, &Live::default()))
        .unwrap_or_else(|e| panic!("{e}\n{}", script.text));
    let first = list(&ns, false);
    for want in [
        "fw_zone_vpn",
        "fw_prerouting",
        "203.0.113.50",
        "2001:db8:1::5",
        "meta hour",
        "tcp dport { 4445, 8001-8003 }",
    ] {
        assert!(first.contains(want), "{want:?} missing:\n{first}");
    }
    let live = Live::from_json(&list(&ns, true));
    load(&ns, &render::reconcile(&script.text, &live)).unwrap();
    assert_eq!(
        list(&ns, false),
        first,
        "loading the same policy again changes nothing"
    );

    let small = policy("[firewall.services.ssh]\nzones = [\"anyone\"]\n");
    let script = render::render(&small, &Resolved::new());
    let live = Live::from_json(&list(&ns, true));
    load(&ns, &render::reconcile(&script.text, &live)).unwrap();
    let after = list(&ns, false);
    for gone in [
        "fw_zone_vpn",
        "fw_prerouting",
        "fw_lan_v4",
        "fw_flood",
        "203.0.113.50",
    ] {
        assert!(!after.contains(gone), "{gone:?} left over:\n{after}");
    }
    assert!(
        after.contains("198.18.0.66") && after.contains("chain bans"),
        "ban objects kept:\n{after}"
    );
}
