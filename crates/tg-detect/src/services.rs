//! Services around the PBX: sshd, Apache and nginx HTTP auth, vsftpd, proftpd, pure-ftpd and
//! FreePBX's `freepbx_security.log`.
//!
//! The program is identified from the (logger-written) syslog tag or from the log's own fixed
//! layout, never from free text. Each message is then read between fixed words; user names,
//! URIs and request lines are the client's, so where they can sit on both sides of the address,
//! every placement is tried and disagreement gives `Suspicious`.

use crate::find;
use tg_model::{Kind, Service};

use crate::addr::{self, Port};
use crate::envelope::{self, When};
use crate::verdict::{Candidates, Verdict};

/// A syslog/journal line from program `tag`.
// Every syslog line passes here, twice at most; a call instead costs ~4 ns a line.
#[inline]
pub(crate) fn tagged<'a>(tag: &'a [u8], body: &'a [u8]) -> (Verdict, When<'a>) {
    let verdict = match tag {
        b"sshd" | b"sshd-session" => sshd(body),
        b"proftpd" => proftpd(body),
        b"pure-ftpd" => pure_ftpd(body),
        b"nginx" => return nginx_syslog(body),
        _ if tag.starts_with(b"vsftpd") => vsftpd(body),
        _ if tag == b"httpd"
            || tag == b"apache2"
            || tag == b"apache"
            || tag.starts_with(b"httpd/") =>
        {
            apache(body)
        }
        _ if contains_ignore_case(tag, b"freepbx") => freepbx(body),
        _ => Verdict::Nothing,
    };
    (verdict, When::Unknown)
}

/// A line that opened with a bracketed stamp but is not Asterisk's: Apache's error log or
/// `freepbx_security.log`.
pub(crate) fn bracketed(rest: &[u8]) -> Verdict {
    if let Some(after) = rest.strip_prefix(b"[freepbx_security.") {
        return match find::find(after, b"]: ") {
            Some(i) => freepbx(&after[i + 3..]),
            None => Verdict::Nothing,
        };
    }
    if rest.starts_with(b"[") {
        return apache(rest);
    }
    freepbx(rest)
}

/// A line without a syslog header, after its leading stamp: nginx's `[error] pid#tid: …` and
/// vsftpd's own `[pid N] [user] FAIL LOGIN: …`.
// As `tagged`: on the path of every line that is not Asterisk's.
#[inline]
pub(crate) fn untagged(rest: &[u8]) -> (Verdict, When<'_>) {
    let verdict = if rest.starts_with(b"[pid ") {
        vsftpd_own(rest)
    } else if rest.starts_with(b"[") {
        nginx(rest)
    } else {
        Verdict::Nothing
    };
    (verdict, When::Unknown)
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

// ---------------------------------------------------------------------------------------------
// sshd
// ---------------------------------------------------------------------------------------------

/// OpenSSH's `auth.log` messages (user names are the client's and precede the address).
fn sshd(body: &[u8]) -> Verdict {
    let mut m = body;
    for prefix in [&b"error: "[..], b"fatal: "] {
        if let Some(r) = m.strip_prefix(prefix) {
            m = r;
        }
    }
    // Solaris: `[ID 800047 auth.info] `.
    if m.starts_with(b"[ID ") {
        if let Some(i) = find::find(m, b"] ") {
            m = &m[i + 2..];
        }
    }
    let kind_for_user = |after_for: &[u8]| {
        if after_for.starts_with(b"invalid user ") || after_for.starts_with(b"<invalid username>") {
            Kind::UnknownAccount
        } else {
            Kind::AuthFailure
        }
    };
    if let Some(rest) = m.strip_prefix(b"Failed ") {
        let Some(i) = find::find(rest, b" for ") else {
            return Verdict::Nothing;
        };
        let method = &rest[..i];
        if method.is_empty() || method.contains(&b' ') {
            return Verdict::Nothing;
        }
        return ssh_from(m, Service::Ssh, kind_for_user(&rest[i + 5..]));
    }
    if let Some(rest) = m.strip_prefix(b"maximum authentication attempts exceeded for ") {
        return ssh_from(m, Service::Ssh, kind_for_user(rest));
    }
    if m.starts_with(b"Invalid user ") || m.starts_with(b"Illegal user ") {
        return ssh_from(m, Service::Ssh, Kind::UnknownAccount);
    }
    for (prefix, kind) in [
        (&b"PAM: Authentication failure for "[..], Kind::AuthFailure),
        (b"PAM: authentication failure for ", Kind::AuthFailure),
        (b"PAM: Authentication error for ", Kind::AuthFailure),
        (b"PAM: authentication error for ", Kind::AuthFailure),
        (
            b"PAM: User not known to the underlying authentication module for ",
            Kind::UnknownAccount,
        ),
    ] {
        if m.starts_with(prefix) {
            return ssh_from(m, Service::Ssh, kind);
        }
    }
    if m.starts_with(b"User ") {
        // `User <user> from <addr> not allowed because …`
        const MARK: &[u8] = b" not allowed because ";
        let mut cands = Candidates::default();
        for p in find::find_iter(m, b" from ") {
            let rest = &m[p + 6..];
            if let Some(sp) = find::find(rest, MARK) {
                if !rest[..sp].contains(&b' ') {
                    if let Some(ip) = addr::ip(&rest[..sp]) {
                        cands.add(ip, None);
                    }
                }
            }
        }
        return cands.verdict(Service::Ssh, Kind::AclDenied);
    }
    if let Some(rest) = m.strip_prefix(b"ROOT LOGIN REFUSED FROM ") {
        let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        return match addr::ip(&rest[..end]) {
            Some(ip) => Verdict::hit(Service::Ssh, Kind::AclDenied, ip),
            None => Verdict::suspicious(Service::Ssh, Kind::AclDenied),
        };
    }
    if let Some(rest) = m.strip_prefix(b"Received disconnect from ") {
        // `<addr>[ port N]:<sp?>3: <client text>: Auth fail[ [preauth]]`; the reason text is
        // the client's, the address is right after the fixed opening.
        let tail = rest.strip_suffix(b" [preauth]").unwrap_or(rest);
        if !tail.ends_with(b"Auth fail") {
            return Verdict::Nothing;
        }
        // The address is the first word (`89.24.13.192:` or `10.0.0.1 port 7736:3:`).
        let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        let word = &rest[..end];
        let word = word.strip_suffix(b":").unwrap_or(word);
        return match addr::ip(word) {
            Some(ip) => Verdict::hit(Service::Ssh, Kind::AuthFailure, ip),
            None => Verdict::suspicious(Service::Ssh, Kind::AuthFailure),
        };
    }
    if let Some(rest) = m.strip_prefix(b"refused connect from ") {
        // tcp_wrappers: `refused connect from <name> (<addr>)`; the address ends the line.
        let Some(inner) = rest.strip_suffix(b")") else {
            return Verdict::Nothing;
        };
        return match memchr::memrchr(b'(', inner).and_then(|i| addr::ip(&inner[i + 1..])) {
            Some(ip) => Verdict::hit(Service::Ssh, Kind::AclDenied, ip),
            None => Verdict::suspicious(Service::Ssh, Kind::AclDenied),
        };
    }
    Verdict::Nothing
}

/// The ` from <addr>` sshd wrote, read by OpenSSH's grammar (`auth.c`, `auth2.c`, `auth-pam.c`):
/// `… for [invalid user ]<user> from <addr> port <n> ssh2[: <detail>]`, `Invalid user <user>
/// from <addr> port <n>`, `… for <user> from <host>` (PAM), each perhaps followed by
/// ` [preauth]`. The user name is the client's, but sshd cuts it at its first `:` (the rest is
/// an "auth style", `auth2.c`) and prints at most 100 bytes of it; the detail after `ssh2: ` can
/// be the client's too (a certificate's key ID, hostbased's client user and host).
///
/// So a copy of ` from <addr> port <n>` inside the user name is followed by the rest of the
/// name and the server's ` from …`, never by the end of the line, ` [preauth]`, ` sshN` and
/// then the end, or `: ` (the name has no `:`): the first placement whose tail is what sshd
/// writes after the address is the server's, and copies in the detail can only come after it.
/// An IPv6 copy cannot be in the name at all.
///
/// Should the name before that placement hold a `:` after all, the line is not what sshd
/// writes, and every placement with sshd's tail is a candidate.
fn ssh_from(m: &[u8], service: Service, kind: Kind) -> Verdict {
    // Where the user name starts: after the first ` for ` (`Failed <method> for `, `PAM: … for `,
    // `… exceeded for `) or `Invalid user `; `invalid user ` is sshd's too.
    let user_at = match find::find(m, b" for ") {
        Some(i) if !m.starts_with(b"Invalid user ") && !m.starts_with(b"Illegal user ") => i + 5,
        _ => 13,
    };
    let mut valid = Candidates::default();
    let mut any = Candidates::default();
    for p in find::find_iter(m, b" from ") {
        let rest = &m[p + 6..];
        let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        let Some(ip) = addr::ip(&rest[..end]) else {
            continue;
        };
        let tail = &rest[end..];
        let port = ssh_port(tail);
        any.add(ip, port);
        if ssh_tail_ok(tail) {
            if valid.is_empty() && !m.get(user_at..p).is_some_and(|u| u.contains(&b':')) {
                return Verdict::hit(service, kind, ip);
            }
            valid.add(ip, port);
        }
    }
    if valid.is_empty() {
        // No placement has sshd's tail: the line is not what sshd writes; say whom it names.
        return any.doubt(service, kind);
    }
    valid.verdict(service, kind)
}

/// ` port <n>…` → n.
fn ssh_port(t: &[u8]) -> Option<u16> {
    let t = t.strip_prefix(b" port ")?;
    let digits = t.iter().take_while(|b| b.is_ascii_digit()).count();
    addr::port(&t[..digits])
}

/// What sshd writes after the address, to the end of the line: nothing, ` [preauth]`, PAM's
/// ` via <local address>`, or ` port <n>`, then perhaps ` sshN`, then nothing, ` [preauth]`
/// or `: <detail>`.
fn ssh_tail_ok(t: &[u8]) -> bool {
    if t.is_empty() || t == b" [preauth]" {
        return true;
    }
    if let Some(via) = t.strip_prefix(b" via ") {
        return addr::ip(via).is_some();
    }
    let Some(t) = t.strip_prefix(b" port ") else {
        return false;
    };
    let digits = t.iter().take_while(|b| b.is_ascii_digit()).count();
    if addr::port(&t[..digits]).is_none() {
        return false;
    }
    let t = &t[digits..];
    let t = match t {
        [b' ', b's', b's', b'h', b'1' | b'2', rest @ ..] => rest,
        _ => t,
    };
    t.is_empty() || t == b" [preauth]" || t.starts_with(b": ")
}

// ---------------------------------------------------------------------------------------------
// HTTP: Apache error log, nginx error log, FreePBX GUI/UCP
// ---------------------------------------------------------------------------------------------

/// Apache's error log after the date: `[module:level] [pid …] [client <addr>] <message>`.
/// The bracket groups are the server's; the message (URIs, user names) is the client's, so the
/// address comes from the `[client …]` group only and the message only decides the kind.
fn apache(rest: &[u8]) -> Verdict {
    let mut s = rest;
    let mut module: &[u8] = b"";
    let mut client: Option<&[u8]> = None;
    let mut remote: Option<&[u8]> = None;
    let mut first = true;
    while let Some(inner) = s.strip_prefix(b"[") {
        let is_client = inner.starts_with(b"client ");
        if remote.is_some() && !is_client {
            // Apache writes `[client …]` right after `[remote …]`; anything else is the message.
            break;
        }
        if is_client || inner.starts_with(b"remote ") {
            // `[client 1.2.3.4:51380]`, `[client [2001:db8::1]:51548]`, `[remote …]`.
            let a = &inner[7..];
            let from = if a.starts_with(b"[") {
                match memchr::memchr(b']', a) {
                    Some(i) => i + 1,
                    None => return Verdict::Nothing,
                }
            } else {
                0
            };
            let Some(close) = memchr::memchr(b']', &a[from..]).map(|i| i + from) else {
                return Verdict::Nothing;
            };
            if is_client {
                client = Some(&a[..close]);
            } else {
                remote = Some(&a[..close]);
            }
            s = &a[close + 1..];
        } else {
            let Some(close) = memchr::memchr(b']', inner) else {
                return Verdict::Nothing;
            };
            if first {
                module = &inner[..close];
            }
            s = &inner[close + 1..];
        }
        first = false;
        s = s.strip_prefix(b" ").unwrap_or(s);
        if client.is_some() {
            // The message starts after the client group.
            break;
        }
    }
    let Some(address) = client.or(remote) else {
        return Verdict::Nothing;
    };
    let module_name = module.split(|&b| b == b':').next().unwrap_or(b"");
    let Some(kind) = apache_kind(s, module_name) else {
        return Verdict::Nothing;
    };
    match addr::host_port(address, Port::Optional) {
        Some(ip) => Verdict::hit(Service::Web, kind, ip),
        None => Verdict::suspicious(Service::Web, kind),
    }
}

fn apache_kind(message: &[u8], module: &[u8]) -> Option<Kind> {
    let mut m = message;
    // `AH01618: `
    if m.len() > 9 && m.starts_with(b"AH") && m[2..7].iter().all(u8::is_ascii_digit) {
        m = m[7..].strip_prefix(b": ")?;
    }
    if let Some(r) = m.strip_prefix(b"Digest: ") {
        m = r;
    }
    if let Some(user) = m.strip_prefix(b"user `") {
        if find::find(user, b"' in realm `").is_some() && find::find(user, b"' not found").is_some()
        {
            return Some(Kind::UnknownAccount);
        }
    }
    if let Some(user) = m.strip_prefix(b"user ") {
        return if find::find(user, b": authentication failure for \"").is_some()
            || find::find(user, b": password mismatch").is_some()
        {
            Some(Kind::AuthFailure)
        } else if find::find(user, b": authorization failure for \"").is_some() {
            Some(Kind::AclDenied)
        } else if find::find(user, b" not found").is_some() {
            Some(Kind::UnknownAccount)
        } else {
            None
        };
    }
    if m.starts_with(b"client denied by server configuration: ") {
        // mod_evasive reuses the wording for its rate limit; fail2ban's default mode ignores it.
        return (!module.starts_with(b"evasive")).then_some(Kind::AclDenied);
    }
    if m.starts_with(b"client used wrong authentication scheme: ") {
        return Some(Kind::BadRequest);
    }
    if m.starts_with(b"Authorization of user ") && find::find(m, b" failed, reason: ").is_some() {
        return Some(Kind::AclDenied);
    }
    if m.starts_with(b"invalid qop `")
        || m.starts_with(b"realm mismatch - got `")
        || m.starts_with(b"unknown algorithm `")
    {
        return Some(Kind::BadRequest);
    }
    if m.starts_with(b"invalid nonce ") {
        // `… hash is not …` is a stale nonce a browser can send legitimately.
        return (m.ends_with(b" received - user attempted time travel")
            || find::find(m, b" received - length is not ").is_some())
        .then_some(Kind::BadRequest);
    }
    None
}

/// nginx through syslog/journal: `[host nginx: ]<date> [error] …`.
fn nginx_syslog(body: &[u8]) -> (Verdict, When<'_>) {
    let mut b = body;
    if let Some(sys) = envelope::syslog(b).filter(|s| s.tag == b"nginx") {
        b = sys.body;
    }
    let st = envelope::leading_stamp(b);
    match st.when {
        When::Parsed(_) => (nginx(st.rest), st.when),
        _ => (Verdict::Nothing, When::Unknown),
    }
}

/// nginx's error log after the date: `[error] pid#tid: *conn <message>, client: <addr>, server:
/// <name>, request: "<line>", host: "<host>"`. The user name comes before the address and the
/// request line after it, both the client's: every `, client: <addr>, server: ` is a candidate.
fn nginx(rest: &[u8]) -> Verdict {
    let Some(after_level) = rest
        .strip_prefix(b"[")
        .and_then(|r| find::find(r, b"] ").map(|i| &r[i + 2..]))
    else {
        return Verdict::Nothing;
    };
    let Some(colon) = find::find(after_level, b": ") else {
        return Verdict::Nothing;
    };
    let pid = &after_level[..colon];
    if pid.is_empty() || !pid.iter().all(|&b| b.is_ascii_digit() || b == b'#') {
        return Verdict::Nothing;
    }
    let mut m = &after_level[colon + 2..];
    if let Some(r) = m.strip_prefix(b"*") {
        let n = r.iter().take_while(|b| b.is_ascii_digit()).count();
        m = r[n..].strip_prefix(b" ").unwrap_or(&r[n..]);
    }
    let kind = if let Some(user) = m.strip_prefix(b"user \"") {
        if find::find(user, b"\" was not found in \"").is_some() {
            Kind::UnknownAccount
        } else if find::find(user, b"\": password mismatch").is_some() {
            Kind::AuthFailure
        } else {
            return Verdict::Nothing;
        }
    } else if m.starts_with(b"PAM: user '") && find::find(m, b"' - not authenticated: ").is_some() {
        Kind::AuthFailure
    } else {
        return Verdict::Nothing;
    };
    // The user name before the address is the client's, but it is the part of a Basic
    // `Authorization` before its first `:`, so it never holds `, client: `: the first one is
    // nginx's. The request line and host after it are the client's too; copies there come later.
    let client_at = |p: usize| {
        let r = &m[p + 10..];
        find::find(r, b", server: ").and_then(|end| addr::ip(&r[..end]))
    };
    let mut placements = find::find_iter(m, b", client: ");
    let first = placements.next();
    if let Some(ip) = first
        .filter(|&p| nginx_user_has_no_colon(&m[..p]))
        .and_then(client_at)
    {
        return Verdict::hit(Service::Web, kind, ip);
    }
    // Not what nginx writes (a `:` in the name, or no address after the first `, client: `):
    // every placement is a candidate.
    let mut all = Candidates::default();
    for ip in first.into_iter().chain(placements).filter_map(client_at) {
        all.add(ip, None);
    }
    all.verdict(Service::Web, kind)
}

/// The message before nginx's first `, client: `, as nginx writes it: `user "<name>" was not
/// found in "<file>"`, `user "<name>": password mismatch` or `PAM: user '<name>' - not
/// authenticated: <PAM's text>`, the name without a `:`.
fn nginx_user_has_no_colon(before: &[u8]) -> bool {
    let name = if let Some(rest) = before.strip_prefix(b"user \"") {
        match rest.strip_suffix(b"\": password mismatch") {
            Some(name) => Some(name),
            None => find::find(rest, b"\" was not found in \"").map(|i| &rest[..i]),
        }
    } else {
        before
            .strip_prefix(b"PAM: user '")
            .and_then(|rest| find::find(rest, b"' - not authenticated: ").map(|i| &rest[..i]))
    };
    name.is_some_and(|n| !n.contains(&b':'))
}

/// `freepbx_security.log`: `Authentication failure for <user> from <addr>` (GUI and UCP), with
/// Monolog's empty context and extra (` [] []`) after it in newer versions. The user name (any
/// text) precedes the address and only the server's text follows it, so the address is the one
/// followed by exactly that to the end of the line: a copy in the name is followed by the rest
/// of the name and the server's ` from …`.
/// `Possible proxy detected … set to <ip>` carries a forwarded-header address: ignored.
fn freepbx(m: &[u8]) -> Verdict {
    if !m.starts_with(b"Authentication failure for ") {
        return Verdict::Nothing;
    }
    let mut cands = Candidates::default();
    let mut others = Candidates::default();
    for p in find::find_iter(m, b" from ") {
        let r = &m[p + 6..];
        let end = memchr::memchr(b' ', r).unwrap_or(r.len());
        let Some(ip) = addr::ip(&r[..end]) else {
            continue;
        };
        let tail = &r[end..];
        if tail.is_empty() || tail == b" [] []" {
            cands.add(ip, None);
        } else {
            others.add(ip, None);
        }
    }
    match cands.verdict(Service::Web, Kind::AuthFailure) {
        hit @ Verdict::Hit(_) => hit,
        _ => others.doubt(Service::Web, Kind::AuthFailure),
    }
}

// ---------------------------------------------------------------------------------------------
// FTP
// ---------------------------------------------------------------------------------------------

/// vsftpd through syslog: PAM's `authentication failure; … rhost=<addr>[ user=<user>]` or
/// `[<user>] FAIL LOGIN: Client "<addr>"`.
fn vsftpd(body: &[u8]) -> Verdict {
    let mut m = body;
    for prefix in [&b"(pam_unix) "[..], b"pam_unix(vsftpd:auth): "] {
        if let Some(r) = m.strip_prefix(prefix) {
            m = r;
        }
    }
    if m.starts_with(b"authentication failure; ") {
        // pam_unix: `logname=… uid=… euid=… tty=… ruser=<ruser> rhost=<addr>[  user=<user>]`;
        // `ruser=` (vsftpd's login name, or empty) before and `user=` after the address are
        // both the client's, any text: every placement is a candidate. (An empty `ruser=`
        // proves nothing: a login name can itself start with ` rhost=`.)
        let mut cands = Candidates::default();
        for p in find::find_iter(m, b" rhost=") {
            let r = &m[p + 7..];
            let end = memchr::memchr(b' ', r).unwrap_or(r.len());
            if let Some(ip) = addr::ip(&r[..end]) {
                cands.add(ip, None);
            }
        }
        return cands.verdict(Service::Ftp, Kind::AuthFailure);
    }
    if m.starts_with(b"[") {
        return vsftpd_fail_login(m);
    }
    Verdict::Nothing
}

/// vsftpd's own log after the date: `[pid N] [<user>] FAIL LOGIN: Client "<addr>"`.
fn vsftpd_own(rest: &[u8]) -> Verdict {
    let Some(close) = memchr::memchr(b']', rest) else {
        return Verdict::Nothing;
    };
    let after = rest[close + 1..]
        .strip_prefix(b" ")
        .unwrap_or(&rest[close + 1..]);
    vsftpd_fail_login(after)
}

/// `[<user>] FAIL LOGIN: Client "<addr>"[, "<reason>"]`: the user (the client's) precedes the
/// address, the reason after it is vsftpd's own fixed text without a quote. So the address is
/// the one followed by exactly that to the end of the line; a copy in the user name is followed
/// by the rest of the name and the server's `] FAIL LOGIN: Client "…"`, with its quotes.
fn vsftpd_fail_login(m: &[u8]) -> Verdict {
    const MARK: &[u8] = b"] FAIL LOGIN: Client \"";
    if !m.starts_with(b"[") || find::find(m, MARK).is_none() {
        return Verdict::Nothing;
    }
    let mut cands = Candidates::default();
    let mut others = Candidates::default();
    for p in find::find_iter(m, MARK) {
        let r = &m[p + MARK.len()..];
        let Some(q) = memchr::memchr(b'"', r) else {
            continue;
        };
        let Some(ip) = addr::ip(&r[..q]) else {
            continue;
        };
        let tail = &r[q + 1..];
        let server_tail = tail.is_empty()
            || tail
                .strip_prefix(b", \"")
                .and_then(|t| t.strip_suffix(b"\""))
                .is_some_and(|reason| !reason.contains(&b'"'));
        if server_tail {
            cands.add(ip, None);
        } else {
            others.add(ip, None);
        }
    }
    match cands.verdict(Service::Ftp, Kind::AuthFailure) {
        hit @ Verdict::Hit(_) => hit,
        _ => others.doubt(Service::Ftp, Kind::AuthFailure),
    }
}

/// proftpd: `<server> (<host>[<addr>]): <message>` or `… (<host>[<addr>]) - <message>`. The
/// session header is the server's (the host is its reverse lookup); the message, with the
/// client's USER argument, follows it.
fn proftpd(body: &[u8]) -> Verdict {
    let Some(sp) = memchr::memchr(b' ', body) else {
        return Verdict::Nothing;
    };
    let Some(header) = body[sp + 1..].strip_prefix(b"(") else {
        return Verdict::Nothing;
    };
    let colon = find::find(header, b"]): ");
    let dash = find::find(header, b"]) - ");
    let close = match (colon, dash) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return Verdict::Nothing,
    };
    let Some(open) = memchr::memrchr(b'[', &header[..close]) else {
        return Verdict::Nothing;
    };
    let m = &header[close + 4..];
    let m = m.strip_prefix(b" ").unwrap_or(m);
    let kind = if m.starts_with(b"USER ") {
        if find::find(m, b" (Login failed): ").is_some() {
            Kind::AuthFailure
        } else if find::find(m, b": no such user found from ").is_some() {
            Kind::UnknownAccount
        } else {
            return Verdict::Nothing;
        }
    } else if m.len() >= 31 && m[..31].eq_ignore_ascii_case(b"SECURITY VIOLATION: root login ") {
        Kind::AclDenied
    } else if m.starts_with(b"Maximum login attempts (") {
        Kind::AuthFailure
    } else {
        return Verdict::Nothing;
    };
    match addr::ip(&header[open + 1..close]) {
        Some(ip) => Verdict::hit(Service::Ftp, kind, ip),
        None => Verdict::suspicious(Service::Ftp, kind),
    }
}

/// pure-ftpd: `(<account>@<addr>) [WARNING] Authentication failed for user [<user>]`. The user
/// after the address is the client's. Before a login the session's account is pure-ftpd's own
/// `?` (the name USER gave is logged in the brackets: `(?@1.2.3.4) … for user [Administrator]`):
/// then nothing of the client's precedes the address and the first placement is the server's.
/// Any other account is treated as the client's text: every placement is a candidate.
fn pure_ftpd(body: &[u8]) -> Verdict {
    const MARK: &[u8] = b") [WARNING] Authentication failed for user [";
    if !body.starts_with(b"(") {
        return Verdict::Nothing;
    }
    let Some(first) = find::find(body, MARK) else {
        return Verdict::Nothing;
    };
    if let Some(host) = body[..first].strip_prefix(b"(?@") {
        return match addr::ip(host) {
            Some(ip) => Verdict::hit(Service::Ftp, Kind::AuthFailure, ip),
            None => Verdict::suspicious(Service::Ftp, Kind::AuthFailure),
        };
    }
    let mut cands = Candidates::default();
    for p in find::find_iter(body, MARK) {
        if let Some(at) = memchr::memrchr(b'@', &body[..p]) {
            if let Some(ip) = addr::ip(&body[at + 1..p]) {
                cands.add(ip, None);
            }
        }
    }
    cands.verdict(Service::Ftp, Kind::AuthFailure)
}
