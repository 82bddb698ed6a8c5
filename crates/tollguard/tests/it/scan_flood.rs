//! `tollguard scan` on the kernel's flood-drop lines (the firewall's `[firewall.flood] log`):
//! the built-in `flood` jail bans a sender whose packets were dropped in five different seconds
//! within ten minutes, not one that crossed the limit in a single burst, and these lines never
//! count toward the `sip` jail's failed registrations.
//!
//! The lines are written here in the kernel's format (`nf_log_syslog.c`) rather than produced by
//! a packet: the kernel logs netfilter packets of a network namespace only with the host-wide
//! sysctl `net.netfilter.nf_log_all_netns = 1`, which tests must not change.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tollguard");

/// One flood-drop line as rsyslog writes it to kern.log (RFC 3339 file format), at
/// `2026-11-24T10:MM:SS.micros`.
fn kern_line(sec: u32, micros: u32, ip: &str) -> String {
    let (src, dst, l3) = if ip.contains(':') {
        (
            v6_full(ip),
            "2001:0db8:0000:0000:0000:0000:0000:0001".to_string(),
            "LEN=453 TC=0 HOPLIMIT=56 FLOWLBL=0",
        )
    } else {
        (
            ip.to_string(),
            "192.0.2.1".to_string(),
            "LEN=433 TOS=0x00 PREC=0x00 TTL=52 ID=0 DF",
        )
    };
    format!(
        "2026-11-24T10:{:02}:{:02}.{micros:06}+00:00 pbx kernel: [{}.{micros:06}] {}IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC={src} DST={dst} {l3} PROTO=UDP SPT=5070 DPT=5060 LEN=413",
        sec / 60,
        sec % 60,
        12_000 + sec,
        tg_firewall::FLOOD_LOG_PREFIX,
    )
}

/// `%pI6`: eight groups of four hex digits.
fn v6_full(ip: &str) -> String {
    let a: std::net::Ipv6Addr = ip.parse().unwrap();
    a.segments()
        .iter()
        .map(|s| format!("{s:04x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn sip_fail(sec: u32, ip: &str) -> String {
    format!(
        "[2026-11-24 10:{:02}:{:02}] NOTICE[1423] chan_sip.c: Registration from '\"100\" <sip:100@203.0.113.5:5060>' failed for '{ip}:5060' - Wrong password",
        sec / 60,
        sec % 60
    )
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    let mut s = lines.join("\n");
    s.push('\n');
    std::fs::write(&p, s).unwrap();
    p
}

fn scan(args: &[&Path]) -> Output {
    let out = Command::new(BIN)
        .args(["scan", "--events", "--format", "json"])
        .args(args)
        .output()
        .expect("start tollguard");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn offender<'a>(summary: &'a Value, ip: &str) -> Option<&'a Value> {
    summary["offenders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["ip"] == ip)
}

#[test]
fn the_detector_reads_the_prefix_the_firewall_writes() {
    assert_eq!(tg_detect::FLOOD_LOG_PREFIX, tg_firewall::FLOOD_LOG_PREFIX);
}

#[test]
fn a_sustained_flooder_is_banned_and_a_one_off_burst_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let flooder = "198.51.100.7";
    let flooder_v6 = "2001:db8::9";
    let one_off = "203.0.113.50";
    let short = "203.0.113.51";
    let mut kern = Vec::new();
    // Three logged drops a second, for eight seconds.
    for sec in 1..=8 {
        for micros in [100_000, 400_000, 700_000] {
            kern.push(kern_line(sec, micros, flooder));
        }
    }
    // The log rule's burst: ten lines in one second, then quiet.
    for i in 0..10 {
        kern.push(kern_line(20, 1000 + i, one_off));
    }
    // Four seconds with drops, spread over nine minutes: one short of the jail's five.
    for sec in [30, 200, 400, 570] {
        kern.push(kern_line(sec, 5000, short));
    }
    for sec in 40..=45 {
        kern.push(kern_line(sec, 0, flooder_v6));
    }
    // The same text from user-space programs under other tags: never a kernel line.
    for (sec, tag) in (50..).zip(["kernel2", "sshd[42]", "Kernel", "logger"].repeat(3)) {
        kern.push(kern_line(sec, 0, "9.9.9.9").replace(" kernel: ", &format!(" {tag}: ")));
    }
    // Two SRC= fields: suspicious, nobody counted.
    kern.push(kern_line(70, 0, "203.0.113.60").replace(" DST=", " SRC=9.9.9.8 DST="));
    kern.sort();
    let f = write(dir.path(), "kern.log", &kern);
    let all = json_lines(&scan(&[&f]));
    let (events, summary) = (&all[..all.len() - 1], &all.last().unwrap()["summary"]);

    for e in events {
        assert_eq!(
            (&e["service"], &e["kind"]),
            (&"firewall".into(), &"flood".into())
        );
    }
    let bans: Vec<(&str, &str, &str, u64)> = events
        .iter()
        .filter(|e| e["banned"] == true)
        .map(|e| {
            (
                e["ip"].as_str().unwrap(),
                e["jail"].as_str().unwrap(),
                e["time"].as_str().unwrap(),
                e["ban_secs"].as_u64().unwrap(),
            )
        })
        .collect();
    // Banned in its fifth second with drops, for the jail's first hour.
    assert_eq!(
        bans,
        [
            (flooder, "flood", "2026-11-24T10:00:05", 3600),
            (flooder_v6, "flood", "2026-11-24T10:00:44", 3600),
        ]
    );
    // ... at that second's first line: the lines of one second count once.
    let banning = events.iter().find(|e| e["banned"] == true).unwrap();
    let first_of_fifth = kern
        .iter()
        .position(|l| *l == kern_line(5, 100_000, flooder))
        .unwrap();
    assert_eq!(banning["line"], first_of_fifth as u64 + 1);
    assert_eq!(offender(summary, flooder).unwrap()["would_ban"], true);
    assert_eq!(offender(summary, flooder_v6).unwrap()["would_ban"], true);
    for ip in [one_off, short] {
        let o = offender(summary, ip).unwrap_or_else(|| panic!("{ip} not reported"));
        assert_eq!(o["would_ban"], false, "{ip}: {o}");
    }
    assert_eq!(offender(summary, one_off).unwrap()["count"], 10);
    for ip in ["9.9.9.9", "9.9.9.8", "203.0.113.60"] {
        assert!(offender(summary, ip).is_none(), "{ip} counted");
    }
    assert_eq!(summary["suspicious"], 1, "{summary}");
}

#[test]
fn flood_lines_never_count_toward_the_sip_jail() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "192.0.2.77";
    // Four failed registrations (sip bans at five) and four seconds of drops (flood bans at
    // five): eight findings in all, and nobody is banned.
    let messages: Vec<String> = (1..=4).map(|s| sip_fail(s * 10, ip)).collect();
    let kern: Vec<String> = (1..=4).map(|s| kern_line(s * 10 + 5, 0, ip)).collect();
    let m = write(dir.path(), "messages", &messages);
    let k = write(dir.path(), "kern.log", &kern);
    let all = json_lines(&scan(&[&m, &k]));
    let summary = &all.last().unwrap()["summary"];
    let o = offender(summary, ip).unwrap();
    assert_eq!(o["count"], 8, "{o}");
    assert_eq!(o["would_ban"], false, "{o}");
    // One more of either kind bans, in that kind's own jail.
    for (extra, jail) in [
        (write(dir.path(), "m2", &[sip_fail(50, ip)]), "sip"),
        (write(dir.path(), "k2", &[kern_line(55, 0, ip)]), "flood"),
    ] {
        let all = json_lines(&scan(&[&m, &k, &extra]));
        let banned: Vec<&Value> = all.iter().filter(|e| e["banned"] == true).collect();
        assert_eq!(banned.len(), 1, "{all:?}");
        assert_eq!(banned[0]["jail"], jail);
    }
}

#[test]
fn journal_entries_as_the_daemon_writes_them_are_read_too() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "198.51.100.8";
    // `journalctl -o json` entries of the kernel (no _PID), 2026-11-24 10:00:01..06 UTC.
    let lines: Vec<String> = (1..=6)
        .map(|sec| {
            let us = (1_795_514_400_u64 + sec) * 1_000_000;
            let message = kern_line(0, 0, ip)
                .split_once("] ")
                .map(|(_, m)| m.to_string())
                .unwrap();
            let entry = serde_json::json!({
                "__CURSOR": format!("s=0;i={sec}"),
                "__REALTIME_TIMESTAMP": us.to_string(),
                "_TRANSPORT": "kernel",
                "SYSLOG_IDENTIFIER": "kernel",
                "_HOSTNAME": "pbx",
                "MESSAGE": message,
            });
            let e = tg_source::journal::parse_entry(entry.to_string().as_bytes()).unwrap();
            String::from_utf8(e.line).unwrap()
        })
        .collect();
    assert!(
        lines[0].starts_with("Nov 24 10:00:01 pbx kernel: tollguard-flood: IN=eth0 "),
        "{}",
        lines[0]
    );
    let f = write(dir.path(), "journal.log", &lines);
    let all = json_lines(&scan(&[&f]));
    let banned: Vec<&Value> = all.iter().filter(|e| e["banned"] == true).collect();
    assert_eq!(banned.len(), 1, "{all:?}");
    assert_eq!(
        (&banned[0]["ip"], &banned[0]["jail"]),
        (&ip.into(), &"flood".into())
    );
}
