//! A restart over a big store: the daemon reads and bans from its first milliseconds, with the
//! store's history right for every decision, while every stored ban goes back into the kernel.
//!
//! The daemon runs inside a network namespace the test makes (tg-testnet), with its own
//! nftables; the store is written beforehand through tg-store, as a previous run would have left
//! it. Behaviour is asserted, not timings (those come from `bench/daemon_bench.sh restore`).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tg_store::{BanRecord, SqliteStore, Store};
use tg_testnet::Netns;

use crate::support::{append, kill_and_reap, wait_for, Site};

/// Bans a previous run left in the store.
const STORED: u32 = 20_000;
/// Served two sip bans (both over); its lines are in the log before the daemon starts.
const TWICE: &str = "10.99.0.2";
/// Served one sip ban (over); its lines are written just after the daemon answers.
const ONCE: &str = "10.99.0.3";
/// Banned right now (stored, running for a day); its lines must not decide it again.
const RUNNING: &str = "10.99.0.4";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn three_failures(ip: &str) -> String {
    (1..=3)
        .map(|s| format!("[2026-11-25 10:00:0{s}] NOTICE[1234] chan_sip.c: Registration from '\"100\" <sip:100@203.0.113.5>' failed for '{ip}:5060' - Wrong password\n"))
        .collect()
}

fn ban(ip: IpAddr, since_ms: i64, until_ms: i64, ban_number: u32) -> BanRecord {
    BanRecord {
        ip: ip.into(),
        jail: "sip".into(),
        since_ms,
        until_ms,
        reason: "sip auth-failure".into(),
        count: 3,
        ban_number,
    }
}

/// Every element of `banned_v4` in `ns`: address → its ban's full timeout, seconds.
fn kernel_bans(ns: &Netns) -> std::collections::HashMap<String, u64> {
    let out = ns
        .exec(&["nft", "-j", "list", "set", "inet", "tollguard", "banned_v4"])
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut bans = std::collections::HashMap::new();
    for item in v["nftables"].as_array().unwrap() {
        let Some(elems) = item["set"]["elem"].as_array() else {
            continue;
        };
        for e in elems {
            let elem = &e["elem"];
            let ip = elem["val"].as_str().unwrap().to_string();
            bans.insert(ip, elem["timeout"].as_u64().unwrap_or(0));
        }
    }
    bans
}

#[test]
fn after_a_restart_over_a_big_store_decisions_escalate_at_once_and_every_ban_is_back() {
    assert!(
        tg_testnet::available(),
        "tests need root and iproute2 (CI runs as root)"
    );
    let pbx = Netns::new("rst").unwrap();
    let site = Site::new();
    let config = format!(
        "[daemon]\nstate_dir = \"{state}\"\nsocket = \"{sock}\"\nread_from = \"start\"\n\n\
         [jail.sip]\nlogs = [\"{log}\"]\nmax_retry = 3\nfind_time = \"10m\"\nban_time = \"1h\"\n\n\
         [jail.iax]\nenabled = false\n[jail.ami]\nenabled = false\n[jail.web]\nenabled = false\n\
         [jail.ssh]\nenabled = false\n[jail.ftp]\nenabled = false\n",
        state = site.path("state").display(),
        sock = site.path("tg.sock").display(),
        log = site.path("messages").display(),
    );
    site.write_config(&config);

    // What a previous run left: 20,000 running bans and three offenders' histories. The
    // namespace's kernel has no table at all, as after a reboot.
    let now = now_ms();
    let day = 86_400_000;
    let mut store = SqliteStore::open(&site.path("state/state.db")).unwrap();
    let stored: Vec<BanRecord> = (0..STORED)
        .map(|i| {
            let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 200, 0, 0)) + i);
            ban(IpAddr::V4(ip), now - 1_000, now + day, 1)
        })
        .collect();
    store.record_bans(&stored).unwrap();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    store
        .record_bans(&[
            ban(ip(TWICE), now - 3 * day, now - 2 * day, 1),
            ban(ip(TWICE), now - 2 * day, now - day, 2),
            ban(ip(ONCE), now - 2 * day, now - day, 1),
            ban(ip(RUNNING), now - 1_000, now + day, 1),
        ])
        .unwrap();
    drop(store);
    // TWICE's failures are already in the log: read in the daemon's very first look at it.
    append(&site.path("messages"), &three_failures(TWICE));

    let mut daemon = site.start(&pbx);
    append(
        &site.path("messages"),
        &(three_failures(ONCE) + &three_failures(RUNNING)),
    );

    let done = wait_for(Duration::from_secs(30), || {
        let c = site.counters();
        c["findings"].as_u64() >= Some(9)
            && c["restore_ms"].as_i64() >= Some(0)
            && c["bans_applied"].as_u64() >= Some(2)
    });
    assert!(
        done,
        "findings, restore or bans missing: {}\n{}",
        site.counters(),
        site.logs()
    );
    let counters = site.counters();
    // Every running stored ban; the new bans too when they were stored before the restore read
    // the store (it starts with the daemon); never the three that had ended.
    let restored = counters["restored"].as_u64().unwrap();
    assert!(
        (u64::from(STORED) + 1..=u64::from(STORED) + 3).contains(&restored),
        "restored {restored}"
    );
    assert_eq!(
        counters["decisions"].as_u64(),
        Some(2),
        "two decisions; none for the address already banned: {counters}"
    );

    let kernel = kernel_bans(&pbx);
    assert_eq!(
        kernel.len(),
        STORED as usize + 3,
        "every stored ban and the two new ones are in the kernel"
    );
    assert!(stored
        .iter()
        .all(|b| kernel.contains_key(&tg_model::net_text(b.ip))));
    // The third sip ban is 4 h, the second 2 h: escalated from the store's history.
    assert_eq!(
        kernel.get(TWICE),
        Some(&(4 * 3600)),
        "{TWICE}\n{}",
        site.logs()
    );
    assert_eq!(
        kernel.get(ONCE),
        Some(&(2 * 3600)),
        "{ONCE}\n{}",
        site.logs()
    );
    // Its restored ban (about a day left), not a new 2 h one.
    let running = kernel.get(RUNNING).copied().unwrap_or(0);
    assert!(running > 80_000, "{RUNNING} re-banned: timeout {running}");

    let bans = site.bans();
    let twice = bans.iter().find(|b| b["ip"] == TWICE).unwrap();
    assert_eq!(twice["jail"], "sip");

    kill_and_reap(&mut daemon);
    assert!(
        site.logs().contains("jails seeded from the store"),
        "{}",
        site.logs()
    );
}
