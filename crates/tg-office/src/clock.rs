//! The office's clock. Call times (CDR records, business hours) are on the office's wall clock,
//! stored as seconds since 1970-01-01 00:00 *of that clock* (dates, weekdays and parsing of
//! such times are `tg_model::civil`). [`OfficeClock`] turns UTC instants into that clock with
//! the office's time zone (daylight saving included, from the system's tz database via jiff)
//! and remembers the span between two transitions, so a stream of records costs a comparison
//! each, not a zone lookup.

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The `[calls]` time zone is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// No such zone in the system's time-zone database (or the database is missing).
    #[error(
        "calls.timezone: {name:?} is not in the system's time-zone database \
         (/usr/share/zoneinfo; install the tzdata package): {reason}"
    )]
    UnknownZone {
        /// The configured name.
        name: String,
        /// What jiff said.
        reason: String,
    },
    /// `timezone = "system"` but the machine's zone cannot be determined.
    #[error("calls.timezone: \"system\" but this machine's time zone is unknown: {0}")]
    NoSystemZone(String),
}

/// UTC → office wall clock, for one configured zone or fixed offset.
#[derive(Clone)]
pub struct OfficeClock {
    zone: Option<TimeZone>,
    /// The offset valid for UTC seconds in `valid_from..valid_until`.
    offset: i64,
    valid_from: i64,
    valid_until: i64,
}

/// Names the setting only, never the cache: the daemon compares `Debug` forms on reload to
/// decide whether the guard must restart.
impl std::fmt::Debug for OfficeClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.zone {
            Some(tz) => write!(f, "OfficeClock({})", tz.iana_name().unwrap_or("system")),
            None => write!(f, "OfficeClock({:+}s)", self.offset),
        }
    }
}

impl OfficeClock {
    /// A fixed offset east of UTC (UTC itself with 0).
    pub fn fixed(offset_secs: i64) -> OfficeClock {
        OfficeClock {
            zone: None,
            offset: offset_secs,
            valid_from: i64::MIN,
            valid_until: i64::MAX,
        }
    }

    /// An IANA zone from the system database (`"Europe/Berlin"`).
    pub fn zone(name: &str) -> Result<OfficeClock, ClockError> {
        let tz = TimeZone::get(name).map_err(|e| ClockError::UnknownZone {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        Ok(OfficeClock::from_tz(tz))
    }

    fn from_tz(tz: TimeZone) -> OfficeClock {
        OfficeClock {
            zone: Some(tz),
            offset: 0,
            valid_from: 0,
            valid_until: 0, // empty: the first lookup fills it
        }
    }

    /// From `[calls]`: `timezone`, else `utc_offset`, else UTC.
    pub fn from_config(c: &tg_config::calls::CallsConfig) -> Result<OfficeClock, ClockError> {
        use tg_config::calls::OfficeClock as Configured;
        match c.office_clock() {
            Configured::Fixed(secs) => Ok(OfficeClock::fixed(i64::from(secs))),
            Configured::Zone(name) => OfficeClock::zone(&name),
            Configured::System => TimeZone::try_system()
                .map(OfficeClock::from_tz)
                .map_err(|e| ClockError::NoSystemZone(e.to_string())),
        }
    }

    /// Seconds to add to the UTC instant `utc` (Unix seconds) to read the office clock.
    #[inline]
    pub fn offset_at(&mut self, utc: i64) -> i64 {
        if utc >= self.valid_from && utc < self.valid_until {
            return self.offset;
        }
        self.refill(utc);
        self.offset
    }

    /// The office wall-clock time of the UTC instant `utc`.
    #[inline]
    pub fn local(&mut self, utc: i64) -> i64 {
        utc.saturating_add(self.offset_at(utc))
    }

    #[cold]
    fn refill(&mut self, utc: i64) {
        let Some(tz) = &self.zone else {
            return;
        };
        // Outside jiff's range (±9999 years) the instant is clamped; the offset of the edge is
        // as good as any for such nonsense, and it is used for that one instant only.
        let Ok(ts) = Timestamp::from_second(utc).or_else(|_| {
            Timestamp::from_second(
                if utc < 0 {
                    Timestamp::MIN
                } else {
                    Timestamp::MAX
                }
                .as_second(),
            )
        }) else {
            self.offset = 0;
            return;
        };
        self.offset = i64::from(tz.to_offset(ts).seconds());
        // The offset holds from the last transition at or before `utc` to the next one after.
        let after = ts
            .checked_add(jiff::SignedDuration::from_secs(1))
            .unwrap_or(ts);
        let from = tz
            .preceding(after)
            .map(|t| t.timestamp().as_second())
            .find(|&t| t <= utc)
            .unwrap_or(i64::MIN);
        let until = tz
            .following(ts)
            .map(|t| t.timestamp().as_second())
            .find(|&t| t > utc)
            .unwrap_or(i64::MAX);
        if from <= utc && utc < until {
            (self.valid_from, self.valid_until) = (from, until);
        } else {
            (self.valid_from, self.valid_until) = (utc, utc.saturating_add(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tg_model::civil::{days_from_civil, format_time};

    /// UTC seconds of a civil UTC time.
    fn utc(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60
    }

    #[test]
    fn office_clock_follows_daylight_saving() {
        let mut berlin = OfficeClock::zone("Europe/Berlin").unwrap();
        // 2026-03-29 01:00 UTC: CET → CEST; 2026-10-25 01:00 UTC: back.
        assert_eq!(berlin.offset_at(utc(2026, 3, 29, 0, 59)), 3600);
        assert_eq!(berlin.offset_at(utc(2026, 3, 29, 1, 0)), 7200);
        assert_eq!(berlin.offset_at(utc(2026, 10, 25, 0, 59)), 7200);
        assert_eq!(berlin.offset_at(utc(2026, 10, 25, 1, 0)), 3600);
        // Backwards in time too (the window is refilled, not trusted).
        assert_eq!(berlin.offset_at(utc(2026, 1, 1, 12, 0)), 3600);
        assert_eq!(berlin.offset_at(utc(2026, 7, 1, 12, 0)), 7200);
        // The whole summer is one window: the next records cost a comparison, not a lookup.
        assert_eq!(
            (berlin.valid_from, berlin.valid_until),
            (utc(2026, 3, 29, 1, 0), utc(2026, 10, 25, 1, 0))
        );
        let mut ny = OfficeClock::zone("America/New_York").unwrap();
        // 2026-03-08 07:00 UTC (02:00 EST) → EDT; 2026-11-01 06:00 UTC (02:00 EDT) → EST.
        assert_eq!(ny.offset_at(utc(2026, 3, 8, 6, 59)), -5 * 3600);
        assert_eq!(ny.offset_at(utc(2026, 3, 8, 7, 0)), -4 * 3600);
        assert_eq!(ny.offset_at(utc(2026, 11, 1, 5, 59)), -4 * 3600);
        assert_eq!(ny.offset_at(utc(2026, 11, 1, 6, 0)), -5 * 3600);
        assert_eq!(
            format_time(ny.local(utc(2026, 3, 9, 12, 30))),
            "2026-03-09 08:30:00"
        );
        // Extremes do not panic.
        for t in [i64::MIN, i64::MAX, -(1 << 40), 1 << 40] {
            let _ = berlin.local(t);
            assert!(berlin.offset_at(t).abs() <= 86_400);
        }
    }

    #[test]
    fn office_clock_errors_name_the_zone() {
        let err = OfficeClock::zone("Europe/Atlantis")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("calls.timezone") && err.contains("Europe/Atlantis"),
            "{err}"
        );
        assert_eq!(
            format!("{:?}", OfficeClock::zone("Europe/Berlin").unwrap()),
            "OfficeClock(Europe/Berlin)"
        );
        let mut fixed = OfficeClock::fixed(-18_000);
        assert_eq!(format!("{fixed:?}"), "OfficeClock(-18000s)");
        assert_eq!(fixed.local(utc(2026, 3, 8, 12, 0)), utc(2026, 3, 8, 7, 0));
    }
}
