//! The nftables enforcer against a real kernel with real packets, in namespaces made here.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tg_testnet::{Link, Netns};

const NFT: &str = "nftables";

#[test]
fn ban_drops_udp_and_tcp_from_the_attacker_only_and_unban_restores() {
    let net = Net::new();
    for (proto, host) in [
        ("udp", PBX_V4),
        ("tcp", PBX_V4),
        ("udp", PBX_V6),
        ("tcp", PBX_V6),
    ] {
        assert!(
            reaches(&net.attacker, proto, host),
            "before the ban: {proto} to {host}"
        );
    }
    // One batch, both families; the enforcer process exits right after: the ban lives on.
    enforce(&net.pbx, &["ban", ATTACKER_V4, "60", ATTACKER_V6, "60"]);
    for (proto, host) in [
        ("udp", PBX_V4),
        ("tcp", PBX_V4),
        ("udp", PBX_V6),
        ("tcp", PBX_V6),
    ] {
        assert!(
            blocked(&net.attacker, proto, host),
            "banned: {proto} to {host} got through"
        );
    }
    assert!(
        reaches(&net.trusted, "udp", PBX_TRUSTED_V4)
            && reaches(&net.trusted, "tcp", PBX_TRUSTED_V4)
    );
    let mut bans = listed(&net.pbx, NFT);
    bans.sort();
    assert_eq!(
        bans.iter().map(|(ip, _)| ip.as_str()).collect::<Vec<_>>(),
        [ATTACKER_V4, ATTACKER_V6]
    );
    assert!(
        bans.iter().all(|(_, left)| (45..=60).contains(left)),
        "{bans:?}"
    );

    // Unbanning addresses that are not banned in the same batch is fine.
    enforce(
        &net.pbx,
        &[
            "unban",
            ATTACKER_V4,
            ATTACKER_V6,
            "203.0.113.9",
            "2001:db8::99",
        ],
    );
    assert!(listed(&net.pbx, NFT).is_empty());
    for (proto, host) in [
        ("udp", PBX_V4),
        ("tcp", PBX_V4),
        ("udp", PBX_V6),
        ("tcp", PBX_V6),
    ] {
        assert!(
            reaches(&net.attacker, proto, host),
            "after unban: {proto} to {host}"
        );
    }
}

#[test]
fn bans_expire_in_the_kernel_by_themselves() {
    let net = Net::new();
    enforce(&net.pbx, &["ban", ATTACKER_V4, "2"]);
    let banned_at = Instant::now();
    assert!(blocked(&net.attacker, "udp", PBX_V4));
    assert!(wait_for(Duration::from_secs(5), || reaches(
        &net.attacker,
        "udp",
        PBX_V4
    )));
    assert!(
        banned_at.elapsed() >= Duration::from_millis(1900),
        "expired too early: {:?}",
        banned_at.elapsed()
    );
    assert!(listed(&net.pbx, NFT).is_empty());
}

#[test]
fn a_reban_sets_the_new_duration_whether_longer_or_shorter() {
    let net = Net::new();
    // One process, so the second ban takes the refresh path (the address is known to be live).
    enforce(
        &net.pbx,
        &[
            "ban",
            ATTACKER_V4,
            "600",
            "+",
            "ban",
            ATTACKER_V4,
            "30",
            ATTACKER_V6,
            "40",
        ],
    );
    let mut bans = listed(&net.pbx, NFT);
    bans.sort();
    assert_eq!(bans.len(), 2, "{bans:?}");
    assert!(
        (25..=30).contains(&bans[0].1),
        "shortened to 30 s: {bans:?}"
    );
    enforce(
        &net.pbx,
        &["ban", ATTACKER_V4, "90", "+", "ban", ATTACKER_V4, "900"],
    );
    let left = listed(&net.pbx, NFT)
        .into_iter()
        .find(|(ip, _)| ip == ATTACKER_V4)
        .unwrap()
        .1;
    assert!((890..=900).contains(&left), "lengthened to 900 s: {left}");
    assert!(blocked(&net.attacker, "udp", PBX_V4));
}

#[test]
fn flush_ruleset_then_reconcile_restores_and_drops_expired() {
    let net = Net::new();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let db = db.to_str().unwrap();
    // Store first, then the kernel — the daemon's order.
    enforce(
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
    enforce(&net.pbx, &["ban", ATTACKER_V4, "120"]);
    sh_out(&net.pbx, &["nft", "flush", "ruleset"]);
    assert!(
        reaches(&net.attacker, "udp", PBX_V4),
        "flush removed the ban"
    );

    let out = enforce(&net.pbx, &["reconcile", db]);
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
    enforce(&net.pbx, &["reconcile", db]);
    assert_eq!(listed(&net.pbx, NFT).len(), 1);
}

/// The firewall contract: a `fw_input` chain with policy drop that accepts established flows
/// first, in the same table. An attacker's UDP "calls" (IPv4 and IPv6) are established (the pbx
/// answers them); after the ban their datagrams stop arriving, and their conntrack entries are
/// gone even though the attacker keeps sending (a new datagram's entry is never confirmed,
/// because it is dropped).
#[test]
fn a_ban_cuts_an_established_udp_flow_and_forgets_its_conntrack_entry() {
    flow_is_cut(&[]);
}

/// The same in a flood-sized batch: one conntrack dump per family serves all 202 sources, and
/// only the two tracked ones have entries to delete.
#[test]
fn a_large_batch_also_forgets_the_conntrack_entries_of_its_sources() {
    let others: Vec<String> = (1..=200)
        .map(|i| format!("203.0.113.{}", i % 250 + 1))
        .collect();
    flow_is_cut(&others.iter().map(String::as_str).collect::<Vec<_>>());
}

fn flow_is_cut(batch_companions: &[&str]) {
    let net = Net::new();
    nft(
        &net.pbx,
        "add table inet tollguard\n\
         add chain inet tollguard fw_input { type filter hook input priority 0; policy drop; }\n\
         add rule inet tollguard fw_input ct state established,related accept\n\
         add rule inet tollguard fw_input iif lo accept\n\
         add rule inet tollguard fw_input meta l4proto ipv6-icmp accept\n\
         add rule inet tollguard fw_input udp dport 5060 accept\n\
         add rule inet tollguard fw_input tcp dport 5061 accept\n",
    );
    enforce(&net.pbx, &["init"]);
    let ruleset = sh_out(&net.pbx, &["nft", "list", "table", "inet", "tollguard"]);
    assert!(
        ruleset.contains("chain fw_input") && ruleset.contains("policy drop"),
        "init kept the firewall: {ruleset}"
    );

    let families = [(ATTACKER_V4, PBX_V4, "ipv4"), (ATTACKER_V6, PBX_V6, "ipv6")];
    let tracked =
        |src: &str, family: &str| sh_out(&net.pbx, &["conntrack", "-L", "-f", family, "-s", src]);
    let _flows: Vec<Flow> = families
        .iter()
        .map(|(_, pbx, _)| Flow::start(&net.attacker, pbx, 20))
        .collect();
    let started = Instant::now();
    for (src, _, family) in families {
        assert!(
            wait_for(Duration::from_secs(3), || net
                .listener
                .udp_from_since(src, started)
                >= 10),
            "{src} flows"
        );
        let entry = tracked(src, family);
        assert!(
            entry.contains("sport=40000") && !entry.contains("UNREPLIED"),
            "an answered flow: {entry}"
        );
    }

    let mut batch = vec!["ban"];
    for ip in batch_companions
        .iter()
        .copied()
        .chain([ATTACKER_V4, ATTACKER_V6])
    {
        batch.extend([ip, "60"]);
    }
    enforce(&net.pbx, &batch);
    let banned = Instant::now();
    std::thread::sleep(Duration::from_millis(600));
    for (src, _, family) in families {
        assert_eq!(
            net.listener.udp_from_since(src, banned),
            0,
            "datagrams from {src} still arrive after the ban"
        );
        let entry = tracked(src, family);
        assert!(
            !entry.contains("sport=40000"),
            "conntrack entry survived the ban: {entry}"
        );
    }
    assert!(
        reaches(&net.trusted, "udp", PBX_TRUSTED_V4),
        "the trusted side is untouched"
    );
}

/// `systemctl reload nftables` runs `nft flush ruleset`: the daemon notices (`intact`), and the
/// next ban re-creates the objects by itself even without an explicit init.
#[test]
fn a_flushed_ruleset_is_noticed_and_the_next_ban_repairs_it() {
    let net = Net::new();
    enforce(&net.pbx, &["ban", "203.0.113.1", "60"]);
    assert_eq!(enforce(&net.pbx, &["intact"]).trim(), "intact true");
    sh_out(&net.pbx, &["nft", "flush", "ruleset"]);
    assert_eq!(enforce(&net.pbx, &["intact"]).trim(), "intact false");
    enforce(&net.pbx, &["--no-init", "ban", ATTACKER_V4, "60"]);
    assert_eq!(enforce(&net.pbx, &["intact"]).trim(), "intact true");
    assert!(blocked(&net.attacker, "udp", PBX_V4));
    // Only a drop rule missing (the sets still there) is not intact either.
    sh_out(
        &net.pbx,
        &["nft", "flush", "chain", "inet", "tollguard", "bans"],
    );
    assert_eq!(enforce(&net.pbx, &["intact"]).trim(), "intact false");
    assert!(reaches(&net.attacker, "udp", PBX_V4));
    enforce(&net.pbx, &["init"]);
    assert!(
        blocked(&net.attacker, "udp", PBX_V4),
        "init put the rule back; the element was kept"
    );
}

#[test]
fn init_is_idempotent_keeps_bans_and_never_touches_fw_objects() {
    let ns = Netns::new("idem").unwrap();
    nft(
        &ns,
        "add table inet tollguard\n\
         add set inet tollguard fw_allow { type ipv4_addr; elements = { 192.0.2.50 } }\n\
         add chain inet tollguard fw_input { type filter hook input priority 0; policy accept; }\n",
    );
    enforce(&ns, &["ban", "203.0.113.7", "300"]);
    enforce(&ns, &["init", "+", "init"]);
    let table = sh_out(&ns, &["nft", "list", "table", "inet", "tollguard"]);
    assert_eq!(
        table.matches("saddr @banned_v4 drop").count(),
        2,
        "one rule per ban chain (input, forward): {table}"
    );
    assert!(
        table.contains("fw_allow")
            && table.contains("192.0.2.50")
            && table.contains("chain fw_input"),
        "{table}"
    );
    assert_eq!(listed(&ns, NFT).len(), 1);
    enforce(&ns, &["--no-forward", "init"]);
    let table = sh_out(&ns, &["nft", "list", "table", "inet", "tollguard"]);
    assert!(
        !table.contains("bans_forward") && table.contains("chain bans"),
        "{table}"
    );
}

/// A PBX in a container behind the host: the host routes to it, so its packets cross the
/// forward hook, not input. The `bans_forward` chain drops banned sources there too.
#[test]
fn the_forward_chain_protects_a_pbx_behind_the_host() {
    let host = Netns::new("host").unwrap();
    let attacker = Netns::new("attacker").unwrap();
    let container = Netns::new("ctr").unwrap();
    Link::connect(
        &host,
        &format!("{PBX_V4}/24"),
        &attacker,
        &format!("{ATTACKER_V4}/24"),
    )
    .unwrap();
    Link::connect(&host, "10.90.0.1/24", &container, "10.90.0.2/24").unwrap();
    // Inside the namespace, /proc/sys/net is the namespace's own (no procps needed).
    sh_out(
        &host,
        &[
            "python3",
            "-c",
            "open('/proc/sys/net/ipv4/ip_forward', 'w').write('1')",
        ],
    );
    sh_out(
        &attacker,
        &["ip", "route", "add", "10.90.0.0/24", "via", PBX_V4],
    );
    sh_out(
        &container,
        &["ip", "route", "add", "default", "via", "10.90.0.1"],
    );
    let _listener = common::Listener::start_in(&container);
    assert!(
        reaches(&attacker, "udp", "10.90.0.2"),
        "routed before the ban"
    );

    enforce(&host, &["--no-forward", "ban", ATTACKER_V4, "60"]);
    assert!(
        reaches(&attacker, "udp", "10.90.0.2"),
        "the input chain alone does not see forwarded traffic"
    );
    enforce(&host, &["init"]);
    assert!(blocked(&attacker, "udp", "10.90.0.2") && blocked(&attacker, "tcp", "10.90.0.2"));
}
