//! Reading a line's time into a [`Stamp`], from every date form the covered services write.
//!
//! Forms: Asterisk's default `Mar  6 08:44:27` and `%F %T` (with `.123` milliseconds), syslog
//! `Nov  4 18:30:40`, ISO 8601 with or without a zone (a zone is converted to UTC), Apache's
//! `Wed Oct 11 14:32:52.123456 2000`, nginx's `2024/01/01 10:00:00`, vsftpd's
//! `Wed Oct 11 14:32:52 2000`, and `2013-11-16 21:59:30,121`. Anything else is `None`: the jail's
//! clock then uses the previous line's time.

use tg_model::Stamp;

/// Parses a stamp at the start of `s`; returns it and the number of bytes it took.
pub(crate) fn parse_prefix(s: &[u8]) -> Option<(Stamp, usize)> {
    let first = *s.first()?;
    if first.is_ascii_digit() {
        numeric(s)
    } else if first.is_ascii_uppercase() {
        named(s)
    } else {
        None
    }
}

/// Parses a stamp that must fill all of `s` (the inside of `[...]`).
pub(crate) fn parse_exact(s: &[u8]) -> Option<Stamp> {
    match parse_prefix(s) {
        Some((st, n)) if n == s.len() => Some(st),
        _ => None,
    }
}

/// Unix milliseconds of a civil date and time (UTC).
fn civil_ms(year: i64, month: u32, day: u32, ms_of_day: u32) -> i64 {
    tg_model::civil::civil_to_unix_ms(year, month, day, ms_of_day)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        let mut v: u32 = 0;
        while self.i < self.s.len() && self.i - start < max && self.s[self.i].is_ascii_digit() {
            v = v * 10 + u32::from(self.s[self.i] - b'0');
            self.i += 1;
        }
        (self.i - start >= min).then_some(v)
    }
    fn byte(&mut self, b: u8) -> Option<()> {
        (self.s.get(self.i) == Some(&b)).then(|| self.i += 1)
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn spaces(&mut self) -> usize {
        let start = self.i;
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
        self.i - start
    }
    /// `HH:MM:SS` plus an optional `.fff…` or `,fff…` fraction; milliseconds of the day.
    fn time(&mut self) -> Option<u32> {
        let h = self.digits(2, 2)?;
        self.byte(b':')?;
        let m = self.digits(2, 2)?;
        self.byte(b':')?;
        let sec = self.digits(2, 2)?;
        if h > 23 || m > 59 || sec > 60 {
            return None;
        }
        let mut ms = 0;
        if matches!(self.peek(), Some(b'.' | b',')) {
            let save = self.i;
            self.i += 1;
            let start = self.i;
            let mut scale = 100;
            while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
                ms += u32::from(d - b'0') * scale;
                scale /= 10;
                self.i += 1;
            }
            if self.i == start {
                self.i = save;
            }
        }
        Some(((h * 60 + m) * 60 + sec.min(59)) * 1000 + ms)
    }
    fn month_name(&mut self) -> Option<u32> {
        const MONTHS: [&[u8; 3]; 12] = [
            b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
            b"Dec",
        ];
        let word = self.s.get(self.i..self.i + 3)?;
        let m = MONTHS.iter().position(|n| &n[..] == word)?;
        self.i += 3;
        Some(m as u32 + 1)
    }
}

fn valid_date(month: u32, day: u32) -> bool {
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// `Mar  6 08:44:27[.123]`, `Wed Oct 11 14:32:52[.123456] 2000`.
fn named(s: &[u8]) -> Option<(Stamp, usize)> {
    let mut c = Cursor { s, i: 0 };
    let with_weekday = s.get(3) == Some(&b' ') && s.get(4).is_some_and(u8::is_ascii_uppercase);
    if with_weekday {
        const DAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
        if !DAYS.iter().any(|d| d[..] == s[..3]) {
            return None;
        }
        c.i = 4;
    }
    let month = c.month_name()?;
    if c.spaces() == 0 {
        return None;
    }
    let day = c.digits(1, 2)?;
    c.byte(b' ')?;
    let ms = c.time()?;
    if !valid_date(month, day) {
        return None;
    }
    if with_weekday {
        c.byte(b' ')?;
        let year = c.digits(4, 4)?;
        return Some((
            Stamp::Absolute(civil_ms(i64::from(year), month, day, ms)),
            c.i,
        ));
    }
    Some((
        Stamp::NoYear {
            month: month as u8,
            day: day as u8,
            ms_of_day: ms,
        },
        c.i,
    ))
}

/// `2012-02-13 17:21:54[.123|,123]`, ISO 8601 `2015-05-24T08:42:16.296+0300`, `2024/01/01 10:00:00`.
fn numeric(s: &[u8]) -> Option<(Stamp, usize)> {
    let mut c = Cursor { s, i: 0 };
    let year = c.digits(4, 4)?;
    let sep = c.peek().filter(|b| matches!(b, b'-' | b'/'))?;
    c.i += 1;
    let month = c.digits(2, 2)?;
    c.byte(sep)?;
    let day = c.digits(2, 2)?;
    if !valid_date(month, day) {
        return None;
    }
    let iso = match c.peek() {
        Some(b'T') if sep == b'-' => true,
        Some(b' ') => false,
        _ => return None,
    };
    c.i += 1;
    let ms = c.time()?;
    let mut t = civil_ms(i64::from(year), month, day, ms);
    if iso {
        match c.peek() {
            Some(b'Z') => c.i += 1,
            Some(sign @ (b'+' | b'-')) => {
                let save = c.i;
                c.i += 1;
                let zone = (|| {
                    let h = c.digits(2, 2)?;
                    if c.peek() == Some(b':') {
                        c.i += 1;
                    }
                    let m = c.digits(2, 2)?;
                    (h <= 14 && m <= 59).then_some(i64::from(h * 60 + m) * 60_000)
                })();
                match zone {
                    // Local time = UTC + offset, so UTC = local - offset.
                    Some(off) if sign == b'+' => t -= off,
                    Some(off) => t += off,
                    None => c.i = save,
                }
            }
            _ => {}
        }
    }
    Some((Stamp::Absolute(t), c.i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abs(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> Stamp {
        Stamp::Absolute(civil_ms(y, mo, d, ((h * 60 + mi) * 60 + s) * 1000 + ms))
    }

    #[test]
    fn asterisk_default_and_syslog() {
        assert_eq!(
            parse_exact(b"Mar  6 08:44:27"),
            Some(Stamp::NoYear {
                month: 3,
                day: 6,
                ms_of_day: (8 * 3600 + 44 * 60 + 27) * 1000
            })
        );
        assert_eq!(
            parse_exact(b"Nov 4 18:30:40.250"),
            Some(Stamp::NoYear {
                month: 11,
                day: 4,
                ms_of_day: (18 * 3600 + 30 * 60 + 40) * 1000 + 250
            })
        );
    }

    #[test]
    fn absolute_forms() {
        assert_eq!(
            parse_exact(b"2012-02-13 17:21:54"),
            Some(abs(2012, 2, 13, 17, 21, 54, 0))
        );
        assert_eq!(
            parse_exact(b"2012-02-13 17:21:54.123"),
            Some(abs(2012, 2, 13, 17, 21, 54, 123))
        );
        assert_eq!(
            parse_exact(b"2013-11-16 21:59:30,121"),
            Some(abs(2013, 11, 16, 21, 59, 30, 121))
        );
        assert_eq!(
            parse_exact(b"2024/01/01 10:00:00"),
            Some(abs(2024, 1, 1, 10, 0, 0, 0))
        );
        assert_eq!(
            parse_exact(b"Wed Oct 11 14:32:52.123456 2000"),
            Some(abs(2000, 10, 11, 14, 32, 52, 123))
        );
        assert_eq!(
            parse_exact(b"Fri Jan 19 12:20:33 2007"),
            Some(abs(2007, 1, 19, 12, 20, 33, 0))
        );
    }

    #[test]
    fn iso_zones_convert_to_utc() {
        assert_eq!(
            parse_exact(b"2015-05-24T08:42:16.296+0300"),
            Some(abs(2015, 5, 24, 5, 42, 16, 296))
        );
        assert_eq!(
            parse_exact(b"2019-07-08T17:40:16.954167-04:00"),
            Some(abs(2019, 7, 8, 21, 40, 16, 954))
        );
        assert_eq!(
            parse_exact(b"2025-03-04T01:06:36Z"),
            Some(abs(2025, 3, 4, 1, 6, 36, 0))
        );
        assert_eq!(
            parse_exact(b"2025-03-04T01:06:36.645577"),
            Some(abs(2025, 3, 4, 1, 6, 36, 645))
        );
    }

    #[test]
    fn unreadable_is_none() {
        for bad in [
            &b""[..],
            b"yesterday",
            b"2012-13-01 00:00:00",
            b"Foo  6 08:44:27",
            b"Mar  6 25:00:00",
            b"2012-02-13 17:21",
            b"12345",
        ] {
            assert_eq!(parse_exact(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            parse_prefix(b"Nov  4 18:30:40 host x").map(|(_, n)| n),
            Some(15)
        );
    }
}
