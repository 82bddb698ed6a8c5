//! Civil (proleptic Gregorian, UTC) dates and Unix time, without a time-zone database; and the
//! `YYYY-MM-DD HH:MM:SS` text of call records and AMI events (weekday, format, parse) on
//! whatever clock they were written in.
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

/// The weekday of a day number: 0 = Monday … 6 = Sunday.
pub fn weekday(days: i64) -> usize {
    // 1970-01-01 was a Thursday (3).
    (days + 3).rem_euclid(7) as usize
}

/// `YYYY-MM-DD`.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM:SS`.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let s = secs.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02}:{:02}",
        format_date(days),
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

fn digits(bytes: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(b - b'0');
    }
    Some(n)
}

/// Parses `YYYY-MM-DD` into a day number.
pub fn parse_date(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y as i64, m) {
        return None;
    }
    Some(days_from_civil(y as i64, m, d))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS` (a CDR or AMI time) into seconds on its own clock.
pub fn parse_date_time(b: &[u8]) -> Option<i64> {
    if b.len() != 19 {
        return None;
    }
    let day = parse_date(std::str::from_utf8(&b[0..10]).ok()?)?;
    Some(day * 86_400 + parse_time_of_day(&b[10..])?)
}

/// Parses the ` HH:MM:SS` after a date into seconds of the day.
pub fn parse_time_of_day(b: &[u8]) -> Option<i64> {
    if b.len() != 9 || b[0] != b' ' || b[3] != b':' || b[6] != b':' {
        return None;
    }
    let (h, mi, s) = (digits(&b[1..3])?, digits(&b[4..6])?, digits(&b[7..9])?);
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(i64::from(h * 3600 + mi * 60 + s))
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

    #[test]
    fn round_trips_dates() {
        for days in [-800_000, -1, 0, 59, 365, 11_016, 20_000, 3_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(weekday(19_782), 3); // a Thursday
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2024-13-01"), None);
    }

    #[test]
    fn parses_date_times() {
        let t = parse_date_time(b"2024-05-01 12:34:56").unwrap();
        assert_eq!(format_time(t), "2024-05-01 12:34:56");
        for bad in [
            &b""[..],
            b"2024-05-01T12:34:56",
            b"2024-05-01 25:00:00",
            b"2024-05-01 1:00:000",
        ] {
            assert_eq!(parse_date_time(bad), None);
        }
    }
}
