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
//!   `Request*`) need all pairs to agree, else the line is `Suspicious`.

use crate::find::{self, Fixed};
use tg_model::{Kind, Service};

use crate::addr;
use crate::asterisk::{ATTEMPT_AMI_USER, ATTEMPT_SIP_CALLID};
use crate::verdict::{Candidates, Verdict};

pub(crate) fn detect(m: &[u8]) -> Verdict<'_> {
    let Some(rest) = m.strip_prefix(b"SecurityEvent=\"") else {
        return Verdict::Nothing;
    };
    let Some(q) = memchr::memchr(b'"', rest) else {
        return Verdict::Nothing;
    };
    let (kind, server_tail) = match &rest[..q] {
        b"InvalidAccountID" => (Kind::UnknownAccount, true),
        b"FailedACL" => (Kind::AclDenied, true),
        b"InvalidTransport" => (Kind::AclDenied, true),
        // No emitter found upstream; its `AuthMethod` may echo the request, so assume the worst.
        b"AuthMethodNotAllowed" => (Kind::AclDenied, false),
        b"SessionLimit" | b"MemoryLimit" | b"LoadAverageLimit" => (Kind::Flood, true),
        b"UnexpectedAddress" => (Kind::Other, true),
        b"ChallengeResponseFailed" | b"InvalidPassword" => (Kind::AuthFailure, false),
        b"RequestBadFormat" | b"RequestNotAllowed" | b"RequestNotSupported" => {
            (Kind::BadRequest, false)
        }
        // ChallengeSent, SuccessfulAuth and anything unknown are not attacks.
        _ => return Verdict::Nothing,
    };
    let mut cur = &rest[q + 1..];
    let mut service_name: &[u8] = b"";
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
        if key == b",Service=\"" {
            service_name = &after[..end];
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
    let mut last: Option<(usize, std::net::IpAddr, &[u8])> = None;
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
        if let Some(ip) = addr::security_addr(&after_local[..rq]) {
            cands.add(ip);
            last = Some((p, ip, after));
        }
    }
    let Some((pair_at, last_ip, tail)) = last else {
        return Verdict::Suspicious;
    };
    let kind = if kind == Kind::AclDenied && tail.starts_with(b",ACLName=\"no_extension_match\"") {
        Kind::CallRejected
    } else {
        kind
    };
    let verdict = if server_tail {
        Verdict::hit(service, kind, last_ip)
    } else {
        cands.verdict(service, kind)
    };
    // The attempt id: PJSIP's SessionID is the Call-ID (shared with the NOTICE line of the same
    // request); AMI's is the login name (its SessionID is a session pointer, shared by every
    // login on one connection); chan_sip's pointer is reused across dialogs, so none.
    let before_pair = &cur[..pair_at];
    match service_name {
        b"PJSIP" => match find::rfind(before_pair, b",SessionID=\"") {
            Some(i) => verdict.with_attempt(ATTEMPT_SIP_CALLID, &before_pair[i + 12..]),
            None => verdict,
        },
        b"AMI" => {
            let account = cur
                .strip_prefix(b",AccountID=\"")
                .and_then(|a| find::find(a, b"\",SessionID=\"").map(|e| &a[..e]));
            match account {
                Some(user) => verdict.with_attempt(ATTEMPT_AMI_USER, user),
                None => verdict,
            }
        }
        _ => verdict,
    }
}
