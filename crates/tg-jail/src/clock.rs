//! Turns [`Stamp`]s read from log lines into Unix milliseconds, supplying missing years.

use tg_model::Stamp;

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of a Unix-milliseconds time (UTC).
fn year_of(unix_ms: i64) -> i64 {
    let days = unix_ms.div_euclid(DAY_MS);
    // civil_from_days, year only.
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

/// Unix milliseconds of a civil date and time (UTC).
pub fn civil_to_unix_ms(year: i64, month: u32, day: u32, ms_of_day: u32) -> i64 {
    days_from_civil(year, month, day) * DAY_MS + i64::from(ms_of_day)
}

/// The clock of one log stream.
///
/// Lines without a year get the year that puts them closest before the reference time (the
/// file's modification time, or now when live), and the year advances when a stream crosses
/// New Year. Lines without a readable time get the previous line's time.
#[derive(Clone, Debug)]
pub struct LogClock {
    reference_ms: i64,
    year: Option<i64>,
    last_ms: Option<i64>,
    /// Lines whose time could not be read and took the previous line's.
    pub untimed: u64,
}

impl LogClock {
    /// A clock for a stream whose newest line is not later than about `reference_ms`.
    pub fn new(reference_ms: i64) -> Self {
        LogClock {
            reference_ms,
            year: None,
            last_ms: None,
            untimed: 0,
        }
    }

    /// The time of a line: its stamp resolved, or the previous line's time when it has none.
    pub fn resolve(&mut self, stamp: Option<Stamp>) -> i64 {
        let t = match stamp {
            Some(Stamp::Absolute(ms)) => ms,
            Some(Stamp::NoYear {
                month,
                day,
                ms_of_day,
            }) => self.no_year(month, day, ms_of_day),
            None => {
                self.untimed += 1;
                return self.last_ms.unwrap_or(self.reference_ms);
            }
        };
        self.last_ms = Some(t);
        t
    }

    fn no_year(&mut self, month: u8, day: u8, ms_of_day: u32) -> i64 {
        let (month, day) = (u32::from(month.clamp(1, 12)), u32::from(day.clamp(1, 31)));
        let year = *self.year.get_or_insert_with(|| {
            let y = year_of(self.reference_ms);
            // A stamp more than a day after the reference belongs to the previous year.
            if civil_to_unix_ms(y, month, day, ms_of_day) > self.reference_ms + DAY_MS {
                y - 1
            } else {
                y
            }
        });
        let mut t = civil_to_unix_ms(year, month, day, ms_of_day);
        if let Some(last) = self.last_ms {
            // December → January: the stream crossed New Year.
            if t < last - 180 * DAY_MS {
                self.year = Some(year + 1);
                t = civil_to_unix_ms(year + 1, month, day, ms_of_day);
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_values() {
        assert_eq!(civil_to_unix_ms(1970, 1, 1, 0), 0);
        assert_eq!(civil_to_unix_ms(2026, 11, 25, 0), 1_795_564_800_000);
        assert_eq!(year_of(1_795_564_800_000), 2026);
        assert_eq!(year_of(1_764_028_800_000), 2025);
        assert_eq!(year_of(civil_to_unix_ms(2024, 2, 29, 86_399_999)), 2024);
        assert_eq!(year_of(civil_to_unix_ms(2025, 1, 1, 0)), 2025);
    }

    #[test]
    fn year_is_inferred_from_reference_and_rolls_over() {
        let reference = civil_to_unix_ms(2026, 1, 2, 0);
        let mut clock = LogClock::new(reference);
        let dec = clock.resolve(Some(Stamp::NoYear {
            month: 12,
            day: 31,
            ms_of_day: 1000,
        }));
        assert_eq!(dec, civil_to_unix_ms(2025, 12, 31, 1000));
        let jan = clock.resolve(Some(Stamp::NoYear {
            month: 1,
            day: 1,
            ms_of_day: 5,
        }));
        assert_eq!(jan, civil_to_unix_ms(2026, 1, 1, 5));
    }

    #[test]
    fn untimed_lines_take_previous_time() {
        let mut clock = LogClock::new(0);
        let t = clock.resolve(Some(Stamp::Absolute(42_000)));
        assert_eq!(clock.resolve(None), t);
        assert_eq!(clock.untimed, 1);
    }
}
