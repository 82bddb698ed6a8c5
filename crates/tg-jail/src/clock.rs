//! Turns [`Stamp`]s read from log lines into Unix milliseconds, supplying missing years.

pub use tg_model::civil::civil_to_unix_ms;
use tg_model::{civil::Civil, Stamp};

const DAY_MS: i64 = 86_400_000;

/// The year of a Unix-milliseconds time (UTC).
fn year_of(unix_ms: i64) -> i64 {
    Civil::from_unix_ms(unix_ms).year
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
