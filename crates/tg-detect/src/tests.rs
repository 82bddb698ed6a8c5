//! Unit tests per detector, from lines written after the catalogue's shapes, plus negatives.

use std::net::IpAddr;

use tg_model::{Kind, Service, Stamp};

use crate::{Detection, Detectors, Outcome};

fn det(line: &str) -> Outcome {
    Detectors::builtin().detect(line.as_bytes())
}

fn found(line: &str) -> Detection {
    match det(line) {
        Outcome::Found(d) => d,
        other => panic!("expected a finding, got {other:?} for {line}"),
    }
}

#[track_caller]
fn hit(line: &str, service: Service, kind: Kind, ip: &str) {
    let d = found(line);
    let want: IpAddr = ip.parse().unwrap();
    assert_eq!(
        (d.service, d.kind, d.ip),
        (service, kind, want),
        "for {line}"
    );
}

#[track_caller]
fn nothing(line: &str) {
    assert_eq!(det(line), Outcome::Nothing, "for {line}");
}

/// `Suspicious`, naming these candidates (in line order).
#[track_caller]
fn suspicious_of(line: &str, candidates: &[&str]) {
    match det(line) {
        Outcome::Suspicious(s) => {
            let got: Vec<String> = s.candidates.ips().map(|ip| ip.to_string()).collect();
            assert_eq!(got, candidates, "for {line}");
        }
        other => panic!("expected Suspicious, got {other:?} for {line}"),
    }
}

#[track_caller]
fn suspicious(line: &str) {
    assert!(
        matches!(det(line), Outcome::Suspicious(_)),
        "expected Suspicious for {line}: {:?}",
        det(line)
    );
}

fn ms(h: u32, m: u32, s: u32) -> u32 {
    ((h * 60 + m) * 60 + s) * 1000
}

#[test]
fn chan_sip_registration_every_reason() {
    let cases = [
        ("Wrong password", Kind::AuthFailure),
        ("Username/auth name mismatch", Kind::AuthFailure),
        ("No matching peer found", Kind::UnknownAccount),
        ("Not a local domain", Kind::AclDenied),
        ("Peer is not supposed to register", Kind::AclDenied),
        ("Device does not match ACL", Kind::AclDenied),
        (
            "Device not configured to use this transport type",
            Kind::AclDenied,
        ),
        ("RTP initialization failed", Kind::Other),
        ("Unknown failure", Kind::Other),
    ];
    for (reason, kind) in cases {
        hit(
            &format!("[Mar  6 08:44:27] NOTICE[1638] chan_sip.c: Registration from '\"100\"<sip:100@10.0.0.1:5060>' failed for '203.0.113.9:5071' - {reason}"),
            Service::Sip,
            kind,
            "203.0.113.9",
        );
    }
    hit(
        "[2012-02-13 17:21:54] NOTICE[1638] chan_sip.c: Registration from '<sip:301@example.com>' failed for '[2001:db8::9]:5060' - Wrong password",
        Service::Sip,
        Kind::AuthFailure,
        "2001:db8::9",
    );
}

#[test]
fn chan_sip_to_header_cannot_move_the_address() {
    hit(
        "[Mar  6 08:44:27] NOTICE[1] chan_sip.c: Registration from '<sip:x' failed for '9.9.9.9' - Wrong password'@h>' failed for '203.0.113.9:5060' - Wrong password",
        Service::Sip,
        Kind::AuthFailure,
        "203.0.113.9",
    );
}

#[test]
fn chan_sip_header_only_lines_have_no_address() {
    suspicious("[Mar  6 08:44:27] NOTICE[1] chan_sip.c: Failed to authenticate device <sip:156@10.0.0.1>;tag=abc for INVITE, code = -1");
    suspicious("[Mar  6 08:44:27] NOTICE[1] chan_sip.c: Sending fake auth rejection for device 100<sip:100@10.0.0.1>;tag=x");
    nothing("[Mar  6 08:44:27] NOTICE[1] chan_sip.c: No matching peer for '100' from '203.0.113.9:5060'");
}

#[test]
fn chan_sip_call_rejected() {
    hit(
        "[2013-02-05 23:44:42] NOTICE[436][C-00000fa9] chan_sip.c: Call from '' (203.0.113.9:10836) to extension '0972598285108' rejected because extension not found in context 'default'.",
        Service::Sip,
        Kind::CallRejected,
        "203.0.113.9",
    );
    // The extension is the caller's: a fake `(addr) to extension '` inside it conflicts.
    suspicious("[2013-02-05 23:44:42] NOTICE[436] chan_sip.c: Call from '' (203.0.113.9:10836) to extension 'x' (9.9.9.9:1) to extension 'y' rejected because extension not found in context 'default'.");
}

#[test]
fn pjsip_request_failed_forms() {
    let d = found("[2017-12-14 22:18:00] NOTICE[1943] res_pjsip/pjsip_distributor.c: Request 'INVITE' from '<sip:'or''='@4.5.6.7>' failed for '203.0.113.9:43678' (callid: UmOkE9yQPGOsF3Az24YTRe..) - No matching endpoint found");
    assert_eq!(d.ip, "203.0.113.9".parse::<IpAddr>().unwrap());
    assert_eq!(d.kind, Kind::UnknownAccount);
    assert!(d.attempt.is_some());
    hit(
        "[2016-05-06 07:08:09] NOTICE[17103] res_pjsip/pjsip_distributor.c: Request 'INVITE' from '\"test2\" <sip:test2@3.4.5.6>' failed for '192.0.2.7:5679' (callid: cafebabe) - No matching endpoint found after 5 tries in 2.500 ms",
        Service::Sip,
        Kind::UnknownAccount,
        "192.0.2.7",
    );
    hit(
        "[2016-05-23 10:18:16] NOTICE[19388] res_pjsip/pjsip_distributor.c: Request from '\"1000\" <sip:1000@10.0.0.1>' failed for '203.0.113.9:48336' (callid: 276666022) - No matching endpoint found",
        Service::Sip,
        Kind::UnknownAccount,
        "203.0.113.9",
    );
    // Old PJSIP: unbracketed IPv6 with the port glued on.
    hit(
        "[2016-05-23 10:18:16] NOTICE[19388] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:1@x>' failed for '2001:db8::5:5060' (callid: 1) - Failed to authenticate",
        Service::Sip,
        Kind::AuthFailure,
        "2001:db8::5",
    );
    hit(
        "[2016-05-23 10:18:16] NOTICE[19388] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:1@x>' failed for '[2001:db8::5]:5060' (callid: 1) - Not match Endpoint ACL",
        Service::Sip,
        Kind::AclDenied,
        "2001:db8::5",
    );
}

#[test]
fn pjsip_from_grammar_places_the_address() {
    let pjsip = "[2016-05-23 10:18:16] NOTICE[1] res_pjsip/pjsip_distributor.c: ";
    // A copy in the Call-ID: the text before it runs on past the From's closing `>`.
    hit(&format!("{pjsip}Request 'REGISTER' from '<sip:1@x>' failed for '203.0.113.9:5060' (callid: a' failed for '9.9.9.9:5060' (callid: b) - Failed to authenticate"), Service::Sip, Kind::AuthFailure, "203.0.113.9");
    // A copy in the display name: the text before it stops inside the quotes.
    hit(&format!("{pjsip}Request 'INVITE' from '\"x' failed for '9.9.9.9:5060' (callid: y\" <sip:1@x>' failed for '203.0.113.9:5060' (callid: b) - Failed to authenticate"), Service::Sip, Kind::AuthFailure, "203.0.113.9");
    // Neither From is what pjsip prints: both candidates, for evidence to decide.
    suspicious_of(&format!("{pjsip}Request 'INVITE' from 'a b' failed for '9.9.9.9:5060' (callid: y c' failed for '203.0.113.9:5060' (callid: b) - Failed to authenticate"), &["9.9.9.9", "203.0.113.9"]);
    for from in [
        "<sip:1@x>",
        "\"Bob \\\"the\\\" one\" <sip:1@[2001:db8::1]:5060;transport=udp>",
        "\"\" <sip:'or''='@4.5.6.7>",
    ] {
        assert!(
            crate::asterisk::printed_from(from.as_bytes(), true),
            "{from}"
        );
        assert!(
            crate::asterisk::printed_from(from.as_bytes(), false),
            "{from}"
        );
    }
    for from in [
        "\"x",
        "<sip:1@x>' failed for",
        "\"a\" <sip:1@x>' b",
        "a b",
        "\"a\"<sip:x>",
        "",
        "sip:1@x",
    ] {
        assert!(
            !crate::asterisk::printed_from(from.as_bytes(), true),
            "{from}"
        );
        assert!(
            !crate::asterisk::printed_from(from.as_bytes(), false),
            "{from}"
        );
    }
    // An unquoted display name ending in a backslash, printed in quotes as it came, and a
    // Call-ID ending in `" <sip:…>`: the strict reading alone would take the copy.
    suspicious_of(&format!("{pjsip}Request 'INVITE' from '\"a\\\" <sip:1@x>' failed for '203.0.113.9:5060' (callid: \" <sip:q@h>' failed for '9.9.9.9:5060' (callid: z) - Failed to authenticate"), &["203.0.113.9", "9.9.9.9"]);
    // A quoted display name holding `\" <sip:…>` before the copy: the loose reading alone would.
    suspicious_of(&format!("{pjsip}Request 'INVITE' from '\"x\\\" <sip:q@h>' failed for '9.9.9.9:5060' (callid: y\" <sip:1@x>' failed for '203.0.113.9:5060' (callid: b) - Failed to authenticate"), &["9.9.9.9", "203.0.113.9"]);
}

#[test]
fn pjsip_call_rejected_both_shapes() {
    hit(
        "[Jan 18 17:39:50] NOTICE[12049]: res_pjsip_session.c:2337 new_invite: Call from 'anonymous' (TCP:[203.0.113.9]:61470) to extension '9011+442037690237' rejected because extension not found in context 'default'.",
        Service::Sip,
        Kind::CallRejected,
        "203.0.113.9",
    );
    hit(
        "[Jun 12 15:13:54] NOTICE[3980] res_pjsip_session.c:  anonymous: Call (UDP:203.0.113.9:65049) to extension '001447441452805' rejected because extension not found in context 'inbound'.",
        Service::Sip,
        Kind::CallRejected,
        "203.0.113.9",
    );
    hit(
        "[Jun 12 15:13:54] NOTICE[3980][C-00000001] res_pjsip_session.c: PJSIP/anonymous-00000001: Call (UDP:[2001:db8::9]:5060) to extension '00' rejected because extension not found in context 'x'.",
        Service::Sip,
        Kind::CallRejected,
        "2001:db8::9",
    );
}

#[test]
fn pjsip_registrar_warnings() {
    hit(
        "[2024-01-01 10:00:00] WARNING[1] res_pjsip_registrar.c: AOR 'evil' not found for endpoint '100' (2001:db8::9:5060)",
        Service::Sip,
        Kind::UnknownAccount,
        "2001:db8::9",
    );
    hit(
        "[2024-01-01 10:00:00] WARNING[1] res_pjsip_registrar.c: Endpoint '100' (203.0.113.9:5060) has no configured AORs",
        Service::Sip,
        Kind::AclDenied,
        "203.0.113.9",
    );
    hit(
        "[2024-01-01 10:00:00] WARNING[1] res_pjsip_registrar.c: Registration attempt from endpoint '100' (203.0.113.9:5060) to AOR '100' will exceed max contacts of 1",
        Service::Sip,
        Kind::Flood,
        "203.0.113.9",
    );
    hit(
        "[2024-01-01 10:00:00] WARNING[1] res_pjsip_registrar.c: AOR '1' (x) has no configured max_contacts. Endpoint '100' (203.0.113.9:5060) unable to register",
        Service::Sip,
        Kind::Flood,
        "203.0.113.9",
    );
}

#[test]
fn iax2_authdebug_lines() {
    let ip = "203.0.113.9";
    let lines = [
        (
            "Host 203.0.113.9 failed to authenticate as 100",
            Kind::AuthFailure,
        ),
        (
            "Host 203.0.113.9:4569 failed to authenticate as 'x'",
            Kind::AuthFailure,
        ),
        (
            "No registration for peer 'x' (from 203.0.113.9)",
            Kind::UnknownAccount,
        ),
        (
            "Peer 'x' is not dynamic (from 203.0.113.9)",
            Kind::AclDenied,
        ),
        (
            "Host 203.0.113.9 denied access to register peer 'x'",
            Kind::AclDenied,
        ),
        (
            "Host 203.0.113.9 failed MD5 authentication for 'x' (a != b)",
            Kind::AuthFailure,
        ),
        (
            "Host 203.0.113.9 did not provide proper plaintext password for 'x'",
            Kind::AuthFailure,
        ),
        ("Empty registration from 203.0.113.9", Kind::BadRequest),
        (
            "Rejected connect attempt from 203.0.113.9:4569, who was trying to reach '1@default'",
            Kind::CallRejected,
        ),
        (
            "Rejected connect attempt from 203.0.113.9:4569, request '1@default' does not exist",
            Kind::CallRejected,
        ),
    ];
    for (msg, kind) in lines {
        hit(
            &format!("[2012-02-13 17:53:59] NOTICE[1638] chan_iax2.c: {msg}"),
            Service::Iax,
            kind,
            ip,
        );
    }
    nothing("[2012-02-13 17:53:59] NOTICE[1638] chan_iax2.c: Host 1.2.3.4 failed RSA authentication with inkeys 'k'");
    nothing("[2012-02-13 17:53:59] WARNING[1638] chan_iax2.c: Call rejected by 203.0.113.9:4569: no such extension");
    // The peer name in `(from …)` lines precedes the address; a fake one inside is ignored.
    hit(
        "[2012-02-13 17:53:59] NOTICE[1638] chan_iax2.c: No registration for peer 'x (from 9.9.9.9)' (from 203.0.113.9)",
        Service::Iax,
        Kind::UnknownAccount,
        ip,
    );
}

#[test]
fn ami_lines_and_one_attempt_key() {
    let a = found("[2016-05-06 07:08:09] NOTICE[31554] manager.c: 192.0.2.4 tried to authenticate with nonexistent user 'opennms'");
    let b = found("[2016-05-06 07:08:09] NOTICE[31554] manager.c: 192.0.2.4 failed to authenticate as 'opennms'");
    assert_eq!((a.service, a.kind), (Service::Ami, Kind::UnknownAccount));
    assert_eq!((b.service, b.kind), (Service::Ami, Kind::AuthFailure));
    // One login, two lines: the same group, distinct roles, so they fill one attempt.
    let (pa, pb) = (a.attempt.unwrap(), b.attempt.unwrap());
    assert_eq!(pa.group, pb.group);
    assert_ne!(pa.role, pb.role);
    // The event of the same login joins it; another user's lines are another group.
    let ev = found(&event("InvalidAccountID", "AMI", "opennms", "0x7f00", "")).attempt;
    assert_eq!(ev.unwrap().group, pa.group);
    let c = found(
        "[2016-05-06 07:08:11] NOTICE[31554] manager.c: 192.0.2.4 failed to authenticate as 'root'",
    );
    assert_ne!(c.attempt.unwrap().group, pb.group);
    hit(
        "[2016-05-06 07:08:09] NOTICE[6772] manager.c: 2001:db8::4 failed to pass IP ACL as 'admin'",
        Service::Ami,
        Kind::AclDenied,
        "2001:db8::4",
    );
    nothing(
        "[2016-05-06 07:08:09] VERBOSE[6772] manager.c: Manager 'admin' logged on from 192.0.2.4",
    );
    nothing(
        "[2016-05-06 07:08:09] NOTICE[6772] manager.c: Manager 'admin' logged on from 192.0.2.4",
    );
}

const SEC: &str = "[2015-05-24 08:42:16] SECURITY[4583] res_security_log.c: ";

fn event(name: &str, service: &str, account: &str, session: &str, extra: &str) -> String {
    format!(
        "{SEC}SecurityEvent=\"{name}\",EventTV=\"2015-05-24T08:42:16.296+0300\",Severity=\"Error\",Service=\"{service}\",EventVersion=\"1\",AccountID=\"{account}\",SessionID=\"{session}\",LocalAddress=\"IPV4/UDP/198.51.100.1/5060\",RemoteAddress=\"IPV4/UDP/203.0.113.9/5070\"{extra}"
    )
}

#[test]
fn security_events_every_attack_name() {
    let cases = [
        ("InvalidAccountID", Kind::UnknownAccount, ""),
        (
            "ChallengeResponseFailed",
            Kind::AuthFailure,
            ",Challenge=\"1/ab\",Response=\"cd\",ExpectedResponse=\"\"",
        ),
        (
            "InvalidPassword",
            Kind::AuthFailure,
            ",Challenge=\"a\",ReceivedChallenge=\"a\",ReceivedHash=\"b\"",
        ),
        (
            "FailedACL",
            Kind::AclDenied,
            ",ACLName=\"domain_must_match\"",
        ),
        (
            "FailedACL",
            Kind::CallRejected,
            ",ACLName=\"no_extension_match\"",
        ),
        (
            "RequestBadFormat",
            Kind::BadRequest,
            ",RequestType=\"NONE\"",
        ),
        (
            "RequestNotAllowed",
            Kind::BadRequest,
            ",RequestType=\"Originate\"",
        ),
        (
            "RequestNotSupported",
            Kind::BadRequest,
            ",RequestType=\"x\"",
        ),
        ("SessionLimit", Kind::Flood, ""),
        ("MemoryLimit", Kind::Flood, ""),
        ("LoadAverageLimit", Kind::Flood, ""),
        ("AuthMethodNotAllowed", Kind::AclDenied, ",AuthMethod=\"x\""),
        (
            "UnexpectedAddress",
            Kind::Other,
            ",ExpectedAddress=\"IPV4/UDP/198.51.100.7/5060\"",
        ),
        (
            "InvalidTransport",
            Kind::AclDenied,
            ",AttemptedTransport=\"TCP\"",
        ),
    ];
    for (name, kind, extra) in cases {
        hit(
            &event(name, "PJSIP", "100", "abc", extra),
            Service::Sip,
            kind,
            "203.0.113.9",
        );
    }
    hit(
        &event("InvalidPassword", "AMI", "admin", "0x7f", ""),
        Service::Ami,
        Kind::AuthFailure,
        "203.0.113.9",
    );
    nothing(&event(
        "ChallengeSent",
        "PJSIP",
        "100",
        "abc",
        ",Challenge=\"x\"",
    ));
    nothing(&event(
        "SuccessfulAuth",
        "PJSIP",
        "100",
        "abc",
        ",UsingPassword=\"1\"",
    ));
}

#[test]
fn security_event_injection() {
    let injected = "x\",LocalAddress=\"IPV4/UDP/1.1.1.1/5060\",RemoteAddress=\"IPV4/UDP/9.9.9.9/1";
    // Sender fields only before the address: the last pair is the server's.
    hit(
        &event("InvalidAccountID", "PJSIP", injected, injected, ""),
        Service::Sip,
        Kind::UnknownAccount,
        "203.0.113.9",
    );
    // `Response` follows the address: a pair there conflicts.
    suspicious(&event(
        "ChallengeResponseFailed",
        "PJSIP",
        "1",
        "2",
        &format!(",Challenge=\"c\",Response=\"{injected}\",ExpectedResponse=\"\""),
    ));
}

#[test]
fn pjsip_notice_and_its_events_are_one_attempt() {
    let notice = found("[2015-05-24 08:42:16] NOTICE[1] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:100@x>' failed for '203.0.113.9:5070' (callid: abc@h) - Failed to authenticate");
    let crf = |response: &str| {
        found(&event(
            "ChallengeResponseFailed",
            "PJSIP",
            "100",
            "abc@h",
            &format!(",Challenge=\"c\",Response=\"{response}\",ExpectedResponse=\"\""),
        ))
        .attempt
        .unwrap()
    };
    let (n, e) = (notice.attempt.unwrap(), crf("r"));
    assert_eq!(n.group, e.group, "the Call-ID and port join them");
    assert_ne!(n.role, e.role);
    assert_eq!((n.copy_of, n.role.per_attempt()), (None, 1));
    // The same event again (the `security` file) is a copy; another digest is another guess.
    assert_eq!(e.copy_of, crf("r").copy_of);
    assert!(e.copy_of.is_some());
    assert_ne!(e.copy_of, crf("r2").copy_of);
    let other = found(&event("InvalidAccountID", "PJSIP", "100", "zzz", ""));
    assert_ne!(other.attempt.unwrap().group, n.group);
    // An unknown user's request is written twice per attempt (challenge and answer).
    let unknown = found("[2015-05-24 08:42:16] NOTICE[1] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:999@x>' failed for '203.0.113.9:5070' (callid: abc@h) - No matching endpoint found");
    let unknown = unknown.attempt.unwrap();
    assert_eq!((unknown.group, unknown.role.per_attempt()), (n.group, 2));
    // IPv6: the port is read from the bracketed form and from the event's address alike.
    let v6 = found("[2015-05-24 08:42:16] NOTICE[1] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '<sip:100@x>' failed for '[2001:db8::77]:5060' (callid: k) - Failed to authenticate");
    let v6_event = found(&format!("{SEC}SecurityEvent=\"ChallengeResponseFailed\",EventTV=\"2015-05-24T08:42:16.296+0300\",Severity=\"Error\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"100\",SessionID=\"k\",LocalAddress=\"IPV6/UDP/2001:db8::1/5060\",RemoteAddress=\"IPV6/UDP/2001:db8::77/5060\",Challenge=\"c\",Response=\"r\",ExpectedResponse=\"\""));
    assert_eq!(v6.attempt.unwrap().group, v6_event.attempt.unwrap().group);
}

#[test]
fn chan_sip_notice_and_its_event_are_one_attempt_by_port_and_kind() {
    let notice = |port: u16, why: &str| {
        found(&format!("[Dec  7 16:58:22] NOTICE[29173] chan_sip.c: Registration from '<sip:101@198.51.100.1>' failed for '203.0.113.9:{port}' - {why}"))
            .attempt
            .unwrap()
    };
    let wrong = notice(5070, "Wrong password");
    let ev = found(&event(
        "InvalidPassword",
        "SIP",
        "101",
        "0x7f80540028c0",
        ",Challenge=\"157588da\",ReceivedChallenge=\"157588da\",ReceivedHash=\"0da2\"",
    ))
    .attempt
    .unwrap();
    assert_eq!(wrong.group, ev.group);
    assert_ne!(wrong.role, ev.role);
    assert!(ev.copy_of.is_some());
    // Another port, or another kind at the same port, is another attempt's line: an ACL
    // refusal's event never absorbs a wrong password's NOTICE.
    assert_ne!(notice(5071, "Wrong password").group, wrong.group);
    let acl = found(&event(
        "FailedACL",
        "SIP",
        "101",
        "0x7f",
        ",ACLName=\"device_must_match_acl\"",
    ));
    assert_ne!(acl.attempt.unwrap().group, wrong.group);
    assert_eq!(
        notice(5070, "Device does not match ACL").group,
        acl.attempt.unwrap().group
    );
}

#[test]
fn freepbx_rejecting_unknown_sip_connection() {
    for (addr, want) in [
        ("192.0.2.2", "192.0.2.2"),
        ("192.0.2.2:52126", "192.0.2.2"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]:5060", "2001:db8::1"),
    ] {
        hit(
            &format!("[2013-11-11 14:33:38] WARNING[6756][C-0000001d] Ext. s: \"Rejecting unknown SIP connection from {addr}\""),
            Service::Sip,
            Kind::UnknownAccount,
            want,
        );
        hit(
            &format!("Mar  1 15:35:53 pbx asterisk[2350]: WARNING[1195][C-00000b43]: Ext. s:6 in @ from-sip-external: \"Rejecting unknown SIP connection from {addr}\""),
            Service::Sip,
            Kind::UnknownAccount,
            want,
        );
    }
    suspicious("[2013-11-11 14:33:38] WARNING[6756][C-0000001d] Ext. 0044123: Friendly Scanner from 192.0.2.9");
}

#[test]
fn dialplan_lines_imitating_modules_give_nothing() {
    nothing("[2013-11-11 14:33:38] WARNING[1][C-00000001] Ext. s: chan_sip.c: Registration from '<sip:1@x>' failed for '9.9.9.9' - Wrong password");
    nothing("Mar  1 15:35:53 pbx asterisk[2350]: WARNING[1195]: Ext. s:6 in @ ctx: manager.c: 9.9.9.9 failed to authenticate as 'x'");
    nothing("[2013-11-11 14:33:38] WARNING[1] Ext. s: SecurityEvent=\"InvalidAccountID\",EventTV=\"1\",Severity=\"Error\",Service=\"SIP\",EventVersion=\"1\",AccountID=\"\",SessionID=\"\",LocalAddress=\"IPV4/UDP/1.1.1.1/5060\",RemoteAddress=\"IPV4/UDP/9.9.9.9/1\"");
    // The rejection text in another context is someone else's Log().
    nothing("Mar  1 15:35:53 pbx asterisk[2350]: WARNING[1195]: Ext. s:6 in @ custom-ctx: \"Rejecting unknown SIP connection from 9.9.9.9\"");
}

#[test]
fn every_asterisk_prefix() {
    let msg = "Registration from '<sip:1@x>' failed for '203.0.113.9:5060' - Wrong password";
    let prefixes = [
        "[Mar  6 08:44:27] NOTICE[1] chan_sip.c: ".to_string(),
        "[2012-02-13 17:21:54.123] NOTICE[1][C-0000abcd] chan_sip.c: ".to_string(),
        "[Mar  6 08:44:27] NOTICE[1]: chan_sip.c:28926 handle_request_register: ".to_string(),
        "Nov  4 18:30:40 pbx asterisk[32229]: NOTICE[32257]: chan_sip.c:23417 in handle_request_register: ".to_string(),
        "NOTICE[566]: chan_sip.c:28926 handle_request_register: ".to_string(),
        "Dec 14 12:19:53 pbx asterisk[16272]: [Dec 14 12:19:53] NOTICE[52666][C-00003dc8]: chan_sip.c:26355 handle_request_register: ".to_string(),
        "server asterisk[123]: NOTICE[566]: chan_sip.c:28926 handle_request_register: ".to_string(),
        "<29>1 2024-01-01T10:00:00.123+01:00 pbx asterisk 1234 - - NOTICE[1]: chan_sip.c:1 in handle_request_register: ".to_string(),
        "2024-01-01T10:00:00.123456+01:00 pbx asterisk[1]: NOTICE[1]: chan_sip.c:1 in handle_request_register: ".to_string(),
        "[some custom date format] NOTICE[1] chan_sip.c: ".to_string(),
    ];
    for p in prefixes {
        hit(
            &format!("{p}{msg}"),
            Service::Sip,
            Kind::AuthFailure,
            "203.0.113.9",
        );
    }
    let json = format!(
        "{{\"hostname\":\"pbx\",\"timestamp\":\"2024-01-01 10:00:00.123\",\"identifiers\":{{\"lwp\":1,\"callid\":\"\"}},\"logmsg\":{{\"location\":{{\"filename\":\"chan_sip.c\",\"function\":\"handle_request_register\",\"line\":1}},\"level\":\"NOTICE\",\"message\":\"{}\"}}}}",
        msg
    );
    let d = found(&json);
    assert_eq!(d.ip, "203.0.113.9".parse::<IpAddr>().unwrap());
    assert!(matches!(d.stamp, Some(Stamp::Absolute(_))));
}

#[test]
fn stamps_are_read_or_left_empty() {
    let msg = " NOTICE[1] manager.c: 192.0.2.4 failed to authenticate as 'x'";
    assert_eq!(
        found(&format!("[Mar  6 08:44:27]{msg}")).stamp,
        Some(Stamp::NoYear {
            month: 3,
            day: 6,
            ms_of_day: ms(8, 44, 27)
        })
    );
    assert_eq!(found(&format!("[tomorrow at noon]{msg}")).stamp, None);
    // Syslog outer stamp used when the inner one is missing.
    let d = found("Nov  4 18:30:40 pbx asterisk[1]: NOTICE[1]: manager.c:1 in authenticate: 192.0.2.4 failed to authenticate as 'x'");
    assert_eq!(
        d.stamp,
        Some(Stamp::NoYear {
            month: 11,
            day: 4,
            ms_of_day: ms(18, 30, 40)
        })
    );
}

#[test]
fn garbage_crlf_and_huge_lines() {
    nothing("");
    nothing("\r");
    nothing("[");
    nothing("{not json");
    nothing("{\"logmsg\": 5}");
    assert_eq!(
        Detectors::builtin().detect(&[0xff, 0xfe, b'[', 0x80, b']', b' ', 0xc3]),
        Outcome::Nothing
    );
    hit(
        "[Mar  6 08:44:27] NOTICE[1] manager.c: 192.0.2.4 failed to authenticate as 'x'\r",
        Service::Ami,
        Kind::AuthFailure,
        "192.0.2.4",
    );
    let mut huge = b"[Mar  6 08:44:27] NOTICE[1] chan_sip.c: Registration from '".to_vec();
    huge.extend(std::iter::repeat_n(b'\'', 1 << 20));
    huge.extend_from_slice(b"' failed for '203.0.113.9' - Wrong password");
    assert!(matches!(
        Detectors::builtin().detect(&huge),
        Outcome::Found(_)
    ));
    let invalid_utf8 = b"[Mar  6 08:44:27] NOTICE[1] chan_sip.c: Registration from '\xff\xfe' failed for '203.0.113.9' - Wrong password";
    assert!(matches!(
        Detectors::builtin().detect(invalid_utf8),
        Outcome::Found(_)
    ));
}

#[test]
fn detectors_are_shareable_between_threads() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Detectors>();
}

#[test]
fn sshd_lines() {
    let ip = "203.0.113.9";
    for (line, kind) in [
        ("Nov 28 09:16:03 srv sshd[1]: Failed password for root from 203.0.113.9 port 57904 ssh2", Kind::AuthFailure),
        ("Nov 28 09:16:03 srv sshd[1]: Failed password for invalid user admin from 203.0.113.9 port 57904 ssh2", Kind::UnknownAccount),
        ("Nov 28 09:16:03 srv sshd-session[1]: Failed publickey for git from 203.0.113.9 port 1 ssh2: RSA SHA256:abc", Kind::AuthFailure),
        ("Nov 28 09:16:03 srv sshd[1]: Invalid user ftp from 203.0.113.9 port 37220", Kind::UnknownAccount),
        ("Nov 28 09:16:03 srv sshd[1]: User root from 203.0.113.9 not allowed because not listed in AllowUsers", Kind::AclDenied),
        ("Nov 28 09:16:03 srv sshd[1]: error: maximum authentication attempts exceeded for root from 203.0.113.9 port 1 ssh2 [preauth]", Kind::AuthFailure),
        ("Nov 28 09:16:03 srv sshd[1]: error: PAM: Authentication failure for x from 203.0.113.9", Kind::AuthFailure),
        ("Nov 28 09:16:03 srv sshd[1]: ROOT LOGIN REFUSED FROM ::ffff:203.0.113.9", Kind::AclDenied),
        ("Nov 28 09:16:03 srv sshd[1]: error: Received disconnect from 203.0.113.9 port 7736:3: com.jcraft.jsch.JSchException: Auth fail [preauth]", Kind::AuthFailure),
        ("2025-03-04T01:06:36.645577+01:00 srv sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2", Kind::AuthFailure),
        ("sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2", Kind::AuthFailure),
    ] {
        hit(line, Service::Ssh, kind, ip);
    }
    // The user name is the client's but never holds a `:` (sshd cuts it there): a copy of
    // ` from <ip> port <n> ssh2` in it is followed by the server's ` from …`, and the first
    // placement followed by what sshd writes is the server's; what follows `ssh2: ` is detail.
    hit(
        "Nov 28 09:16:03 srv sshd[1]: Failed password for invalid user x from 9.9.9.9 port 1 ssh2: y from 203.0.113.9 port 2 ssh2",
        Service::Ssh,
        Kind::UnknownAccount,
        "9.9.9.9",
    );
    hit(
        "Nov 28 09:16:03 srv sshd[1]: Failed password for invalid user x from 9.9.9.9 port 1 ssh2 from 203.0.113.9 port 2 ssh2",
        Service::Ssh,
        Kind::UnknownAccount,
        ip,
    );
    hit(
        "Nov 28 09:16:03 srv sshd[1]: Failed password for invalid user from 9.9.9.9 from 203.0.113.9 port 2 ssh2",
        Service::Ssh,
        Kind::UnknownAccount,
        ip,
    );
    nothing("Nov 28 09:16:03 srv sshd[1]: Accepted password for root from 203.0.113.9 port 1 ssh2");
    nothing("Nov 28 09:16:03 srv sshd[1]: Postponed publickey for git from 203.0.113.9 port 57904 ssh2 [preauth]");
    // Another program's line with sshd's words is not sshd's.
    nothing("Nov 28 09:16:03 srv myapp[1]: Failed password for root from 203.0.113.9 port 1 ssh2");
}

#[test]
fn apache_nginx_and_freepbx_web() {
    let ip = "203.0.113.9";
    hit(
        "[Sat Jul 20 21:37:32.266605 2013] [auth_basic:error] [pid 1:tid 2] [client 203.0.113.9:51386] AH01618: user admin not found: /admin",
        Service::Web,
        Kind::UnknownAccount,
        ip,
    );
    hit(
        "[Wed Jul 17 22:18:52 2013] [error] [client 203.0.113.9] user a: authentication failure for \"/\": Password Mismatch",
        Service::Web,
        Kind::AuthFailure,
        ip,
    );
    hit(
        "[Sat Jul 20 22:11:44.147674 2013] [authz_owner:error] [pid 1] [client [2001:db8::9]:51548] AH01637: Authorization of user x to access /y failed, reason: no",
        Service::Web,
        Kind::AclDenied,
        "2001:db8::9",
    );
    hit(
        "[Mon Nov 06 13:39:56.637868 2023] [auth_basic:error] [pid 1:tid 2] [remote 203.0.113.9:35924] AH01618: user x not found: /admin",
        Service::Web,
        Kind::UnknownAccount,
        ip,
    );
    nothing("[Mon Nov 06 13:39:56.637868 2023] [core:error] [pid 1] [remote 198.51.100.1:1] [client 9.9.9.9] x");
    // The URI is the client's: a fake `[client …]` inside the message is never read.
    nothing("[Sat Jun 01 02:17:42 2013] [error] [client 192.0.2.33] File does not exist: /srv/[client 9.9.9.9] user root not found");
    hit(
        "2012/04/09 11:53:36 [error] 2865#0: *66647 user \"xyz\": password mismatch, client: 203.0.113.9, server: pbx, request: \"GET / HTTP/1.1\", host: \"pbx\"",
        Service::Web,
        Kind::AuthFailure,
        ip,
    );
    hit(
        "[2024-01-01 10:00:00] Authentication failure for admin from 203.0.113.9",
        Service::Web,
        Kind::AuthFailure,
        ip,
    );
    let d = found("[2024-01-01 10:00:00] [freepbx_security.NOTICE]: Authentication failure for admin from 203.0.113.9 [] []");
    assert_eq!(d.ip, ip.parse::<IpAddr>().unwrap());
    assert!(matches!(d.stamp, Some(Stamp::Absolute(_))));
    nothing(
        "[2024-01-01 10:00:00] Possible proxy detected, forwarded headers foradmin set to 9.9.9.9",
    );
    nothing("[2024-01-01 10:00:00] Authentication successful for admin from 203.0.113.9");
    // Only the server's text follows the address: a copy in the user name is followed by more.
    hit(
        "[2024-01-01 10:00:00] Authentication failure for x from 9.9.9.9 [] [] from 203.0.113.9",
        Service::Web,
        Kind::AuthFailure,
        ip,
    );
}

#[test]
fn ftp_servers() {
    let ip = "203.0.113.9";
    for line in [
        "Oct 23 21:15:42 vps vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=test rhost=203.0.113.9",
        "Fri Jan 19 12:20:33 2007 [pid 27202] [anonymous] FAIL LOGIN: Client \"203.0.113.9\"",
        "Thu Sep  8 00:39:49 2016 [pid 15019] [guest] FAIL LOGIN: Client \"::ffff:203.0.113.9\", \"User is not in the allow user list.\"",
        "Jun 09 07:30:58 ftp proftpd[11864] ftp.example.com (host.example.net[203.0.113.9]): USER x (Login failed): Incorrect password.",
        "Oct  2 15:45:44 ftp01 proftpd[5517]: 203.0.113.9 (203.0.113.9[203.0.113.9]) - SECURITY VIOLATION: Root login attempted",
        "Jan 31 16:54:07 desktop pure-ftpd: (?@203.0.113.9) [WARNING] Authentication failed for user [Administrator]",
    ] {
        assert_eq!(found(line).ip, ip.parse::<IpAddr>().unwrap(), "{line}");
        assert_eq!(found(line).service, Service::Ftp, "{line}");
    }
    // vsftpd's user name sits before the address, and only its own quote-free reason after it.
    hit("Fri Jan 19 12:20:33 2007 [pid 1] [x] FAIL LOGIN: Client \"9.9.9.9\", \"] FAIL LOGIN: Client \"203.0.113.9\"", Service::Ftp, Kind::AuthFailure, ip);
    // proftpd's header comes first; the USER argument cannot replace it.
    hit(
        "Jun 14 00:09:59 ftp proftpd[1] ftp (h[203.0.113.9]): USER a (h[9.9.9.9]): no such user found from h [9.9.9.9] to 1.2.3.4:21",
        Service::Ftp,
        Kind::UnknownAccount,
        ip,
    );
}
