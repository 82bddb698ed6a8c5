//! Asterisk versions against the bundled advisory table (`data/advisories.tsv`) and release
//! series table (`data/asterisk-series.tsv`), each entry with its source.
//!
//! A version is affected by an advisory when the advisory lists a fixed version on the same
//! release branch (`18`, `1.8`, or certified `18.9-cert`) that is newer. Branches without a
//! listed fix are not guessed at per advisory: if the series is past its end of life, the
//! end-of-life finding says so and counts the advisories published since.

use std::cmp::Ordering;

const ADVISORIES: &str = include_str!("../data/advisories.tsv");
const SERIES: &str = include_str!("../data/asterisk-series.tsv");

/// An Asterisk version: `18.20.0`, `1.8.32.3`, certified `18.9-cert5`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    nums: Vec<u32>,
    cert: Option<u32>,
}

impl Version {
    /// Parses `18.20.0`, `Asterisk 18.20.0`, `certified/18.9-cert5`, `certified-18.9-cert5`,
    /// `16.30.0~dfsg+~cs6.12.40431414-1` (distribution suffixes are dropped).
    pub fn parse(text: &str) -> Option<Version> {
        let t = text.trim();
        let t = t.strip_prefix("Asterisk ").unwrap_or(t).trim();
        let t = t
            .strip_prefix("certified/")
            .or_else(|| t.strip_prefix("certified-"))
            .unwrap_or(t);
        let (main, cert) = match t.split_once("-cert") {
            Some((m, c)) => {
                let digits: String = c.chars().take_while(char::is_ascii_digit).collect();
                (m, Some(digits.parse().ok()?))
            }
            None => (t, None),
        };
        let main: String = main
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let nums: Vec<u32> = main
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        if nums.len() < 2 {
            return None;
        }
        Some(Version { nums, cert })
    }

    /// The release branch: `18`, `1.6.2`, `1.8`, or `cert:18.9`.
    pub fn branch(&self) -> String {
        let n = &self.nums;
        if self.cert.is_some() {
            return format!("cert:{}.{}", n[0], n[1]);
        }
        match n.as_slice() {
            [1, 6, x, ..] => format!("1.6.{x}"),
            [1, y, ..] => format!("1.{y}"),
            [major, ..] => major.to_string(),
            [] => String::new(),
        }
    }

    /// The series for end-of-life purposes (certified releases follow their base series).
    pub fn series(&self) -> String {
        let n = &self.nums;
        match n.as_slice() {
            [1, 6, x, ..] => format!("1.6.{x}"),
            [1, y, ..] => format!("1.{y}"),
            [major, ..] => major.to_string(),
            [] => String::new(),
        }
    }

    fn cmp_same_branch(&self, other: &Version) -> Ordering {
        let len = self.nums.len().max(other.nums.len());
        for i in 0..len {
            let a = self.nums.get(i).copied().unwrap_or(0);
            let b = other.nums.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        self.cert.cmp(&other.cert)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let main: Vec<String> = self.nums.iter().map(u32::to_string).collect();
        write!(f, "{}", main.join("."))?;
        if let Some(c) = self.cert {
            write!(f, "-cert{c}")?;
        }
        Ok(())
    }
}

/// One advisory of the table.
#[derive(Clone, Debug)]
pub struct Advisory {
    /// `AST-2019-006` or `GHSA-c4cg-9275-6w44`.
    pub id: String,
    /// First fix date (YYYY-MM-DD), may be empty.
    pub date: String,
    /// Fixed versions, one or more per branch.
    pub fixed: Vec<Version>,
    /// The advisory's (or its commit's) title.
    pub title: String,
    /// Where the entry comes from.
    pub source: String,
}

/// The bundled advisory table.
pub fn advisories() -> Vec<Advisory> {
    ADVISORIES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split('\t');
            let id = f.next()?.to_string();
            let date = f.next()?.to_string();
            let fixed = f.next()?.split(',').filter_map(Version::parse).collect();
            let title = f.next()?.to_string();
            let source = f.next()?.to_string();
            Some(Advisory {
                id,
                date,
                fixed,
                title,
                source,
            })
        })
        .collect()
}

/// The advisories that apply to `v`, each with the fixed version of its branch.
pub fn applicable(v: &Version) -> Vec<(Advisory, Version)> {
    let branch = v.branch();
    advisories()
        .into_iter()
        .filter_map(|a| {
            let fix = a.fixed.iter().find(|f| f.branch() == branch)?.clone();
            (v.cmp_same_branch(&fix) == Ordering::Less).then_some((a, fix))
        })
        .collect()
}

/// A release series' dates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    /// `18`, `1.8`.
    pub name: String,
    /// `LTS` or `Std`.
    pub kind: String,
    /// Date security fixes end (YYYY-MM-DD).
    pub eol: String,
}

/// The series of `v`, if the table knows it.
pub fn series_of(v: &Version) -> Option<Series> {
    let name = v.series();
    SERIES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 5 && f[0] == name).then(|| Series {
                name: f[0].to_string(),
                kind: f[1].to_string(),
                eol: f[4].to_string(),
            })
        })
}

/// Today's date as YYYY-MM-DD (UTC), from the system clock.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    civil_date((secs / 86_400) as i64)
}

/// Days since 1970-01-01 → YYYY-MM-DD.
fn civil_date(days: i64) -> String {
    let (y, m, d) = tg_model::civil::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spellings_asterisk_prints() {
        assert_eq!(
            Version::parse("Asterisk 18.20.0").unwrap().to_string(),
            "18.20.0"
        );
        assert_eq!(
            Version::parse("certified/18.9-cert5").unwrap().branch(),
            "cert:18.9"
        );
        assert_eq!(Version::parse("1.8.32.3").unwrap().branch(), "1.8");
        assert_eq!(Version::parse("1.6.2.24").unwrap().branch(), "1.6.2");
        assert_eq!(
            Version::parse("16.30.0~dfsg+~cs6-1").unwrap().to_string(),
            "16.30.0"
        );
        assert!(Version::parse("GIT-master-abc").is_none());
    }

    #[test]
    fn table_has_dozens_of_entries_across_13_to_22() {
        let all = advisories();
        for major in 13..=22u32 {
            let n = all
                .iter()
                .filter(|a| a.fixed.iter().any(|f| f.nums[0] == major))
                .count();
            assert!(n >= 3, "branch {major} has only {n} advisories");
        }
        assert!(all.len() >= 100, "{}", all.len());
        assert!(all.iter().all(|a| !a.source.is_empty()));
    }

    #[test]
    fn affected_only_below_the_branch_fix() {
        let ids = |v: &str| -> Vec<String> {
            applicable(&Version::parse(v).unwrap())
                .into_iter()
                .map(|(a, _)| a.id)
                .collect()
        };
        let old = ids("20.9.1");
        assert!(old.contains(&"GHSA-c4cg-9275-6w44".to_string()));
        let fixed = ids("20.9.2");
        assert!(!fixed.contains(&"GHSA-c4cg-9275-6w44".to_string()));
        assert!(ids("13.20.0").contains(&"AST-2019-006".to_string()));
        assert!(!ids("13.29.2").contains(&"AST-2019-006".to_string()));
    }

    #[test]
    fn series_and_dates() {
        assert_eq!(
            series_of(&Version::parse("13.38.3").unwrap()).unwrap().eol,
            "2021-10-24"
        );
        assert_eq!(
            series_of(&Version::parse("18.9-cert5").unwrap())
                .unwrap()
                .name,
            "18"
        );
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(20_000), "2024-10-04");
    }
}
