//! Asterisk's message families (catalogue §3): chan_sip, res_pjsip, chan_iax2, manager.c and
//! the FreePBX dialplan `Rejecting unknown SIP connection` line.
//!
//! The module a line comes from is read from Asterisk's prefix (logger-written), so a dialplan
//! `Log()` line imitating a module (`Ext. s: chan_sip.c: Registration from …`) never reaches the
//! chan_sip detector. Inside each message the address is taken between fixed text the server
//! writes; where attacker fields (To/From, Call-ID, extension) sit on both sides of it, every
//! placement of the fixed text is tried and disagreeing results give `Suspicious`.

use crate::find::{self, Fixed};
use tg_model::{Kind, Service};

use crate::addr::{self, Port};
use crate::attempt;
use crate::envelope::{self, Asterisk};
use crate::security;
use crate::verdict::{Candidates, Verdict};

/// Dispatches on the module that wrote the line.
pub(crate) fn detect<'a>(a: &Asterisk<'a>) -> Verdict {
    // Attack lines are NOTICE, WARNING, SECURITY (and ERROR in some patched builds); the chatty
    // VERBOSE/DEBUG/DTMF lines are turned away before looking at the module.
    if !envelope::is_attack_level(a.level) {
        return Verdict::Nothing;
    }
    let m = a.message;
    match a.module() {
        b"chan_sip.c" => chan_sip(m),
        b"pjsip_distributor.c" => pjsip_request_failed(m),
        b"res_pjsip_session.c" => call_rejected(m, true),
        b"res_pjsip_registrar.c" => pjsip_registrar(m),
        b"chan_iax2.c" => iax2(m),
        b"manager.c" => manager(m),
        b"res_security_log.c" => security::detect(m),
        _ if a.file.starts_with(b"Ext. ") => dialplan(a),
        _ => Verdict::Nothing,
    }
}

fn chan_sip(m: &[u8]) -> Verdict {
    if m.starts_with(b"Registration from '") {
        return sip_registration(m);
    }
    if m.starts_with(b"Call from '") {
        return call_rejected(m, false);
    }
    if let Some(rest) = m.strip_prefix(b"hacking attempt detected '") {
        // A distribution patch, not upstream; the whole message is fixed text around the address.
        return match rest.strip_suffix(b"'").and_then(addr::ip) {
            Some(ip) => Verdict::hit(Service::Sip, Kind::Other, ip),
            None => Verdict::Nothing,
        };
    }
    // S3/S4: the only host in these lines is in the From header, written by the sender.
    if m.starts_with(b"Failed to authenticate device ")
        || m.starts_with(b"Failed to authenticate user ")
        || m.starts_with(b"Sending fake auth rejection for ")
    {
        return Verdict::Suspicious;
    }
    Verdict::Nothing
}

/// S1: `Registration from '<to>' failed for '<addr>' - <reason>`. Only `<to>` is the sender's,
/// and it comes first; the reason is a fixed phrase without `'`. So the true `' failed for '` is
/// the one whose remainder is `'<addr>' - <reason>` with no quote after the address.
static FAILED_FOR: Fixed = Fixed::new(b"' failed for '");
const CALLID: &[u8] = b"' (callid: ";
static TO_EXTENSION: Fixed = Fixed::new(b") to extension '");
static REJECTED_TAIL: Fixed = Fixed::new(b"' rejected because extension not found in context '");

fn sip_registration(m: &[u8]) -> Verdict {
    let mut cands = Candidates::default();
    let mut reason: &[u8] = b"";
    let mut port = None;
    for p in FAILED_FOR.find_iter(m) {
        let rest = &m[p + FAILED_FOR.len()..];
        let Some(q) = memchr::memchr(b'\'', rest) else {
            continue;
        };
        let Some(tail) = rest[q + 1..].strip_prefix(b" - ") else {
            continue;
        };
        if memchr::memchr(b'\'', tail).is_some() {
            continue;
        }
        if let Some((ip, p)) = addr::endpoint(&rest[..q], Port::Optional) {
            cands.add(ip);
            reason = tail;
            port = p;
        }
    }
    let kind = match reason {
        b"Wrong password" | b"Username/auth name mismatch" => Kind::AuthFailure,
        b"No matching peer found" => Kind::UnknownAccount,
        b"Not a local domain"
        | b"Not a local SIP domain"
        | b"Peer is not supposed to register"
        | b"Device does not match ACL"
        | b"ACL error (permit/deny)"
        | b"Device not configured to use this transport type" => Kind::AclDenied,
        _ => Kind::Other,
    };
    cands
        .verdict(Service::Sip, kind)
        .in_attempt(attempt::chan_sip_notice(port, kind))
}

/// S2 (chan_sip) and P2 (res_pjsip_session): a call to an extension that does not exist.
///
/// `Call from '<user>' (<addr>) to extension '<exten>' rejected because extension not found in
/// context '<ctx>'.`, and PJSIP's `(<TRANSPORT>:<addr>)` forms including
/// `<name>: Call (<TRANSPORT>:<addr>) to extension …`. `<user>` and `<exten>` are the caller's,
/// on both sides of the address: every `(<addr>) to extension '` is a candidate.
fn call_rejected(m: &[u8], pjsip: bool) -> Verdict {
    let starts_ok = m.starts_with(b"Call from '")
        || (pjsip
            && find::find(m, b": Call (")
                .is_some_and(|i| !m[..i].contains(&b' ') && !m[..i].contains(&b'\'')));
    if !starts_ok {
        return Verdict::Nothing;
    }
    // The context is the server's configuration and the line ends with it.
    let Some(tail_at) = REJECTED_TAIL.rfind(m) else {
        return Verdict::Nothing;
    };
    let ctx = &m[tail_at + REJECTED_TAIL.len()..];
    let Some(ctx) = ctx.strip_suffix(b"'.") else {
        return Verdict::Nothing;
    };
    if ctx.contains(&b'\'') {
        return Verdict::Nothing;
    }
    let mut cands = Candidates::default();
    let mut port = None;
    for p in TO_EXTENSION.find_iter(&m[..tail_at]) {
        let Some(open) = memchr::memrchr(b'(', &m[..p]) else {
            continue;
        };
        let mut inner = &m[open + 1..p];
        if pjsip {
            let Some(colon) = memchr::memchr(b':', inner) else {
                continue;
            };
            let transport = &inner[..colon];
            if transport.is_empty() || !transport.iter().all(u8::is_ascii_uppercase) {
                continue;
            }
            inner = &inner[colon + 1..];
        }
        if let Some((ip, p)) = addr::endpoint(inner, Port::Optional) {
            cands.add(ip);
            port = p;
        }
    }
    let verdict = cands.verdict(Service::Sip, Kind::CallRejected);
    if pjsip {
        // chan_pjsip raises no security event for it: the line is the whole attempt.
        verdict
    } else {
        // chan_sip's `FailedACL` (`no_extension_match`) is the same attempt.
        verdict.in_attempt(attempt::chan_sip_notice(port, Kind::CallRejected))
    }
}

/// P1: `Request '<M>' from '<from>' failed for '<addr>' (callid: <cid>) - <reason>[ after N tries
/// in X ms]`, and the 12.x–13.9 form without `'<M>' `. `<from>` precedes the address and
/// `<cid>` follows it, both the sender's: all placements are tried.
fn pjsip_request_failed(m: &[u8]) -> Verdict {
    if !(m.starts_with(b"Request '") || m.starts_with(b"Request from '")) {
        return Verdict::Nothing;
    }
    let Some(tail_at) = find::rfind(m, b") - ") else {
        return Verdict::Nothing;
    };
    let reason = &m[tail_at + 4..];
    let reason = match find::find(reason, b" after ") {
        Some(i) if is_after_tries(&reason[i..]) => &reason[..i],
        _ => reason,
    };
    let kind = match reason {
        b"No matching endpoint found" => Kind::UnknownAccount,
        b"Not match Endpoint ACL" | b"Not match Endpoint Contact ACL" => Kind::AclDenied,
        b"Failed to authenticate" | b"Error to authenticate" => Kind::AuthFailure,
        _ => Kind::Other,
    };
    let mut cands = Candidates::default();
    let mut callid: &[u8] = b"";
    let mut port = None;
    for p in FAILED_FOR.find_iter(&m[..tail_at]) {
        let rest = &m[p + FAILED_FOR.len()..tail_at];
        let Some(q) = memchr::memchr(b'\'', rest) else {
            continue;
        };
        if !rest[q..].starts_with(CALLID) {
            continue;
        }
        if let Some((ip, p)) = addr::endpoint(&rest[..q], Port::Always) {
            cands.add(ip);
            callid = &rest[q + CALLID.len()..];
            port = p;
        }
    }
    cands
        .verdict(Service::Sip, kind)
        .in_attempt(attempt::pjsip_notice(port, callid, kind))
}

/// ` after 5 tries in 2.500 ms` exactly.
fn is_after_tries(s: &[u8]) -> bool {
    let Some(rest) = s.strip_prefix(b" after ") else {
        return false;
    };
    let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let Some(rest) = rest[n..].strip_prefix(b" tries in ") else {
        return false;
    };
    let Some(num) = rest.strip_suffix(b" ms") else {
        return false;
    };
    n > 0 && !num.is_empty() && num.iter().all(|&b| b.is_ascii_digit() || b == b'.')
}

/// P3: res_pjsip_registrar warnings that name the source (`src_name:src_port`, IPv6 unbracketed).
fn pjsip_registrar(m: &[u8]) -> Verdict {
    // (fixed text right after `(<addr>)`, is everything after the address fixed text, kind)
    let (close, anchor_last, kind): (&[u8], bool, Kind) = if m.starts_with(b"AOR '") {
        if m.ends_with(b") unable to register") {
            (b") unable to register", true, Kind::Flood)
        } else if m.ends_with(b")") && find::find(m, b"' not found for endpoint '").is_some() {
            (b")", true, Kind::UnknownAccount)
        } else {
            return Verdict::Nothing;
        }
    } else if m.starts_with(b"Endpoint '") {
        if m.ends_with(b") has no configured AORs") {
            (b") has no configured AORs", true, Kind::AclDenied)
        } else if m.ends_with(b") attempted to register to an AOR with a non-SIP URI") {
            (
                b") attempted to register to an AOR with a non-SIP URI",
                true,
                Kind::BadRequest,
            )
        } else {
            return Verdict::Nothing;
        }
    } else if m.starts_with(b"Registration attempt from endpoint '")
        && find::find(m, b"' will exceed max contacts of ").is_some()
    {
        (b") to AOR '", false, Kind::Flood)
    } else {
        return Verdict::Nothing;
    };
    let mut cands = Candidates::default();
    if anchor_last {
        // Everything after the address is fixed text: the address is in the last `' (`…`)`.
        let end = m.len() - close.len();
        if let Some(open) = find::rfind(&m[..end], b"' (") {
            if let Some(ip) = addr::host_port(&m[open + 3..end], Port::Always) {
                cands.add(ip);
            }
        }
    } else {
        // `<aor>` (the sender's To) follows the address: try every placement.
        for p in find::find_iter(m, close) {
            if let Some(open) = find::rfind(&m[..p], b"' (") {
                if let Some(ip) = addr::host_port(&m[open + 3..p], Port::Always) {
                    cands.add(ip);
                }
            }
        }
    }
    cands.verdict(Service::Sip, kind)
}

/// chan_iax2 authdebug lines (catalogue §3.3).
fn iax2(m: &[u8]) -> Verdict {
    if let Some(rest) = m.strip_prefix(b"Host ") {
        // The address is the first word; what follows is fixed text, then the peer name.
        let Some(sp) = memchr::memchr(b' ', rest) else {
            return Verdict::Nothing;
        };
        let tail = &rest[sp..];
        let kind = if tail.starts_with(b" failed to authenticate as")
            || tail.starts_with(b" failed MD5 authentication for '")
            || tail.starts_with(b" did not provide proper plaintext password for '")
        {
            Kind::AuthFailure
        } else if tail.starts_with(b" denied access to register peer '") {
            Kind::AclDenied
        } else {
            // Includes `Host <peer> failed RSA authentication …`: a peer name, not an address.
            return Verdict::Nothing;
        };
        return match addr::host_port(&rest[..sp], Port::Optional) {
            Some(ip) => Verdict::hit(Service::Iax, kind, ip),
            None => Verdict::Suspicious,
        };
    }
    let at_end_from = |kind| {
        // `… '<peer>' (from <ip>)`: the line ends with the address.
        let Some(inner) = m.strip_suffix(b")") else {
            return Verdict::Nothing;
        };
        match find::rfind(inner, b" (from ") {
            Some(i) => match addr::ip(&inner[i + 7..]) {
                Some(ip) => Verdict::hit(Service::Iax, kind, ip),
                None => Verdict::Suspicious,
            },
            None => Verdict::Nothing,
        }
    };
    if m.starts_with(b"No registration for peer '") {
        return at_end_from(Kind::UnknownAccount);
    }
    if m.starts_with(b"Peer '") && find::find(m, b"' is not dynamic (from ").is_some() {
        return at_end_from(Kind::AclDenied);
    }
    if let Some(rest) = m.strip_prefix(b"Empty registration from ") {
        return match addr::host_port(rest, Port::Optional) {
            Some(ip) => Verdict::hit(Service::Iax, Kind::BadRequest, ip),
            None => Verdict::Nothing,
        };
    }
    if let Some(rest) = m.strip_prefix(b"Rejected connect attempt from ") {
        let Some(comma) = find::find(rest, b", ") else {
            return Verdict::Nothing;
        };
        let tail = &rest[comma..];
        if !(tail.starts_with(b", who was trying to reach '") || tail.starts_with(b", request '")) {
            return Verdict::Nothing;
        }
        return match addr::host_port(&rest[..comma], Port::Optional) {
            Some(ip) => Verdict::hit(Service::Iax, Kind::CallRejected, ip),
            None => Verdict::Suspicious,
        };
    }
    // `Call rejected by <addr>` is the far end refusing *our* call: not an attack.
    Verdict::Nothing
}

/// manager.c: `<ip> tried to authenticate with nonexistent user '<user>'`, `<ip> failed to pass
/// IP ACL as '<user>'`, `<ip> failed to authenticate as '<user>'`. The address opens the message.
fn manager(m: &[u8]) -> Verdict {
    let Some(sp) = memchr::memchr(b' ', m) else {
        return Verdict::Nothing;
    };
    let tail = &m[sp..];
    let (kind, user) =
        if let Some(u) = tail.strip_prefix(b" tried to authenticate with nonexistent user '") {
            (Kind::UnknownAccount, u)
        } else if let Some(u) = tail.strip_prefix(b" failed to authenticate as '") {
            (Kind::AuthFailure, u)
        } else if let Some(u) = tail.strip_prefix(b" failed to pass IP ACL as '") {
            (Kind::AclDenied, u)
        } else {
            return Verdict::Nothing;
        };
    let Some(user) = user.strip_suffix(b"'") else {
        return Verdict::Nothing;
    };
    match addr::ip(&m[..sp]) {
        // The nonexistent-user line and the `failed to authenticate` that follows it name the
        // same user: one attempt.
        Some(ip) => {
            Verdict::hit(Service::Ami, kind, ip).in_attempt(attempt::ami_notice(user, kind))
        }
        None => Verdict::Suspicious,
    }
}

/// Dialplan `Log()` lines (`Ext. <exten>`): only FreePBX's `[from-sip-external]` rejection, whose
/// address is `${CHANNEL(recvip)}` / `${CHANNEL(pjsip,remote_addr)}` (the socket).
fn dialplan<'a>(a: &Asterisk<'a>) -> Verdict {
    const REJECT: &[u8] = b"\"Rejecting unknown SIP connection from ";
    // `Friendly Scanner from <ip>` (FreePBX catch-all route, any extension): the address is cut
    // from the sender's Via header.
    if a.message.starts_with(b"Friendly Scanner from ") {
        return Verdict::Suspicious;
    }
    if a.file != b"Ext. s" {
        return Verdict::Nothing;
    }
    if a.function.is_some_and(|f| f != b"@ from-sip-external") {
        return Verdict::Nothing;
    }
    if let Some(rest) = a.message.strip_prefix(REJECT) {
        return match rest.strip_suffix(b"\"") {
            Some(text) => match addr::host_port(text, Port::Optional) {
                Some(ip) => Verdict::hit(Service::Sip, Kind::UnknownAccount, ip),
                None => Verdict::Suspicious,
            },
            None => Verdict::Nothing,
        };
    }
    Verdict::Nothing
}
