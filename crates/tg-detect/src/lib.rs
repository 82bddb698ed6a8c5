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
//!    surround the address, every placement of the fixed text is tried; one distinct address is
//!    the answer, several are `Suspicious` (see `verdict::Candidates`).
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
    /// Looks like an attack line but the address cannot be trusted (conflicting candidates,
    /// an address only from a SIP header): no address is reported; the line is counted.
    Suspicious,
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
            Verdict::Suspicious => Outcome::Suspicious,
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
