//! Custom `[[detector]]` patterns: `<HOST>`, anchoring at the message start (or the line start
//! with `^`), precedence of the built-in detectors, and refusal of bad patterns.

use std::net::IpAddr;

use tg_config::detector::CustomDetector;
use tg_detect::{DetectError, Detectors, Outcome};
use tg_model::{Kind, Service};

fn detector(name: &str, service: &str, kind: &str, pattern: &str) -> CustomDetector {
    let text =
        format!("name = {name:?}\nservice = {service:?}\nkind = {kind:?}\npattern = {pattern:?}\n");
    toml::from_str(&text).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn host_is_read_from_the_message_start() {
    let det = Detectors::with_custom(&[detector(
        "myapp",
        "web",
        "auth-failure",
        r"login failed from <HOST> user \S+",
    )])
    .unwrap();
    assert_eq!(det.custom_names().collect::<Vec<_>>(), ["myapp"]);
    match det.detect(b"Nov  4 18:30:40 host myapp[12]: login failed from 203.0.113.9 user bob") {
        Outcome::Found(d) => {
            assert_eq!(
                (d.service, d.kind, d.ip),
                (Service::Web, Kind::AuthFailure, ip("203.0.113.9"))
            );
            assert!(d.stamp.is_some());
        }
        other => panic!("{other:?}"),
    }
    match det.detect(b"Nov  4 18:30:40 host myapp[12]: login failed from [2001:db8::9]:443 user x")
    {
        Outcome::Found(d) => assert_eq!(d.ip, ip("2001:db8::9")),
        other => panic!("{other:?}"),
    }
    // The same words later in the message (after text the client may choose) do not match.
    assert_eq!(
        det.detect(b"Nov  4 18:30:40 host myapp[12]: user x: login failed from 9.9.9.9 user y"),
        Outcome::Nothing
    );
    // Not an address: no finding.
    assert_eq!(
        det.detect(b"Nov  4 18:30:40 host myapp[12]: login failed from 999.1.1.1 user y"),
        Outcome::Nothing
    );
}

#[test]
fn caret_patterns_match_the_whole_line() {
    let det = Detectors::with_custom(&[detector(
        "raw",
        "custom",
        "other",
        r"^BLOCK <HOST> reason=\w+$",
    )])
    .unwrap();
    match det.detect(b"BLOCK 198.51.100.7 reason=flood") {
        Outcome::Found(d) => {
            assert_eq!(
                (d.service, d.kind, d.ip),
                (Service::Custom, Kind::Other, ip("198.51.100.7"))
            );
            assert_eq!(d.stamp, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        det.detect(b"x BLOCK 198.51.100.7 reason=flood"),
        Outcome::Nothing
    );
}

#[test]
fn custom_patterns_see_asterisk_messages_at_every_level() {
    let det = Detectors::with_custom(&[detector(
        "voicemail",
        "sip",
        "auth-failure",
        r"Incorrect password '[^']*' for user '\d+' \(context = \w+\) from <HOST>",
    )])
    .unwrap();
    let line = b"[Mar  6 08:44:27] VERBOSE[1][C-00000001] app_voicemail.c: Incorrect password '1234' for user '100' (context = default) from 203.0.113.9";
    match det.detect(line) {
        Outcome::Found(d) => assert_eq!(d.ip, ip("203.0.113.9")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn built_in_detectors_come_first() {
    let det =
        Detectors::with_custom(&[detector("greedy", "custom", "other", r"^.*<HOST>")]).unwrap();
    let line = b"[2016-05-06 07:08:09] NOTICE[6772] manager.c: 192.0.2.5 failed to authenticate as 'Admin'";
    match det.detect(line) {
        Outcome::Found(d) => assert_eq!((d.service, d.ip), (Service::Ami, ip("192.0.2.5"))),
        other => panic!("{other:?}"),
    }
    let suspicious = b"[Mar  6 08:44:27] NOTICE[1] chan_sip.c: Failed to authenticate device <sip:1@198.51.100.1>;tag=x";
    assert!(matches!(det.detect(suspicious), Outcome::Suspicious(_)));
}

#[test]
fn bad_patterns_are_refused_with_the_detector_name() {
    for (pattern, service, kind) in [
        ("failed from (<HOST>", "ssh", "other"),
        ("no host here", "ssh", "other"),
        ("<HOST> and <HOST>", "ssh", "other"),
        ("from <HOST>", "nosuchservice", "other"),
        ("from <HOST>", "ssh", "nosuchkind"),
        ("from <HOST>(a{1000}){1000}", "ssh", "other"),
    ] {
        match Detectors::with_custom(&[detector("broken", service, kind, pattern)]) {
            Err(DetectError::BadPattern { name, message }) => {
                assert_eq!(name, "broken");
                assert!(!message.is_empty());
            }
            Ok(_) => panic!("{pattern:?} accepted"),
        }
    }
}
