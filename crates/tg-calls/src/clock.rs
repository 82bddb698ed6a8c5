//! Civil dates and times without a time-zone database: CDR timestamps (`%Y-%m-%d %H:%M:%S`)
//! to seconds, days to dates, weekdays. All times here are on the office's wall clock, stored
//! as seconds since 1970-01-01 00:00 *of that clock*.

pub use tg_model::civil::{civil_from_days, days_from_civil};

/// 0 = Monday … 6 = Sunday.
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

/// Parses a CDR time `YYYY-MM-DD HH:MM:SS` into seconds on its own clock.
pub fn parse_cdr_time(b: &[u8]) -> Option<i64> {
    if b.len() != 19 {
        return None;
    }
    let day = parse_date(std::str::from_utf8(&b[0..10]).ok()?)?;
    Some(day * 86_400 + parse_time_of_day(&b[10..])?)
}

/// Parses the ` HH:MM:SS` after a CDR date into seconds of the day.
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
    fn parses_cdr_times() {
        let t = parse_cdr_time(b"2024-05-01 12:34:56").unwrap();
        assert_eq!(format_time(t), "2024-05-01 12:34:56");
        for bad in [
            &b""[..],
            b"2024-05-01T12:34:56",
            b"2024-05-01 25:00:00",
            b"2024-05-01 1:00:000",
        ] {
            assert_eq!(parse_cdr_time(bad), None);
        }
    }
}
