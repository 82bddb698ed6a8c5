//! Never ban an innocent: random hostile text in every attacker-controlled field of every shape
//! never changes the reported address. The outcome is the true address or `Suspicious`; never
//! another address, and never `Nothing` (the attack line must still count).

use std::net::IpAddr;

use proptest::prelude::*;
use tg_detect::{Detectors, Outcome};

/// Pieces of the fixed texts and addresses an attacker would splice into a field.
const FRAGMENTS: &[&str] = &[
    "'",
    "\"",
    "' failed for '",
    "' failed for '9.9.9.9:5060'",
    "' failed for '9.9.9.9' - Wrong password",
    "' (callid: ",
    ") - No matching endpoint found",
    " - Wrong password",
    "9.9.9.9",
    "9.9.9.9:5060",
    "[2001:db8::99]:5060",
    "2001:db8::99:5060",
    "::ffff:9.9.9.9",
    "' (9.9.9.9:5060) to extension '",
    ") to extension '",
    "(UDP:9.9.9.9:5060",
    "' rejected because extension not found in context 'x'.",
    "\",RemoteAddress=\"IPV4/UDP/9.9.9.9/1111\"",
    "\",LocalAddress=\"IPV4/UDP/1.1.1.1/5060\",RemoteAddress=\"IPV4/UDP/9.9.9.9/1111",
    ",LocalAddress=\"IPV4/UDP/1.1.1.1/5060\",RemoteAddress=\"IPV6/UDP/2001:db8::99/1\",",
    " (from 9.9.9.9)",
    "' (2001:db8::99:5060)",
    "' (9.9.9.9:5060) to AOR '",
    "' will exceed max contacts of 1",
    "' (9.9.9.9:5060) unable to register",
    "Host 9.9.9.9 failed to authenticate as ",
    "9.9.9.9 failed to authenticate as '",
    ", who was trying to reach '",
    " from 9.9.9.9 port 22 ssh2",
    " from 9.9.9.9 port 22 ssh2: ",
    " from 9.9.9.9",
    " from 9.9.9.9 via z",
    " from 9.9.9.9 via 1.1.1.1",
    " from 9.9.9.9 port 1 ssh2 [preauth]",
    " [preauth]",
    "\" <sip:1@x>' failed for '9.9.9.9:5060' (callid: ",
    "\"x' failed for '9.9.9.9:5060' (callid: y\" <sip:1@x>",
    "\\\"",
    "<sip:1@x>",
    "' (UDP:9.9.9.9:5060) to extension '",
    "' will exceed max contacts of 1 (9.9.9.9:5060) to AOR '",
    "?@9.9.9.9) [WARNING] Authentication failed for user [",
    "\", \"reason\"",
    " rhost=9.9.9.9  user=",
    ", client: 9.9.9.9, server: www, request: \"",
    "\",SessionID=\"0x7f\",LocalAddress=\"IPV4/TCP/1.1.1.1/5038\",RemoteAddress=\"IPV4/TCP/9.9.9.9/1\",RequestType=\"",
    " not allowed because ",
    ", client: 9.9.9.9, server: ",
    "[client 9.9.9.9:1] ",
    "] FAIL LOGIN: Client \"9.9.9.9\", \"",
    " rhost=9.9.9.9 ",
    "@9.9.9.9) [WARNING] Authentication failed for user [",
    "(h[9.9.9.9]): ",
    " [] []",
    " SRC=9.9.9.9 DST=192.0.2.1 ",
    "SRC=9.9.9.9 DST=",
    "[SRC=9.9.9.9 DST=1.1.1.1 ",
    " SRC=2001:0db8:0000:0000:0000:0000:0000:0099 DST=",
    "tollguard-flood: IN=",
    "NOTICE[1] chan_sip.c: ",
    "Негодяй",
    "😈",
    ":",
    " ",
    ")",
    "(",
    "]",
    "[",
];

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(FRAGMENTS).prop_map(str::to_string),
        1 => "[^\r\n]{0,12}",
        1 => "[ -~]{0,8}",
    ]
}

/// Hostile field text: up to six fragments and random strings, no line breaks.
fn hostile() -> impl Strategy<Value = String> {
    proptest::collection::vec(fragment(), 0..6).prop_map(|v| v.concat())
}

const TRUE_V4: &str = "203.0.113.9";
const TRUE_V6: &str = "2001:db8::9";

/// Each shape: a template with `{0}`, `{1}`, `{2}` for the attacker-controlled fields, and the
/// address the server wrote.
const SHAPES: &[(&str, &str)] = &[
    ("[2012-02-13 17:21:54] NOTICE[1638] chan_sip.c: Registration from '{0}' failed for '203.0.113.9:5060' - Wrong password", TRUE_V4),
    ("[2012-02-13 17:21:54] NOTICE[1638] chan_sip.c: Registration from '{0}' failed for '[2001:db8::9]:5060' - No matching peer found", TRUE_V6),
    ("[2013-02-05 23:44:42] NOTICE[436][C-00000fa9] chan_sip.c: Call from '{0}' (203.0.113.9:10836) to extension '{1}' rejected because extension not found in context 'default'.", TRUE_V4),
    ("[2016-05-06 07:08:09] NOTICE[17103] res_pjsip/pjsip_distributor.c: Request '{2}' from '{0}' failed for '203.0.113.9:5679' (callid: {1}) - No matching endpoint found", TRUE_V4),
    ("[2016-05-06 07:08:09] NOTICE[17103] res_pjsip/pjsip_distributor.c: Request 'INVITE' from '{0}' failed for '203.0.113.9:5679' (callid: {1}) - Failed to authenticate after 5 tries in 2.500 ms", TRUE_V4),
    ("[2016-05-06 07:08:09] NOTICE[17103] res_pjsip/pjsip_distributor.c: Request from '{0}' failed for '2001:db8::9:5060' (callid: {1}) - No matching endpoint found", TRUE_V6),
    ("[2016-05-06 07:08:09] NOTICE[17103] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '{0}' failed for '[2001:db8::9]:5060' (callid: {1}) - Not match Endpoint ACL", TRUE_V6),
    ("[Jan 18 17:39:50] NOTICE[12049]: res_pjsip_session.c:2337 new_invite: Call from '{0}' (TCP:203.0.113.9:61470) to extension '{1}' rejected because extension not found in context 'default'.", TRUE_V4),
    ("[Jun 12 15:13:54] NOTICE[3980] res_pjsip_session.c:  anonymous: Call (UDP:[2001:db8::9]:65049) to extension '{0}' rejected because extension not found in context 'inbound'.", TRUE_V6),
    ("[2024-01-01 10:00:00] WARNING[1] res_pjsip_registrar.c: AOR '{0}' not found for endpoint '100' (203.0.113.9:5060)", TRUE_V4),
    ("[2024-01-01 10:00:00] WARNING[1] res_pjsip_registrar.c: Registration attempt from endpoint '100' (2001:db8::9:5060) to AOR '{0}' will exceed max contacts of 1", TRUE_V6),
    ("[2024-01-01 10:00:00] WARNING[1] res_pjsip_registrar.c: AOR '{0}' has no configured max_contacts. Endpoint '100' (203.0.113.9:5060) unable to register", TRUE_V4),
    ("[2012-02-13 17:53:59] NOTICE[1638] chan_iax2.c: Host 203.0.113.9 failed to authenticate as {0}", TRUE_V4),
    ("[2012-02-13 17:53:59] NOTICE[1638] chan_iax2.c: No registration for peer '{0}' (from 203.0.113.9)", TRUE_V4),
    ("[2012-02-13 17:53:59] NOTICE[1638] chan_iax2.c: Peer '{0}' is not dynamic (from 2001:db8::9)", TRUE_V6),
    ("[2012-02-13 17:53:59] NOTICE[1638] chan_iax2.c: Host 203.0.113.9 failed MD5 authentication for '{0}' (a != b)", TRUE_V4),
    ("[2012-02-13 17:53:59] NOTICE[1638] chan_iax2.c: Rejected connect attempt from [2001:db8::9]:4569, who was trying to reach '{0}@default'", TRUE_V6),
    ("[2016-05-06 07:08:09] NOTICE[6772] manager.c: 203.0.113.9 failed to authenticate as '{0}'", TRUE_V4),
    ("[2016-05-06 07:08:09] NOTICE[6772] manager.c: 2001:db8::9 tried to authenticate with nonexistent user '{0}'", TRUE_V6),
    ("[2015-05-25 07:21:48] SECURITY[6988] res_security_log.c: SecurityEvent=\"InvalidAccountID\",EventTV=\"2015-05-25T07:21:48.275+0300\",Severity=\"Error\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"{0}\",SessionID=\"{1}\",LocalAddress=\"IPV4/UDP/1.2.3.4/5060\",RemoteAddress=\"IPV4/UDP/203.0.113.9/5061\"", TRUE_V4),
    ("[2015-05-25 07:21:48] SECURITY[6988] res_security_log.c: SecurityEvent=\"ChallengeResponseFailed\",EventTV=\"2015-05-25T07:21:48.275+0300\",Severity=\"Error\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"{0}\",SessionID=\"{1}\",LocalAddress=\"IPV6/UDP/2001:db8::5/5060\",RemoteAddress=\"IPV6/UDP/2001:db8::9/5061\",Challenge=\"1/2\",Response=\"{2}\",ExpectedResponse=\"\"", TRUE_V6),
    ("[2015-05-25 07:21:48] SECURITY[6988] res_security_log.c: SecurityEvent=\"InvalidPassword\",EventTV=\"1373098165-824497\",Severity=\"Error\",Service=\"SIP\",EventVersion=\"2\",AccountID=\"{0}\",SessionID=\"0x88aab6c\",LocalAddress=\"IPV4/UDP/1.2.3.4/5060\",RemoteAddress=\"IPV4/UDP/203.0.113.9/5084\",Challenge=\"41d26de5\",ReceivedChallenge=\"{1}\",ReceivedHash=\"{2}\"", TRUE_V4),
    ("[2015-05-25 07:21:48] SECURITY[6988] res_security_log.c: SecurityEvent=\"RequestBadFormat\",EventTV=\"2015-05-25T07:21:48.275+0300\",Severity=\"Error\",Service=\"AMI\",EventVersion=\"1\",SessionID=\"0x7f\",LocalAddress=\"IPV4/TCP/1.2.3.4/5038\",RemoteAddress=\"IPV4/TCP/203.0.113.9/40000\",RequestType=\"{0}\",AccountID=\"{1}\",RequestParams=\"{2}\"", TRUE_V4),
    ("[2015-05-25 07:21:48] SECURITY[6988] res_security_log.c: SecurityEvent=\"FailedACL\",EventTV=\"2015-05-25T07:21:48.275+0300\",Severity=\"Error\",Service=\"AMI\",EventVersion=\"1\",AccountID=\"{0}\",SessionID=\"0x7fb580001518\",LocalAddress=\"IPV4/TCP/0.0.0.0/5038\",RemoteAddress=\"IPV4/TCP/203.0.113.9/62389\",SessionTV=\"1970-01-01T03:00:00.000+0300\"", TRUE_V4),
    ("Feb 25 14:34:10 belka sshd[31602]: Failed password for invalid user {0} from 203.0.113.9 port 50273 ssh2", TRUE_V4),
    ("Feb 25 14:34:10 belka sshd[31602]: Invalid user {0} from 2001:db8::9 port 50273", TRUE_V6),
    ("Feb 25 14:34:10 belka sshd[31602]: User {0} from 203.0.113.9 not allowed because not listed in AllowUsers", TRUE_V4),
    ("Sep 29 17:15:02 spaceman sshd[12946]: Failed hostbased for {0} from 203.0.113.9 port 45785 ssh2: RSA 8c:e3, client user \"{1}\", client host \"{2}\"", TRUE_V4),
    ("Apr 29 12:53:38 mac sshd[47831]: error: PAM: authentication failure for {0} from 203.0.113.9 via 192.168.1.201", TRUE_V4),
    ("[Sat Jul 20 21:37:32.266605 2013] [auth_basic:error] [pid 1:tid 2] [client 203.0.113.9:51386] AH01618: user {0} not found: {1}", TRUE_V4),
    ("[Sat Jul 20 21:37:32.266605 2013] [auth_basic:error] [pid 1:tid 2] [client [2001:db8::9]:51386] AH01617: user {0}: authentication failure for \"{1}\": Password Mismatch", TRUE_V6),
    ("2012/04/09 11:53:29 [error] 2865#0: *66647 user \"{0}\" was not found in \"/var/www/.htpasswd\", client: 203.0.113.9, server: www, request: \"{1}\", host: \"{2}\"", TRUE_V4),
    ("2012/04/09 11:53:29 [error] 2865#0: *66647 user \"{0}\": password mismatch, client: 2001:db8::9, server: www, request: \"{1}\", host: \"{2}\"", TRUE_V6),
    ("[2024-01-01 10:00:00] [freepbx_security.NOTICE]: Authentication failure for {0} from 203.0.113.9 [] []", TRUE_V4),
    ("[2024-01-01 10:00:00] Authentication failure for {0} from 2001:db8::9", TRUE_V6),
    ("Fri Jan 19 12:20:33 2007 [pid 27202] [{0}] FAIL LOGIN: Client \"203.0.113.9\"", TRUE_V4),
    ("Oct 23 21:15:42 vps vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser={0} rhost=203.0.113.9 user={1}", TRUE_V4),
    ("Jun 09 11:15:43 ftp proftpd[17424] ftp.example.com (h.example.net[203.0.113.9]): USER {0}: no such user found from {1} [1.2.3.4] to 1.2.3.4:21", TRUE_V4),
    ("Jan 31 16:54:07 desktop pure-ftpd: ({0}@203.0.113.9) [WARNING] Authentication failed for user [{1}]", TRUE_V4),
    // The kernel's flood-drop line has no sender text at all; the fields stand in for the
    // interface name and for whatever a (future) kernel might print after the known fields.
    ("Nov 25 10:00:01 pbx kernel: [12345.678901] tollguard-flood: IN={0} OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.9 DST=192.0.2.1 LEN=433 TOS=0x00 PREC=0x00 TTL=52 ID=0 DF PROTO=UDP SPT=5070 DPT=5060 LEN=413 {1}", TRUE_V4),
    ("2026-11-25T10:00:01.123456+00:00 pbx kernel: tollguard-flood: IN=eth0 OUT= MAC= SRC=2001:0db8:0000:0000:0000:0000:0000:0009 DST=2001:0db8:0000:0000:0000:0000:0000:0001 LEN=453 TC=0 HOPLIMIT=56 FLOWLBL=0 PROTO=UDP SPT=5070 DPT=5060 LEN=413{0}", TRUE_V6),
];

/// 3000 cases per property in the test suite; `TG_HOSTILE_CASES=200000` for a long run.
fn cases() -> u32 {
    std::env::var("TG_HOSTILE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

/// What the server itself does to a field before it logs it, where that is part of its grammar:
/// sshd cuts a user name at its first `:` (the rest is an auth style) and prints 100 bytes of
/// it; nginx logs the part of a Basic `Authorization` before its first `:` as the user name;
/// pjsip prints a From from its parsed form; res_pjsip_session's `Call from '…'` is the
/// endpoint's configured id.
fn as_the_server_logs(template: &str, fields: &mut [String; 3]) {
    let cut = |f: &mut String, max: usize| {
        if let Some(i) = f.find(':') {
            f.truncate(i);
        }
        let mut end = f.len().min(max);
        while !f.is_char_boundary(end) {
            end -= 1;
        }
        f.truncate(end);
    };
    if template.contains(" sshd[") {
        cut(&mut fields[0], 100);
    }
    if template.contains(" [error] ") {
        cut(&mut fields[0], usize::MAX);
    }
    if template.contains("pjsip_distributor.c") {
        fields[0] = pjsip_printed_from(&fields[0]);
    }
    if template.contains("res_pjsip_session.c") && template.contains("Call from '{0}'") {
        // res_pjsip_session names the endpoint here: its id, from the configuration.
        fields[0] = "anonymous".to_string();
    }
    if template.contains("pure-ftpd: ({0}@") {
        // pure-ftpd's session prefix before a login is `?`, whatever USER said (the user it
        // names goes in the brackets at the end).
        fields[0] = "?".to_string();
    }
}

/// The From of a request whose display name is `display`, as `pjsip_uri_print` writes it: an
/// unquoted display name (no `:` or `<` in it) is copied into quotes as it came, a quoted one
/// with its backslash escapes as the sender had to write them.
fn pjsip_printed_from(display: &str) -> String {
    if !display.contains([':', '<']) && !display.starts_with('"') {
        return format!("\"{display}\" <sip:100@x>");
    }
    let escaped = display.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\" <sip:100@x>")
}

fn fill(template: &str, fields: &[String; 3]) -> String {
    let mut fields = fields.clone();
    as_the_server_logs(template, &mut fields);
    template
        .replace("{0}", &fields[0])
        .replace("{1}", &fields[1])
        .replace("{2}", &fields[2])
}

fn check(line: &str, want: IpAddr) -> Result<(), TestCaseError> {
    match Detectors::builtin().detect(line.as_bytes()) {
        Outcome::Found(d) => prop_assert_eq!(d.ip, want, "wrong address for {}", line),
        Outcome::Suspicious(s) => prop_assert!(
            s.candidates.more()
                || s.candidates.is_empty()
                || s.candidates.ips().any(|ip| ip == want),
            "the server's address is not among the candidates {:?} of {}",
            s.candidates,
            line
        ),
        Outcome::Nothing => prop_assert!(false, "attack line not counted: {}", line),
    }
    Ok(())
}

#[test]
fn every_shape_is_found_with_benign_fields() {
    let plain = ["100".to_string(), "abc123".to_string(), "x".to_string()];
    for (template, ip) in SHAPES {
        let line = fill(template, &plain);
        match Detectors::builtin().detect(line.as_bytes()) {
            Outcome::Found(d) => assert_eq!(d.ip, ip.parse::<IpAddr>().unwrap(), "{line}"),
            other => panic!("{other:?} for {line}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn hostile_fields_never_move_the_address(
        shape in 0..SHAPES.len(),
        f0 in hostile(),
        f1 in hostile(),
        f2 in hostile(),
    ) {
        let (template, ip) = SHAPES[shape];
        let line = fill(template, &[f0, f1, f2]);
        check(&line, ip.parse().unwrap())?;
    }

    #[test]
    fn json_formatter_with_hostile_fields(from in hostile(), cid in hostile()) {
        let from = pjsip_printed_from(&from);
        let message = format!(
            "Request 'REGISTER' from '{from}' failed for '203.0.113.9:5060' (callid: {cid}) - Failed to authenticate"
        );
        let line = serde_json::json!({
            "hostname": "pbx",
            "timestamp": "2024-01-01 10:00:00.123",
            "identifiers": {"lwp": 1, "callid": ""},
            "logmsg": {
                "location": {"filename": "res_pjsip/pjsip_distributor.c", "function": "log_failed_request", "line": 1},
                "level": "NOTICE",
                "message": message,
            }
        })
        .to_string();
        check(&line, TRUE_V4.parse().unwrap())?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Detectors::builtin().detect(&bytes);
    }
}
