//! The one step from a line to a finding, taken alike by `scan`'s workers and by the daemon's
//! file and journal paths.
//!
//! [`detect`] runs the detectors over a line and counts it. A `Suspicious` line (attack-like,
//! but its text does not say whose it is) is handled here, the only place: if it names several
//! candidate addresses, the caller's [`Evidence`] may say which one the server meant (the
//! daemon asks the kernel's connection tracking; `scan` has none), and the line becomes that
//! address's detection; otherwise it is counted and handed back as [`Seen::Ambiguous`], for
//! `scan` to report with its candidates. [`finding`] puts a detection on its stream's
//! [`LogClock`] and makes it the jails' [`Finding`]. The two are apart because `scan` detects on
//! worker threads and keeps each file's clock on the thread that reads the workers' results in
//! order.
//!
//! # What evidence may and may not do
//! Evidence only ever chooses *among the candidates*, and only when exactly one of them has it:
//! the server's address is always a candidate (the server wrote the fixed text around it), so
//! an attacker can add candidates but never remove the true one. A candidate the attacker
//! invented has evidence only if that address really talks to this host at the moment, which
//! leaves the line ambiguous (nobody counted), never counts the invented one alone — unless the
//! attacker's own address has no evidence, which the evidence source must rule out (see
//! `tg_daemon`'s conntrack evidence: fresh lines only, flows the attacker cannot fake over TCP).

use std::net::IpAddr;

use tg_detect::{Detection, Detectors, Outcome, Suspicion};
use tg_jail::LogClock;
use tg_model::Finding;

/// What [`detect`] counted: lines examined, those that were `Suspicious`, and those of them
/// that evidence resolved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineCounts {
    /// Lines examined.
    pub lines: u64,
    /// Lines that looked like an attack but had no trustworthy address and no evidence settled
    /// it: nobody is counted.
    pub suspicious: u64,
    /// Ambiguous lines whose address evidence from outside the line settled (they became
    /// detections).
    pub resolved: u64,
}

/// Evidence from outside a line about which of its candidate addresses the server meant.
pub trait Evidence {
    /// The one candidate of `s` the evidence points to, or `None` when it points to none or to
    /// several, or cannot be had. Must return one of `s.candidates` or `None`.
    fn decide(&mut self, s: &Suspicion) -> Option<IpAddr>;
}

/// No evidence at all (`scan`: logs read offline, from perhaps another machine).
pub struct NoEvidence;

impl Evidence for NoEvidence {
    fn decide(&mut self, _: &Suspicion) -> Option<IpAddr> {
        None
    }
}

/// What one line turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Not an attack line, or a suspicious one that names no address (counted).
    Nothing,
    /// An attack with a trustworthy address (by the line's grammar, or by evidence).
    Found(Detection),
    /// An attack line naming several candidate addresses that neither its grammar nor evidence
    /// could tell apart (counted as suspicious). Nobody is counted in the jails.
    Ambiguous(Suspicion),
}

/// Runs the detectors over one line and counts it in `counts`; an ambiguous line is put to
/// `evidence` first.
#[inline]
pub fn detect(
    detectors: &Detectors,
    line: &[u8],
    counts: &mut LineCounts,
    evidence: &mut dyn Evidence,
) -> Seen {
    counts.lines += 1;
    match detectors.detect(line) {
        Outcome::Nothing => Seen::Nothing,
        Outcome::Found(d) => Seen::Found(d),
        Outcome::Suspicious(s) => {
            let ambiguous = s.candidates.as_slice().len() >= 2 && !s.candidates.more();
            if ambiguous {
                if let Some(ip) = evidence
                    .decide(&s)
                    .filter(|ip| s.candidates.ips().any(|c| c == *ip))
                {
                    counts.resolved += 1;
                    return Seen::Found(s.resolved(ip));
                }
            }
            counts.suspicious += 1;
            if s.candidates.as_slice().len() >= 2 {
                Seen::Ambiguous(s)
            } else {
                Seen::Nothing
            }
        }
    }
}

/// The one `Detection → Finding` step: the detection's stamp resolved on its stream's own clock
/// (a line without a readable time takes the previous line's).
#[inline]
pub fn finding(d: Detection, clock: &mut LogClock) -> Finding {
    Finding {
        time_ms: clock.resolve(d.stamp),
        service: d.service,
        kind: d.kind,
        ip: d.ip,
        attempt: d.attempt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pick(IpAddr);

    impl Evidence for Pick {
        fn decide(&mut self, _: &Suspicion) -> Option<IpAddr> {
            Some(self.0)
        }
    }

    #[test]
    fn suspicious_is_counted_and_a_detection_gets_its_time() {
        let detectors = Detectors::builtin();
        let mut counts = LineCounts::default();
        let found = b"[2026-11-25 10:00:01] NOTICE[1234] chan_sip.c: Registration from '\"100\" <sip:100@203.0.113.5>' failed for '198.51.100.7:5060' - Wrong password";
        let Seen::Found(d) = detect(&detectors, found, &mut counts, &mut NoEvidence) else {
            panic!("a detection")
        };
        assert_eq!(
            detect(&detectors, b"just a line", &mut counts, &mut NoEvidence),
            Seen::Nothing
        );
        let conflicting = b"[Mar  6 08:44:27] NOTICE[1] chan_sip.c: Sending fake auth rejection for device 100<sip:100@10.0.0.1>;tag=x";
        assert_eq!(
            detect(&detectors, conflicting, &mut counts, &mut NoEvidence),
            Seen::Nothing
        );
        assert_eq!(
            counts,
            LineCounts {
                lines: 3,
                suspicious: 1,
                resolved: 0
            }
        );
        let mut clock = LogClock::new(0);
        let f = finding(d, &mut clock);
        assert_eq!(f.ip, "198.51.100.7".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(
            f.time_ms,
            tg_model::civil::civil_to_unix_ms(2026, 11, 25, 36_001_000)
        );
    }

    #[test]
    fn evidence_picks_only_among_the_candidates() {
        let detectors = Detectors::builtin();
        // chan_sip's caller and dialled number sit on both sides of the address.
        let line = b"[2026-11-25 10:00:01] NOTICE[1] chan_sip.c: Call from '1' (198.51.100.7:5060) to extension '0' (203.0.113.9:5060) to extension '2' rejected because extension not found in context 'default'.";
        let mut counts = LineCounts::default();
        let Seen::Ambiguous(s) = detect(&detectors, line, &mut counts, &mut NoEvidence) else {
            panic!("ambiguous")
        };
        let ips: Vec<String> = s.candidates.ips().map(|ip| ip.to_string()).collect();
        assert_eq!(ips, ["198.51.100.7", "203.0.113.9"]);
        let real: IpAddr = "198.51.100.7".parse().unwrap();
        let Seen::Found(d) = detect(&detectors, line, &mut counts, &mut Pick(real)) else {
            panic!("resolved")
        };
        assert_eq!(d.ip, real);
        // Evidence naming an address the line does not name is ignored.
        let stranger = Pick("192.0.2.1".parse().unwrap());
        assert!(matches!(
            detect(&detectors, line, &mut counts, &mut { stranger }),
            Seen::Ambiguous(_)
        ));
        assert_eq!(
            counts,
            LineCounts {
                lines: 3,
                suspicious: 2,
                resolved: 1
            }
        );
    }
}
