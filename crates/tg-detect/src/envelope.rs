//! Line prefixes: the stamp, the syslog header and Asterisk's own `LEVEL[lwp][C-…] file:` wrapper.
//!
//! Everything a prefix holds is written by the logger, never by a remote party, so the structure
//! found here (which program, which Asterisk module) is trustworthy. The message after it is
//! where attacker text may appear; the family detectors deal with that.

use tg_model::Stamp;

use crate::find;
use crate::stamp;

/// Where a line's time comes from; bracketed Asterisk stamps are parsed only when a detector
/// actually reports something (most lines are benign).
#[derive(Clone, Copy, Debug)]
pub(crate) enum When<'a> {
    /// No stamp was found.
    Unknown,
    /// Already parsed.
    Parsed(Stamp),
    /// The inside of a leading `[...]`, parsed on demand (any `dateformat`; unreadable → None).
    Bracket(&'a [u8]),
}

impl When<'_> {
    pub(crate) fn resolve(self) -> Option<Stamp> {
        match self {
            When::Unknown => None,
            When::Parsed(s) => Some(s),
            When::Bracket(text) => stamp::parse_exact(text),
        }
    }

    /// The better of an outer (syslog) and an inner (Asterisk) stamp: the inner when readable.
    pub(crate) fn or(self, outer: When<'_>) -> Option<Stamp> {
        self.resolve().or_else(|| outer.resolve())
    }
}

/// A line with its leading stamp taken off.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stamped<'a> {
    pub when: When<'a>,
    pub rest: &'a [u8],
}

/// Takes a leading stamp off: `[anything] ` (bracketed, parsed lazily) or one of the
/// unbracketed forms of [`stamp::parse_prefix`] followed by a space.
pub(crate) fn leading_stamp(line: &[u8]) -> Stamped<'_> {
    if let Some(inner) = line.strip_prefix(b"[") {
        // A bracketed stamp never holds `]`; 40 bytes is more than any dateformat we read.
        let limit = inner.len().min(48);
        if let Some(close) = memchr::memchr(b']', &inner[..limit]) {
            let rest = &inner[close + 1..];
            let rest = rest.strip_prefix(b" ").unwrap_or(rest);
            return Stamped {
                when: When::Bracket(&inner[..close]),
                rest,
            };
        }
        return Stamped {
            when: When::Unknown,
            rest: line,
        };
    }
    if let Some((st, n)) = stamp::parse_prefix(line) {
        if line.get(n) == Some(&b' ') {
            return Stamped {
                when: When::Parsed(st),
                rest: &line[n + 1..],
            };
        }
    }
    Stamped {
        when: When::Unknown,
        rest: line,
    }
}

/// A syslog-style header after the stamp: `host tag[pid]: body`, `host tag: body`,
/// `host tag[pid] body` (proftpd), `[tag]: body` or `[tag] body` (no host).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Syslog<'a> {
    pub tag: &'a [u8],
    pub body: &'a [u8],
}

pub(crate) fn syslog(rest: &[u8]) -> Option<Syslog<'_>> {
    if let Some(inner) = rest.strip_prefix(b"[") {
        let close = memchr::memchr(b']', inner)?;
        let tag = &inner[..close];
        if tag.is_empty() || !tag.iter().all(|&b| is_tag_byte(b)) {
            return None;
        }
        let after = &inner[close + 1..];
        let body = after
            .strip_prefix(b": ")
            .or_else(|| after.strip_prefix(b" "))?;
        return Some(Syslog { tag, body });
    }
    let sp = memchr::memchr(b' ', rest)?;
    let host = &rest[..sp];
    if host.is_empty() || host.len() > 255 {
        return None;
    }
    tagged(&rest[sp + 1..])
}

/// `tag[pid]: body`, `tag: body` or `tag[pid] body`, with `tag` made of program-name bytes.
pub(crate) fn tagged(s: &[u8]) -> Option<Syslog<'_>> {
    let end = s.iter().position(|&b| !is_tag_byte(b))?;
    if end == 0 {
        return None;
    }
    let tag = &s[..end];
    let mut after = &s[end..];
    if let Some(inner) = after.strip_prefix(b"[") {
        let close = memchr::memchr(b']', inner)?;
        if !inner[..close].iter().all(u8::is_ascii_digit) {
            return None;
        }
        after = &inner[close + 1..];
    }
    let body = after
        .strip_prefix(b": ")
        .or_else(|| after.strip_prefix(b" "))?;
    Some(Syslog { tag, body })
}

fn is_tag_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'(' | b')')
}

/// An RFC 5424 line: `<pri>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`.
pub(crate) fn rfc5424(line: &[u8]) -> Option<(When<'_>, Syslog<'_>)> {
    let rest = line.strip_prefix(b"<")?;
    let gt = memchr::memchr(b'>', &rest[..rest.len().min(5)])?;
    let rest = rest[gt + 1..].strip_prefix(b"1 ")?;
    let (when, rest) = match stamp::parse_prefix(rest) {
        Some((st, n)) => (When::Parsed(st), rest.get(n..)?),
        None => (When::Unknown, &rest[memchr::memchr(b' ', rest)?..]),
    };
    let mut fields = rest.strip_prefix(b" ")?;
    let mut next = || -> Option<&[u8]> {
        let sp = memchr::memchr(b' ', fields)?;
        let f = &fields[..sp];
        fields = &fields[sp + 1..];
        Some(f)
    };
    let _host = next()?;
    let app = next()?;
    let _procid = next()?;
    let _msgid = next()?;
    let body = skip_structured_data(fields)?;
    Some((when, Syslog { tag: app, body }))
}

/// Skips `-` or `[id k="v" …][…]` (values may hold `]` and escaped quotes) and one space.
fn skip_structured_data(s: &[u8]) -> Option<&[u8]> {
    if let Some(rest) = s.strip_prefix(b"- ") {
        return Some(rest);
    }
    if s == b"-" {
        return Some(b"");
    }
    let mut i = 0;
    while s.get(i) == Some(&b'[') {
        let mut quoted = false;
        i += 1;
        loop {
            match *s.get(i)? {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b']' if !quoted => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    if i == 0 {
        return None;
    }
    Some(s.get(i..)?.strip_prefix(b" ").unwrap_or(&s[i..]))
}

/// Asterisk's own wrapper: `LEVEL[lwp][C-xxxxxxxx] file: message` (P1, default formatter) or
/// `LEVEL[lwp][C-xxxxxxxx]: file:line [in ]function: message` (P2 plain/console, P3 syslog).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Asterisk<'a> {
    pub level: &'a [u8],
    /// The source file (`chan_sip.c`, `res_pjsip/pjsip_distributor.c`) or, for dialplan `Log()`
    /// lines, `Ext. <exten>`.
    pub file: &'a [u8],
    /// P2/P3 only: the function (`handle_request_register`, `@ from-sip-external`).
    pub function: Option<&'a [u8]>,
    pub message: &'a [u8],
}

impl Asterisk<'_> {
    /// The file name without its directory.
    pub(crate) fn module(&self) -> &[u8] {
        match memchr::memrchr(b'/', self.file) {
            Some(i) => &self.file[i + 1..],
            None => self.file,
        }
    }
}

/// Reads Asterisk's wrapper. With `attack_levels_only`, a line at a level no attack is logged
/// at (VERBOSE, DEBUG, DTMF, …) comes back with an empty file and message as soon as its level
/// is read: that is most lines of a busy PBX, and they need no further look.
pub(crate) fn asterisk(s: &[u8], attack_levels_only: bool) -> Option<Asterisk<'_>> {
    let mut level_len = 0;
    while level_len < s.len().min(17) && s[level_len].is_ascii_uppercase() {
        level_len += 1;
    }
    if level_len == 0 || level_len == s.len() || level_len == 17 {
        return None;
    }
    let level = &s[..level_len];
    let mut i = level_len;
    // `NOTICE [22382]` (a space) appears in third-party samples; accept it defensively.
    while s.get(i) == Some(&b' ') && i < level_len + 2 {
        i += 1;
    }
    i = bracket(s, i, |b| b.is_ascii_digit())?;
    if attack_levels_only && !is_attack_level(level) {
        return Some(Asterisk {
            level,
            file: b"",
            function: None,
            message: b"",
        });
    }
    if s.get(i..i + 3) == Some(b"[C-") {
        let hex_start = i + 3;
        let close = hex_start
            + s.get(hex_start..)?
                .iter()
                .take(17)
                .position(|&b| b == b']')?;
        if close == hex_start || !s[hex_start..close].iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        i = close + 1;
    }
    match s.get(i)? {
        b' ' => {
            let rest = &s[i + 1..];
            let colon = find::find(rest, b": ")?;
            Some(Asterisk {
                level,
                file: &rest[..colon],
                function: None,
                message: trim_start(&rest[colon + 2..]),
            })
        }
        b':' => {
            let rest = s.get(i + 1..)?.strip_prefix(b" ")?;
            let colon = memchr::memchr(b':', rest)?;
            let file = &rest[..colon];
            let after = &rest[colon + 1..];
            let digits = after.iter().position(|b| !b.is_ascii_digit())?;
            let after = after[digits..].strip_prefix(b" ")?;
            let after = after.strip_prefix(b"in ").unwrap_or(after);
            let end = find::find(after, b": ")?;
            Some(Asterisk {
                level,
                file,
                function: Some(&after[..end]),
                message: trim_start(&after[end + 2..]),
            })
        }
        _ => None,
    }
}

/// The levels attack lines are logged at.
pub(crate) fn is_attack_level(level: &[u8]) -> bool {
    matches!(level, b"NOTICE" | b"WARNING" | b"SECURITY" | b"ERROR")
}

/// `[` bytes satisfying `ok` `]` at `i`; returns the index after `]`.
fn bracket(s: &[u8], i: usize, ok: impl Fn(&u8) -> bool) -> Option<usize> {
    if s.get(i) != Some(&b'[') {
        return None;
    }
    let inner = s.get(i + 1..)?;
    let n = inner.iter().take(21).position(|b| !ok(b))?;
    (n > 0 && inner[n] == b']').then_some(i + 1 + n + 1)
}

pub(crate) fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ').count();
    &s[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asterisk_all(s: &[u8]) -> Option<Asterisk<'_>> {
        asterisk(s, false)
    }

    #[test]
    fn default_formatter() {
        let line = b"[Mar  6 08:44:27] NOTICE[436][C-00000fa9] chan_sip.c: Call from ''";
        let st = leading_stamp(line);
        assert!(matches!(st.when, When::Bracket(b"Mar  6 08:44:27")));
        let a = asterisk_all(st.rest).unwrap();
        assert_eq!(a.level, b"NOTICE");
        assert_eq!(a.file, b"chan_sip.c");
        assert_eq!(a.function, None);
        assert_eq!(a.message, b"Call from ''");
    }

    #[test]
    fn plain_and_syslog_formatters() {
        let a = asterisk_all(b"NOTICE[12049]: res_pjsip_session.c:2337 new_invite: Call from 'x'")
            .unwrap();
        assert_eq!(a.file, b"res_pjsip_session.c");
        assert_eq!(a.function, Some(&b"new_invite"[..]));
        assert_eq!(a.message, b"Call from 'x'");
        let a = asterisk_all(
            b"WARNING[1195][C-00000b43]: Ext. s:6 in @ from-sip-external: \"Rejecting\"",
        )
        .unwrap();
        assert_eq!(a.file, b"Ext. s");
        assert_eq!(a.function, Some(&b"@ from-sip-external"[..]));
        assert_eq!(a.message, b"\"Rejecting\"");
        let a = asterisk_all(b"NOTICE [22382] manager.c: 192.0.2.1 failed").unwrap();
        assert_eq!(a.module(), b"manager.c");
    }

    #[test]
    fn syslog_headers() {
        let st = leading_stamp(b"Nov  4 18:30:40 localhost asterisk[32229]: NOTICE[1]: x");
        let s = syslog(st.rest).unwrap();
        assert_eq!(s.tag, b"asterisk");
        assert_eq!(s.body, b"NOTICE[1]: x");
        let s = syslog(b"[sshd]: User root").unwrap();
        assert_eq!(s.tag, b"sshd");
        let s = syslog(b"myhost proftpd[12345] myhost.domain.com (x)").unwrap();
        assert_eq!(s.tag, b"proftpd");
        assert_eq!(s.body, b"myhost.domain.com (x)");
        let (_, s) = rfc5424(
            b"<38>1 2019-07-08T17:40:17.954167-04:00 h sshd 55555 - [a b=\"[x]\"][c] Failed x",
        )
        .unwrap();
        assert_eq!(s.tag, b"sshd");
        assert_eq!(s.body, b"Failed x");
    }

    #[test]
    fn not_asterisk() {
        for s in [
            &b"Authentication failure for x"[..],
            b"[error] [client 1.2.3.4] x",
            b"NOTICE",
            b"NOTICE[12x] chan_sip.c: x",
            b"",
        ] {
            assert!(
                asterisk_all(s).is_none(),
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
    }
}
