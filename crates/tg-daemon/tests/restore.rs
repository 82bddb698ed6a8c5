//! Restoring the store's bans into a real kernel (`reconcile`) after someone flushed them, in
//! network namespaces made here, through the `restore_cli` example.

use tg_testnet::pbx::*;
use tg_testnet::Netns;

const NFT: &str = "nftables";
const IPT: &str = "iptables";

/// Runs `restore_cli ARGS` inside `ns`; panics with its stderr on failure; returns stdout.
fn restore(ns: &Netns, args: &[&str]) -> String {
    run_example(ns, "restore_cli", args)
}

/// `restore_cli list` parsed into (address, seconds left).
fn listed(ns: &Netns, backend: &str) -> Vec<(String, u64)> {
    listed_by(ns, "restore_cli", backend)
}

#[test]
fn flush_ruleset_then_reconcile_restores_and_drops_expired() {
    let net = Net::new();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let db = db.to_str().unwrap();
    // Store first, then the kernel — the order of a manual ban.
    restore(
        &net.pbx,
        &[
            "record",
            db,
            ATTACKER_V4,
            "120",
            "+",
            "record",
            db,
            "203.0.113.5",
            "-5",
        ],
    );
    restore(&net.pbx, &["ban", ATTACKER_V4, "120"]);
    sh_out(&net.pbx, &["nft", "flush", "ruleset"]);
    assert!(
        reaches(&net.attacker, "udp", PBX_V4),
        "flush removed the ban"
    );

    let out = restore(&net.pbx, &["reconcile", db]);
    assert!(
        out.contains("reconcile 1 ") && out.contains("expired 1"),
        "{out}"
    );
    assert!(blocked(&net.attacker, "udp", PBX_V4) && blocked(&net.attacker, "tcp", PBX_V4));
    let bans = listed(&net.pbx, NFT);
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert!(
        (110..=120).contains(&bans[0].1),
        "remaining time, not a fresh ban: {bans:?}"
    );
    // A second reconcile finds nothing missing and changes nothing.
    restore(&net.pbx, &["reconcile", db]);
    assert_eq!(listed(&net.pbx, NFT).len(), 1);
}

#[test]
fn ipset_reconcile_restores_after_the_sets_are_flushed() {
    let net = Net::new();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let db = db.to_str().unwrap();
    restore(
        &net.pbx,
        &[
            "--backend",
            IPT,
            "record",
            db,
            ATTACKER_V4,
            "120",
            "+",
            "ban",
            ATTACKER_V4,
            "120",
        ],
    );
    sh_out(&net.pbx, &["ipset", "flush"]);
    assert!(
        reaches(&net.attacker, "udp", PBX_V4),
        "flush removed the ban"
    );
    let out = restore(&net.pbx, &["--backend", IPT, "reconcile", db]);
    assert!(out.contains("reconcile 1 "), "{out}");
    assert!(blocked(&net.attacker, "udp", PBX_V4) && blocked(&net.attacker, "tcp", PBX_V4));
    let bans = listed(&net.pbx, IPT);
    assert!(
        bans.len() == 1 && (110..=120).contains(&bans[0].1),
        "{bans:?}"
    );
}
