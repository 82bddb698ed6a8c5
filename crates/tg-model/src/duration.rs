//! Durations as people write them in configs: `90s`, `10m`, `1h`, `7d`, `2w`, `1h30m`.

use thiserror::Error;

/// A duration string that could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid duration {input:?}: {reason} (write e.g. 30s, 10m, 1h, 7d)")]
pub struct DurationError {
    /// What the user wrote.
    pub input: String,
    /// Why it was refused.
    pub reason: &'static str,
}

/// Parses `10m`, `1h30m`, `7d`, `45` (seconds) into seconds.
pub fn parse_duration(input: &str) -> Result<u64, DurationError> {
    let err = |reason| DurationError {
        input: input.to_string(),
        reason,
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("empty"));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| err("number too large"));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(err("unknown unit (use s, m, h, d, w)")),
        };
        if digits.is_empty() {
            return Err(err("unit without a number"));
        }
        let n: u64 = digits.parse().map_err(|_| err("number too large"))?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| err("duration too large"))?;
    }
    if !digits.is_empty() {
        return Err(err("number without a unit at the end"));
    }
    Ok(total)
}

/// Formats seconds as the shortest `1d2h3m4s`-style string (`0s` for zero).
pub fn format_duration(mut secs: u64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, name) in [(86_400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
        if secs >= unit {
            out.push_str(&(secs / unit).to_string());
            out.push(name);
            secs %= unit;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration("45"), Ok(45));
        assert_eq!(parse_duration("10m"), Ok(600));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert_eq!(parse_duration("2w"), Ok(1_209_600));
    }

    #[test]
    fn refuses_garbage() {
        for bad in ["", "m", "10x", "1h3", "-5m", "99999999999999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn formats_round_trip() {
        for secs in [1, 59, 60, 3600, 5400, 86_400 + 61] {
            assert_eq!(parse_duration(&format_duration(secs)), Ok(secs));
        }
        assert_eq!(format_duration(5400), "1h30m");
    }
}
