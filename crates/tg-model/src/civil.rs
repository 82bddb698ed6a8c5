//! Civil (proleptic Gregorian, UTC) dates and Unix time, without a time-zone database.
//!
//! Howard Hinnant's `days_from_civil` / `civil_from_days`: exact for every representable day,
//! no tables, no allocation. Every crate that turns log or CDR stamps into times, or times into
//! dates, uses these instead of its own copy.

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a date (`month` 1–12, `day` 1–31).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month, day)` of a day number from [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Unix milliseconds of a civil date and a time of day in milliseconds.
pub fn civil_to_unix_ms(year: i64, month: u32, day: u32, ms_of_day: u32) -> i64 {
    days_from_civil(year, month, day) * DAY_MS + i64::from(ms_of_day)
}

/// A Unix time split into its civil parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    /// The year.
    pub year: i64,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
    /// Seconds since midnight.
    pub second_of_day: u32,
}

impl Civil {
    /// The civil parts of Unix milliseconds.
    pub fn from_unix_ms(ms: i64) -> Civil {
        let secs = ms.div_euclid(1000);
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        Civil {
            year,
            month,
            day,
            second_of_day: secs.rem_euclid(86_400) as u32,
        }
    }

    /// `YYYY-MM-DD`.
    pub fn date(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// `HH:MM:SS`.
    pub fn time(&self) -> String {
        let s = self.second_of_day;
        format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(civil_to_unix_ms(1970, 1, 1, 0), 0);
        assert_eq!(civil_to_unix_ms(2026, 11, 25, 0), 1_795_564_800_000);
        let c = Civil::from_unix_ms(civil_to_unix_ms(2024, 2, 29, 3_723_000));
        assert_eq!(
            (c.date(), c.time()),
            ("2024-02-29".to_string(), "01:02:03".to_string())
        );
        assert_eq!(Civil::from_unix_ms(-1).date(), "1969-12-31");
    }

    #[test]
    fn round_trips_every_day_of_four_centuries() {
        for days in -146_097..146_097 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
