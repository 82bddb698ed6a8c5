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
        return Verdict::suspicious(Service::Sip, Kind::AuthFailure);
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
            cands.add(ip, p);
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
/// `<name>: Call (<TRANSPORT>:<addr>) to extension …`. The context is the server's and ends the
/// line; `<exten>` (the dialled number) is the caller's.
/// - PJSIP: what precedes the address is the server's (the endpoint's id, `anonymous`, or the
///   channel's name), so the first `(<TRANSPORT>:<addr>) to extension '` is the server's and
///   a copy in the dialled number can only come after it.
/// - chan_sip: `<user>` is the caller's too (its From user part), on the other side of the
///   address: every `(<addr>) to extension '` is a candidate, and copies on both sides leave
///   the line `Suspicious` with them.
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
        let parsed = addr::endpoint(inner, Port::Optional);
        if pjsip {
            // The first placement is the server's: it stands or falls alone.
            return match parsed {
                // chan_pjsip raises no security event for it: the line is the whole attempt.
                Some((ip, _)) => Verdict::hit(Service::Sip, Kind::CallRejected, ip),
                None => Verdict::suspicious(Service::Sip, Kind::CallRejected),
            };
        }
        if let Some((ip, p)) = parsed {
            cands.add(ip, p);
            port = p;
        }
    }
    // chan_sip's `FailedACL` (`no_extension_match`) is the same attempt.
    cands
        .verdict(Service::Sip, Kind::CallRejected)
        .in_attempt(attempt::chan_sip_notice(port, Kind::CallRejected))
}

/// P1: `Request '<M>' from '<from>' failed for '<addr>' (callid: <cid>) - <reason>[ after N tries
/// in X ms]`, and the 12.x–13.9 form without `'<M>' `. `<from>` precedes the address and
/// `<cid>` follows it, both the sender's, so the placement is told by the grammar of `<from>`:
/// Asterisk prints it with `pjsip_uri_print`, as `"<display>" <<uri>>` or `<<uri>>`, where the
/// display name is copied as the sender wrote it and the URI is escaped (no space, no `<`, `>`,
/// `"`). A copy of the fixed text inside a quoted display name cuts it before its closing quote;
/// a copy inside the Call-ID makes the text before it run on past the closing `>`. So only the
/// server's placement leaves a well-formed `<from>` before it.
///
/// Two readings of "well-formed", both required to agree: *strict* (the display name's
/// backslash escapes honoured, as a quoted display name on the wire has them) and *loose* (the
/// display name is anything up to the last `" <`, as an unquoted display name, printed in quotes
/// as it came, can be). The address is found when exactly one placement is loosely well-formed
/// and it is also strictly so; otherwise the line is `Suspicious` with every candidate. (An
/// unquoted display name ending in `\` fools the strict reading alone; a quoted one holding
/// `\" <…>` fools the loose reading alone; neither fools both.)
fn pjsip_request_failed(m: &[u8]) -> Verdict {
    // Where `<from>` starts; `None` if the method is no token (not what pjsip parses): then
    // the From's grammar is not used.
    let from_at = if m.starts_with(b"Request from '") {
        Some(b"Request from '".len())
    } else if let Some(rest) = m.strip_prefix(b"Request '") {
        // The method is a token (no space): the first `' from '` ends it.
        find::find(rest, b"' from '")
            .filter(|&i| !rest[..i].contains(&b' '))
            .map(|i| 9 + i + 8)
    } else {
        return Verdict::Nothing;
    };
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
    let mut every = Candidates::default();
    let mut loose = Candidates::default();
    let mut strict = false;
    // (port, Call-ID) of the last placement, and of the last well-formed one.
    let mut last_any = None;
    let mut last_ok = None;
    for p in FAILED_FOR.find_iter(&m[..tail_at]) {
        let rest = &m[p + FAILED_FOR.len()..tail_at];
        let Some(q) = memchr::memchr(b'\'', rest) else {
            continue;
        };
        if !rest[q..].starts_with(CALLID) {
            continue;
        }
        if let Some((ip, port)) = addr::endpoint(&rest[..q], Port::Always) {
            let context = (port, &rest[q + CALLID.len()..]);
            every.add(ip, port);
            last_any = Some(context);
            let from = from_at.filter(|&f| f <= p).map(|f| &m[f..p]);
            if let Some(from) = from.filter(|f| printed_from(f, false)) {
                loose.add(ip, port);
                last_ok = Some(context);
                strict |= printed_from(from, true);
            }
        }
    }
    let (verdict, context) = match loose.verdict(Service::Sip, kind) {
        hit @ Verdict::Hit(_) if strict => (hit, last_ok),
        _ => (every.verdict(Service::Sip, kind), last_any),
    };
    match context {
        Some((port, callid)) => verdict.in_attempt(attempt::pjsip_notice(port, callid, kind)),
        None => verdict,
    }
}

/// A From header as `pjsip_uri_print` writes it in a From/To context: an optional display name
/// in quotes and one space, then `<uri>`. `strict`: the display name's backslash escapes are
/// honoured (its first unescaped quote closes it); otherwise it runs to the last `" <`. A URI is
/// printed escaped: no space, quote or angle bracket in it.
pub(crate) fn printed_from(s: &[u8], strict: bool) -> bool {
    let uri_ok = |u: &[u8]| {
        !u.is_empty()
            && !u
                .iter()
                .any(|&b| matches!(b, b' ' | b'\t' | b'<' | b'>' | b'"'))
    };
    let bracketed = |r: &[u8]| {
        r.strip_prefix(b"<")
            .and_then(|r| r.strip_suffix(b">"))
            .is_some_and(uri_ok)
    };
    let Some(quoted) = s.strip_prefix(b"\"") else {
        return bracketed(s);
    };
    if !strict {
        return find::rfind(quoted, b"\" <").is_some_and(|close| bracketed(&quoted[close + 2..]));
    }
    let mut i = 0;
    let close = loop {
        match quoted.get(i) {
            None => return false,
            Some(b'\\') => i += 2,
            Some(b'"') => break i,
            Some(_) => i += 1,
        }
    };
    quoted[close + 1..]
        .strip_prefix(b" ")
        .is_some_and(bracketed)
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
    // (the server's text after `(<addr>)` to the end of the line, kind)
    let (close, kind): (&[u8], Kind) = if m.starts_with(b"AOR '") {
        if m.ends_with(b") unable to register") {
            (b") unable to register", Kind::Flood)
        } else if m.ends_with(b")") && find::find(m, b"' not found for endpoint '").is_some() {
            (b")", Kind::UnknownAccount)
        } else {
            return Verdict::Nothing;
        }
    } else if m.starts_with(b"Endpoint '") {
        if m.ends_with(b") has no configured AORs") {
            (b") has no configured AORs", Kind::AclDenied)
        } else if m.ends_with(b") attempted to register to an AOR with a non-SIP URI") {
            (
                b") attempted to register to an AOR with a non-SIP URI",
                Kind::BadRequest,
            )
        } else {
            return Verdict::Nothing;
        }
    } else if let Some(rest) = m.strip_prefix(b"Registration attempt from endpoint '") {
        if find::find(m, b"' will exceed max contacts of ").is_none() {
            return Verdict::Nothing;
        }
        // The endpoint is the server's (an identified endpoint's id) and precedes the address;
        // the AOR after it is the sender's To: the first `' (<addr>) to AOR '` is the server's.
        let Some(open) = find::find(rest, b"' (") else {
            return Verdict::Nothing;
        };
        let inner = &rest[open + 3..];
        return match find::find(inner, b") to AOR '") {
            Some(close) => match addr::host_port(&inner[..close], Port::Always) {
                Some(ip) => Verdict::hit(Service::Sip, Kind::Flood, ip),
                None => Verdict::suspicious(Service::Sip, Kind::Flood),
            },
            None => Verdict::Nothing,
        };
    } else {
        return Verdict::Nothing;
    };
    // Everything after the address is the server's: the address is in the last `' (`…`)`.
    let end = m.len() - close.len();
    let address = find::rfind(&m[..end], b"' (").map(|open| &m[open + 3..end]);
    match address.and_then(|a| addr::endpoint(a, Port::Always)) {
        Some((ip, _)) => Verdict::hit(Service::Sip, kind, ip),
        None => Verdict::suspicious(Service::Sip, kind),
    }
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
            None => Verdict::suspicious(Service::Iax, kind),
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
                None => Verdict::suspicious(Service::Iax, kind),
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
            None => Verdict::suspicious(Service::Iax, Kind::CallRejected),
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
        None => Verdict::suspicious(Service::Ami, kind),
    }
}

/// Dialplan `Log()` lines (`Ext. <exten>`): only FreePBX's `[from-sip-external]` rejection, whose
/// address is `${CHANNEL(recvip)}` / `${CHANNEL(pjsip,remote_addr)}` (the socket).
fn dialplan<'a>(a: &Asterisk<'a>) -> Verdict {
    const REJECT: &[u8] = b"\"Rejecting unknown SIP connection from ";
    // `Friendly Scanner from <ip>` (FreePBX catch-all route, any extension): the address is cut
    // from the sender's Via header.
    if a.message.starts_with(b"Friendly Scanner from ") {
        return Verdict::suspicious(Service::Sip, Kind::Other);
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
                None => Verdict::suspicious(Service::Sip, Kind::UnknownAccount),
            },
            None => Verdict::Nothing,
        };
    }
    Verdict::Nothing
}
