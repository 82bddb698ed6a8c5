//! `tollguard scan` end to end: the built binary on real files, stdin, gzip, hostile bytes and
//! broken configs; the JSON contract other parts rely on; the bundled example's story.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tollguard");

/// A chan_sip registration failure (Asterisk 1.8+ shape, `dateformat=%F %T`).
fn sip_fail(sec: u32, ip: &str) -> String {
    let addr = if ip.contains(':') {
        format!("[{ip}]:5060")
    } else {
        format!("{ip}:5060")
    };
    format!(
        "[2026-11-24 10:{:02}:{:02}] NOTICE[1423] chan_sip.c: Registration from '\"100\" <sip:100@203.0.113.5:5060>' failed for '{addr}' - Wrong password",
        sec / 60,
        sec % 60
    )
}

fn benign(sec: u32) -> String {
    format!(
        "[2026-11-24 10:{:02}:{:02}] VERBOSE[2211][C-00000001] app_dial.c: Called PJSIP/201",
        sec / 60,
        sec % 60
    )
}

fn scan(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .arg("scan")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tollguard");
    {
        let mut pipe = child.stdin.take().unwrap();
        if let Some(data) = stdin {
            pipe.write_all(data).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

fn lines(v: &[String]) -> Vec<u8> {
    let mut s = v.join("\n");
    s.push('\n');
    s.into_bytes()
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn summary(out: &Output) -> Value {
    let all = json_lines(out);
    let last = all.last().expect("no output").clone();
    last.get("summary")
        .expect("last line is the summary")
        .clone()
}

fn offender<'a>(s: &'a Value, ip: &str) -> Option<&'a Value> {
    s["offenders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["ip"] == ip)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn events_and_summary_follow_the_json_contract() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = vec![benign(0)];
    log.extend((1..=6).map(|s| sip_fail(s, "198.51.100.7")));
    let f = write(dir.path(), "messages", &lines(&log));
    let out = scan(&["--events", "--format", "json", p(&f)], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = json_lines(&out);
    assert_eq!(all.len(), 7, "6 events + summary");
    for (i, e) in all[..6].iter().enumerate() {
        assert_eq!(e["file"], p(&f));
        assert_eq!(e["line"], i as u64 + 2, "line numbers are 1-based");
        assert_eq!(e["service"], "sip");
        assert_eq!(e["kind"], "auth-failure");
        assert_eq!(e["ip"], "198.51.100.7");
        assert_eq!(e["time"], format!("2026-11-24T10:00:{:02}", i + 1));
    }
    // The built-in sip jail bans on the 5th failure within 10 minutes, for an hour.
    assert!(all[3].get("banned").is_none());
    assert_eq!(all[4]["jail"], "sip");
    assert_eq!(all[4]["banned"], true);
    assert_eq!(all[4]["ban_secs"], 3600);
    let s = all[6]["summary"].clone();
    assert_eq!(s["lines"], 7);
    assert_eq!(s["findings"], 6);
    assert_eq!(s["skipped"], 0);
    assert_eq!(s["offenders"].as_array().unwrap().len(), 1);
    let o = offender(&s, "198.51.100.7").unwrap();
    assert_eq!(o["count"], 6);
    assert_eq!(o["would_ban"], true);

    // Without --events: the summary alone, the same object.
    let out = scan(&["--format", "json", p(&f)], None);
    let all = json_lines(&out);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["summary"]["offenders"], s["offenders"]);
}

#[test]
fn text_report_names_attacker_and_ban() {
    let dir = tempfile::tempdir().unwrap();
    let log: Vec<String> = (1..=6).map(|s| sip_fail(s, "198.51.100.7")).collect();
    let f = write(dir.path(), "messages", &lines(&log));
    let out = scan(&[p(&f)], None);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("6 lines"), "{text}");
    assert!(text.contains("would have banned 1 address"), "{text}");
    // The ban row: who, which jail, when, how long, why.
    let row: Vec<&str> = text
        .lines()
        .find(|l| l.contains("5 attempts in 10m"))
        .unwrap_or_else(|| panic!("no ban row in {text}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        row[..5],
        ["198.51.100.7", "sip", "2026-11-24", "10:00:05", "1h"],
        "{text}"
    );
}

#[test]
fn text_report_stays_short_for_many_attackers() {
    let dir = tempfile::tempdir().unwrap();
    let log: Vec<String> = (0..60)
        .map(|i| sip_fail(i, &format!("198.51.100.{}", i + 1)))
        .collect();
    let f = write(dir.path(), "messages", &lines(&log));
    let text = String::from_utf8(scan(&[p(&f)], None).stdout).unwrap();
    assert!(text.contains("60 attacking addresses"), "{text}");
    assert!(text.contains("and 10 more addresses"), "{text}");
    // 50 table rows; nobody is banned, so no ban table.
    assert_eq!(
        text.lines().filter(|l| l.contains("198.51.100.")).count(),
        50,
        "{text}"
    );
}

#[test]
fn missing_file_is_exit_2_naming_it_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.log",
        &lines(&[sip_fail(1, "198.51.100.7")]),
    );
    let missing = dir.path().join("no-such-messages");
    let out = scan(&[p(&good), p(&missing)], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(p(&missing)), "{err}");
    assert!(
        out.stdout.is_empty(),
        "nothing scanned when an input is missing"
    );
    let out = scan(&[p(dir.path())], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("directory"));
}

#[test]
fn bad_config_is_exit_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(dir.path(), "m.log", &lines(&[benign(1)]));
    let cfg = write(
        dir.path(),
        "cfg.toml",
        b"[trusted]\naddresses = [\"10.0.0.0/8\"]\nrefesh = \"5m\"\n",
    );
    let out = scan(&["--config", p(&cfg), p(&log)], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3", p(&cfg))), "{err}");
    assert!(err.contains("refesh"), "{err}");

    let cfg = write(dir.path(), "cfg2.toml", b"[jail.sip]\nmax_retry = 0\n");
    let out = scan(&["--config", p(&cfg), p(&log)], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:1", p(&cfg))) && err.contains("max_retry"),
        "{err}"
    );

    let missing = dir.path().join("absent.toml");
    let out = scan(&["--config", p(&missing), p(&log)], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(p(&missing)));
}

#[test]
fn custom_detectors_from_the_config_count_and_bad_ones_name_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let log: Vec<String> = (1..=6)
        .map(|s| {
            format!("Nov 24 10:00:0{s} pbx provisiond[77]: provisioning: refused config download from 198.51.100.9 (bad MAC)")
        })
        .collect();
    let f = write(dir.path(), "syslog", &lines(&log));
    let cfg = write(
        dir.path(),
        "c.toml",
        b"[[detector]]\nname = \"prov\"\npattern = 'provisioning: refused config download from <HOST> \\(bad MAC\\)$'\n",
    );
    let out = scan(&["--config", p(&cfg), "--format", "json", p(&f)], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&out);
    let o = offender(&s, "198.51.100.9").unwrap();
    assert_eq!(o["count"], 6);
    assert_eq!(o["what"][0]["service"], "custom");
    assert_eq!(o["bans"][0]["jail"], "custom");
    // Without the config nobody is found.
    assert_eq!(
        summary(&scan(&["--format", "json", p(&f)], None))["findings"],
        0
    );

    let bad = write(
        dir.path(),
        "bad.toml",
        b"# a comment\n[[detector]]\nname = \"broken\"\npattern = 'x <HOST> (unclosed'\n",
    );
    let out = scan(&["--config", p(&bad), p(&f)], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:4", p(&bad))) && err.contains("broken"),
        "{err}"
    );
}

#[test]
fn trusted_cidr_is_never_an_offender() {
    let dir = tempfile::tempdir().unwrap();
    let mut log: Vec<String> = (0..10).map(|s| sip_fail(s, "198.51.100.7")).collect();
    log.extend((10..16).map(|s| sip_fail(s, "203.0.113.9")));
    let f = write(dir.path(), "messages", &lines(&log));
    let cfg = write(
        dir.path(),
        "t.toml",
        b"[trusted]\naddresses = [\"198.51.100.0/24\", \"localhost\"]\n",
    );
    let out = scan(&["--config", p(&cfg), "--format", "json", p(&f)], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&out);
    assert!(offender(&s, "198.51.100.7").is_none(), "{s}");
    assert_eq!(offender(&s, "203.0.113.9").unwrap()["would_ban"], true);
    assert_eq!(s["findings"], 16);
    assert_eq!(s["trusted_findings"], 10);
    // Without the config the same address is an offender.
    let s = summary(&scan(&["--format", "json", p(&f)], None));
    assert_eq!(offender(&s, "198.51.100.7").unwrap()["would_ban"], true);
}

#[test]
fn unresolvable_trusted_name_is_exit_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(dir.path(), "m.log", &lines(&[benign(1)]));
    let cfg = write(
        dir.path(),
        "t.toml",
        b"[trusted]\naddresses = [\n  \"10.0.0.1\",\n  \"pbx.no-such-name.invalid\",\n]\n",
    );
    let out = scan(&["--config", p(&cfg), p(&log)], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pbx.no-such-name.invalid"), "{err}");
    assert!(err.contains(&format!("{}:4", p(&cfg))), "{err}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip");
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().unwrap().stdout
}

#[test]
fn gzip_stdin_and_plain_give_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut log: Vec<String> = (0..3000).map(benign).collect();
    for s in 0..7 {
        log[100 + s * 300] = sip_fail(100 + s as u32 * 300, "2001:db8::66");
    }
    let data = lines(&log);
    let plain = write(dir.path(), "messages", &data);
    // Named without .gz: recognised by its magic bytes.
    let packed = write(dir.path(), "messages.old", &gzip(&data));
    let want = summary(&scan(&["--format", "json", p(&plain)], None));
    assert_eq!(want["lines"], 3000);
    assert_eq!(offender(&want, "2001:db8::66").unwrap()["count"], 7);
    for out in [
        scan(&["--format", "json", p(&packed)], None),
        scan(&["--format", "json", "-"], Some(&data)),
        scan(&["--format", "json", "-"], Some(&gzip(&data))),
    ] {
        assert_eq!(out.status.code(), Some(0));
        let got = summary(&out);
        assert_eq!(got["lines"], want["lines"]);
        assert_eq!(got["offenders"], want["offenders"]);
    }
    assert_eq!(
        summary(&scan(&["--format", "json", p(&packed)], None))["files"][0]["gzip"],
        true
    );
}

#[test]
fn truncated_gzip_scans_up_to_the_damage_then_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let log: Vec<String> = (0..60_000u32)
        .map(|i| {
            if i % 1000 == 0 {
                sip_fail(i % 3600, "198.51.100.9")
            } else {
                benign(i % 3600)
            }
        })
        .collect();
    let gz = gzip(&lines(&log));
    let cut = write(dir.path(), "messages.2.gz", &gz[..gz.len() / 2]);
    let out = scan(&["--format", "json", p(&cut)], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(p(&cut)) && err.contains("after line"), "{err}");
    let s = summary(&out);
    let n = s["lines"].as_u64().unwrap();
    assert!(n > 1000 && n < 60_000, "{n} lines");
    assert!(
        offender(&s, "198.51.100.9").unwrap()["count"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert_eq!(s["read_errors"].as_array().unwrap().len(), 1);
}

#[test]
fn hostile_bytes_are_skipped_or_examined_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    data.extend(sip_fail(1, "198.51.100.1").as_bytes());
    data.extend(b"\r\n"); // CRLF
    data.extend(b"\xff\xfe garbage \x00\x01 not utf-8\n");
    data.extend(vec![b'A'; 3 * 1024 * 1024]); // a 3 MiB line
    data.extend(b"\n");
    // Invalid UTF-8 in the attacker's own text must not hide the attempt.
    let line = sip_fail(2, "198.51.100.2");
    let (head, tail) = line.split_once("\"100\"").unwrap();
    data.extend(head.as_bytes());
    data.extend(b"\"\xff\xfe\x1b[2J\"");
    data.extend(tail.as_bytes());
    data.extend(b"\n");
    data.extend(sip_fail(3, "198.51.100.3").as_bytes()); // no final newline
    let f = write(dir.path(), "messages", &data);
    let out = scan(&["--events", "--format", "json", p(&f)], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = json_lines(&out);
    let events: Vec<(u64, String)> = all[..all.len() - 1]
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["ip"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            (1, "198.51.100.1".to_string()),
            (4, "198.51.100.2".to_string()),
            (5, "198.51.100.3".to_string())
        ]
    );
    let s = summary(&out);
    assert_eq!(s["lines"], 5);
    assert_eq!(s["skipped"], 1, "the 3 MiB line");
    assert_eq!(
        s["invalid_utf8"], 2,
        "the garbage line and the attacker's bytes"
    );
}

#[test]
fn terminal_escapes_in_file_names_are_not_printed_raw() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "evil\u{1b}[2J\u{202e}.log",
        &lines(&[sip_fail(1, "198.51.100.1")]),
    );
    let out = scan(&["--events", p(&f)], None);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("198.51.100.1"), "{text}");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
}

#[test]
fn rotated_files_are_read_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let current = write(
        dir.path(),
        "messages",
        &lines(&[sip_fail(30, "198.51.100.1")]),
    );
    let old = write(
        dir.path(),
        "messages.1",
        &lines(&[sip_fail(10, "198.51.100.1")]),
    );
    let older = write(
        dir.path(),
        "messages.2.gz",
        &gzip(&lines(&[sip_fail(5, "198.51.100.1")])),
    );
    let out = scan(
        &[
            "--events",
            "--format",
            "json",
            p(&current),
            p(&old),
            p(&older),
        ],
        None,
    );
    let files: Vec<String> = json_lines(&out)[..3]
        .iter()
        .map(|e| e["file"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(files, [p(&older), p(&old), p(&current)]);
}

/// A chan_sip failure at an arbitrary time of 2026-11-24.
fn sip_fail_at(hms: &str, ip: &str) -> String {
    sip_fail(0, ip).replace("10:00:00", hms)
}

#[test]
fn different_logs_reach_the_jails_merged_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "198.51.100.5";
    // The messages file (given first) has the later burst; the security log the earlier one.
    let mut messages: Vec<String> = (1..=5)
        .map(|s| sip_fail_at(&format!("10:30:0{s}"), ip))
        .collect();
    let mut security: Vec<String> = (1..=5)
        .map(|s| sip_fail_at(&format!("08:00:0{s}"), ip))
        .collect();
    // And a second address whose attempts alternate between the two logs.
    messages.extend(["11:00:01", "11:00:03", "11:00:05"].map(|t| sip_fail_at(t, "203.0.113.6")));
    security.extend(["11:00:02", "11:00:04"].map(|t| sip_fail_at(t, "203.0.113.6")));
    let m = write(dir.path(), "messages", &lines(&messages));
    let sec = write(dir.path(), "security", &lines(&security));
    let out = scan(&["--events", "--format", "json", p(&m), p(&sec)], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = json_lines(&out);
    let times: Vec<&str> = all[..all.len() - 1]
        .iter()
        .map(|e| e["time"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "events come in time order across logs");
    let s = all.last().unwrap()["summary"].clone();
    // Replayed as it happened: banned at 08:00 for 1h, and again at 10:30 for 2h (escalated).
    // (File by file, the 08:00 burst would fall inside the 10:30 ban and never count.)
    let bans = offender(&s, ip).unwrap()["bans"]
        .as_array()
        .unwrap()
        .clone();
    let got: Vec<(&str, u64)> = bans
        .iter()
        .map(|b| (b["at"].as_str().unwrap(), b["ban_secs"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        got,
        [("2026-11-24T08:00:05", 3600), ("2026-11-24T10:30:05", 7200)]
    );
    // The fifth attempt in time, from the messages file, is the one that bans.
    let b = &offender(&s, "203.0.113.6").unwrap()["bans"][0];
    assert_eq!(b["at"], "2026-11-24T11:00:05");
    let banning = all
        .iter()
        .find(|e| e["ip"] == "203.0.113.6" && e["banned"] == true)
        .unwrap();
    assert_eq!(
        (banning["file"].as_str(), banning["line"].as_u64()),
        (Some(p(&m)), Some(8))
    );
    // Per-file counts are reported in the order given.
    assert_eq!(s["files"][0]["file"], p(&m));
    assert_eq!(s["files"][0]["findings"], 8);
    assert_eq!(s["files"][1]["findings"], 7);
}

fn example(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

#[test]
fn bundled_example_tells_its_story() {
    let log = example("examples/attacked-pbx.log");
    let out = scan(&["--format", "json", p(&log)], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&out);
    let mut ips: Vec<&str> = s["offenders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["ip"].as_str().unwrap())
        .collect();
    ips.sort();
    assert_eq!(
        ips,
        [
            "10.20.0.31",
            "192.0.2.77",
            "198.51.100.140",
            "198.51.100.23",
            "2001:db8:4d2::66",
            "203.0.113.200",
            "203.0.113.45"
        ]
    );
    for ip in [
        "203.0.113.45",
        "198.51.100.23",
        "2001:db8:4d2::66",
        "192.0.2.77",
        "198.51.100.140",
    ] {
        assert_eq!(offender(&s, ip).unwrap()["would_ban"], true, "{ip}");
    }
    for ip in ["203.0.113.200", "10.20.0.31"] {
        assert_eq!(offender(&s, ip).unwrap()["would_ban"], false, "{ip}");
    }
    // Two bursts 90 minutes apart: banned twice, the second ban escalated.
    let bans = offender(&s, "203.0.113.45").unwrap()["bans"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(bans.len(), 2, "{bans:?}");
    assert_eq!(bans[0]["ban_secs"], 3600);
    assert_eq!(bans[1]["ban_secs"], 7200);
    // One attempt logged as several lines (PJSIP NOTICE + SECURITY; AMI's three) counts once.
    let ipv6 = offender(&s, "2001:db8:4d2::66").unwrap();
    assert_eq!(
        (ipv6["count"].as_u64(), ipv6["attempts"].as_u64()),
        (Some(50), Some(25))
    );
    assert_eq!(offender(&s, "192.0.2.77").unwrap()["attempts"], 7);
    // Addresses only in attacker-written text never show up.
    assert!(offender(&s, "10.20.0.21").is_none());
    assert!(offender(&s, "203.0.113.5").is_none());

    // With the example's config the office LAN is trusted.
    let cfg = example("examples/attacked-pbx.toml");
    let s = summary(&scan(
        &["--config", p(&cfg), "--format", "json", p(&log)],
        None,
    ));
    assert!(offender(&s, "10.20.0.31").is_none());
    assert_eq!(s["trusted"][0]["ip"], "10.20.0.31");
    assert_eq!(s["offenders"].as_array().unwrap().len(), 6);
}

/// Issue #12.1: a line naming two addresses that its text cannot tell apart is reported with
/// both, each time (`--events`), and counted per pair of candidates; nobody is counted or
/// banned for it. A decoy in the grammar-resolved families is never found.
#[test]
fn ambiguous_lines_are_reported_with_their_candidates() {
    let dir = tempfile::tempdir().unwrap();
    // chan_sip: the caller (before) and the dialled number (after) are both the sender's.
    let call = |sec: u32| {
        format!("[2026-11-24 10:00:{sec:02}] NOTICE[1] chan_sip.c: Call from '1' (198.51.100.7:5060) to extension '0' (203.0.113.9:5060) to extension '011' rejected because extension not found in context 'default'.")
    };
    // sshd: a decoy in the user name; sshd's grammar places the address.
    let ssh = |sec: u32| {
        format!("Nov 24 10:00:{sec:02} pbx sshd[7]: Failed password for invalid user x from 203.0.113.9 via z from 198.51.100.7 port 50250 ssh2")
    };
    let mut v: Vec<String> = (0..8).map(call).collect();
    v.extend((10..16).map(ssh));
    let log = write(dir.path(), "mixed.log", &lines(&v));
    let log = log.to_str().unwrap();

    let out = scan(&["--events", "--format", "json", log], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let objects: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ambiguous: Vec<&Value> = objects
        .iter()
        .filter(|o| o["ambiguous"] == Value::Bool(true))
        .collect();
    assert_eq!(ambiguous.len(), 8);
    assert_eq!(
        ambiguous[0]["candidates"],
        serde_json::json!(["198.51.100.7", "203.0.113.9"])
    );
    assert_eq!(ambiguous[0]["service"], "sip");
    assert_eq!(ambiguous[0]["line"], 1);
    let findings: Vec<&Value> = objects.iter().filter(|o| o.get("ip").is_some()).collect();
    assert_eq!(findings.len(), 6);
    assert!(findings.iter().all(|f| f["ip"] == "198.51.100.7"));
    let summary = &objects.last().unwrap()["summary"];
    assert_eq!(
        summary["ambiguous"],
        serde_json::json!([{
            "candidates": ["198.51.100.7", "203.0.113.9"],
            "count": 8,
            "first_seen": "2026-11-24T10:00:00",
            "last_seen": "2026-11-24T10:00:07",
        }])
    );
    assert_eq!(summary["suspicious"], 8);
    let offenders = summary["offenders"].as_array().unwrap();
    assert_eq!(offenders.len(), 1, "the decoy is nobody's offender");
    assert_eq!(offenders[0]["ip"], "198.51.100.7");

    let text = scan(&[log], None);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("  198.51.100.7 or 203.0.113.9, 8 times"),
        "{text}"
    );
    let events = scan(&["--events", log], None);
    let events = String::from_utf8_lossy(&events.stdout);
    assert!(
        events.contains("198.51.100.7 or 203.0.113.9  sip/call-rejected  (ambiguous"),
        "{events}"
    );
}
