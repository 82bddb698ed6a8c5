//! Detectors: one log line in, at most one finding out.
//!
//! A detector never looks beyond the line it is given and does no I/O, so `scan` (offline) and
//! `run` (live) share it unchanged. The offender's address is only ever taken from text the
//! *server* wrote, anchored on the fixed words around it; attacker-controlled text (SIP headers,
//! user names, Call-IDs) can never supply it.
//!
//! How a line is read:
//! 1. The prefix (`envelope`): a leading stamp, a syslog/journal header, Asterisk's
//!    `LEVEL[lwp][C-…] file:` wrapper, or a JSON-formatter object. The prefix is logger-written,
//!    so it tells trustworthily which program and which module wrote the message.
//! 2. The family detector for that program/module reads the message by hand (no regex on the
//!    built-in path) and takes the address between fixed text. Where sender-controlled fields
//!    surround the address, every placement of the fixed text is tried, and the server's own
//!    grammar says which placement is its own (issue #12.1: an attacker must not escape its ban
//!    by writing a second address):
//!    - only server text follows the address (sshd's ` port N ssh2`, ` [preauth]`; chan_sip's
//!      `' - Wrong password`; the registrar's `) unable to register`; FreePBX's ` [] []`;
//!      security events whose later fields are all the server's): the placement followed by
//!      exactly that text to the end of the line;
//!    - only server text precedes it (PJSIP's endpoint id in `Call from`, the registrar's
//!      endpoint, IAX2's and AMI's leading address, pure-ftpd's `(?@`, AMI's
//!      `RequestBadFormat`): the first placement;
//!    - sender text on both sides, but a field the *server* constrains: sshd cuts a user name at
//!      its first `:` (so a copy in it is never followed by `: ` or the line's end), nginx's
//!      user name is the part of a Basic credential before its `:` (so it cannot hold
//!      `, client: `), pjsip prints the From from its parsed form (so a copy in the Call-ID
//!      leaves a From that runs past its `>`, a copy in the display name one that stops inside
//!      its quotes). Syntax the server does *not* enforce (a Call-ID "should" be a token, a
//!      digest "should" be hex) is never used: the sender could make the server's own placement
//!      fail it and its copy pass;
//!    - otherwise (chan_sip's caller and dialled number, security events with the sender's
//!      fields after the address, pam_unix's `ruser=`/`user=`) the line is `Suspicious` with
//!      every distinct candidate (`verdict::Candidates`, at most [`MAX_CANDIDATES`], no
//!      allocation), for the caller to report or to settle with evidence outside the line
//!      (`tg_engine::step`).
//! 3. Custom `[[detector]]` patterns run on the message when no built-in detector claimed it.
//!
//! Every step is linear in the line length and allocation-free on the built-in path (the JSON
//! formatter path parses with serde_json and allocates only for escaped strings).
//!
//! Families (catalogued in the research note `asterisk-log-formats.md`, kept outside this
//! repository):
//! - `asterisk`: chan_sip registration failures (every reason) and rejected calls; res_pjsip
//!   `Request … failed for …` (with and without the method, `after N tries`), rejected calls
//!   (both shapes), registrar warnings; chan_iax2 authdebug lines; manager.c logins; FreePBX's
//!   `Rejecting unknown SIP connection` dialplan line. Header-only lines (`Failed to
//!   authenticate device`, `Sending fake auth rejection`, `Friendly Scanner`) are `Suspicious`.
//! - `security`: `SECURITY` events except `ChallengeSent`/`SuccessfulAuth`.
//! - `services`: sshd, Apache and nginx HTTP auth, `freepbx_security.log`, vsftpd, proftpd,
//!   pure-ftpd.
//! - `netfilter`: the kernel's log lines of senders tollguard's firewall dropped for flooding
//!   SIP (`tollguard-flood: IN=… SRC=<addr> DST=…`), as `firewall`/`flood` findings.
//!
//! Attempts: a PJSIP request logs a NOTICE and security events with the same Call-ID, the
//! `messages` and `security` channels both get each event, an AMI login to a nonexistent user
//! logs two NOTICE lines naming the same user. Each line says where it stands in its attempt
//! ([`Detection::attempt`], built in `attempt` from what the real server writes), so the jail
//! counts one attempt per answered challenge: never per line, and never one for a sender that
//! reuses a Call-ID for every guess.
//!
//! Limits of reading one line at a time: a log channel that records raw SIP packets (`sip set
//! debug`, `pjsip set logger`) writes sender-controlled lines with no prefix at all, and one of
//! them can imitate a whole Asterisk line. Point tollguard at the `messages`/`security` channels,
//! not at a `full` log with SIP debugging on.

// Cargo.toml denies unsafe (its allocation test needs it); the library forbids it.
#![forbid(unsafe_code)]

mod addr;
mod asterisk;
mod attempt;
mod custom;
mod envelope;
mod find;
mod json;
mod netfilter;
mod security;
mod services;
mod stamp;
mod verdict;

use std::net::IpAddr;

use tg_model::{attempt_hash, AttemptPart, Kind, Role, Service, Stamp};

use envelope::When;
use verdict::Verdict;

pub use attempt::{security_event_attempt, security_event_kind, SecurityEventFields};
pub use netfilter::FLOOD_LOG_PREFIX;

/// Why a custom detector could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The pattern is not a valid regex or has no single `<HOST>`.
    #[error("detector {name:?}: {message}")]
    BadPattern {
        /// The detector's name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// What a detector found on one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detection {
    /// The attacked service.
    pub service: Service,
    /// What happened.
    pub kind: Kind,
    /// The offender (canonical form).
    pub ip: IpAddr,
    /// The line's time, if it had one the detector could read.
    pub stamp: Option<Stamp>,
    /// Where the line stands in an attempt logged as several lines (see
    /// `tg_model::Finding::attempt`).
    pub attempt: Option<AttemptPart>,
}

/// The verdict on one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not an attack line (the overwhelming majority).
    Nothing,
    /// An attack with a trustworthy address.
    Found(Detection),
    /// Looks like an attack line but its text does not say whose it is: it names no address in
    /// a server-written place (an address only in a SIP header), or several that the server's
    /// grammar cannot tell apart. No address is reported; the candidates are, for the caller to
    /// count and perhaps to resolve with evidence from outside the line (`tg_engine::step`).
    Suspicious(Suspicion),
}

/// An attack line whose address the text alone cannot tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suspicion {
    /// The attacked service, were the address known.
    pub service: Service,
    /// What happened.
    pub kind: Kind,
    /// The line's time, if the detector could read one.
    pub stamp: Option<Stamp>,
    /// Every distinct address the line names between the shape's fixed text, in line order.
    /// The server's own address is among them (unless [`Addrs::more`]); empty when the line
    /// names no address the server wrote.
    pub candidates: Addrs,
}

impl Suspicion {
    /// The detection this line would be if `ip` (one of the candidates) were its address.
    /// Its attempt is unknown: the line counts on its own.
    pub fn resolved(&self, ip: IpAddr) -> Detection {
        Detection {
            service: self.service,
            kind: self.kind,
            ip,
            stamp: self.stamp,
            attempt: None,
        }
    }
}

/// How many candidate addresses a [`Suspicion`] keeps.
pub const MAX_CANDIDATES: usize = 4;

/// One candidate address of an ambiguous line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The address (canonical form).
    pub ip: IpAddr,
    /// The source port the line gives with it, if it gives exactly one.
    pub port: Option<u16>,
}

/// Up to [`MAX_CANDIDATES`] distinct addresses, in the order a line names them; no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addrs {
    /// `slots[..len]` hold the candidates; the rest are placeholders.
    slots: [Candidate; MAX_CANDIDATES],
    len: u8,
    more: bool,
}

impl Default for Addrs {
    fn default() -> Self {
        let none = Candidate {
            ip: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            port: None,
        };
        Addrs {
            slots: [none; MAX_CANDIDATES],
            len: 0,
            more: false,
        }
    }
}

impl Addrs {
    /// The candidates, in line order.
    pub fn as_slice(&self) -> &[Candidate] {
        &self.slots[..usize::from(self.len)]
    }

    /// No candidate at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The line named more distinct addresses than are kept: the server's may be among those
    /// dropped.
    pub fn more(&self) -> bool {
        self.more
    }

    /// The addresses alone, in line order.
    pub fn ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.as_slice().iter().map(|c| c.ip)
    }

    pub(crate) fn add(&mut self, ip: IpAddr, port: Option<u16>) {
        let n = usize::from(self.len);
        if let Some(c) = self.slots[..n].iter_mut().find(|c| c.ip == ip) {
            // The same address at two ports: the port says nothing.
            if c.port != port {
                c.port = None;
            }
            return;
        }
        if n == MAX_CANDIDATES {
            self.more = true;
            return;
        }
        self.slots[n] = Candidate { ip, port };
        self.len += 1;
    }
}

/// All detectors, built in and custom, ready to run.
///
/// Cheap to clone (custom patterns are shared), `Send + Sync`, so `scan` can use one per thread.
#[derive(Clone, Debug, Default)]
pub struct Detectors {
    custom: Vec<custom::Custom>,
}

impl Detectors {
    /// The built-in detectors only.
    pub fn builtin() -> Self {
        Detectors { custom: Vec::new() }
    }

    /// Built-in detectors plus the config's custom ones.
    ///
    /// A custom pattern is a regex with exactly one `<HOST>`. It is matched against the
    /// **message** — the text after the prefix tollguard recognised (Asterisk's
    /// `LEVEL[lwp] file:`, a syslog `host tag[pid]:`, a leading date) — and anchored at the
    /// message's start, so it cannot match an address sitting in attacker text somewhere later in
    /// a line by accident: write the fixed words the server prints before the address. A pattern
    /// that starts with `^` is matched against the whole line instead (for formats tollguard does
    /// not know), again anchored at the start. `<HOST>` matches an IPv4 or IPv6 address, with an
    /// optional `:port` (IPv6 with a port must be bracketed). Built-in detectors run first; a
    /// custom one sees only lines they did not claim.
    pub fn with_custom(
        custom: &[tg_config::detector::CustomDetector],
    ) -> Result<Self, DetectError> {
        let custom = custom
            .iter()
            .map(custom::Custom::compile)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Detectors { custom })
    }

    /// The names of the custom detectors, in config order.
    pub fn custom_names(&self) -> impl Iterator<Item = &str> {
        self.custom.iter().map(|c| c.name())
    }

    /// Examines one line (without its line terminator; a trailing `\r` is ignored).
    pub fn detect(&self, line: &[u8]) -> Outcome {
        let line = match line {
            [rest @ .., b'\n'] => rest,
            _ => line,
        };
        let line = match line {
            [rest @ .., b'\r'] => rest,
            _ => line,
        };
        // Trailing blanks are never part of a server's fixed text (proftpd and sshd leave some).
        let blanks = line
            .iter()
            .rev()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let line = &line[..line.len() - blanks];
        if line.first() == Some(&b'{') {
            return json::detect(line, &self.custom);
        }
        let read = read_line(line, self.custom.is_empty());
        match read.verdict {
            Verdict::Hit(hit) => {
                let stamp = read.inner.or(read.outer);
                Outcome::Found(finish(hit, stamp))
            }
            Verdict::Suspicious(doubt) => Outcome::Suspicious(Suspicion {
                service: doubt.service,
                kind: doubt.kind,
                stamp: read.inner.or(read.outer),
                candidates: doubt.candidates,
            }),
            Verdict::Nothing => {
                for c in &self.custom {
                    if let Some((service, kind, ip)) = c.matches(line, read.message) {
                        return Outcome::Found(Detection {
                            service,
                            kind,
                            ip,
                            stamp: read.inner.or(read.outer),
                            attempt: None,
                        });
                    }
                }
                Outcome::Nothing
            }
        }
    }
}

/// A line taken apart: the built-in verdict, its stamps and its message.
struct Read<'a> {
    verdict: Verdict,
    /// The stamp closest to the message (Asterisk's own inside a syslog line).
    inner: When<'a>,
    /// The outer (syslog) stamp, used when the inner one is missing or unreadable.
    outer: When<'a>,
    message: &'a [u8],
}

fn read_line(line: &[u8], attack_levels_only: bool) -> Read<'_> {
    if line.first() == Some(&b'<') {
        if let Some((when, sys)) = envelope::rfc5424(line) {
            return read_syslog(when, sys, attack_levels_only).unwrap_or(Read {
                verdict: Verdict::Nothing,
                inner: When::Unknown,
                outer: when,
                message: sys.body,
            });
        }
    }
    let st = envelope::leading_stamp(line);
    if let Some(a) = envelope::asterisk(st.rest, attack_levels_only) {
        return Read {
            verdict: asterisk::detect(&a),
            inner: st.when,
            outer: When::Unknown,
            message: a.message,
        };
    }
    if let When::Bracket(_) = st.when {
        return Read {
            verdict: services::bracketed(st.rest),
            inner: st.when,
            outer: When::Unknown,
            message: st.rest,
        };
    }
    let mut message = st.rest;
    if let Some(sys) = envelope::syslog(st.rest) {
        if let Some(read) = read_syslog(st.when, sys, attack_levels_only) {
            return read;
        }
        message = sys.body;
    }
    // `tag[pid]: message` without a host (journal bodies, `journalctl -o short` with no host).
    if let Some(sys) = envelope::tagged(st.rest) {
        if let Some(read) = read_syslog(st.when, sys, attack_levels_only) {
            return read;
        }
    }
    let (verdict, inner) = services::untagged(st.rest);
    Read {
        verdict,
        inner,
        outer: st.when,
        message,
    }
}

/// A syslog/journal message from program `sys.tag`; `None` when no detector claimed it.
fn read_syslog<'a>(
    outer: When<'a>,
    sys: envelope::Syslog<'a>,
    attack_levels_only: bool,
) -> Option<Read<'a>> {
    if sys.tag.starts_with(b"asterisk") {
        // P3 (`LEVEL[lwp]: file:line in function:`) or P4 with Asterisk's own `[date] ` inside.
        let inner = envelope::leading_stamp(sys.body);
        if let Some(a) = envelope::asterisk(inner.rest, attack_levels_only) {
            return Some(Read {
                verdict: asterisk::detect(&a),
                inner: inner.when,
                outer,
                message: a.message,
            });
        }
    }
    // The kernel is no service: its lines here are the firewall's flood drops (`netfilter`).
    let (verdict, inner) = if sys.tag == b"kernel" {
        (netfilter::kernel(sys.body), When::Unknown)
    } else {
        services::tagged(sys.tag, sys.body)
    };
    (verdict != Verdict::Nothing).then_some(Read {
        verdict,
        inner,
        outer,
        message: sys.body,
    })
}

/// Turns a hit into the public [`Detection`].
fn finish(hit: verdict::Hit, stamp: Option<Stamp>) -> Detection {
    let attempt = match hit.attempt {
        Some(verdict::AttemptOf::Part(part)) => Some(part),
        Some(verdict::AttemptOf::Second) => stamp.map(|st| AttemptPart {
            group: attempt_hash(&[b"second", &second_of(st).to_le_bytes()]),
            role: Role::module(hit.kind).times(u8::MAX),
            copy_of: None,
        }),
        None => None,
    };
    Detection {
        service: hit.service,
        kind: hit.kind,
        ip: hit.ip,
        stamp,
        attempt,
    }
}

/// The second a stamp falls in, as a number that differs between any two seconds of a year.
fn second_of(stamp: Stamp) -> i64 {
    match stamp {
        Stamp::Absolute(ms) => ms.div_euclid(1000),
        Stamp::NoYear {
            month,
            day,
            ms_of_day,
        } => (i64::from(month) * 32 + i64::from(day)) * 86_400 + i64::from(ms_of_day / 1000),
    }
}

#[cfg(test)]
mod tests;
