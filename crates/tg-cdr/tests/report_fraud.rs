//! The report against generated call records: 180 clean days raise no alarm; the article's
//! campaign (11,000 international calls in 46 hours from a Friday night, to premium ranges) is
//! flagged on its first day, with its countries, and nothing else is.

use std::path::Path;

use tg_cdr::report::{Analyzer, Report, ReportOptions, Severity};
use tg_cdr_gen::{generate, Campaign, GenConfig};
use tg_model::civil::{days_from_civil, format_date};
use tg_office::classify::{Classifier, Dialplan};

fn report(cfg: &GenConfig) -> Report {
    let mut csv = Vec::new();
    generate(cfg, &mut csv).unwrap();
    let calls = tg_config::calls::CallsConfig::default();
    let classifier = Classifier::new(Dialplan::from_config(&calls).unwrap());
    let mut a = Analyzer::new(
        classifier,
        ReportOptions::from_config(&calls, None).unwrap(),
    );
    let skips = a.read(&csv[..], Path::new("gen.csv")).unwrap();
    a.finish(&skips)
}

fn show(r: &Report) -> String {
    r.alarms
        .iter()
        .map(|a| {
            format!(
                "{} {:?} {} {} {} {:?}",
                a.start, a.severity, a.kind, a.source, a.detail, a.countries
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn clean_months_raise_no_alarm() {
    let r = report(&GenConfig::default());
    assert_eq!(r.days.len(), 180 - 25, "Sundays have no calls");
    assert_eq!(r.skipped, 0);
    assert!(r.records > 10_000, "{}", r.records);
    assert!(r.alarms.is_empty(), "false alarms:\n{}", show(&r));
    let countries: Vec<&str> = r.destinations.iter().map(|d| d.country.as_str()).collect();
    for c in ["US", "GB", "DE", "MX", "CA", "FR"] {
        assert!(countries.contains(&c), "{c} missing from {countries:?}");
    }
}

#[test]
fn article_campaign_is_flagged_on_its_first_day() {
    let friday = days_from_civil(2025, 4, 18);
    let start = friday * 86_400 + 21 * 3600;
    let cfg = GenConfig {
        campaigns: vec![Campaign::article(start)],
        ..GenConfig::default()
    };
    let r = report(&cfg);
    assert!(!r.alarms.is_empty());
    let first_day = format_date(friday);
    let last_day = format_date(friday + 2);
    // Every alarm belongs to the campaign: none before its first day, none after its last.
    for a in &r.alarms {
        let day = &a.start[..10];
        assert!(
            day >= first_day.as_str() && day <= last_day.as_str(),
            "alarm outside the campaign:\n{}",
            show(&r)
        );
    }
    let earliest = r.alarms.iter().map(|a| &a.start).min().unwrap();
    assert_eq!(&earliest[..10], first_day, "{}", show(&r));
    // Its countries are named.
    let mut named: Vec<&str> = r
        .alarms
        .iter()
        .flat_map(|a| a.countries.iter().map(String::as_str))
        .collect();
    named.sort_unstable();
    named.dedup();
    for c in Campaign::ARTICLE_COUNTRIES {
        assert!(named.contains(&c), "{c} not named: {named:?}\n{}", show(&r));
    }
    // The alarms that must fire, each with evidence from the compromised extension.
    for kind in [
        "premium",
        "after-hours",
        "new-country",
        "volume",
        "extension-volume",
        "concurrency",
    ] {
        assert!(
            r.alarms.iter().any(|a| a.kind == kind),
            "no {kind} alarm:\n{}",
            show(&r)
        );
    }
    let premium = r.alarms.iter().find(|a| a.kind == "premium").unwrap();
    assert_eq!(premium.source, "PJSIP/1005");
    assert!(premium.severity >= Severity::High);
    assert!(!premium.examples.is_empty());
    assert!(premium
        .examples
        .iter()
        .all(|e| e.channel.starts_with("PJSIP/1005-")));
    assert_eq!(&premium.start[..16], &format!("{first_day} 21:00"));
    let day = r.days.iter().find(|d| d.date == first_day).unwrap();
    assert!(day.intl_calls > 700, "{day:?}");
}

#[test]
fn two_thread_reader_gives_the_same_report() {
    let friday = days_from_civil(2025, 4, 18);
    let cfg = GenConfig {
        days: 120,
        campaigns: vec![Campaign::article(friday * 86_400 + 21 * 3600)],
        ..GenConfig::default()
    };
    let sequential = report(&cfg);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Master.csv");
    let mut csv = Vec::new();
    generate(&cfg, &mut csv).unwrap();
    csv.extend_from_slice(b"broken line\n");
    std::fs::write(&path, &csv).unwrap();
    let calls = tg_config::calls::CallsConfig::default();
    let parallel = tg_cdr::report::report_file(
        &path,
        Classifier::new(Dialplan::from_config(&calls).unwrap()),
        ReportOptions::from_config(&calls, None).unwrap(),
    )
    .unwrap();
    assert_eq!(parallel.days, sequential.days);
    assert_eq!(parallel.alarms, sequential.alarms);
    assert_eq!(parallel.destinations, sequential.destinations);
    assert_eq!(parallel.records, sequential.records);
    assert_eq!(parallel.skipped, 1);
    assert_eq!(parallel.skipped_lines[0].line, parallel.records + 1);
}
