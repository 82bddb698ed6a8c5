//! `tollguard calls report` end to end: the real binary over generated call records (plain and
//! gzip), its JSON contract, exit codes, skipped lines and the HTML file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tg_cdr_gen::{generate, Campaign, GenConfig};
use tg_model::civil::days_from_civil;

fn tollguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollguard"))
        .args(args)
        .env("COLUMNS", "120")
        .output()
        .expect("run tollguard")
}

fn write_cdr(dir: &Path, name: &str, cfg: &GenConfig, gzip: bool) -> PathBuf {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    let mut w = std::io::BufWriter::new(file);
    generate(cfg, &mut w).unwrap();
    w.flush().unwrap();
    drop(w);
    if !gzip {
        return path;
    }
    // gzip(1) writes NAME.gz and removes NAME.
    let status = Command::new("gzip").arg("-1").arg(&path).status().unwrap();
    assert!(status.success());
    let mut gz = path.into_os_string();
    gz.push(".gz");
    PathBuf::from(gz)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn clean_office_exits_zero_with_the_json_contract() {
    let dir = tempfile::tempdir().unwrap();
    let cdr = write_cdr(dir.path(), "Master.csv", &GenConfig::default(), false);
    let out = tollguard(&[
        "calls",
        "report",
        "--cdr",
        cdr.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["alarms"], serde_json::json!([]));
    assert_eq!(v["skipped"], 0);
    let days = v["days"].as_array().unwrap();
    assert_eq!(days.len(), 155);
    for key in [
        "date",
        "calls",
        "answered",
        "minutes",
        "intl_calls",
        "intl_minutes",
    ] {
        assert!(days[0].get(key).is_some(), "days[].{key} missing");
    }
    let dest = v["destinations"].as_array().unwrap();
    for key in ["country", "calls", "minutes"] {
        assert!(dest[0].get(key).is_some(), "destinations[].{key} missing");
    }
    assert_eq!(dest[0]["country"], "US");
}

#[test]
fn fraud_campaign_exits_one_and_names_first_day_and_countries() {
    let dir = tempfile::tempdir().unwrap();
    let friday = days_from_civil(2025, 4, 18);
    let cfg = GenConfig {
        campaigns: vec![Campaign::article(friday * 86_400 + 21 * 3600)],
        ..GenConfig::default()
    };
    let cdr = write_cdr(dir.path(), "Master.csv.1", &cfg, true);
    let html = dir.path().join("report.html");
    let out = tollguard(&[
        "calls",
        "report",
        "--cdr",
        cdr.to_str().unwrap(),
        "--format",
        "json",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let alarms = v["alarms"].as_array().unwrap();
    let starts: Vec<&str> = alarms
        .iter()
        .map(|a| a["start"].as_str().unwrap())
        .collect();
    assert!(
        starts.iter().all(|s| s.starts_with("2025-04-")),
        "{starts:?}"
    );
    assert_eq!(starts.iter().min().map(|s| &s[..10]), Some("2025-04-18"));
    for a in alarms {
        for key in ["kind", "severity", "start", "end", "source", "detail"] {
            assert!(a.get(key).is_some(), "alarms[].{key} missing");
        }
    }
    let premium = alarms.iter().find(|a| a["kind"] == "premium").unwrap();
    assert_eq!(premium["severity"], "critical");
    assert_eq!(premium["source"], "PJSIP/1005");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("PJSIP/1005"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external assets"
    );

    // The text form marks the alarm days and lists evidence.
    let out = tollguard(&[
        "calls",
        "report",
        "--cdr",
        cdr.to_str().unwrap(),
        "--since",
        "2025-04-15",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("2025-04-18") && l.contains(" !  ")),
        "{text}"
    );
    assert!(!text.contains("2025-04-14 "), "--since hides earlier days");
    assert!(
        text.contains("e.g. 2025-04-18 21:00:00 1005 -> 0113719"),
        "{text}"
    );
}

#[test]
fn malformed_records_are_skipped_with_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Master.csv");
    let good = r#""","1001","2125550123","from-internal","""Alice"" <1001>","PJSIP/1001-00000001","PJSIP/trunk-00000002","Dial","PJSIP/2125550123@trunk,300","2025-01-06 10:00:00","2025-01-06 10:00:05","2025-01-06 10:02:05",125,120,"ANSWERED","DOCUMENTATION""#;
    let mut text = Vec::new();
    writeln!(text, "{good}").unwrap();
    writeln!(text, "not,a,record").unwrap();
    text.extend_from_slice(b"\x1b[2J\xff\xfe,\"\n");
    writeln!(text, "{good}").unwrap();
    std::fs::write(&path, text).unwrap();
    let out = tollguard(&["calls", "report", "--cdr", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Skipped 2 malformed records"), "{text}");
    assert!(text.contains("line 2: 3 columns"), "{text}");
    assert!(text.contains("line 3: "), "{text}");
    assert!(!text.contains('\u{1b}'), "terminal escapes are neutralised");
    let out = tollguard(&[
        "calls",
        "report",
        "--cdr",
        path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(json(&out)["skipped"], 2);
}

#[test]
fn unreadable_input_exits_two_naming_the_file() {
    let out = tollguard(&["calls", "report", "--cdr", "/nonexistent/Master.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("/nonexistent/Master.csv"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("t.toml");
    std::fs::write(&cfg, "[calls]\nhome_country = \"ZZ\"\n").unwrap();
    let out = tollguard(&[
        "calls",
        "report",
        "--cdr",
        "-",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("ZZ"), "{err}");

    let out = tollguard(&["calls", "report", "--cdr", "-", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));

    // A time zone the system database does not have, and both clock settings at once.
    for (text, want) in [
        (
            "[calls]\ncdr_usegmtime = true\ntimezone = \"Europe/Atlantis\"\n",
            "Europe/Atlantis",
        ),
        (
            "[calls]\nutc_offset = \"+01:00\"\ntimezone = \"Europe/Berlin\"\n",
            "t.toml:3",
        ),
    ] {
        std::fs::write(&cfg, text).unwrap();
        let out = tollguard(&[
            "calls",
            "report",
            "--cdr",
            "-",
            "--config",
            cfg.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains("calls.timezone") && err.contains(want),
            "{err}"
        );
    }
}

#[test]
fn bundled_example_flags_its_campaign() {
    let cdr = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cdr/Master.csv");
    let out = tollguard(&[
        "calls",
        "report",
        "--cdr",
        cdr.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let alarms = v["alarms"].as_array().unwrap();
    assert!(alarms
        .iter()
        .all(|a| a["start"].as_str().unwrap().starts_with("2025-02-0")));
    assert!(alarms
        .iter()
        .any(|a| a["kind"] == "premium" && a["start"] == "2025-02-07 22:00:00"));
}

#[test]
fn guard_needs_an_ami_section() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("t.toml");
    std::fs::write(&cfg, "[calls]\nhome_country = \"US\"\n").unwrap();
    let out = tollguard(&["calls", "guard", "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("[calls.ami]"), "{err}");
}
