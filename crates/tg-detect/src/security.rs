//! Security events (`res_security_log.c`, catalogue §4):
//! `SecurityEvent="<Name>",EventTV="…",Severity="…",Service="…",EventVersion="…",AccountID="…",
//! SessionID="…",LocalAddress="IPV4/UDP/a/p",RemoteAddress="IPV4/UDP/b/p"[,<event fields>]`.
//!
//! Values are printed unescaped, and `AccountID`, `SessionID` (a PJSIP Call-ID) and some event
//! fields (`Response`, `ReceivedChallenge`, `ReceivedHash`, `RequestType`, `RequestParams`) are
//! the sender's, so a value may contain `",RemoteAddress="IPV4/UDP/5.6.7.8/1111`. The first five
//! fields are the server's and are read from the front. For the address we look at every
//! `",LocalAddress="<addr>",RemoteAddress="<addr>"` pair:
//! - events whose fields after `RemoteAddress` are all the server's (`InvalidAccountID`,
//!   `FailedACL`, the limits, …) take the **last** pair: injected pairs can only come before it;
//! - events with sender text after the pair (`ChallengeResponseFailed`, `InvalidPassword`,
//!   `Request*`) take the **first** pair when nothing before it is the sender's (AMI's
//!   `RequestBadFormat`: a pointer `SessionID`, its `AccountID` moved to the end); otherwise
//!   every pair is a candidate and the line is `Suspicious` with them (resolved, if at all, by
//!   evidence outside the line: `tg_engine::step`).
//!
//! The syntax of a field cannot decide the last case. A digest `Response` should be hex and a
//! Call-ID a SIP token, but Asterisk checks neither (it logs the Call-ID as received, spaces
//! included, and truncates what it copies), and the sender writes fields on *both* sides of the
//! server's pair: whichever side a check reads, the sender can make the server's pair fail it
//! (by putting its copy on that side) and make its copy pass it.

use crate::find::{self, Fixed};
use tg_model::{Kind, Service};

use crate::addr;
use crate::attempt;
use crate::verdict::{Candidates, Verdict};

pub(crate) fn detect(m: &[u8]) -> Verdict {
    let Some(rest) = m.strip_prefix(b"SecurityEvent=\"") else {
        return Verdict::Nothing;
    };
    let Some(q) = memchr::memchr(b'"', rest) else {
        return Verdict::Nothing;
    };
    let name = &rest[..q];
    // ChallengeSent, SuccessfulAuth and anything unknown are not attacks.
    if attempt::security_event_kind(name, b"").is_none() {
        return Verdict::Nothing;
    }
    // Events with sender text after `RemoteAddress` (an echoed request, a digest); no emitter
    // of `AuthMethodNotAllowed` was found upstream, and its `AuthMethod` may echo the request.
    let server_tail = !matches!(
        name,
        b"ChallengeResponseFailed"
            | b"InvalidPassword"
            | b"AuthMethodNotAllowed"
            | b"RequestBadFormat"
            | b"RequestNotAllowed"
            | b"RequestNotSupported"
    );
    let mut cur = &rest[q + 1..];
    let mut service_name: &[u8] = b"";
    let mut event_tv: &[u8] = b"";
    for key in [
        &b",EventTV=\""[..],
        b",Severity=\"",
        b",Service=\"",
        b",EventVersion=\"",
    ] {
        let Some(after) = cur.strip_prefix(key) else {
            return Verdict::Nothing;
        };
        let Some(end) = memchr::memchr(b'"', after) else {
            return Verdict::Nothing;
        };
        match key {
            b",Service=\"" => service_name = &after[..end],
            b",EventTV=\"" => event_tv = &after[..end],
            _ => {}
        }
        cur = &after[end + 1..];
    }
    let service = match service_name {
        b"AMI" => Service::Ami,
        b"IAX2" | b"IAX" => Service::Iax,
        _ => Service::Sip,
    };

    static LOCAL_FIXED: Fixed = Fixed::new(b"\",LocalAddress=\"");
    const LOCAL: &[u8] = b"\",LocalAddress=\"";
    const REMOTE: &[u8] = b"\",RemoteAddress=\"";
    let mut cands = Candidates::default();
    let mut first: Option<Pair> = None;
    let mut last: Option<Pair> = None;
    for p in LOCAL_FIXED.find_iter(cur) {
        let local_start = p + LOCAL.len();
        let Some(lq) = memchr::memchr(b'"', &cur[local_start..]) else {
            continue;
        };
        let local = &cur[local_start..local_start + lq];
        let Some(after_local) = cur[local_start + lq..].strip_prefix(REMOTE) else {
            continue;
        };
        let Some(rq) = memchr::memchr(b'"', after_local) else {
            continue;
        };
        let after = &after_local[rq + 1..];
        if !(after.is_empty() || after.starts_with(b",")) {
            continue;
        }
        // The local address is the server's own; its shape is enough to recognise the pair.
        if !(local.starts_with(b"IPV4/") || local.starts_with(b"IPV6/")) {
            continue;
        }
        if let Some((ip, port)) = addr::security_endpoint(&after_local[..rq]) {
            cands.add(ip, Some(port));
            let pair = Pair {
                at: p,
                ip,
                port,
                tail: after,
            };
            first.get_or_insert(pair);
            last = Some(pair);
        }
    }
    let fallback_kind = attempt::security_event_kind(name, b"").unwrap_or(Kind::Other);
    let Some(last) = last else {
        return Verdict::suspicious(service, fallback_kind);
    };
    // Which pair is the server's, by what surrounds it:
    // - only server fields follow the address (`server_tail`): the last pair;
    // - only server fields precede it (the event opens with a pointer `SessionID`, as AMI's
    //   `RequestBadFormat` does, whose `AccountID` moves to the end): the first pair;
    // - the sender's text on both sides: every pair is a candidate (one address in all of them
    //   is the answer).
    let chosen = if server_tail || cands.distinct() == 1 {
        Some(last)
    } else if first.is_some_and(|f| pointer_session_only(&cur[..f.at])) {
        first
    } else {
        None
    };
    let Some(Pair {
        at: pair_at,
        ip: chosen_ip,
        port,
        tail,
    }) = chosen
    else {
        return cands.verdict(service, fallback_kind);
    };
    let acl_name = field(tail, b",ACLName=\"").unwrap_or(b"");
    let Some(kind) = attempt::security_event_kind(name, acl_name) else {
        return Verdict::Nothing;
    };
    let verdict = Verdict::hit(service, kind, chosen_ip);
    // Which attempt: PJSIP's SessionID is the Call-ID (shared with the NOTICE line of the same
    // request); AMI's AccountID is the login name; chan_sip's SessionID is a recycled pointer,
    // so its attempts are told apart by port and kind (see `crate::attempt`).
    let before_pair = &cur[..pair_at];
    let session =
        find::rfind(before_pair, b",SessionID=\"").map_or(&b""[..], |i| &before_pair[i + 12..]);
    let account = cur
        .strip_prefix(b",AccountID=\"")
        .and_then(|a| find::find(a, b"\",SessionID=\"").map(|e| &a[..e]))
        .unwrap_or(b"");
    let digest = field(tail, b",Response=\"")
        .or_else(|| field(tail, b",ReceivedHash=\""))
        .unwrap_or(b"");
    match attempt::security_event_attempt(&attempt::SecurityEventFields {
        service: service_name,
        event: name,
        kind,
        event_tv,
        account,
        session,
        port,
        digest,
    }) {
        Some(part) => verdict.in_attempt(part),
        None => verdict,
    }
}

/// A `",LocalAddress=` / `",RemoteAddress=` pair: where it starts, its remote address and
/// port, and what follows it.
#[derive(Clone, Copy)]
struct Pair<'a> {
    at: usize,
    ip: std::net::IpAddr,
    port: u16,
    tail: &'a [u8],
}

/// `,SessionID="0x…` and nothing else: the fields before the first pair are a pointer only.
fn pointer_session_only(before: &[u8]) -> bool {
    before
        .strip_prefix(b",SessionID=\"0x")
        .is_some_and(|hex| !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit))
}

/// The value of the first `key` (`,Name="`) in `s`, up to its closing quote.
fn field<'a>(s: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = find::find(s, key)? + key.len();
    let end = memchr::memchr(b'"', &s[at..])?;
    Some(&s[at..at + end])
}
