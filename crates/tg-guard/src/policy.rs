//! The live guard's decisions, without I/O: AMI call events in, hang-ups and alerts out.
//!
//! A call is followed from `DialBegin` (caller channel, dialled number) through `DialEnd`
//! (answered?) to the caller's `Hangup`. Each new outbound call is checked against the
//! policies: destination country allowed, number type not blocked, concurrency per extension
//! and for the PBX, international calls and minutes per extension per hour, business hours,
//! and an active lockdown. Each broken policy takes its configured actions: `alert`, `hangup`
//! (of that call's calling channel), `lockdown` (every new international call is hung up for
//! `lockdown_for`).

use std::collections::{HashMap, HashSet, VecDeque};

use tg_config::calls::{BusinessHours, CallsConfig};

use tg_alert::{Alert, Severity};
use tg_model::civil::weekday;
use tg_office::classify::{Category, Classifier, Country, Destination};
use tg_office::clock::{ClockError, OfficeClock};

use crate::ami::Message;

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
    /// UTC → office clock (time zone with daylight saving, or a fixed offset).
    pub clock: OfficeClock,
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
    /// From `[calls]` and `[calls.guard]`; fails only when the time zone is unknown.
    pub fn from_config(c: &CallsConfig) -> Result<PolicySettings, ClockError> {
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
        Ok(PolicySettings {
            allowed_countries: allowed,
            block_premium: blocked("premium") || blocked("shared-cost"),
            block_satellite: blocked("satellite"),
            max_concurrent_per_extension: g.max_concurrent_per_extension,
            max_concurrent_total: g.max_concurrent_total,
            max_intl_calls_per_hour: g.max_intl_calls_per_hour,
            max_intl_minutes_per_hour: g.max_intl_minutes_per_hour,
            lockdown_secs: g.lockdown_for.0 as i64,
            business_hours: c.business_hours(),
            clock: OfficeClock::from_config(c)?,
            on_disallowed_country: names(&g.on_disallowed_country),
            on_blocked_type: names(&g.on_blocked_type),
            on_concurrency: names(&g.on_concurrency),
            on_hourly_limit: names(&g.on_hourly_limit),
            on_after_hours: names(&g.on_after_hours),
        })
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
    resyncing: bool,
    ended_during_resync: HashSet<String>,
}

/// A new outbound leg to judge, from a `DialBegin` or a `CoreShowChannel` list item.
struct NewCall<'a> {
    channel: &'a str,
    context: &'a str,
    dial_string: &'a str,
    exten: &'a str,
    /// When the call began (Unix seconds): now for `DialBegin`, estimated for a resync.
    started: i64,
    answered: Option<i64>,
    resynced: bool,
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
            resyncing: false,
            ended_during_resync: HashSet::new(),
        }
    }

    /// Forgets the calls in progress (after a reconnect their fate is unknown until
    /// [`Policy::resync`] learns the ones still running).
    pub fn reset_calls(&mut self) {
        self.calls.clear();
        self.end_resync();
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
                if let Some(ch) = msg.get("Channel") {
                    if self.resyncing && self.ended_during_resync.len() < MAX_CALLS {
                        self.ended_during_resync.insert(ch.to_string());
                    }
                }
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
        let call = NewCall {
            channel,
            context: msg.get("Context").unwrap_or(""),
            dial_string: msg.get("DialString").unwrap_or(""),
            exten: msg.get("Exten").unwrap_or(""),
            started: now,
            answered: None,
            resynced: false,
        };
        self.judge_new_call(&call, now)
    }

    /// Learns the calls that were already running when the AMI session (re)started, from
    /// `CoreShowChannel` list items (other messages are ignored), and judges each unknown
    /// outbound leg as if its `DialBegin` had just arrived: disallowed country, blocked type,
    /// concurrency, lockdown and business hours (at the call's start). A channel running
    /// `Dial` is the caller's leg; the dial string is the first argument of `ApplicationData`.
    /// `Duration` (`HH:MM:SS` since the channel was created) dates the start; a call in a
    /// bridge counts as answered then (an upper bound on its minutes, which errs on the safe
    /// side). Channels already followed are left alone, so list items that race with live
    /// `DialBegin` events are harmless.
    pub fn resync(&mut self, channels: &[Message], now: i64) -> Vec<Decision> {
        let mut out = Vec::new();
        for msg in channels {
            if msg.event() != Some("CoreShowChannel")
                || !msg
                    .get("Application")
                    .is_some_and(|a| a.eq_ignore_ascii_case("Dial"))
            {
                continue;
            }
            let Some(channel) = msg.get("Channel").filter(|c| !c.is_empty()) else {
                continue;
            };
            if self.ended_during_resync.contains(channel) {
                continue; // its Hangup overtook the list item: the call is gone
            }
            let data = msg.get("ApplicationData").unwrap_or("");
            let started = msg
                .get("Duration")
                .and_then(parse_hms)
                .map_or(now, |d| now - d);
            let bridged = msg.get("BridgeId").is_some_and(|b| !b.trim().is_empty())
                && msg
                    .get("ChannelStateDesc")
                    .is_none_or(|s| s.eq_ignore_ascii_case("Up"));
            let call = NewCall {
                channel,
                context: msg.get("Context").unwrap_or(""),
                dial_string: data.split(',').next().unwrap_or(""),
                exten: msg.get("Exten").unwrap_or(""),
                started,
                answered: bridged.then_some(started),
                resynced: true,
            };
            out.extend(self.judge_new_call(&call, now));
        }
        out
    }

    /// A `CoreShowChannels` list was asked for: from now until [`Policy::end_resync`], hung-up
    /// channels are remembered so that a list item arriving after its channel's `Hangup` does
    /// not bring the call back.
    pub fn begin_resync(&mut self) {
        self.ended_during_resync.clear();
        self.resyncing = true;
    }

    /// The list is complete (or was refused).
    pub fn end_resync(&mut self) {
        self.ended_during_resync.clear();
        self.resyncing = false;
    }

    fn judge_new_call(&mut self, new: &NewCall, now: i64) -> Vec<Decision> {
        let channel = new.channel;
        if self.calls.contains_key(channel) {
            return Vec::new(); // a second leg of a forked dial, or already known: judged
        }
        if self
            .classifier
            .plan()
            .is_inbound_context(new.context.as_bytes())
        {
            return Vec::new();
        }
        let dial_digits = longest_number(new.dial_string);
        let exten = new.exten;
        let (number, dest) = match self.classifier.classify_number(dial_digits.as_bytes()) {
            Some(d) => (dial_digits, d),
            None => match self.classifier.classify_number(exten.as_bytes()) {
                Some(d) => (exten.to_string(), d),
                None => return Vec::new(),
            },
        };
        let ext = device(channel).to_string();
        let local_start = self.settings.clock.local(new.started);
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
        // A resynced call does not count toward the hourly start limit: it may well have been
        // counted already before the link dropped (the start history survives reconnects),
        // its start time is only approximate, and judging it again would let a mere AMI
        // reconnect cut a legitimate call. Its minutes still count (see `on_tick`).
        if intl && !new.resynced {
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
        }
        if intl {
            let day = local_start.div_euclid(86_400);
            let minute = (local_start.rem_euclid(86_400) / 60) as u16;
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
            answered: new.answered,
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
                    severity: Severity::Critical,
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
                    Severity::Medium
                } else {
                    Severity::High
                };
                out.push(Decision::Alert(Alert {
                    key: format!("guard:{policy}:{}", call.ext),
                    severity,
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

/// `HH:MM:SS` (hours may have more digits) → seconds; anything else, or more than ten years,
/// is `None`.
fn parse_hms(text: &str) -> Option<i64> {
    let mut parts = text.trim().split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let num = |p: &str, max: i64| -> Option<i64> {
        if p.is_empty() || p.len() > 6 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse::<i64>().ok().filter(|&v| v <= max)
    };
    let secs = num(h, 87_600)? * 3600 + num(m, 59)? * 60 + num(s, 59)?;
    Some(secs)
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
    use tg_office::classify::Dialplan;

    fn policy() -> Policy {
        let cfg = CallsConfig::default();
        Policy::new(
            PolicySettings::from_config(&cfg).unwrap(),
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
            PolicySettings::from_config(&cfg).unwrap(),
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
            PolicySettings::from_config(&cfg).unwrap(),
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

    /// A `CoreShowChannel` list item as `action_coreshowchannels` writes it.
    fn listed(channel: &str, app: &str, data: &str, duration: &str, bridge: &str) -> Message {
        let up = if bridge.is_empty() { "Ring" } else { "Up" };
        ev(&[
            ("Event", "CoreShowChannel"),
            ("ActionID", "tollguard-2"),
            ("Channel", channel),
            ("ChannelState", if bridge.is_empty() { "4" } else { "6" }),
            ("ChannelStateDesc", up),
            ("CallerIDNum", "1001"),
            ("Context", "from-internal"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Uniqueid", "1767225600.12"),
            ("Linkedid", "1767225600.12"),
            ("Application", app),
            ("ApplicationData", data),
            ("Duration", duration),
            ("BridgeId", bridge),
        ])
    }

    fn gb_allowed() -> Policy {
        let cfg = CallsConfig {
            allowed_countries: vec![
                toml::Spanned::new(0..0, "US".into()),
                toml::Spanned::new(0..0, "GB".into()),
            ],
            ..CallsConfig::default()
        };
        Policy::new(
            PolicySettings::from_config(&cfg).unwrap(),
            Classifier::new(Dialplan::from_config(&cfg).unwrap()),
        )
    }

    #[test]
    fn resynced_call_to_a_disallowed_country_is_hung_up_an_allowed_one_is_not() {
        let mut p = gb_allowed();
        p.begin_resync();
        let list = [
            // Cuba, running for two hours, answered: fraud that began while the link was down.
            listed(
                "PJSIP/1005-0000001a",
                "Dial",
                "PJSIP/01153781234567@trunk,60,T",
                "02:00:07",
                "6a0f2c1e-bridge",
            ),
            // The trunk leg of that call runs no Dial: not a caller leg.
            listed(
                "PJSIP/trunk-0000001b",
                "AppDial",
                "(Outgoing Line)",
                "02:00:05",
                "6a0f2c1e-bridge",
            ),
            // A regular UK contact, allowed.
            listed(
                "PJSIP/1002-0000001c",
                "Dial",
                "PJSIP/trunk/sip:011442079460101@gw.example.net,,Tt",
                "00:03:10",
                "77aa-bridge",
            ),
            // A channel in the IVR.
            listed("PJSIP/1003-0000001d", "Playback", "welcome", "00:00:04", ""),
        ];
        let d = p.resync(&list, NOON);
        p.end_resync();
        assert_eq!(hangups(&d), vec!["PJSIP/1005-0000001a"]);
        assert!(
            d.iter().any(
                |d| matches!(d, Decision::Alert(a) if a.key == "guard:disallowed-country:PJSIP/1005")
            ),
            "{d:?}"
        );
        assert_eq!(p.active_calls(), 2, "both Dial legs are followed now");
        // The UK call was answered ~3 minutes ago: its minutes count from then.
        let minutes_cfg = p.settings.max_intl_minutes_per_hour as i64;
        assert!(hangups(&p.on_tick(NOON + minutes_cfg * 60 - 300)).is_empty());
        assert_eq!(
            hangups(&p.on_tick(NOON + minutes_cfg * 60)),
            vec!["PJSIP/1002-0000001c"]
        );
        // Known calls are left alone by a second list.
        assert!(p.resync(&list, NOON + 10).is_empty());
    }

    #[test]
    fn resync_does_not_count_toward_the_hourly_start_limit() {
        let mut p = gb_allowed();
        let limit = p.settings.max_intl_calls_per_hour;
        let list: Vec<Message> = (0..limit + 3)
            .map(|i| {
                listed(
                    &format!("PJSIP/{}-000000{i:02x}", 1001 + i),
                    "Dial",
                    &format!("PJSIP/0114420794601{i:02}@trunk"),
                    "00:01:00",
                    "",
                )
            })
            .collect();
        let mut p_many = gb_allowed();
        p_many.settings.max_concurrent_total = 1000;
        p_many.settings.max_concurrent_per_extension = 1000;
        let d = p_many.resync(&list, NOON);
        assert!(d.is_empty(), "{d:?}");
        // The hourly history is untouched: the limit's worth of new calls still pass, one more
        // breaks it.
        p.settings.max_concurrent_total = 1000;
        p.settings.max_concurrent_per_extension = 1000;
        assert!(p.resync(&list, NOON).is_empty());
        for i in 0..limit {
            let ch = format!("PJSIP/1001-0000f{i:03x}");
            let d = p.on_message(&dial(&ch, "011442079460101"), NOON + 1);
            assert!(d.is_empty(), "call {i}: {d:?}");
        }
        let d = p.on_message(&dial("PJSIP/1001-0000ffff", "011442079460101"), NOON + 2);
        assert!(
            d.iter().any(
                |d| matches!(d, Decision::Alert(a) if a.key == "guard:hourly-limit:PJSIP/1001")
            ),
            "{d:?}"
        );
    }

    #[test]
    fn resync_judges_business_hours_at_the_call_start_and_honours_a_lockdown() {
        let mut p = gb_allowed();
        // Listed at 15:00 UTC, but began 9 hours earlier (06:00): after hours, alert only.
        let d = p.resync(
            &[listed(
                "PJSIP/1001-00000001",
                "Dial",
                "PJSIP/011442079460101@trunk",
                "09:00:00",
                "b1",
            )],
            NOON,
        );
        assert!(hangups(&d).is_empty());
        assert!(
            matches!(&d[..], [Decision::Alert(a)] if a.key == "guard:after-hours:PJSIP/1001"),
            "{d:?}"
        );
        // A premium call locks international calling down; a resynced UK call is cut then.
        p.on_message(&dial("PJSIP/1005-00000003", "011449098790123"), NOON);
        assert!(p.locked_down(NOON + 1));
        let d = p.resync(
            &[listed(
                "PJSIP/1002-00000002",
                "Dial",
                "PJSIP/011442079460102@trunk",
                "00:00:30",
                "",
            )],
            NOON + 1,
        );
        assert_eq!(hangups(&d), vec!["PJSIP/1002-00000002"]);
    }

    #[test]
    fn resync_ignores_garbage_and_calls_that_already_ended() {
        let mut p = gb_allowed();
        p.begin_resync();
        // The Hangup overtook the list item.
        p.on_message(
            &ev(&[("Event", "Hangup"), ("Channel", "PJSIP/1005-00000009")]),
            NOON,
        );
        let mut garbage = vec![
            listed(
                "PJSIP/1005-00000009",
                "Dial",
                "PJSIP/01153781234567@trunk",
                "00:00:09",
                "",
            ),
            listed("", "Dial", "PJSIP/01153781234567@trunk", "00:00:01", ""),
            listed("PJSIP/1006-00000001", "Dial", "", "00:00:01", ""),
            listed("PJSIP/1006-00000002", "Dial", ",,,,", "xx:yy:zz", ""),
            listed(
                "PJSIP/1006-00000003",
                "Dial",
                "PJSIP/\u{0}\u{ff}@@@",
                "99999999:00:00",
                "b",
            ),
            listed(
                "PJSIP/1006-00000004",
                "Dial",
                "PJSIP/2125550123@trunk",
                "-1:00:00",
                "",
            ),
            listed(
                "PJSIP/1006-00000005",
                "Dial",
                "PJSIP/2125550124@trunk",
                "1:2:3:4",
                "",
            ),
            ev(&[("Event", "CoreShowChannel"), ("Application", "Dial")]),
            ev(&[("Event", "DialBegin"), ("Application", "Dial")]),
        ];
        garbage.push(ev(&[
            ("Event", "CoreShowChannel"),
            ("Channel", "PJSIP/1007-00000001"),
            ("Application", "dial"),
            ("ApplicationData", "PJSIP/01153781234567@trunk"),
        ]));
        let d = p.resync(&garbage, NOON);
        p.end_resync();
        // Only the last one (a Cuban call with no Duration: started now) is judged a fraud;
        // the ended call is not brought back, garbage durations fall back to "now".
        assert_eq!(hangups(&d), vec!["PJSIP/1007-00000001"]);
        assert_eq!(parse_hms("02:00:07"), Some(7207));
        assert_eq!(parse_hms("100:00:00"), Some(360_000));
        for bad in [
            "",
            "1:2",
            "1:2:3:4",
            "-1:00:00",
            "00:60:00",
            "00:00:6x",
            "999999999:00:00",
        ] {
            assert_eq!(parse_hms(bad), None, "{bad}");
        }
    }

    fn zoned_policy(home: &str, zone: &str, allowed: &str) -> Policy {
        let text = format!(
            "[calls]\nhome_country = \"{home}\"\nallowed_countries = {allowed}\n\
             timezone = \"{zone}\"\nbusiness_hours = \"Mon-Fri 08:00-18:00\"\n"
        );
        let cfg = tg_config::Config::parse(&text, std::path::Path::new("t.toml"))
            .unwrap()
            .calls
            .unwrap();
        Policy::new(
            PolicySettings::from_config(&cfg).unwrap(),
            Classifier::new(Dialplan::from_config(&cfg).unwrap()),
        )
    }

    /// Unix seconds of a UTC civil time.
    fn utc(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        tg_model::civil::days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60
    }

    fn after_hours(d: &[Decision]) -> bool {
        d.iter()
            .any(|d| matches!(d, Decision::Alert(a) if a.key.starts_with("guard:after-hours:")))
    }

    #[test]
    fn business_hours_follow_daylight_saving_time() {
        // Each case: zone, and the UTC instants of 08:30 local on the working day before and the
        // working day after a 2026 change (EU 29 March / 25 October, US 8 March / 1 November).
        let cases = [
            (
                "DE",
                "Europe/Berlin",
                "00442079460101",
                [
                    utc(2026, 3, 27, 7, 30),  // Fri 08:30 CET
                    utc(2026, 3, 30, 6, 30),  // Mon 08:30 CEST
                    utc(2026, 10, 23, 6, 30), // Fri 08:30 CEST
                    utc(2026, 10, 26, 7, 30), // Mon 08:30 CET
                ],
            ),
            (
                "US",
                "America/New_York",
                "011442079460101",
                [
                    utc(2026, 3, 6, 13, 30),   // Fri 08:30 EST
                    utc(2026, 3, 9, 12, 30),   // Mon 08:30 EDT
                    utc(2026, 10, 30, 12, 30), // Fri 08:30 EDT
                    utc(2026, 11, 2, 13, 30),  // Mon 08:30 EST
                ],
            ),
        ];
        for (home, zone, number, instants) in cases {
            let mut p = zoned_policy(home, zone, &format!("[\"{home}\", \"GB\"]"));
            for (i, t) in instants.into_iter().enumerate() {
                // 08:30 local: in business hours on both sides of the change …
                let ch = format!("PJSIP/1001-0000{i:04x}");
                let d = p.on_message(&dial(&ch, number), t);
                assert!(!after_hours(&d), "{zone} case {i} at 08:30: {d:?}");
                p.on_message(&ev(&[("Event", "Hangup"), ("Channel", &ch)]), t + 60);
                // … 07:30 local is not, whatever the offset of the day.
                let ch = format!("PJSIP/1002-0000{i:04x}");
                let d = p.on_message(&dial(&ch, number), t - 3600);
                assert!(after_hours(&d), "{zone} case {i} at 07:30: {d:?}");
                p.on_message(&ev(&[("Event", "Hangup"), ("Channel", &ch)]), t);
            }
        }
        // A fixed offset gets the summer side wrong by an hour: that is what `timezone` fixes.
        let text = "[calls]\nhome_country = \"DE\"\nallowed_countries = [\"DE\", \"GB\"]\n\
                    utc_offset = \"+01:00\"\nbusiness_hours = \"Mon-Fri 08:00-18:00\"\n";
        let cfg = tg_config::Config::parse(text, std::path::Path::new("t.toml"))
            .unwrap()
            .calls
            .unwrap();
        let mut fixed = Policy::new(
            PolicySettings::from_config(&cfg).unwrap(),
            Classifier::new(Dialplan::from_config(&cfg).unwrap()),
        );
        let d = fixed.on_message(
            &dial("PJSIP/1001-00000001", "00442079460101"),
            utc(2026, 3, 30, 6, 30),
        );
        assert!(after_hours(&d), "{d:?}");
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
