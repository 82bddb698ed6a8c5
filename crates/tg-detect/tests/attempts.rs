//! One attempt logged as several lines counts once in the jails (through the attempt key), and
//! separate attempts still count separately, even when the sender reuses its Call-ID or user.

use tg_config::jail::builtin_jails;
use tg_detect::{Detectors, Outcome};
use tg_jail::{JailSet, LogClock};
use tg_model::{Finding, TrustedSet};

/// Runs lines through detectors and the built-in jails; returns (findings, counted, bans).
fn replay(lines: &[String]) -> (usize, usize, usize) {
    let det = Detectors::builtin();
    let mut jails = JailSet::new(builtin_jails(), TrustedSet::new());
    // 2026-12-01: the lines below are from late November.
    let mut clock = LogClock::new(1_764_547_200_000);
    let (mut findings, mut counted, mut bans) = (0, 0, 0);
    for line in lines {
        let Outcome::Found(d) = det.detect(line.as_bytes()) else {
            panic!("no finding for {line}");
        };
        findings += 1;
        let obs = jails.observe(&Finding {
            time_ms: clock.resolve(d.stamp),
            service: d.service,
            kind: d.kind,
            ip: d.ip,
            attempt: d.attempt,
        });
        counted += usize::from(obs.counted);
        bans += obs.decisions.len();
    }
    (findings, counted, bans)
}

fn pjsip_attempt(second: u32, callid: &str) -> Vec<String> {
    let stamp = format!("[2026-11-20 10:00:{second:02}]");
    let sec = |name: &str, extra: &str| {
        format!("{stamp} SECURITY[1] res_security_log.c: SecurityEvent=\"{name}\",EventTV=\"2026-11-20T10:00:{second:02}.100+0000\",Severity=\"Error\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"100\",SessionID=\"{callid}\",LocalAddress=\"IPV4/UDP/203.0.113.5/5060\",RemoteAddress=\"IPV4/UDP/198.51.100.7/5099\"{extra}")
    };
    vec![
        format!("{stamp} NOTICE[1] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:100@203.0.113.5>' failed for '198.51.100.7:5099' (callid: {callid}) - No matching endpoint found"),
        sec("InvalidAccountID", ""),
        sec(
            "ChallengeResponseFailed",
            ",Challenge=\"1/2\",Response=\"3\",ExpectedResponse=\"\"",
        ),
        format!("{stamp} NOTICE[1] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:100@203.0.113.5>' failed for '198.51.100.7:5099' (callid: {callid}) - Failed to authenticate"),
    ]
}

#[test]
fn pjsip_notice_and_security_lines_of_one_request_count_once() {
    assert_eq!(replay(&pjsip_attempt(1, "abc@host")), (4, 1, 0));
    // Four requests, four Call-IDs: four attempts.
    let lines: Vec<String> = (1..=4)
        .flat_map(|i| pjsip_attempt(i, &format!("cid-{i}")))
        .collect();
    assert_eq!(replay(&lines), (16, 4, 0));
}

#[test]
fn a_reused_call_id_still_counts_once_per_second() {
    let lines: Vec<String> = (1..=5).flat_map(|i| pjsip_attempt(i * 2, "same")).collect();
    let (findings, counted, bans) = replay(&lines);
    assert_eq!((findings, counted), (20, 5));
    assert_eq!(bans, 1, "five attempts in ten minutes ban");
}

#[test]
fn ami_nonexistent_user_is_one_attempt_and_repeats_count() {
    let attempt = |second: u32| {
        vec![
            format!("[2026-11-20 10:00:{second:02}] NOTICE[9] manager.c: 192.0.2.4 tried to authenticate with nonexistent user 'opennms'"),
            format!("[2026-11-20 10:00:{second:02}] NOTICE[9] manager.c: 192.0.2.4 failed to authenticate as 'opennms'"),
        ]
    };
    assert_eq!(replay(&attempt(1)), (2, 1, 0));
    let lines: Vec<String> = (1..=5).flat_map(|i| attempt(i * 3)).collect();
    assert_eq!(replay(&lines), (10, 5, 1));
    // Wrong passwords for one existing user: every line is an attempt.
    let brute: Vec<String> = (1..=5)
        .map(|i| format!("[2026-11-20 10:01:{i:02}] NOTICE[9] manager.c: 192.0.2.4 failed to authenticate as 'admin'"))
        .collect();
    assert_eq!(replay(&brute), (5, 5, 1));
}

#[test]
fn absolute_stamps_agree_with_the_jail_clock() {
    use tg_model::Stamp;
    let det = Detectors::builtin();
    for (stamp, y, mo, d, ms) in [
        ("[2026-11-25 00:00:00]", 2026, 11, 25, 0),
        ("[2024-02-29 23:59:59.999]", 2024, 2, 29, 86_399_999),
        ("[1999-12-31 12:00:00]", 1999, 12, 31, 43_200_000),
    ] {
        let line = format!("{stamp} NOTICE[1] manager.c: 192.0.2.4 failed to authenticate as 'x'");
        let Outcome::Found(found) = det.detect(line.as_bytes()) else {
            panic!("no finding for {line}");
        };
        assert_eq!(
            found.stamp,
            Some(Stamp::Absolute(tg_jail::civil_to_unix_ms(y, mo, d, ms))),
            "{line}"
        );
    }
}
