//! The one step from a line to a finding, taken alike by `scan`'s workers and by the daemon's
//! file and journal paths.
//!
//! [`detect`] runs the detectors over a line and counts it; a `Suspicious` line (attack-like, but
//! no trustworthy address) is counted here, the only place, and goes no further. [`finding`]
//! puts a detection on its stream's [`LogClock`] and makes it the jails' [`Finding`]. The two
//! are apart because `scan` detects on worker threads and keeps each file's clock on the thread
//! that reads the workers' results in order.

use tg_detect::{Detection, Detectors, Outcome};
use tg_jail::LogClock;
use tg_model::Finding;

/// What [`detect`] counted: lines examined, and those of them that were `Suspicious`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineCounts {
    /// Lines examined.
    pub lines: u64,
    /// Lines that looked like an attack but had no trustworthy address: nobody is counted.
    pub suspicious: u64,
}

/// Runs the detectors over one line and counts it in `counts`; a detection is returned for
/// [`finding`], a `Suspicious` line is counted and dropped.
#[inline]
pub fn detect(detectors: &Detectors, line: &[u8], counts: &mut LineCounts) -> Option<Detection> {
    counts.lines += 1;
    match detectors.detect(line) {
        Outcome::Nothing => None,
        Outcome::Suspicious => {
            counts.suspicious += 1;
            None
        }
        Outcome::Found(d) => Some(d),
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

    #[test]
    fn suspicious_is_counted_and_a_detection_gets_its_time() {
        let detectors = Detectors::builtin();
        let mut counts = LineCounts::default();
        let found = b"[2026-11-25 10:00:01] NOTICE[1234] chan_sip.c: Registration from '\"100\" <sip:100@203.0.113.5>' failed for '198.51.100.7:5060' - Wrong password";
        let d = detect(&detectors, found, &mut counts).expect("a detection");
        assert!(detect(&detectors, b"just a line", &mut counts).is_none());
        let conflicting = b"[Mar  6 08:44:27] NOTICE[1] chan_sip.c: Sending fake auth rejection for device 100<sip:100@10.0.0.1>;tag=x";
        assert!(detect(&detectors, conflicting, &mut counts).is_none());
        assert_eq!(
            counts,
            LineCounts {
                lines: 3,
                suspicious: 1
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
}
