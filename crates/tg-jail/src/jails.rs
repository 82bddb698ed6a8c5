//! The jail set: counts findings per (jail, address) and decides bans.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use tg_config::jail::Jail;
use tg_model::{canonical_ip, Finding, Kind, Service, TrustedSet};

use crate::attempts::OpenAttempts;

/// A ban the jails decided on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whom to ban.
    pub ip: IpAddr,
    /// The jail that decided.
    pub jail: String,
    /// When (log clock, Unix ms).
    pub at_ms: i64,
    /// How long, in seconds (already escalated).
    pub ban_secs: u64,
    /// Counted attempts in the window that triggered the ban.
    pub count: u32,
    /// 1 for a first ban, 2 for the second, … (drives escalation).
    pub ban_number: u32,
    /// The service and kind of the finding that triggered the ban.
    pub service: Service,
    /// See `service`.
    pub kind: Kind,
}

/// What one finding did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    /// False when the finding was not counted: trusted, no jail for its service, a repeat line of
    /// one attempt, or the address is already banned by the jail.
    pub counted: bool,
    /// True when the address is trusted.
    pub trusted: bool,
    /// Bans decided by this finding (one per jail at most).
    pub decisions: Vec<Decision>,
}

#[derive(Default)]
struct Offender {
    window: VecDeque<i64>,
    banned_until_ms: i64,
    bans: u32,
}

#[derive(Default)]
struct AddressState {
    open: OpenAttempts,
    attempts: u64,
}

/// The jails, with every address's counters.
pub struct JailSet {
    jails: Vec<Jail>,
    trusted: TrustedSet,
    offenders: HashMap<(usize, IpAddr), Offender>,
    addresses: HashMap<IpAddr, AddressState>,
}

impl JailSet {
    /// Enabled jails only; `trusted` addresses are never counted.
    pub fn new(jails: Vec<Jail>, trusted: TrustedSet) -> Self {
        let jails = jails
            .into_iter()
            .filter(|j| j.enabled && !j.services.is_empty())
            .collect();
        JailSet {
            jails,
            trusted,
            offenders: HashMap::new(),
            addresses: HashMap::new(),
        }
    }

    /// The enabled jails.
    pub fn jails(&self) -> &[Jail] {
        &self.jails
    }

    /// Replaces the trusted set (after a host name re-resolved, or on reload).
    pub fn set_trusted(&mut self, trusted: TrustedSet) {
        self.trusted = trusted;
    }

    /// The trusted set in force.
    pub fn trusted(&self) -> &TrustedSet {
        &self.trusted
    }

    /// Tells the jail how many bans an address already served (from the store), so the next one
    /// escalates across restarts.
    pub fn set_prior_bans(&mut self, jail: &str, ip: IpAddr, bans: u32) {
        if let Some(j) = self.jails.iter().position(|x| x.name == jail) {
            self.offenders
                .entry((j, canonical_ip(ip)))
                .or_default()
                .bans = bans;
        }
    }

    /// Marks an address as banned by a jail until `until_ms` (restored bans, manual bans), so
    /// findings during the ban do not decide it again.
    pub fn set_banned_until(&mut self, jail: &str, ip: IpAddr, until_ms: i64) {
        if let Some(j) = self.jails.iter().position(|x| x.name == jail) {
            self.offenders
                .entry((j, canonical_ip(ip)))
                .or_default()
                .banned_until_ms = until_ms;
        }
    }

    /// Raises an address's count of served bans in a jail to at least `bans`, never lowers it:
    /// history read from the store in the background may arrive after a live decision already
    /// counted a newer ban (the daemon's seeding, see tg-daemon's pipeline).
    pub fn merge_prior_bans(&mut self, jail: &str, ip: IpAddr, bans: u32) {
        if let Some(j) = self.jails.iter().position(|x| x.name == jail) {
            let o = self.offenders.entry((j, canonical_ip(ip))).or_default();
            o.bans = o.bans.max(bans);
        }
    }

    /// Extends an address's running ban in a jail to at least `until_ms`, never shortens it
    /// (a stored ban read late must not undo a longer live decision).
    pub fn merge_banned_until(&mut self, jail: &str, ip: IpAddr, until_ms: i64) {
        if let Some(j) = self.jails.iter().position(|x| x.name == jail) {
            let o = self.offenders.entry((j, canonical_ip(ip))).or_default();
            o.banned_until_ms = o.banned_until_ms.max(until_ms);
        }
    }

    /// Takes over the counters of `previous`, the set this one replaces on a reload, so a reload
    /// does not give every attacker a fresh start: the windows, running bans and served-ban
    /// counts of jails that still exist (by name) move over, merged with what this set already
    /// knows (the larger count, the later end, this set's window if it has one); per-address
    /// attempt state too. Counters of removed or disabled jails are dropped. A window that a
    /// changed `find_time` or `max_retry` no longer fits is judged by the new settings at the
    /// address's next finding.
    pub fn carry_over(&mut self, previous: JailSet) {
        let index: HashMap<&str, usize> = self
            .jails
            .iter()
            .enumerate()
            .map(|(i, j)| (j.name.as_str(), i))
            .collect();
        for ((j, ip), o) in previous.offenders {
            let Some(&here) = previous
                .jails
                .get(j)
                .and_then(|old| index.get(old.name.as_str()))
            else {
                continue;
            };
            let mine = self.offenders.entry((here, ip)).or_default();
            mine.bans = mine.bans.max(o.bans);
            mine.banned_until_ms = mine.banned_until_ms.max(o.banned_until_ms);
            if mine.window.is_empty() {
                mine.window = o.window;
            }
        }
        for (ip, a) in previous.addresses {
            self.addresses.entry(ip).or_insert(a);
        }
    }

    /// Forgets that an address is banned (manual unban): it starts from a clean window.
    pub fn unbanned(&mut self, ip: IpAddr) {
        let ip = canonical_ip(ip);
        for ((_, addr), o) in self.offenders.iter_mut() {
            if *addr == ip {
                o.banned_until_ms = 0;
                o.window.clear();
            }
        }
    }

    /// Counted attempts per address, over every service (for reports). An address whose
    /// counters [`JailSet::prune`] dropped starts again from zero.
    pub fn attempts(&self, ip: IpAddr) -> u64 {
        self.addresses
            .get(&canonical_ip(ip))
            .map_or(0, |a| a.attempts)
    }

    /// Counts one finding and returns the bans it triggers.
    pub fn observe(&mut self, f: &Finding) -> Observation {
        let ip = canonical_ip(f.ip);
        if self.trusted.contains(ip) {
            return Observation {
                counted: false,
                trusted: true,
                decisions: Vec::new(),
            };
        }
        let addr = self.addresses.entry(ip).or_default();
        if let Some(part) = f.attempt {
            if !addr.open.admit(part, f.time_ms) {
                return Observation::default();
            }
        }
        let mut obs = Observation::default();
        for (j, jail) in self.jails.iter().enumerate() {
            if !jail.services.contains(&f.service) {
                continue;
            }
            obs.counted = true;
            let o = self.offenders.entry((j, ip)).or_default();
            if f.time_ms < o.banned_until_ms {
                continue;
            }
            let window_start = f.time_ms - (jail.find_time as i64) * 1000;
            while o.window.front().is_some_and(|&t| t <= window_start) {
                o.window.pop_front();
            }
            o.window.push_back(f.time_ms);
            if o.window.len() as u64 >= u64::from(jail.max_retry) {
                o.bans = o.bans.saturating_add(1);
                let ban_secs = escalate(jail, o.bans);
                o.banned_until_ms = f
                    .time_ms
                    .saturating_add((ban_secs as i64).saturating_mul(1000));
                let count = o.window.len() as u32;
                o.window.clear();
                obs.decisions.push(Decision {
                    ip,
                    jail: jail.name.clone(),
                    at_ms: f.time_ms,
                    ban_secs,
                    count,
                    ban_number: o.bans,
                    service: f.service,
                    kind: f.kind,
                });
            }
        }
        if obs.counted {
            if let Some(a) = self.addresses.get_mut(&ip) {
                a.attempts += 1;
            }
        }
        obs
    }

    /// Drops counters that can no longer matter at log time `now_ms` (bounded memory when
    /// thousands of scanners pass by).
    pub fn prune(&mut self, now_ms: i64) {
        let jails = &self.jails;
        self.offenders.retain(|(j, _), o| {
            let find_ms = (jails[*j].find_time as i64) * 1000;
            o.bans > 0
                || o.banned_until_ms > now_ms
                || o.window.back().is_some_and(|&t| t > now_ms - find_ms)
        });
        // Per-address state must go too, or every scanner ever seen stays in memory: keep it
        // while a jail still holds counters for the address or a line can still join one of
        // its open attempts.
        let live: std::collections::HashSet<IpAddr> =
            self.offenders.keys().map(|&(_, ip)| ip).collect();
        self.addresses
            .retain(|ip, a| !a.open.expire(now_ms) || live.contains(ip));
    }
}

/// The ban length for an address's `n`th ban in `jail`.
fn escalate(jail: &Jail, n: u32) -> u64 {
    let factor = u64::from(jail.ban_time_multiplier.max(1)).saturating_pow(n.saturating_sub(1));
    jail.ban_time
        .saturating_mul(factor)
        .min(jail.max_ban_time.max(jail.ban_time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tg_model::{attempt_hash, AttemptPart, Role};

    fn jailset(trusted: &[&str]) -> JailSet {
        let mut t = TrustedSet::new();
        for n in trusted {
            t.insert(n.parse().unwrap());
        }
        JailSet::new(tg_config::jail::builtin_jails(), t)
    }

    fn sip(ip: &str, secs: i64) -> Finding {
        Finding {
            time_ms: secs * 1000,
            service: Service::Sip,
            kind: Kind::AuthFailure,
            ip: ip.parse().unwrap(),
            attempt: None,
        }
    }

    #[test]
    fn fifth_failure_in_window_bans_for_an_hour() {
        let mut js = jailset(&[]);
        for i in 0..4 {
            assert!(js.observe(&sip("198.51.100.7", i)).decisions.is_empty());
        }
        let d = js.observe(&sip("198.51.100.7", 4)).decisions;
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].jail.as_str(), d[0].ban_secs, d[0].count),
            ("sip", 3600, 5)
        );
    }

    #[test]
    fn failures_spread_beyond_find_time_do_not_ban() {
        let mut js = jailset(&[]);
        for i in 0..20 {
            assert!(
                js.observe(&sip("198.51.100.7", i * 200))
                    .decisions
                    .is_empty(),
                "banned at {i}"
            );
        }
    }

    #[test]
    fn trusted_is_never_counted() {
        let mut js = jailset(&["198.51.100.0/24"]);
        for i in 0..1000 {
            let o = js.observe(&sip("198.51.100.7", i));
            assert!(o.trusted && o.decisions.is_empty());
        }
    }

    #[test]
    fn repeat_offender_ban_escalates_and_caps() {
        let mut js = jailset(&[]);
        let mut bans = Vec::new();
        let mut t = 0;
        for _ in 0..6 {
            for _ in 0..5 {
                bans.extend(js.observe(&sip("2001:db8::66", t)).decisions);
                t += 1;
            }
            t += 30 * 86_400; // after the longest ban
        }
        let secs: Vec<u64> = bans.iter().map(|d| d.ban_secs).collect();
        assert_eq!(secs, vec![3600, 7200, 14_400, 28_800, 57_600, 115_200]);
        let mut js = jailset(&[]);
        js.set_prior_bans("sip", "2001:db8::66".parse().unwrap(), 20);
        let mut last = Vec::new();
        for i in 0..5 {
            last = js.observe(&sip("2001:db8::66", i)).decisions;
        }
        assert_eq!(last[0].ban_secs, 7 * 86_400);
    }

    #[test]
    fn prune_forgets_passing_scanners_but_not_banned_ones() {
        let mut js = jailset(&[]);
        for i in 0..10_000u32 {
            let ip = std::net::Ipv6Addr::from(
                0x2001_0db8_0000_0000_0000_0000_0000_0000u128 + u128::from(i),
            );
            js.observe(&Finding {
                ip: IpAddr::V6(ip),
                ..sip("198.51.100.1", 0)
            });
        }
        for i in 0..5 {
            js.observe(&sip("198.51.100.7", i));
        }
        js.prune(86_400_000);
        assert!(
            js.addresses.len() <= 1,
            "{} addresses kept",
            js.addresses.len()
        );
        assert!(
            js.offenders.len() <= 1,
            "{} offenders kept",
            js.offenders.len()
        );
        assert_eq!(js.attempts("198.51.100.7".parse().unwrap()), 5);
        // The banned address still escalates after the prune.
        let mut second = Vec::new();
        for i in 0..5 {
            second = js.observe(&sip("198.51.100.7", 90_000 + i)).decisions;
        }
        assert_eq!(second[0].ban_secs, 7200);
    }

    #[test]
    fn merged_history_never_lowers_what_a_live_decision_raised() {
        let ip: IpAddr = "198.51.100.8".parse().unwrap();
        let mut js = jailset(&[]);
        js.merge_prior_bans("sip", ip, 2);
        let mut d = Vec::new();
        for i in 0..5 {
            d = js.observe(&sip("198.51.100.8", i)).decisions;
        }
        assert_eq!((d[0].ban_number, d[0].ban_secs), (3, 14_400));
        // The store's older view arrives late: neither the count nor the running ban goes back.
        js.merge_prior_bans("sip", ip, 2);
        js.merge_banned_until("sip", ip, 10_000);
        let during: Vec<Decision> = (5..10)
            .flat_map(|i| js.observe(&sip("198.51.100.8", i)).decisions)
            .collect();
        assert!(during.is_empty(), "banned until 4 s + 4 h, not 10 s");
        let mut after = Vec::new();
        for i in 0..5 {
            after = js.observe(&sip("198.51.100.8", 20_000 + i)).decisions;
        }
        assert_eq!(after[0].ban_number, 4, "the escalation went on from 3");
        // A higher count or a later end does raise them.
        js.merge_prior_bans("sip", ip, 9);
        js.merge_banned_until("sip", ip, 90_000_000);
        let late: Vec<Decision> = (0..5)
            .flat_map(|i| js.observe(&sip("198.51.100.8", 80_000 + i)).decisions)
            .collect();
        assert!(late.is_empty(), "the later stored end holds");
        js.merge_prior_bans("nosuchjail", ip, 50);
    }

    #[test]
    fn a_reload_keeps_half_filled_windows_bans_and_history_of_jails_that_remain() {
        let mut before = jailset(&[]);
        let f = |ip: &str, t: i64| Finding {
            time_ms: t,
            service: Service::Sip,
            kind: Kind::AuthFailure,
            ip: ip.parse().unwrap(),
            attempt: None,
        };
        // 4 of sip's 5 failures before the reload; a running ban for another address.
        for t in 0..4 {
            assert!(before
                .observe(&f("198.51.100.7", t * 1000))
                .decisions
                .is_empty());
        }
        for t in 0..5 {
            before.observe(&f("198.51.100.8", t * 1000));
        }
        let mut jails = tg_config::jail::builtin_jails();
        jails.retain(|j| j.name != "ftp");
        jails.reverse(); // another order: indexes differ, names match
        let mut after = JailSet::new(jails, TrustedSet::new());
        after.carry_over(before);

        let fifth = after.observe(&f("198.51.100.7", 10_000));
        assert_eq!(fifth.decisions.len(), 1, "the window survived the reload");
        assert_eq!(fifth.decisions[0].count, 5);
        assert!(
            after
                .observe(&f("198.51.100.8", 11_000))
                .decisions
                .is_empty(),
            "still banned: no second decision"
        );
        // 198.51.100.8 served one ban before the reload (1 h from t = 4 s): its next is the
        // second, twice as long.
        let second = (0..5)
            .flat_map(|t| {
                after
                    .observe(&f("198.51.100.8", 4_000_000 + t * 1000))
                    .decisions
            })
            .next()
            .expect("a second ban");
        assert_eq!((second.ban_number, second.ban_secs), (2, 7200));
    }

    #[test]
    fn lines_of_one_attempt_count_once() {
        let mut js = jailset(&[]);
        let part = |role, copy: Option<u64>| AttemptPart {
            group: attempt_hash(&[b"callid"]),
            role,
            copy_of: copy,
        };
        let mut f = sip("198.51.100.9", 0);
        f.attempt = Some(part(Role::module(Kind::AuthFailure), None));
        assert!(js.observe(&f).counted);
        f.attempt = Some(part(Role::event(Kind::AuthFailure), Some(1)));
        assert!(!js.observe(&f).counted, "the NOTICE's event");
        assert!(!js.observe(&f).counted, "its copy in the security file");
        f.attempt = Some(part(Role::module(Kind::AuthFailure), None));
        assert!(js.observe(&f).counted, "the next guess, same Call-ID");
        assert_eq!(js.attempts("198.51.100.9".parse().unwrap()), 2);
    }

    #[test]
    fn a_cracker_reusing_one_call_id_is_banned_and_a_phone_with_four_typos_is_not() {
        let mut js = jailset(&[]);
        let guess = |ip: &str, ms: i64, group: &[u8], n: u64| {
            let f = |role, copy_of| Finding {
                time_ms: ms,
                attempt: Some(AttemptPart {
                    group: attempt_hash(&[group]),
                    role,
                    copy_of,
                }),
                ..sip(ip, 0)
            };
            let id = Some(attempt_hash(&[group, &n.to_le_bytes()]));
            [
                f(Role::module(Kind::AuthFailure), None),
                f(Role::event(Kind::AuthFailure), id),
                f(Role::event(Kind::AuthFailure), id),
            ]
        };
        let mut cracker = Vec::new();
        for n in 0..5 {
            for f in guess("198.51.100.77", n as i64 * 6, b"2627972419", n) {
                cracker.extend(js.observe(&f).decisions);
            }
            assert_eq!(cracker.is_empty(), n < 4, "guess {}", n + 1);
        }
        assert_eq!(cracker[0].count, 5);
        for n in 0..4 {
            for f in guess("198.51.100.188", n as i64 * 212, b"5062", n) {
                assert!(js.observe(&f).decisions.is_empty(), "typo {}", n + 1);
            }
        }
        assert_eq!(js.attempts("198.51.100.188".parse().unwrap()), 4);
    }
}
