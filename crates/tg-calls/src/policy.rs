//! The live guard's decisions, without I/O: AMI call events in, hang-ups and alerts out.
//!
//! A call is followed from `DialBegin` (caller channel, dialled number) through `DialEnd`
//! (answered?) to the caller's `Hangup`. Each new outbound call is checked against the
//! policies: destination country allowed, number type not blocked, concurrency per extension
//! and for the PBX, international calls and minutes per extension per hour, business hours,
//! and an active lockdown. Each broken policy takes its configured actions: `alert`, `hangup`
//! (of that call's calling channel), `lockdown` (every new international call is hung up for
//! `lockdown_for`).

use std::collections::{HashMap, VecDeque};

use tg_config::calls::{BusinessHours, CallsConfig};

use crate::alert::Alert;
use crate::ami::Message;
use crate::classify::{Category, Classifier, Country, Destination};
use crate::clock::weekday;

/// What a broken policy does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Actions {
    /// Send an alert.
    pub alert: bool,
    /// Hang up the call.
    pub hangup: bool,
    /// Lock down international calling.
    pub lockdown: bool,
}

impl Actions {
    fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Actions {
        let mut a = Actions::default();
        for n in names {
            match n {
                "alert" => a.alert = true,
                "hangup" => a.hangup = true,
                "lockdown" => a.lockdown = true,
                _ => {}
            }
        }
        a
    }
}

/// The guard's limits.
#[derive(Clone, Debug)]
pub struct PolicySettings {
    /// Allowed destination countries (the home country when built from an empty list).
    pub allowed_countries: Vec<Country>,
    /// Premium-rate and shared-cost numbers are blocked.
    pub block_premium: bool,
    /// Satellite/global codes are blocked.
    pub block_satellite: bool,
    /// Per extension.
    pub max_concurrent_per_extension: usize,
    /// For the PBX.
    pub max_concurrent_total: usize,
    /// International calls per extension per hour.
    pub max_intl_calls_per_hour: usize,
    /// International minutes per extension per hour.
    pub max_intl_minutes_per_hour: u64,
    /// Lockdown length, seconds.
    pub lockdown_secs: i64,
    /// Business hours on the office clock.
    pub business_hours: BusinessHours,
    /// Office clock = UTC + this.
    pub utc_offset_secs: i64,
    /// Actions per policy.
    pub on_disallowed_country: Actions,
    /// …
    pub on_blocked_type: Actions,
    /// …
    pub on_concurrency: Actions,
    /// …
    pub on_hourly_limit: Actions,
    /// …
    pub on_after_hours: Actions,
}

impl PolicySettings {
    /// From `[calls]` and `[calls.guard]`.
    pub fn from_config(c: &CallsConfig) -> PolicySettings {
        let names = |v: &[toml::Spanned<String>]| -> Actions {
            Actions::from_names(v.iter().map(|s| s.get_ref().as_str()))
        };
        let mut allowed: Vec<Country> = c
            .allowed_countries
            .iter()
            .map(|s| Country::new(s.get_ref()))
            .collect();
        if allowed.is_empty() {
            allowed.push(Country::new(c.home_country.get_ref()));
        }
        let blocked = |t: &str| c.blocked_types.iter().any(|b| b.get_ref() == t);
        let g = &c.guard;
        PolicySettings {
            allowed_countries: allowed,
            block_premium: blocked("premium") || blocked("shared-cost"),
            block_satellite: blocked("satellite"),
            max_concurrent_per_extension: g.max_concurrent_per_extension,
            max_concurrent_total: g.max_concurrent_total,
            max_intl_calls_per_hour: g.max_intl_calls_per_hour,
            max_intl_minutes_per_hour: g.max_intl_minutes_per_hour,
            lockdown_secs: g.lockdown_for.0 as i64,
            business_hours: c.business_hours(),
            utc_offset_secs: i64::from(c.utc_offset_secs()),
            on_disallowed_country: names(&g.on_disallowed_country),
            on_blocked_type: names(&g.on_blocked_type),
            on_concurrency: names(&g.on_concurrency),
            on_hourly_limit: names(&g.on_hourly_limit),
            on_after_hours: names(&g.on_after_hours),
        }
    }
}

/// What the guard should do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send AMI `Action: Hangup` for this channel.
    Hangup {
        /// The calling channel.
        channel: String,
    },
    /// Send this alert.
    Alert(Alert),
}

#[derive(Clone, Debug)]
struct OutCall {
    ext: String,
    number: String,
    dest: Destination,
    answered: Option<i64>,
    hangup_sent: bool,
}

/// The live policy state.
pub struct Policy {
    settings: PolicySettings,
    classifier: Classifier,
    calls: HashMap<String, OutCall>,
    intl_starts: HashMap<String, VecDeque<i64>>,
    intl_used: HashMap<String, VecDeque<(i64, i64)>>,
    lockdown_until: i64,
}

/// Tracked calls at most (a flood of fake channels cannot grow memory without bound).
const MAX_CALLS: usize = 20_000;

impl Policy {
    /// A policy.
    pub fn new(settings: PolicySettings, classifier: Classifier) -> Policy {
        Policy {
            settings,
            classifier,
            calls: HashMap::new(),
            intl_starts: HashMap::new(),
            intl_used: HashMap::new(),
            lockdown_until: i64::MIN,
        }
    }

    /// Forgets the calls in progress (after a reconnect their fate is unknown).
    pub fn reset_calls(&mut self) {
        self.calls.clear();
    }

    /// True while international calling is locked down.
    pub fn locked_down(&self, now: i64) -> bool {
        now < self.lockdown_until
    }

    /// Calls being followed.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Handles one AMI message at `now` (Unix seconds).
    pub fn on_message(&mut self, msg: &Message, now: i64) -> Vec<Decision> {
        match msg.event() {
            Some("DialBegin") => self.dial_begin(msg, now),
            Some("DialEnd") => {
                if msg.get("DialStatus") == Some("ANSWER") {
                    if let Some(c) = msg.get("Channel").and_then(|ch| self.calls.get_mut(ch)) {
                        c.answered.get_or_insert(now);
                    }
                }
                Vec::new()
            }
            Some("Hangup") => {
                if let Some(call) = msg.get("Channel").and_then(|ch| self.calls.remove(ch)) {
                    if let (Some(a), true) = (call.answered, call.dest.international) {
                        self.intl_used
                            .entry(call.ext)
                            .or_default()
                            .push_back((now, (now - a).max(0)));
                    }
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn dial_begin(&mut self, msg: &Message, now: i64) -> Vec<Decision> {
        let Some(channel) = msg.get("Channel") else {
            return Vec::new();
        };
        if self.calls.contains_key(channel) {
            return Vec::new(); // a second leg of a forked dial: already judged
        }
        let context = msg.get("Context").unwrap_or("");
        if self
            .classifier
            .plan()
            .is_inbound_context(context.as_bytes())
        {
            return Vec::new();
        }
        let dial_digits = msg
            .get("DialString")
            .map(longest_number)
            .unwrap_or_default();
        let exten = msg.get("Exten").unwrap_or("");
        let (number, dest) = match self.classifier.classify_number(dial_digits.as_bytes()) {
            Some(d) => (dial_digits, d),
            None => match self.classifier.classify_number(exten.as_bytes()) {
                Some(d) => (exten.to_string(), d),
                None => return Vec::new(),
            },
        };
        let ext = device(channel).to_string();
        let s = &self.settings;
        let mut broken: Vec<(&'static str, Actions, String)> = Vec::new();
        let intl = dest.international;
        if intl && self.locked_down(now) {
            broken.push((
                "lockdown",
                Actions {
                    alert: true,
                    hangup: true,
                    lockdown: false,
                },
                "international calling is locked down".into(),
            ));
        }
        let blocked = match dest.category {
            Category::Premium => s.block_premium,
            Category::Satellite => s.block_satellite,
            _ => false,
        };
        if blocked {
            broken.push((
                "blocked-type",
                s.on_blocked_type,
                format!("{} number", dest.category.as_str()),
            ));
        }
        if !s.allowed_countries.contains(&dest.country) {
            broken.push((
                "disallowed-country",
                s.on_disallowed_country,
                format!("{} is not an allowed destination", dest.country),
            ));
        }
        let ext_active = self.calls.values().filter(|c| c.ext == ext).count() + 1;
        let total_active = self.calls.len() + 1;
        if ext_active > s.max_concurrent_per_extension || total_active > s.max_concurrent_total {
            broken.push((
                "concurrency",
                s.on_concurrency,
                format!(
                    "{ext_active} outbound calls on {ext} (max {}), {total_active} on the PBX (max {})",
                    s.max_concurrent_per_extension, s.max_concurrent_total
                ),
            ));
        }
        if intl {
            let starts = self.intl_starts.entry(ext.clone()).or_default();
            while starts.front().is_some_and(|&t| now - t >= 3600) {
                starts.pop_front();
            }
            starts.push_back(now);
            if starts.len() > 4 * s.max_intl_calls_per_hour.max(1) {
                starts.pop_front();
            }
            if starts.len() > s.max_intl_calls_per_hour {
                broken.push((
                    "hourly-limit",
                    s.on_hourly_limit,
                    format!(
                        "{} international calls from {ext} in the last hour (max {})",
                        starts.len(),
                        s.max_intl_calls_per_hour
                    ),
                ));
            }
            let local = now + s.utc_offset_secs;
            let day = local.div_euclid(86_400);
            let minute = (local.rem_euclid(86_400) / 60) as u16;
            if !s.business_hours.contains(weekday(day), minute) {
                broken.push((
                    "after-hours",
                    s.on_after_hours,
                    "international call outside business hours".into(),
                ));
            }
        }
        if self.calls.len() >= MAX_CALLS {
            self.calls.clear();
        }
        let mut call = OutCall {
            ext: ext.clone(),
            number: number.clone(),
            dest,
            answered: None,
            hangup_sent: false,
        };
        let decisions = self.act(&mut call, channel, &broken, now);
        self.calls.insert(channel.to_string(), call);
        decisions
    }

    fn act(
        &mut self,
        call: &mut OutCall,
        channel: &str,
        broken: &[(&'static str, Actions, String)],
        now: i64,
    ) -> Vec<Decision> {
        let mut out = Vec::new();
        for (policy, actions, why) in broken {
            if actions.hangup && !call.hangup_sent {
                call.hangup_sent = true;
                out.push(Decision::Hangup {
                    channel: channel.to_string(),
                });
            }
            if actions.lockdown && !self.locked_down(now) {
                self.lockdown_until = now + self.settings.lockdown_secs;
                out.push(Decision::Alert(Alert {
                    key: "guard:lockdown".into(),
                    severity: "critical".into(),
                    subject: format!(
                        "tollguard: international calling locked down for {}",
                        tg_model::format_duration(self.settings.lockdown_secs.max(0) as u64)
                    ),
                    body: format!(
                        "Policy {policy} was broken by {} calling {} ({}): {why}.\nEvery new international call is hung up until the lockdown ends.",
                        call.ext, call.number, call.dest.country
                    ),
                    time: now,
                }));
            }
            if actions.alert {
                let severity = if *policy == "after-hours" {
                    "medium"
                } else {
                    "high"
                };
                out.push(Decision::Alert(Alert {
                    key: format!("guard:{policy}:{}", call.ext),
                    severity: severity.into(),
                    subject: format!(
                        "tollguard: {policy} — {} calling {} ({}){}",
                        call.ext,
                        call.number,
                        call.dest.country,
                        if call.hangup_sent { ", hung up" } else { "" }
                    ),
                    body: format!(
                        "Channel {channel} ({}) dialled {} — {} in {}.\n{why}.\nAction: {}.",
                        call.ext,
                        call.number,
                        call.dest.category.as_str(),
                        call.dest.country,
                        if call.hangup_sent {
                            "hung up"
                        } else {
                            "alert only"
                        }
                    ),
                    time: now,
                }));
            }
        }
        out
    }

    /// Periodic check of minutes in progress (call it every few seconds).
    pub fn on_tick(&mut self, now: i64) -> Vec<Decision> {
        let limit = self.settings.max_intl_minutes_per_hour as i64 * 60;
        let mut used: HashMap<String, i64> = HashMap::new();
        for (ext, q) in &mut self.intl_used {
            while q.front().is_some_and(|&(t, _)| now - t >= 3600) {
                q.pop_front();
            }
            used.insert(ext.clone(), q.iter().map(|&(_, s)| s).sum());
        }
        self.intl_used.retain(|_, q| !q.is_empty());
        for c in self.calls.values() {
            if let (Some(a), true) = (c.answered, c.dest.international) {
                *used.entry(c.ext.clone()).or_default() += (now - a).max(0);
            }
        }
        let over: Vec<(String, i64)> = used.into_iter().filter(|&(_, s)| s > limit).collect();
        let mut out = Vec::new();
        for (ext, secs) in over {
            let channels: Vec<String> = self
                .calls
                .iter()
                .filter(|(_, c)| c.ext == ext && c.dest.international && !c.hangup_sent)
                .map(|(ch, _)| ch.clone())
                .collect();
            if channels.is_empty() {
                continue;
            }
            let why = format!(
                "{} international minutes from {ext} in the last hour (max {})",
                secs / 60,
                self.settings.max_intl_minutes_per_hour
            );
            let actions = self.settings.on_hourly_limit;
            for ch in channels {
                if let Some(mut call) = self.calls.remove(&ch) {
                    out.extend(self.act(
                        &mut call,
                        &ch,
                        &[("hourly-minutes", actions, why.clone())],
                        now,
                    ));
                    self.calls.insert(ch, call);
                }
            }
        }
        out
    }
}

/// `PJSIP/1001-0000002a` → `PJSIP/1001`.
pub fn device(channel: &str) -> &str {
    match channel.rfind('-') {
        Some(i) if i > 0 => &channel[..i],
        _ => channel,
    }
}

/// The longest run of digits (with a leading `+` if present) in a dial string.
fn longest_number(dial: &str) -> String {
    let mut best = "";
    let b = dial.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        if b[i] == b'+' {
            i += 1;
        }
        let digits_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i > digits_start && i - start > best.len() {
            best = &dial[start..i];
        }
        if i == start {
            i += 1;
        }
    }
    best.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Dialplan;

    fn policy() -> Policy {
        let cfg = CallsConfig::default();
        Policy::new(
            PolicySettings::from_config(&cfg),
            Classifier::new(Dialplan::from_config(&cfg).unwrap()),
        )
    }

    fn ev(pairs: &[(&str, &str)]) -> Message {
        Message {
            headers: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn dial(channel: &str, exten: &str) -> Message {
        ev(&[
            ("Event", "DialBegin"),
            ("Channel", channel),
            ("Context", "from-internal"),
            ("Exten", exten),
            ("DestChannel", "PJSIP/trunk-00000009"),
            ("DialString", &format!("trunk/{exten}")),
        ])
    }

    // Wednesday 2025-01-08 15:00 UTC.
    const NOON: i64 = 20_096 * 86_400 + 15 * 3600;

    fn hangups(d: &[Decision]) -> Vec<&str> {
        d.iter()
            .filter_map(|d| match d {
                Decision::Hangup { channel } => Some(channel.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn premium_call_is_hung_up_and_locks_down() {
        let mut p = policy();
        let d = p.on_message(&dial("PJSIP/1005-00000003", "011449098790123"), NOON);
        assert_eq!(hangups(&d), vec!["PJSIP/1005-00000003"]);
        assert!(p.locked_down(NOON + 60));
        // During the lockdown even an otherwise unremarkable international call is cut…
        let d = p.on_message(&dial("PJSIP/1001-00000005", "0114930901820"), NOON + 60);
        assert_eq!(hangups(&d), vec!["PJSIP/1001-00000005"]);
        // …but national calls go through.
        let d = p.on_message(&dial("PJSIP/1002-00000007", "2125550123"), NOON + 61);
        assert!(hangups(&d).is_empty());
        assert!(!p.locked_down(NOON + 3601));
    }

    #[test]
    fn national_and_internal_calls_pass() {
        let mut p = policy();
        assert!(p
            .on_message(&dial("PJSIP/1001-00000001", "2125550123"), NOON)
            .is_empty());
        assert!(p
            .on_message(&dial("PJSIP/1001-00000002", "1002"), NOON)
            .is_empty());
        let inbound = ev(&[
            ("Event", "DialBegin"),
            ("Channel", "PJSIP/trunk-00000001"),
            ("Context", "from-trunk"),
            ("Exten", "2125550100"),
            ("DialString", "1001"),
        ]);
        assert!(p.on_message(&inbound, NOON).is_empty());
        // The Caribbean dials like home but is abroad (not allowed by default).
        let d = p.on_message(&dial("PJSIP/1003-00000001", "18095551234"), NOON);
        assert_eq!(hangups(&d), vec!["PJSIP/1003-00000001"]);
    }

    #[test]
    fn concurrency_and_hangup_bookkeeping() {
        let mut p = policy();
        assert!(p
            .on_message(&dial("PJSIP/1001-00000001", "2125550123"), NOON)
            .is_empty());
        assert!(p
            .on_message(&dial("PJSIP/1001-00000002", "2125550124"), NOON)
            .is_empty());
        let d = p.on_message(&dial("PJSIP/1001-00000003", "2125550125"), NOON);
        assert_eq!(hangups(&d), vec!["PJSIP/1001-00000003"]);
        for ch in [
            "PJSIP/1001-00000001",
            "PJSIP/1001-00000002",
            "PJSIP/1001-00000003",
        ] {
            p.on_message(&ev(&[("Event", "Hangup"), ("Channel", ch)]), NOON + 5);
        }
        assert_eq!(p.active_calls(), 0);
        assert!(p
            .on_message(&dial("PJSIP/1001-00000004", "2125550126"), NOON + 6)
            .is_empty());
    }

    #[test]
    fn international_minutes_are_capped_while_calls_run() {
        let cfg = CallsConfig {
            allowed_countries: vec![
                toml::Spanned::new(0..0, "US".into()),
                toml::Spanned::new(0..0, "GB".into()),
            ],
            ..CallsConfig::default()
        };
        let mut p = Policy::new(
            PolicySettings::from_config(&cfg),
            Classifier::new(Dialplan::from_config(&cfg).unwrap()),
        );
        let ch = "PJSIP/1001-00000001";
        assert!(p.on_message(&dial(ch, "011442079460101"), NOON).is_empty());
        p.on_message(
            &ev(&[
                ("Event", "DialEnd"),
                ("Channel", ch),
                ("DialStatus", "ANSWER"),
            ]),
            NOON + 5,
        );
        assert!(hangups(&p.on_tick(NOON + 60 * 60)).is_empty());
        assert_eq!(hangups(&p.on_tick(NOON + 121 * 60)), vec![ch]);
        assert!(
            hangups(&p.on_tick(NOON + 122 * 60)).is_empty(),
            "hang up once"
        );
    }

    #[test]
    fn after_hours_international_alerts_only() {
        let cfg = CallsConfig {
            allowed_countries: vec![toml::Spanned::new(0..0, "GB".into())],
            ..CallsConfig::default()
        };
        let mut p = Policy::new(
            PolicySettings::from_config(&cfg),
            Classifier::new(Dialplan::from_config(&cfg).unwrap()),
        );
        let d = p.on_message(
            &dial("PJSIP/1001-00000001", "011442079460101"),
            NOON + 8 * 3600,
        );
        assert!(hangups(&d).is_empty());
        assert!(
            matches!(&d[..], [Decision::Alert(a)] if a.key == "guard:after-hours:PJSIP/1001"),
            "{d:?}"
        );
    }

    #[test]
    fn dial_strings() {
        assert_eq!(
            longest_number("PJSIP/011442079460000@trunk"),
            "011442079460000"
        );
        assert_eq!(
            longest_number("SIP/trunk/+442079460000,60"),
            "+442079460000"
        );
        assert_eq!(longest_number("PJSIP/1001"), "1001");
        assert_eq!(longest_number(""), "");
    }
}
