//! `[calls]` and `[alerts]`: call-record analysis, the live call guard (`[calls.ami]`,
//! `[calls.guard]`) and alert delivery (read by tg-cdr, tg-guard and tg-alert).
//!
//! Validation is pure: it checks the shape of every value (country codes, prefixes, business
//! hours, actions, addresses) and names the line. Whether a country code is one the numbering
//! plan knows is checked again by tg-office, which has the numbering data.

use serde::Deserialize;
use toml::Spanned;

use crate::{problem_at, Problem, Secs};

/// `[calls]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallsConfig {
    /// ISO 3166 alpha-2 code of the country the PBX dials from (`"US"`).
    pub home_country: Spanned<String>,
    /// The international dialling prefix (`"011"` in the NANP, `"00"` elsewhere); empty means
    /// the home country's usual one.
    pub international_prefix: Spanned<String>,
    /// A trunk-access prefix users dial before an outside number (`"9"`), or empty.
    pub trunk_prefix: Spanned<String>,
    /// Numbers of at most this many digits are extensions (internal).
    pub internal_max_digits: usize,
    /// Dialplan contexts that calls from the outside arrive in (inbound calls).
    pub inbound_contexts: Vec<String>,
    /// True when cdr.conf `[csv]` has `usegmtime=yes`: CDR times are UTC and are turned into
    /// the office's wall clock with `timezone` (or `utc_offset`).
    pub cdr_usegmtime: bool,
    /// A fixed offset from UTC (`"+01:00"`) for the office clock, kept for older
    /// configurations: it ignores daylight saving time. Empty = not set.
    pub utc_offset: Spanned<String>,
    /// The office's time zone, an IANA name from the system's time-zone database
    /// (`"Europe/Berlin"`, `"America/New_York"`), daylight saving included; `"system"` means
    /// the zone of the machine (`/etc/localtime`). Used with `cdr_usegmtime` and by the guard's
    /// business hours. At most one of `timezone` and `utc_offset` may be set; with neither the
    /// office clock is UTC (the same on every machine a report runs on).
    pub timezone: Spanned<String>,
    /// When people normally work: `"Mon-Fri 08:00-18:00"`.
    pub business_hours: Spanned<String>,
    /// How long the report learns before "never called before" and baselines can alarm.
    pub learning_period: Secs,
    /// Destination countries the guard allows (ISO codes); empty means the home country only.
    pub allowed_countries: Vec<Spanned<String>>,
    /// Number types the guard treats as forbidden: `premium`, `shared-cost`, `satellite`.
    pub blocked_types: Vec<Spanned<String>>,
    /// The report alarms when one extension calls more foreign countries than this in a day.
    pub max_countries_per_day: usize,
    /// `[calls.ami]`: where the live guard connects.
    pub ami: Option<AmiConfig>,
    /// `[calls.guard]`: live policies and their actions.
    pub guard: GuardPolicyConfig,
}

impl Default for CallsConfig {
    fn default() -> Self {
        CallsConfig {
            home_country: Spanned::new(0..0, "US".into()),
            international_prefix: Spanned::new(0..0, String::new()),
            trunk_prefix: Spanned::new(0..0, String::new()),
            internal_max_digits: 6,
            inbound_contexts: [
                "from-trunk",
                "from-pstn",
                "from-did-direct",
                "from-external",
            ]
            .map(String::from)
            .to_vec(),
            cdr_usegmtime: false,
            utc_offset: Spanned::new(0..0, String::new()),
            timezone: Spanned::new(0..0, String::new()),
            business_hours: Spanned::new(0..0, "Mon-Fri 07:00-19:00".into()),
            learning_period: Secs(14 * 86_400),
            allowed_countries: Vec::new(),
            blocked_types: ["premium", "shared-cost", "satellite"]
                .map(|t| Spanned::new(0..0, t.to_string()))
                .to_vec(),
            max_countries_per_day: 5,
            ami: None,
            guard: GuardPolicyConfig::default(),
        }
    }
}

/// `[calls.ami]`: the Asterisk Manager Interface the guard logs in to.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmiConfig {
    /// Host (default `127.0.0.1`: AMI should never face the internet).
    pub host: Spanned<String>,
    /// TCP port (default 5038).
    pub port: u16,
    /// The manager.conf user.
    pub user: String,
    /// Its secret (or, better, `secret_file`; [`crate::Config::load`] reads that file into
    /// here).
    pub secret: String,
    /// A root-owned file of mode 0600 holding the secret, so the config itself can be
    /// world-readable.
    pub secret_file: Option<Spanned<std::path::PathBuf>>,
}

impl Default for AmiConfig {
    fn default() -> Self {
        AmiConfig {
            host: Spanned::new(0..0, "127.0.0.1".into()),
            port: 5038,
            user: String::new(),
            secret: String::new(),
            secret_file: None,
        }
    }
}

/// `[calls.guard]`: the live guard's limits and what to do when one is broken.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardPolicyConfig {
    /// Most simultaneous outbound calls one extension may have.
    pub max_concurrent_per_extension: usize,
    /// Most simultaneous outbound calls the whole PBX may have.
    pub max_concurrent_total: usize,
    /// Most international calls one extension may start per hour.
    pub max_intl_calls_per_hour: usize,
    /// Most international minutes one extension may use per hour.
    pub max_intl_minutes_per_hour: u64,
    /// How long a lockdown of international calling lasts.
    pub lockdown_for: Secs,
    /// Actions when a call goes to a country not in `allowed_countries`.
    pub on_disallowed_country: Vec<Spanned<String>>,
    /// Actions when a call goes to a blocked number type.
    pub on_blocked_type: Vec<Spanned<String>>,
    /// Actions when a concurrency limit is exceeded.
    pub on_concurrency: Vec<Spanned<String>>,
    /// Actions when an hourly international limit is exceeded.
    pub on_hourly_limit: Vec<Spanned<String>>,
    /// Actions for an international call outside business hours.
    pub on_after_hours: Vec<Spanned<String>>,
}

fn actions(list: &[&str]) -> Vec<Spanned<String>> {
    list.iter()
        .map(|a| Spanned::new(0..0, a.to_string()))
        .collect()
}

impl Default for GuardPolicyConfig {
    fn default() -> Self {
        GuardPolicyConfig {
            max_concurrent_per_extension: 2,
            max_concurrent_total: 10,
            max_intl_calls_per_hour: 10,
            max_intl_minutes_per_hour: 120,
            lockdown_for: Secs(3600),
            on_disallowed_country: actions(&["alert", "hangup"]),
            on_blocked_type: actions(&["alert", "hangup", "lockdown"]),
            on_concurrency: actions(&["alert", "hangup"]),
            on_hourly_limit: actions(&["alert", "hangup", "lockdown"]),
            on_after_hours: actions(&["alert"]),
        }
    }
}

/// The actions a guard policy may take.
pub const GUARD_ACTIONS: [&str; 3] = ["alert", "hangup", "lockdown"];

/// The number types `blocked_types` may name.
pub const BLOCKABLE_TYPES: [&str; 3] = ["premium", "shared-cost", "satellite"];

/// `[alerts]`: where alarms, ban notices and daily summaries go.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Recipients; empty means no email.
    pub email_to: Vec<Spanned<String>>,
    /// The sender address.
    pub email_from: Spanned<String>,
    /// The SMTP relay (a local MTA by default; tollguard speaks plain SMTP to it).
    pub smtp_host: String,
    /// Its port.
    pub smtp_port: u16,
    /// `http://host[:port]/path` to POST JSON alerts to; empty means no webhook.
    pub webhook_url: Spanned<String>,
    /// At most this many alerts are sent per hour (per channel); the rest are counted and
    /// mentioned in the next one sent.
    pub max_per_hour: u32,
    /// An alert with the same key as one sent within this window is not sent again.
    pub dedup_window: Secs,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            email_to: Vec::new(),
            email_from: Spanned::new(0..0, "tollguard@localhost".into()),
            smtp_host: "127.0.0.1".into(),
            smtp_port: 25,
            webhook_url: Spanned::new(0..0, String::new()),
            max_per_hour: 20,
            dedup_window: Secs(3600),
        }
    }
}

/// Business hours: the weekdays (0 = Monday) and minutes of the day `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusinessHours {
    /// `days[0]` is Monday.
    pub days: [bool; 7],
    /// Minute of the day work starts.
    pub start_minute: u16,
    /// Minute of the day work ends (exclusive).
    pub end_minute: u16,
}

impl BusinessHours {
    /// True when `weekday` (0 = Monday) at `minute_of_day` is within business hours.
    pub fn contains(&self, weekday: usize, minute_of_day: u16) -> bool {
        self.days.get(weekday).copied().unwrap_or(false)
            && minute_of_day >= self.start_minute
            && minute_of_day < self.end_minute
    }
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Parses `"Mon-Fri 08:00-18:00"` (also `"Mon,Wed,Fri 09:00-17:00"`, `"Mon-Sun 00:00-24:00"`).
pub fn parse_business_hours(text: &str) -> Result<BusinessHours, String> {
    let bad = || format!("{text:?} is not like \"Mon-Fri 08:00-18:00\"");
    let (days_part, hours_part) = text.trim().split_once(' ').ok_or_else(bad)?;
    let mut days = [false; 7];
    for item in days_part.split(',') {
        let day = |s: &str| {
            WEEKDAYS
                .iter()
                .position(|d| d.eq_ignore_ascii_case(s.trim()))
                .ok_or_else(bad)
        };
        match item.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                if a > b {
                    return Err(bad());
                }
                days[a..=b].iter_mut().for_each(|d| *d = true);
            }
            None => days[day(item)?] = true,
        }
    }
    let (start, end) = hours_part.trim().split_once('-').ok_or_else(bad)?;
    let minute = |s: &str| -> Result<u16, String> {
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        let h: u16 = h.parse().map_err(|_| bad())?;
        let m: u16 = m.parse().map_err(|_| bad())?;
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            return Err(bad());
        }
        Ok(h * 60 + m)
    };
    let (start_minute, end_minute) = (minute(start)?, minute(end)?);
    if start_minute >= end_minute {
        return Err(format!("{text:?}: the hours must start before they end"));
    }
    Ok(BusinessHours {
        days,
        start_minute,
        end_minute,
    })
}

/// Parses a UTC offset `"+01:00"`, `"-05:30"`, `"Z"` into seconds east of UTC.
pub fn parse_utc_offset(text: &str) -> Result<i32, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
        return Ok(0);
    }
    let bad = || format!("{text:?} is not a UTC offset like \"+01:00\"");
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let h: i32 = h.parse().map_err(|_| bad())?;
    let m: i32 = m.parse().map_err(|_| bad())?;
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    Ok(sign * (h * 3600 + m * 60))
}

/// The office clock as configured (see [`CallsConfig::office_clock`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OfficeClock {
    /// A fixed offset, seconds east of UTC (`utc_offset`, or 0 when nothing is set).
    Fixed(i32),
    /// An IANA time-zone name (`timezone`); tg-office looks it up in the system database.
    Zone(String),
    /// `timezone = "system"`: the machine's own zone.
    System,
}

/// The shape of an IANA time-zone name: `/`-separated parts of letters, digits, `_`, `-`, `+`
/// (whether the zone exists is checked by tg-office, which reads the database).
fn is_zone_name(s: &str) -> bool {
    s.len() <= 64
        && s.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-+".contains(&b))
        })
}

fn is_country_code(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

fn is_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

impl CallsConfig {
    /// The business hours (the default when the text is invalid; validation reports it).
    pub fn business_hours(&self) -> BusinessHours {
        parse_business_hours(self.business_hours.get_ref()).unwrap_or(BusinessHours {
            days: [true, true, true, true, true, false, false],
            start_minute: 7 * 60,
            end_minute: 19 * 60,
        })
    }

    /// Seconds east of UTC given by `utc_offset` (0 when unset or invalid; validation reports
    /// an invalid one). See [`CallsConfig::office_clock`] for the whole setting.
    pub fn utc_offset_secs(&self) -> i32 {
        parse_utc_offset(self.utc_offset.get_ref()).unwrap_or(0)
    }

    /// How the office clock relates to UTC: `timezone`, else `utc_offset`, else UTC.
    pub fn office_clock(&self) -> OfficeClock {
        let zone = self.timezone.get_ref().trim();
        if zone == "system" {
            OfficeClock::System
        } else if !zone.is_empty() {
            OfficeClock::Zone(zone.to_string())
        } else {
            OfficeClock::Fixed(self.utc_offset_secs())
        }
    }

    pub(crate) fn validate(&self, text: &str, problems: &mut Vec<Problem>) {
        if !(2..=8).contains(&self.internal_max_digits) {
            problems.push(Problem {
                line: None,
                key: Some("calls.internal_max_digits".into()),
                message: format!("{} must be between 2 and 8", self.internal_max_digits),
            });
        }
        let mut check = |ok: bool, span: std::ops::Range<usize>, key: &str, message: String| {
            if !ok {
                problems.push(problem_at(text, span, key, message));
            }
        };
        let home = &self.home_country;
        check(
            is_country_code(home.get_ref()),
            home.span(),
            "calls.home_country",
            format!(
                "{:?} is not an ISO country code like \"US\"",
                home.get_ref()
            ),
        );
        for (key, value) in [
            ("calls.international_prefix", &self.international_prefix),
            ("calls.trunk_prefix", &self.trunk_prefix),
        ] {
            check(
                is_digits(value.get_ref()) && value.get_ref().len() <= 4,
                value.span(),
                key,
                format!("{:?} must be at most 4 digits", value.get_ref()),
            );
        }
        if let Err(e) = parse_business_hours(self.business_hours.get_ref()) {
            check(false, self.business_hours.span(), "calls.business_hours", e);
        }
        if !self.utc_offset.get_ref().is_empty() {
            if let Err(e) = parse_utc_offset(self.utc_offset.get_ref()) {
                check(false, self.utc_offset.span(), "calls.utc_offset", e);
            }
        }
        let zone = &self.timezone;
        if !zone.get_ref().is_empty() {
            check(
                is_zone_name(zone.get_ref()),
                zone.span(),
                "calls.timezone",
                format!(
                    "{:?} is not a time-zone name like \"Europe/Berlin\" (or \"system\")",
                    zone.get_ref()
                ),
            );
            check(
                self.utc_offset.get_ref().is_empty(),
                zone.span(),
                "calls.timezone",
                "set either timezone or utc_offset, not both (timezone follows daylight saving \
                 time; utc_offset is a fixed offset kept for older configurations)"
                    .into(),
            );
        }
        for c in &self.allowed_countries {
            check(
                is_country_code(c.get_ref()),
                c.span(),
                "calls.allowed_countries",
                format!("{:?} is not an ISO country code like \"US\"", c.get_ref()),
            );
        }
        for t in &self.blocked_types {
            check(
                BLOCKABLE_TYPES.contains(&t.get_ref().as_str()),
                t.span(),
                "calls.blocked_types",
                format!(
                    "{:?} is not one of {}",
                    t.get_ref(),
                    BLOCKABLE_TYPES.join(", ")
                ),
            );
        }
        if let Some(ami) = &self.ami {
            let host = ami.host.get_ref();
            check(
                !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b)),
                ami.host.span(),
                "calls.ami.host",
                format!("{host:?} is not a host name or address"),
            );

            if let Some(file) = &ami.secret_file {
                check(
                    ami.secret.is_empty() || ami.secret_file.is_none(),
                    file.span(),
                    "calls.ami.secret_file",
                    "secret and secret_file are both set: keep one".into(),
                );
            }
        }
        let g = &self.guard;
        for (key, list) in [
            (
                "calls.guard.on_disallowed_country",
                &g.on_disallowed_country,
            ),
            ("calls.guard.on_blocked_type", &g.on_blocked_type),
            ("calls.guard.on_concurrency", &g.on_concurrency),
            ("calls.guard.on_hourly_limit", &g.on_hourly_limit),
            ("calls.guard.on_after_hours", &g.on_after_hours),
        ] {
            for a in list {
                check(
                    GUARD_ACTIONS.contains(&a.get_ref().as_str()),
                    a.span(),
                    key,
                    format!(
                        "{:?} is not one of {}",
                        a.get_ref(),
                        GUARD_ACTIONS.join(", ")
                    ),
                );
            }
        }
        // AMI is a line protocol: a line break in the secret would end the Login action and
        // start another. The secret itself is never repeated in a message.
        if self
            .ami
            .as_ref()
            .is_some_and(|ami| ami.secret.contains(['\r', '\n']))
        {
            problems.push(Problem {
                line: None,
                key: Some("calls.ami.secret".into()),
                message: "contains a line break".into(),
            });
        }
    }
}

/// A plausible `local@domain` address without spaces or header-breaking characters.
pub fn is_email_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && s.len() <= 254
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>()[]\\,;:\"".contains(&b))
}

impl AlertsConfig {
    pub(crate) fn validate(&self, text: &str, problems: &mut Vec<Problem>) {
        for addr in self
            .email_to
            .iter()
            .chain(std::iter::once(&self.email_from))
        {
            if !is_email_address(addr.get_ref()) {
                problems.push(problem_at(
                    text,
                    addr.span(),
                    "alerts.email",
                    format!("{:?} is not an email address", addr.get_ref()),
                ));
            }
        }
        let url = self.webhook_url.get_ref();
        if !url.is_empty() && !url.starts_with("http://") {
            problems.push(problem_at(
                text,
                self.webhook_url.span(),
                "alerts.webhook_url",
                format!("{url:?}: only http:// URLs are supported (put a TLS relay in front)"),
            ));
        }
        if self.max_per_hour == 0 {
            problems.push(Problem {
                line: None,
                key: Some("alerts.max_per_hour".into()),
                message: "must be at least 1".into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, crate::ConfigError> {
        Config::parse(text, Path::new("t.toml"))
    }

    #[test]
    fn business_hours_parse() {
        let b = parse_business_hours("Mon-Fri 08:00-18:00").unwrap();
        assert_eq!(b.days, [true, true, true, true, true, false, false]);
        assert!(b.contains(0, 8 * 60));
        assert!(!b.contains(0, 18 * 60));
        assert!(!b.contains(5, 12 * 60));
        let b = parse_business_hours("Sat,mon 00:00-24:00").unwrap();
        assert!(b.days[0] && b.days[5] && !b.days[1]);
        for bad in [
            "",
            "Mon-Fri",
            "Fri-Mon 08:00-18:00",
            "Mon 18:00-08:00",
            "Xyz 1-2",
        ] {
            assert!(parse_business_hours(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_utc_offset("+01:00"), Ok(3600));
        assert_eq!(parse_utc_offset("-05:30"), Ok(-19800));
        assert_eq!(parse_utc_offset("Z"), Ok(0));
        assert!(parse_utc_offset("01:00").is_err());
        assert!(parse_utc_offset("+25:00").is_err());
    }

    #[test]
    fn office_clock_from_timezone_or_offset() {
        let clock = |text: &str| parse(text).map(|c| c.calls.unwrap().office_clock());
        assert_eq!(clock("[calls]\n").unwrap(), OfficeClock::Fixed(0));
        assert_eq!(
            clock("[calls]\nutc_offset = \"-05:00\"\n").unwrap(),
            OfficeClock::Fixed(-18_000)
        );
        assert_eq!(
            clock("[calls]\ntimezone = \"Europe/Berlin\"\n").unwrap(),
            OfficeClock::Zone("Europe/Berlin".into())
        );
        assert_eq!(
            clock("[calls]\ntimezone = \"America/Argentina/Buenos_Aires\"\n").unwrap(),
            OfficeClock::Zone("America/Argentina/Buenos_Aires".into())
        );
        assert_eq!(
            clock("[calls]\ntimezone = \"system\"\n").unwrap(),
            OfficeClock::System
        );
        let both = clock("[calls]\nutc_offset = \"+01:00\"\n\ntimezone = \"Europe/Berlin\"\n")
            .unwrap_err()
            .to_string();
        assert!(both.contains("t.toml:4"), "{both}");
        assert!(both.contains("not both"), "{both}");
        for bad in [
            "../../etc/passwd",
            "/etc/localtime",
            "Europe//Berlin",
            "Europe/Ber lin",
            "x\\u0000",
        ] {
            let text = format!("[calls]\n\ntimezone = \"{bad}\"\n");
            let err = clock(&text).unwrap_err().to_string();
            assert!(
                err.contains("t.toml:3") && err.contains("calls.timezone"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn full_section_parses() {
        let c = parse(
            "[calls]\nhome_country = \"GB\"\ntrunk_prefix = \"9\"\nallowed_countries = [\"GB\", \"IE\"]\n\
             [calls.ami]\nuser = \"tg\"\nsecret = \"s\"\n[calls.guard]\non_blocked_type = [\"hangup\"]\n\
             [alerts]\nemail_to = [\"ops@example.com\"]\nwebhook_url = \"http://127.0.0.1:9/x\"\n",
        )
        .unwrap();
        let calls = c.calls.unwrap();
        assert_eq!(calls.home_country.get_ref(), "GB");
        assert_eq!(calls.ami.unwrap().port, 5038);
        assert_eq!(c.alerts.unwrap().email_to.len(), 1);
    }

    #[test]
    fn bad_values_name_their_lines() {
        let err = parse(
            "[calls]\nhome_country = \"usa\"\n\nbusiness_hours = \"weekdays\"\n\
             blocked_types = [\"premium\", \"evil\"]\n[calls.guard]\non_concurrency = [\"explode\"]\n",
        )
        .unwrap_err();
        let text = err.to_string();
        for want in [
            "t.toml:2", "t.toml:4", "t.toml:5", "t.toml:7", "evil", "explode",
        ] {
            assert!(text.contains(want), "{want} missing in {text}");
        }
    }

    #[test]
    fn bundled_example_parses() {
        let text = include_str!("../../../examples/config/calls.toml");
        let c = parse(text).unwrap_or_else(|e| panic!("{e}"));
        let calls = c.calls.unwrap();
        assert_eq!(calls.allowed_countries.len(), 4);
        assert_eq!(calls.ami.unwrap().user, "tollguard");
        assert_eq!(c.alerts.unwrap().dedup_window, Secs(3600));
    }

    #[test]
    fn alerts_validate() {
        let mut problems = Vec::new();
        let text = "[alerts]\nemail_to = [\"not an address\"]\nwebhook_url = \"https://x\"\n";
        let c: Config = toml::from_str(text).unwrap();
        c.alerts.unwrap().validate(text, &mut problems);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].line, Some(2));
        assert_eq!(problems[1].line, Some(3));
    }
}
