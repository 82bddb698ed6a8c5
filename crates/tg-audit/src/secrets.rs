//! How an attacker's tools would rate a secret: the order SIPVicious' svcrack tries
//! candidates in (the user name first, then short numbers, digit runs and defaults), plus the
//! bundled list of sample and vendor defaults (`data/weak-secrets.txt`).
//!
//! Nothing here ever returns or formats the secret itself; callers get a [`Weakness`].

use std::collections::HashSet;
use std::sync::OnceLock;

/// Secrets shorter than this are called short (research notes §7: "shorter than ~12").
pub const MIN_LEN: usize = 12;

const WORDLIST: &str = include_str!("../data/weak-secrets.txt");

/// Why a secret is guessable, most serious first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weakness {
    /// No secret at all.
    Empty,
    /// The same as the user/peer/extension name.
    EqualsUser,
    /// In the bundled list or SIPVicious' defaults.
    WellKnown,
    /// Contains the user name.
    ContainsUser,
    /// One character repeated, a digit run (`456789`), or a short unit repeated (`121212`).
    RepeatedOrSequential,
    /// Only digits (svcrack's numeric mode walks these).
    AllDigits,
    /// Shorter than [`MIN_LEN`].
    Short,
}

impl Weakness {
    /// The check-id suffix (`equals-user`…).
    pub fn slug(self) -> &'static str {
        match self {
            Weakness::Empty => "empty",
            Weakness::EqualsUser => "equals-user",
            Weakness::WellKnown => "well-known",
            Weakness::ContainsUser => "contains-user",
            Weakness::RepeatedOrSequential => "repeated-or-sequential",
            Weakness::AllDigits => "all-digits",
            Weakness::Short => "short",
        }
    }

    /// A phrase for titles ("is the same as the user name").
    pub fn phrase(self) -> &'static str {
        match self {
            Weakness::Empty => "is empty",
            Weakness::EqualsUser => "is the same as the user name",
            Weakness::WellKnown => "is a well-known default that scanners try first",
            Weakness::ContainsUser => "contains the user name",
            Weakness::RepeatedOrSequential => "is a repeated or sequential pattern",
            Weakness::AllDigits => "is only digits",
            Weakness::Short => "is shorter than 12 characters",
        }
    }
}

/// Rates a secret against the names an attacker would know (peer, user, extension).
pub fn weakness(secret: &str, names: &[&str]) -> Option<Weakness> {
    let s = secret.trim();
    if s.is_empty() {
        return Some(Weakness::Empty);
    }
    let lower = s.to_ascii_lowercase();
    let names: Vec<String> = names
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    if names.contains(&lower) {
        return Some(Weakness::EqualsUser);
    }
    if is_well_known(&lower) {
        return Some(Weakness::WellKnown);
    }
    if names
        .iter()
        .any(|n| n.len() >= 3 && lower.contains(n.as_str()))
    {
        return Some(Weakness::ContainsUser);
    }
    if is_repeated_or_sequential(&lower) {
        return Some(Weakness::RepeatedOrSequential);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) && s.len() < 16 {
        return Some(Weakness::AllDigits);
    }
    if s.chars().count() < MIN_LEN {
        return Some(Weakness::Short);
    }
    None
}

/// In the bundled list or SIPVicious' `-D` defaults.
pub fn is_well_known(lower: &str) -> bool {
    well_known().contains(lower)
}

fn well_known() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        let mut set: HashSet<String> = WORDLIST
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_ascii_lowercase)
            .collect();
        // svcrack -D (EnableSecurity/sipvicious: sipvicious/libs/svhelper.py).
        for n in (1000..=9900).step_by(100).chain((1001..=9901).step_by(100)) {
            set.insert(n.to_string());
        }
        for n in (10000..=99900)
            .step_by(100)
            .chain((10001..=99901).step_by(100))
        {
            set.insert(n.to_string());
        }
        for n in 100..=998 {
            set.insert(n.to_string());
        }
        for d in '0'..='8' {
            for len in 1..=7 {
                set.insert(std::iter::repeat_n(d, len).collect());
            }
        }
        for run in [
            "1234", "2345", "3456", "4567", "5678", "6789", "7890", "0123", "12345", "23456",
            "34567", "45678", "56789", "67890", "01234",
        ] {
            set.insert(run.to_string());
        }
        set
    })
}

/// One character repeated; an ascending or descending digit run (wrapping 9→0); or a unit
/// of up to three characters repeated at least twice (`121212`, `abcabc`).
pub fn is_repeated_or_sequential(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 2 {
        return b.len() == 1;
    }
    if b.iter().all(|&c| c == b[0]) {
        return true;
    }
    if b.iter().all(u8::is_ascii_digit) && b.len() >= 3 {
        let step = |x: u8, y: u8| (10 + y - b'0' - (x - b'0')) % 10;
        let first = step(b[0], b[1]);
        if (first == 1 || first == 9) && b.windows(2).all(|w| step(w[0], w[1]) == first) {
            return true;
        }
    }
    (1..=3).any(|unit| {
        b.len() >= unit * 2 && b.len() % unit == 0 && b.chunks(unit).all(|c| c == &b[..unit])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_svcrack_tries() {
        assert_eq!(weakness("", &["100"]), Some(Weakness::Empty));
        assert_eq!(weakness("1000", &["1000"]), Some(Weakness::EqualsUser));
        assert_eq!(weakness("AMP111", &["admin"]), Some(Weakness::WellKnown));
        assert_eq!(
            weakness("1100", &["x"]),
            Some(Weakness::WellKnown),
            "svcrack -D"
        );
        assert_eq!(
            weakness("4444444", &["x"]),
            Some(Weakness::WellKnown),
            "svcrack -D"
        );
        assert_eq!(
            weakness("alice2024!", &["alice"]),
            Some(Weakness::ContainsUser)
        );
        assert_eq!(
            weakness("456789", &["x"]),
            Some(Weakness::RepeatedOrSequential)
        );
        assert_eq!(
            weakness("987654", &["x"]),
            Some(Weakness::RepeatedOrSequential)
        );
        assert_eq!(
            weakness("zzzzzzzzzzzzzz", &["x"]),
            Some(Weakness::RepeatedOrSequential)
        );
        assert_eq!(weakness("83920175", &["x"]), Some(Weakness::AllDigits));
        assert_eq!(weakness("xK9#q", &["x"]), Some(Weakness::Short));
        assert_eq!(weakness("9f8a7c6e5d4b3a2f1e0d", &["100"]), None);
    }

    #[test]
    fn a_short_name_inside_a_secret_is_not_flagged() {
        assert_eq!(weakness("t7Qp2Lm9Xw4Rz8Kd", &["7Q"]), None);
    }

    #[test]
    fn patterns() {
        assert!(is_repeated_or_sequential("121212"));
        assert!(is_repeated_or_sequential("7890123"));
        assert!(!is_repeated_or_sequential("1357"));
        assert!(!is_repeated_or_sequential("83920175"));
    }
}
