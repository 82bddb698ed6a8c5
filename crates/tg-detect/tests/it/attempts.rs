//! One attempt logged as several lines counts once in the jails (through its attempt part), and
//! separate attempts still count separately, even when the sender reuses its Call-ID or user.

use tg_config::jail::builtin_jails;
use tg_detect::{Detectors, Outcome};
use tg_jail::{JailSet, LogClock};
use tg_model::{Finding, TrustedSet};

/// Runs lines through detectors and the built-in jails; returns (findings, counted, bans).
fn replay(lines: &[String]) -> (usize, usize, usize) {
    replay_sip_max_retry(lines, 5)
}

/// [`replay`] with the `sip` jail's `max_retry` set.
fn replay_sip_max_retry(lines: &[String], max_retry: u32) -> (usize, usize, usize) {
    let det = Detectors::builtin();
    let mut jails = builtin_jails();
    for j in jails.iter_mut().filter(|j| j.name == "sip") {
        j.max_retry = max_retry;
    }
    let mut jails = JailSet::new(jails, TrustedSet::new());
    // 2026-12-01: the lines below are from late November.
    let mut clock = LogClock::new(1_764_547_200_000);
    let (mut findings, mut counted, mut bans) = (0, 0, 0);
    for line in lines {
        let d = match det.detect(line.as_bytes()) {
            Outcome::Found(d) => d,
            // ChallengeSent and SuccessfulAuth are no attack.
            Outcome::Nothing if line.contains("SecurityEvent=\"ChallengeSent\"") => continue,
            _ => panic!("no finding for {line}"),
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

/// The lines of a recording under `testdata/real-asterisk/`: `messages`, then `security`, or
/// the other way round (the daemon reads the two files in no fixed order).
fn recorded(name: &str, security_first: bool) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/real-asterisk");
    let read = |ext: &str| -> Vec<String> {
        let path = dir.join(format!("{name}.{ext}"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .lines()
            .map(str::to_string)
            .collect()
    };
    let (messages, security) = (read("messages"), read("security"));
    if security_first {
        security.into_iter().chain(messages).collect()
    } else {
        messages.into_iter().chain(security).collect()
    }
}

#[test]
fn svcrack_guesses_with_one_call_id_are_each_an_attempt_on_a_real_asterisk() {
    for security_first in [false, true] {
        let lines = recorded("pjsip-svcrack", security_first);
        // 4 NOTICE lines and 3 ChallengeResponseFailed in `messages`, 2 of those again in
        // `security`: four guesses.
        assert_eq!(replay_sip_max_retry(&lines, 5), (9, 4, 0));
        assert_eq!(
            replay_sip_max_retry(&lines, 4).2,
            1,
            "banned at the fourth guess"
        );
    }
}

#[test]
fn a_phones_two_typos_in_two_files_are_two_attempts_on_a_real_asterisk() {
    for security_first in [false, true] {
        let lines = recorded("chan_sip-two-typos", security_first);
        // Per typo: a NOTICE and an InvalidPassword event in `messages`, the event in `security`.
        assert_eq!(
            replay_sip_max_retry(&lines, 3),
            (6, 2, 0),
            "max_retry - 1 typos"
        );
        assert_eq!(replay_sip_max_retry(&lines, 2).2, 1);
    }
}

#[test]
fn guesses_in_one_second_with_one_call_id_each_count() {
    // svcrack's pace: a guess every 6 ms, one Call-ID, its own digest each time.
    let lines: Vec<String> = (0..5)
        .flat_map(|g| {
            let stamp = "[2026-11-20 10:00:01]";
            let ms = 100 + 6 * g;
            vec![
                format!("{stamp} NOTICE[1] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:100@203.0.113.5>' failed for '198.51.100.7:5060' (callid: 2627972419) - Failed to authenticate"),
                format!("{stamp} SECURITY[2] res_security_log.c: SecurityEvent=\"ChallengeResponseFailed\",EventTV=\"2026-11-20T10:00:01.{ms:03}+0000\",Severity=\"Error\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"100\",SessionID=\"2627972419\",LocalAddress=\"IPV4/UDP/203.0.113.5/5060\",RemoteAddress=\"IPV4/UDP/198.51.100.7/5060\",Challenge=\"1/2\",Response=\"{g:032x}\",ExpectedResponse=\"\""),
            ]
        })
        .collect();
    assert_eq!(replay(&lines), (10, 5, 1));
}

#[test]
fn a_reused_call_id_counts_every_request() {
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
