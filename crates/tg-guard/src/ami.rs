//! The Asterisk Manager Interface wire format: `Key: Value\r\n` lines, a blank line ends a
//! message; the server greets with `Asterisk Call Manager/<version>\r\n`. Plus the security
//! events (`InvalidPassword`, `FailedACL`, …) turned into structured items for the jails, with
//! `RemoteAddress` parsed strictly (`IPV4/UDP/203.0.113.5/5060`).

use std::net::IpAddr;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use tg_model::{AttemptPart, Finding, Kind, Service};

/// Longest AMI line accepted.
pub const MAX_LINE: usize = 8 * 1024;
/// Most headers in one message (Asterisk itself accepts 128 inbound).
pub const MAX_HEADERS: usize = 256;

/// Reading or writing AMI failed.
#[derive(Debug, thiserror::Error)]
pub enum AmiError {
    /// The socket failed.
    #[error("AMI {addr}: {source}")]
    Io {
        /// `host:port`.
        addr: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The peer said something that is not AMI.
    #[error("AMI {addr}: {message}")]
    Protocol {
        /// `host:port`.
        addr: String,
        /// What was wrong.
        message: String,
    },
    /// A value for an action contained a line break (it would inject headers).
    #[error("AMI action value contains a line break: {0:?}")]
    Injection(String),
}

/// One AMI message: headers in order (duplicates kept).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// `(key, value)` pairs.
    pub headers: Vec<(String, String)>,
}

impl Message {
    /// The first value of `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// The event name, for events.
    pub fn event(&self) -> Option<&str> {
        self.get("Event")
    }
}

/// Reads one line (without CR LF) of at most [`MAX_LINE`] bytes; `None` at end of stream.
pub async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    loop {
        let chunk = r.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(if buf.is_empty() {
                None
            } else {
                Some(String::from_utf8_lossy(&buf).into_owned())
            });
        }
        let (part, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (&chunk[..i], i + 1),
            None => (chunk, 0),
        };
        if buf.len() + part.len() > MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("AMI line longer than {MAX_LINE} bytes"),
            ));
        }
        buf.extend_from_slice(part);
        let used = if done > 0 { done } else { chunk.len() };
        r.consume(used);
        if done > 0 {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(Some(String::from_utf8_lossy(&buf).into_owned()));
        }
    }
}

/// Reads one message; `None` at end of stream. Lines without `:` are ignored (legacy
/// `Response: Follows` output), as are blank lines before a message.
pub async fn read_message<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<Message>> {
    let mut msg = Message::default();
    loop {
        let Some(line) = read_line(r).await? else {
            return Ok(if msg.headers.is_empty() {
                None
            } else {
                Some(msg)
            });
        };
        if line.is_empty() {
            if msg.headers.is_empty() {
                continue;
            }
            return Ok(Some(msg));
        }
        if let Some((k, v)) = line.split_once(':') {
            if msg.headers.len() >= MAX_HEADERS {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("AMI message with more than {MAX_HEADERS} headers"),
                ));
            }
            msg.headers
                .push((k.trim().to_string(), v.trim_start().to_string()));
        }
    }
}

/// Encodes an action; refuses values with line breaks.
pub fn encode_action(action: &str, headers: &[(&str, &str)]) -> Result<String, AmiError> {
    let mut out = String::new();
    for (k, v) in std::iter::once(&("Action", action)).chain(headers) {
        if k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n']) {
            return Err(AmiError::Injection(format!("{k}: {v}")));
        }
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    Ok(out)
}

/// A security event from AMI, ready for the jails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityEvent {
    /// Unix milliseconds (from `EventTV`, else the time it arrived).
    pub time_ms: i64,
    /// The AMI event name (`InvalidPassword`).
    pub event: String,
    /// The attacked service, as the jails know it.
    pub service: Service,
    /// What happened.
    pub kind: Kind,
    /// `AccountID` (attacker-chosen text: display only).
    pub account: String,
    /// The offender, from `RemoteAddress` only.
    pub ip: IpAddr,
    /// Its port.
    pub port: u16,
    /// `UDP`, `TCP`, `TLS`, `WS`, `WSS` or empty.
    pub transport: String,
    /// Where it stands in its attempt (the same as the event's line in Asterisk's security log).
    pub attempt: Option<AttemptPart>,
}

impl SecurityEvent {
    /// The finding the jails count.
    pub fn to_finding(&self) -> Finding {
        Finding {
            time_ms: self.time_ms,
            service: self.service,
            kind: self.kind,
            ip: self.ip,
            attempt: self.attempt,
        }
    }
}

/// Parses `IPV4/UDP/203.0.113.5/5060` (transport may be absent: `IPV4/203.0.113.5/5060`).
pub fn parse_remote_address(text: &str) -> Option<(IpAddr, u16, String)> {
    let parts: Vec<&str> = text.trim().split('/').collect();
    let (family, transport, addr, port) = match parts.as_slice() {
        [f, t, a, p] => (*f, *t, *a, *p),
        [f, a, p] => (*f, "", *a, *p),
        _ => return None,
    };
    if !["", "UDP", "TCP", "TLS", "WS", "WSS"].contains(&transport) {
        return None;
    }
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u16 = port.parse().ok()?;
    let ip: IpAddr = addr.parse().ok()?;
    match (family, ip) {
        ("IPV4", IpAddr::V4(_)) | ("IPV6", IpAddr::V6(_)) => {}
        _ => return None,
    }
    Some((tg_model::canonical_ip(ip), port, transport.to_string()))
}

/// `2024-05-01T12:00:00.123+0000` (or `-0500`, or without milliseconds) → Unix ms. The zone is
/// exactly `±HHMM` (hours to 23, minutes to 59).
pub fn parse_event_tv(text: &str) -> Option<i64> {
    let t = text.trim();
    let b = t.as_bytes();
    // The sender's frame: slicing below assumes one byte per character.
    if !t.is_ascii() || b.len() < 24 || b[10] != b'T' {
        return None;
    }
    let base = tg_model::civil::parse_date_time(format!("{} {}", &t[..10], &t[11..19]).as_bytes())?;
    let mut rest = &t[19..];
    let mut ms = 0i64;
    if let Some(r) = rest.strip_prefix('.') {
        let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
        let frac: String = digits.chars().chain("000".chars()).take(3).collect();
        ms = frac.parse().ok()?;
        rest = &r[digits.len()..];
    }
    if rest.len() != 5 {
        return None;
    }
    let sign = match &rest[..1] {
        "+" => 1,
        "-" => -1,
        _ => return None,
    };
    // Exactly `HHMM`: `str::parse` alone would take a sign (`+-1-1`) and minutes past 59.
    if !rest[1..].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i64 = rest[1..3].parse().ok()?;
    let m: i64 = rest[3..5].parse().ok()?;
    if h > 23 || m > 59 {
        return None;
    }
    Some((base - sign * (h * 3600 + m * 60)) * 1000 + ms)
}

/// A security event from an AMI message; `None` when it is not one, is informational, or has
/// no valid `RemoteAddress`.
pub fn security_event(msg: &Message, now_ms: i64) -> Option<SecurityEvent> {
    let event = msg.event()?;
    let field = |name| msg.get(name).unwrap_or("");
    // The same kind and attempt as the event's line in Asterisk's security log, so the jails
    // count the two (and the line's copy in a second file) as one attempt.
    let kind = tg_detect::security_event_kind(event.as_bytes(), field("ACLName").as_bytes())?;
    let (ip, port, transport) = parse_remote_address(msg.get("RemoteAddress")?)?;
    let digest = match field("Response") {
        "" => field("ReceivedHash"),
        r => r,
    };
    let attempt = tg_detect::security_event_attempt(&tg_detect::SecurityEventFields {
        service: field("Service").as_bytes(),
        event: event.as_bytes(),
        kind,
        event_tv: field("EventTV").as_bytes(),
        account: field("AccountID").as_bytes(),
        session: field("SessionID").as_bytes(),
        port,
        digest: digest.as_bytes(),
    });
    let service = match msg.get("Service").unwrap_or("") {
        "AMI" => Service::Ami,
        "IAX2" => Service::Iax,
        "PJSIP" | "SIP" => Service::Sip,
        "HTTP" | "ARI" => Service::Web,
        _ => Service::Sip,
    };
    Some(SecurityEvent {
        time_ms: msg
            .get("EventTV")
            .and_then(parse_event_tv)
            .unwrap_or(now_ms),
        event: event.to_string(),
        service,
        kind,
        account: msg.get("AccountID").unwrap_or("").to_string(),
        ip,
        port,
        transport,
        attempt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_messages() {
        let wire = b"Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n\
Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/1001-00000001\r\nExten: 011\r\n\r\n";
        let mut r = tokio::io::BufReader::new(&wire[..]);
        let a = read_message(&mut r).await.unwrap().unwrap();
        assert_eq!(a.get("response"), Some("Success"));
        let b = read_message(&mut r).await.unwrap().unwrap();
        assert_eq!(b.event(), Some("Newchannel"));
        assert_eq!(b.get("Channel"), Some("PJSIP/1001-00000001"));
        assert_eq!(read_message(&mut r).await.unwrap(), None);
    }

    #[tokio::test]
    async fn refuses_huge_lines() {
        let wire = vec![b'a'; MAX_LINE + 5];
        let mut r = tokio::io::BufReader::new(&wire[..]);
        assert!(read_message(&mut r).await.is_err());
    }

    #[test]
    fn encodes_actions_without_injection() {
        assert_eq!(
            encode_action("Hangup", &[("Channel", "PJSIP/1005-00000003")]).unwrap(),
            "Action: Hangup\r\nChannel: PJSIP/1005-00000003\r\n\r\n"
        );
        assert!(encode_action("Hangup", &[("Channel", "x\r\nAction: Originate")]).is_err());
    }

    #[test]
    fn remote_addresses_parse_strictly() {
        let (ip, port, t) = parse_remote_address("IPV4/UDP/203.0.113.5/5060").unwrap();
        assert_eq!(
            (ip.to_string(), port, t.as_str()),
            ("203.0.113.5".into(), 5060, "UDP")
        );
        assert!(parse_remote_address("IPV6/TLS/2001:db8::1/5061").is_some());
        let (ip, _, _) = parse_remote_address("IPV6/UDP/::ffff:198.51.100.7/5060").unwrap();
        assert_eq!(ip.to_string(), "198.51.100.7");
        assert!(parse_remote_address("IPV4/203.0.113.5/5060").is_some());
        for bad in [
            "IPV4/UDP/203.0.113.5",
            "IPV4/UDP/203.0.113.5/99999",
            "IPV4/UDP/2001:db8::1/5060",
            "IPV4/FOO/203.0.113.5/5060",
            "IPV4/UDP/203.0.113.5/5060/x",
            "203.0.113.5:5060",
            "IPV4/UDP/evil.example/5060",
        ] {
            assert_eq!(parse_remote_address(bad), None, "{bad}");
        }
    }

    #[test]
    fn security_events_become_findings() {
        let msg = Message {
            headers: [
                ("Event", "InvalidPassword"),
                ("Privilege", "security,all"),
                ("EventTV", "2024-05-01T12:00:00.123+0000"),
                ("Severity", "Error"),
                ("Service", "PJSIP"),
                ("AccountID", "1001"),
                ("RemoteAddress", "IPV4/UDP/203.0.113.5/5060"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        };
        let e = security_event(&msg, 0).unwrap();
        assert_eq!(e.kind, Kind::AuthFailure);
        assert_eq!(e.service, Service::Sip);
        assert_eq!(e.time_ms, 1_714_564_800_123);
        assert_eq!(e.to_finding().ip.to_string(), "203.0.113.5");
        assert_eq!(
            parse_event_tv("2024-05-01T07:00:00-0500"),
            Some(1_714_564_800_000)
        );
    }

    #[test]
    fn a_hostile_event_tv_is_refused_never_a_panic() {
        for bad in [
            "2024-05-01T07:00:0é-0500",
            "2024-05-01T07:00:00.12é+0000",
            "2024-05-01T07:00:00+00é",
            "2024-05-01T07:00:00€€€€€",
            "2024-05-01T07:00:00.",
            "2024-05-01Tzz:00:00+0000",
            "é024-05-01T07:00:00+0000",
        ] {
            assert_eq!(parse_event_tv(bad), None, "{bad}");
        }
        // Zones that are not `±HHMM`. The first is the `EventTV` of an input the `ami` fuzz
        // target found (fuzz/corpus/ami/found-event-tv-zone-minutes), read as 90 minutes east.
        for bad in [
            "2026-12-07T16:58:22.110+0090",
            "2024-05-01T07:00:00+-1-1",
            "2024-05-01T07:00:00-+100",
            "2024-05-01T07:00:00+2400",
            "2024-05-01T07:00:00+ 100",
        ] {
            assert_eq!(parse_event_tv(bad), None, "{bad}");
        }
        assert_eq!(
            parse_event_tv("2024-05-01T07:00:00+2359"),
            Some(1_714_546_800_000 - 86_340_000)
        );
        // Every cut of a valid stamp with a multi-byte character put in at every place.
        let good = "2024-05-01T07:00:00.123+0000";
        for i in 0..=good.len() {
            for c in ["é", "\u{1F600}", "\u{0}"] {
                let mut s = good.to_string();
                s.insert_str(i, c);
                let _ = parse_event_tv(&s);
                let _ = parse_event_tv(&s[..i + c.len()]);
            }
        }
    }
}
