//! What only the nftables enforcer does, against a real kernel with real packets, in namespaces
//! made here (what every backend does is in `backends`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::common::*;
use tg_testnet::{Link, Netns};

const NFT: &str = "nftables";

#[test]
fn a_full_set_bans_the_prefixes_instead_and_never_stops() {
    let net = Net::new();
    more_sources(&net, &["198.51.100.6"]);
    // Sets of 4: the fifth address does not fit, so the batch goes in as its /24.
    let mut args = vec!["--set-size", "4", "ban"];
    let addrs = [
        "198.51.100.20",
        "198.51.100.21",
        "198.51.100.22",
        "198.51.100.23",
        ATTACKER_V4,
    ];
    for a in &addrs {
        args.extend([*a, "60"]);
    }
    enforce(&net.pbx, &args);
    let bans = listed(&net.pbx, NFT);
    assert_eq!(
        bans.iter().map(|(ip, _)| ip.as_str()).collect::<Vec<_>>(),
        ["198.51.100.0/24"],
        "{bans:?}"
    );
    assert!(!reaches_from(&net.attacker, "198.51.100.6", PBX_V4));
    assert!(blocked(&net.attacker, "udp", PBX_V4));
    assert!(
        reaches(&net.attacker, "udp", PBX_V6),
        "the other family is untouched"
    );
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
    let _listener = crate::common::Listener::start_in(&container);
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

/// A set's elements as nft itself lists them: address → seconds left.
fn kernel_set(ns: &Netns, set: &str) -> HashMap<String, u64> {
    let json = sh_out(ns, &["nft", "-j", "list", "set", "inet", "tollguard", set]);
    let doc: serde_json::Value = serde_json::from_str(&json).expect("nft -j output");
    let items = doc["nftables"].as_array().expect("nftables array");
    let set = items
        .iter()
        .find_map(|i| i.get("set"))
        .expect("a set in the listing");
    set.get("elem")
        .and_then(|e| e.as_array())
        .map(|elems| {
            elems
                .iter()
                .map(|e| {
                    let inner = &e["elem"];
                    let ip = inner["val"].as_str().expect("address").to_string();
                    (ip, inner["expires"].as_u64().expect("expires"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// 10,000 addresses in one call: ten netlink messages per statement, one transaction
/// (under the per-transaction bound); then a refresh of 3,000 of them shortens exactly those.
#[test]
fn ten_thousand_bans_in_one_call_all_land_with_their_timeouts_and_a_refresh_shortens_them() {
    let ns = Netns::new("bulk").unwrap();
    enforce(&ns, &["ban-many", "10000", "600"]);
    let set = kernel_set(&ns, "banned_v4");
    assert_eq!(set.len(), 10_000);
    // 10.200.0.0 + 1, + 5000, + 10000.
    for ip in ["10.200.0.1", "10.200.19.136", "10.200.39.16"] {
        let left = set.get(ip).copied();
        assert!(
            left.is_some_and(|l| (598..=600).contains(&l)),
            "{ip}: {left:?}"
        );
    }
    // One process, so the second call takes the refresh path (add, delete, add).
    enforce(
        &ns,
        &["ban-many", "3000", "600", "+", "ban-many", "3000", "30"],
    );
    let set = kernel_set(&ns, "banned_v4");
    assert_eq!(set.len(), 10_000);
    let shortened = set.values().filter(|&&l| (28..=30).contains(&l)).count();
    let kept = set.values().filter(|&&l| (590..=600).contains(&l)).count();
    assert_eq!((shortened, kept), (3000, 7000));
    assert!(
        set.get("10.200.11.184").is_some_and(|&l| l <= 30),
        "address 3000 was refreshed"
    );
}

#[test]
fn unbanning_addresses_that_are_not_banned_is_fine() {
    let ns = Netns::new("unban").unwrap();
    enforce(
        &ns,
        &[
            "unban",
            "203.0.113.9",
            "2001:db8::99",
            "::ffff:203.0.113.10",
        ],
    );
    enforce(
        &ns,
        &[
            "ban",
            "203.0.113.1",
            "60",
            "+",
            "unban",
            "203.0.113.1",
            "203.0.113.1",
            "203.0.113.2",
            "2001:db8::1",
        ],
    );
    assert!(listed(&ns, NFT).is_empty());
}

/// The whole table deleted behind the enforcer's back: the kernel answers ENOENT, and the
/// next ban, unban or restore re-creates the objects and succeeds.
#[test]
fn a_deleted_table_is_recreated_by_the_next_ban_unban_or_restore() {
    let net = Net::new();
    enforce(&net.pbx, &["ban", "203.0.113.1", "60"]);
    let delete = || {
        sh_out(&net.pbx, &["nft", "delete", "table", "inet", "tollguard"]);
        assert_eq!(enforce(&net.pbx, &["intact"]).trim(), "intact false");
    };
    delete();
    enforce(
        &net.pbx,
        &["--no-init", "ban", ATTACKER_V4, "60", ATTACKER_V6, "60"],
    );
    assert_eq!(enforce(&net.pbx, &["intact"]).trim(), "intact true");
    assert!(blocked(&net.attacker, "udp", PBX_V4) && blocked(&net.attacker, "tcp", PBX_V6));
    assert_eq!(listed(&net.pbx, NFT).len(), 2);

    delete();
    enforce(&net.pbx, &["--no-init", "unban", ATTACKER_V4]);
    assert_eq!(enforce(&net.pbx, &["intact"]).trim(), "intact true");

    delete();
    enforce(&net.pbx, &["--no-init", "restore-many", "3", "60"]);
    assert_eq!(kernel_set(&net.pbx, "banned_v4").len(), 3);
}

/// Two enforcers in two threads of one process: one restores 50,000 bans (in bounded
/// transactions), the other bans newcomers one at a time meanwhile. Both succeed (no EBUSY,
/// no lost element) and everything ends up in the set.
#[test]
fn a_large_restore_and_single_bans_from_another_thread_interleave() {
    let ns = Netns::new("inter").unwrap();
    let out = enforce(&ns, &["restore-with-bans", "50000", "50"]);
    assert!(
        out.contains("restore 50000 ") && out.contains("bans 50"),
        "{out}"
    );
    let during: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("bans-during-restore "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|k| k.parse().ok())
        .unwrap_or(0);
    assert!(during >= 1, "no ban ran during the restore: {out}");
    let set = kernel_set(&ns, "banned_v4");
    assert_eq!(set.len(), 50_050);
    for i in 1..=50 {
        let ip = format!("10.250.0.{i}");
        assert!(set.contains_key(&ip), "{ip} missing");
    }
}
