//! The jail set: counts findings per (jail, source) and decides bans.
//!
//! # What is counted: an address or its prefix
//! Each jail counts IPv4 findings per `prefix_v4` network and IPv6 findings per `prefix_v6`
//! network (defaults 32 and 64: one IPv4 address, one IPv6 /64, since an attacker that owns a
//! /64 rotates through it freely). A prefix that reaches `max_retry` findings is banned as a
//! whole ([`Decision::net`] is the prefix). Never a prefix that holds a trusted address: there
//! the addresses are counted one by one, and the prefix's own count only marks it *hostile*
//! once it reaches `max_retry`; while it is, every untrusted address of it is banned alone at
//! its first finding, so rotating addresses still gains nothing.
//!
//! # Memory: compact, bounded, least threatening evicted first
//! A source is a key of four `u32` words (IPv4 as IPv4-mapped IPv6) in one hash table per
//! jail, with a 20-byte [`Entry`]: the window's first [`INLINE`] finding times as `u32` seconds
//! of the log clock (Unix time; the window is counted in whole seconds), the running ban's end
//! and the number of bans served. A window longer than [`INLINE`] findings (only real attackers
//! with `max_retry` above 4) moves to a side table. A slot of the table is 36 bytes plus one
//! control byte. Per-address attempt state (`attempts`) exists only while an address has open
//! attempts, and is swept as the log clock moves on.
//!
//! Each jail holds at most `max_tracked` sources. When a new source would exceed it, the jail
//! first forgets what can no longer matter (windows past `find_time`, no ban), then evicts the
//! least threatening eighth of the cap in one pass: fewest findings in the window first, the
//! oldest last finding first among equals; sources with served bans go only after every
//! window, and running bans last. Evictions are counted ([`JailSet::usage`]). An evicted source
//! starts again from zero, so a flood of one-off addresses can only delay a real attacker's ban
//! if the attacker's first two guesses are further apart than the flood takes to bring about as
//! many new sources as the cap (a one-finding entry goes once it is among the oldest
//! one-finding entries; two findings outrank them all). After each eviction the table is rebuilt
//! at the cap's size: removals leave tombstones that would otherwise make it double.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;

use ipnet::IpNet;
use tg_config::jail::Jail;
use tg_model::{canonical_ip, Finding, Kind, Service, TrustedSet};

use crate::attempts::{OpenAttempts, MERGE_MS};

/// A ban the jails decided on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whom to ban: one address (a /32 or /128) or a prefix.
    pub net: IpNet,
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

impl Decision {
    /// True when the decision bans a prefix rather than one address.
    pub fn is_prefix(&self) -> bool {
        self.net.prefix_len() < self.net.max_prefix_len()
    }
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

/// One jail's memory, for status and reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JailUsage {
    /// The jail.
    pub jail: String,
    /// Sources (addresses and prefixes) with counters now.
    pub tracked: usize,
    /// Sources evicted because the jail was at `max_tracked`, since the start.
    pub evicted: u64,
    /// The counters' heap size in bytes, estimated from the tables' capacities.
    pub bytes: usize,
}

/// A source's key: its address, or its prefix's network address, as IPv6 (IPv4 mapped).
type Key = [u32; 4];

/// Window times kept in the entry itself.
pub(crate) const INLINE: usize = 3;

/// One source's counters in one jail (20 bytes; see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Entry {
    /// The window's finding times (log clock, Unix seconds), oldest first, while `len` is at
    /// most [`INLINE`]; beyond that the whole window is in the jail's spill table.
    times: [u32; INLINE],
    /// The running ban's end (Unix seconds, rounded up); 0: none.
    banned_until: u32,
    /// Bans served (escalation), saturating.
    bans: u16,
    /// Findings in the window (saturating).
    len: u16,
}

impl Entry {
    fn spilled(&self) -> bool {
        usize::from(self.len) > INLINE
    }
}

/// One jail's counters.
#[derive(Default)]
struct Counters {
    map: HashMap<Key, Entry>,
    spill: HashMap<Key, VecDeque<u32>>,
    evicted: u64,
}

/// How a finding's source is counted in a jail.
enum Target {
    /// One key: the address (prefix length = host) or its untrusted prefix.
    One(IpNet),
    /// A prefix holding a trusted address: the prefix's count (hostility) and the address's.
    Guarded { prefix: IpNet, host: IpNet },
}

/// The jails, with every source's counters.
pub struct JailSet {
    jails: Vec<Jail>,
    trusted: TrustedSet,
    counters: Vec<Counters>,
    open: HashMap<IpAddr, OpenAttempts>,
    next_sweep_ms: i64,
}

/// Open-attempt states kept at most; past it (after a sweep) they are dropped, which can only
/// make a later line of an attempt count again, never hide one.
const OPEN_CAP: usize = 1 << 20;

impl JailSet {
    /// Enabled jails only; `trusted` addresses are never counted.
    pub fn new(jails: Vec<Jail>, trusted: TrustedSet) -> Self {
        let jails: Vec<Jail> = jails
            .into_iter()
            .filter(|j| j.enabled && !j.services.is_empty())
            .collect();
        let counters = jails.iter().map(|_| Counters::default()).collect();
        JailSet {
            jails,
            trusted,
            counters,
            open: HashMap::new(),
            next_sweep_ms: i64::MIN,
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

    /// Each jail's tracked sources, evictions and memory.
    pub fn usage(&self) -> Vec<JailUsage> {
        self.jails
            .iter()
            .zip(&self.counters)
            .map(|(j, c)| JailUsage {
                jail: j.name.clone(),
                tracked: c.map.len(),
                evicted: c.evicted,
                bytes: c.bytes(),
            })
            .collect()
    }

    /// What findings of `ip` are counted under, over every jail: the address and the prefixes
    /// of jails that count prefixes (for looking up stored history before a first finding).
    pub fn counted_as(&self, ip: IpAddr) -> Vec<IpNet> {
        let ip = canonical_ip(ip);
        let mut nets = vec![IpNet::from(ip)];
        for jail in &self.jails {
            let p = prefix_of(jail, ip);
            if !nets.contains(&p) {
                nets.push(p);
            }
        }
        nets
    }

    /// Addresses with open attempts (lines of one attempt still to be joined).
    pub fn open_attempts(&self) -> usize {
        self.open.len()
    }

    fn entry_of(&mut self, jail: &str, net: IpNet) -> Option<&mut Entry> {
        let j = self.jails.iter().position(|x| x.name == jail)?;
        let c = &mut self.counters[j];
        let key = key_of_net(net);
        if !c.map.contains_key(&key) && c.map.len() >= self.jails[j].max_tracked.max(1) {
            c.shed(0, 0, self.jails[j].max_tracked.max(1));
        }
        Some(c.map.entry(key).or_default())
    }

    /// Tells the jail how many bans an address or prefix already served (from the store), so
    /// the next one escalates across restarts.
    pub fn set_prior_bans(&mut self, jail: &str, source: impl Into<IpNet>, bans: u32) {
        if let Some(e) = self.entry_of(jail, source.into()) {
            e.bans = saturate16(bans);
        }
    }

    /// Marks an address or prefix as banned by a jail until `until_ms` (restored bans, manual
    /// bans), so findings during the ban do not decide it again.
    pub fn set_banned_until(&mut self, jail: &str, source: impl Into<IpNet>, until_ms: i64) {
        if let Some(e) = self.entry_of(jail, source.into()) {
            e.banned_until = until_secs(until_ms);
        }
    }

    /// Raises a source's count of served bans in a jail to at least `bans`, never lowers it:
    /// history read from the store in the background may arrive after a live decision already
    /// counted a newer ban (the daemon's seeding, see tg-daemon's pipeline).
    pub fn merge_prior_bans(&mut self, jail: &str, source: impl Into<IpNet>, bans: u32) {
        if let Some(e) = self.entry_of(jail, source.into()) {
            e.bans = e.bans.max(saturate16(bans));
        }
    }

    /// Extends a source's running ban in a jail to at least `until_ms`, never shortens it
    /// (a stored ban read late must not undo a longer live decision).
    pub fn merge_banned_until(&mut self, jail: &str, source: impl Into<IpNet>, until_ms: i64) {
        if let Some(e) = self.entry_of(jail, source.into()) {
            e.banned_until = e.banned_until.max(until_secs(until_ms));
        }
    }

    /// Takes over the counters of `previous`, the set this one replaces on a reload, so a reload
    /// does not give every attacker a fresh start: the windows, running bans and served-ban
    /// counts of jails that still exist (by name) move over, merged with what this set already
    /// knows (the larger count, the later end, this set's window if it has one); open attempts
    /// and eviction counts too. Counters of removed or disabled jails are dropped. A window that
    /// a changed `find_time` or `max_retry` no longer fits is judged by the new settings at the
    /// source's next finding; sources counted under a prefix length that changed start again.
    pub fn carry_over(&mut self, previous: JailSet) {
        let index: HashMap<&str, usize> = self
            .jails
            .iter()
            .enumerate()
            .map(|(i, j)| (j.name.as_str(), i))
            .collect();
        for (old, theirs) in previous.jails.iter().zip(previous.counters) {
            let Some(&here) = index.get(old.name.as_str()) else {
                continue;
            };
            let mine = &mut self.counters[here];
            mine.evicted += theirs.evicted;
            let mut spill = theirs.spill;
            for (key, e) in theirs.map {
                let m = mine.map.entry(key).or_default();
                m.bans = m.bans.max(e.bans);
                m.banned_until = m.banned_until.max(e.banned_until);
                if m.len == 0 {
                    m.times = e.times;
                    m.len = e.len;
                    if let Some(w) = spill.remove(&key) {
                        mine.spill.insert(key, w);
                    }
                }
            }
        }
        for (ip, a) in previous.open {
            self.open.entry(ip).or_insert(a);
        }
    }

    /// Forgets that an address or prefix is banned (manual unban): it starts from a clean
    /// window, and so does the prefix an address is counted under.
    pub fn unbanned(&mut self, source: impl Into<IpNet>) {
        let net = source.into().trunc();
        for (j, jail) in self.jails.iter().enumerate() {
            let mut keys = vec![key_of_net(net)];
            if net.prefix_len() == net.max_prefix_len() {
                keys.push(key_of_net(prefix_of(jail, net.addr())));
            }
            let c = &mut self.counters[j];
            for key in keys {
                if let Some(e) = c.map.get_mut(&key) {
                    e.banned_until = 0;
                    e.len = 0;
                    c.spill.remove(&key);
                }
            }
        }
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
        if let Some(part) = f.attempt {
            self.sweep_attempts(f.time_ms);
            if !self.open.entry(ip).or_default().admit(part, f.time_ms) {
                return Observation::default();
            }
        }
        let mut obs = Observation::default();
        for j in 0..self.jails.len() {
            if !self.jails[j].services.contains(&f.service) {
                continue;
            }
            obs.counted = true;
            let target = self.target(j, ip);
            if let Some(d) = self.count(j, target, f) {
                obs.decisions.push(d);
            }
        }
        obs
    }

    /// What a finding of `ip` counts under in jail `j`.
    fn target(&self, j: usize, ip: IpAddr) -> Target {
        let prefix = prefix_of(&self.jails[j], ip);
        let host = IpNet::from(ip);
        if prefix.prefix_len() == host.prefix_len() {
            Target::One(host)
        } else if self.trusted.overlaps(prefix) {
            Target::Guarded { prefix, host }
        } else {
            Target::One(prefix)
        }
    }

    fn count(&mut self, j: usize, target: Target, f: &Finding) -> Option<Decision> {
        let jail = &self.jails[j];
        let c = &mut self.counters[j];
        let t = secs(f.time_ms);
        let (net, hostile) = match target {
            Target::One(net) => (net, false),
            Target::Guarded { prefix, host } => {
                // The prefix's own count says whether it is hostile; it is never banned.
                let mut hostile = false;
                if prefix.network() != host.addr() {
                    let key = key_of_net(prefix);
                    let e = c.slot(key, t, jail);
                    if t < e.banned_until {
                        hostile = true;
                    } else if c.push(key, t, jail) >= jail.max_retry as usize {
                        let e = c.map.entry(key).or_default();
                        e.bans = e.bans.saturating_add(1);
                        let secs = escalate(jail, u32::from(e.bans));
                        e.banned_until = until_secs(ms_after(f.time_ms, secs));
                        c.clear_window(key);
                        hostile = true;
                    }
                }
                (host, hostile)
            }
        };
        let key = key_of_net(net);
        if t < c.slot(key, t, jail).banned_until {
            return None;
        }
        let n = c.push(key, t, jail);
        if n < jail.max_retry as usize && !hostile {
            return None;
        }
        let e = c.map.entry(key).or_default();
        e.bans = e.bans.saturating_add(1);
        let ban_secs = escalate(jail, u32::from(e.bans));
        e.banned_until = until_secs(ms_after(f.time_ms, ban_secs));
        let ban_number = u32::from(e.bans);
        c.clear_window(key);
        Some(Decision {
            net,
            jail: jail.name.clone(),
            at_ms: f.time_ms,
            ban_secs,
            count: u32::try_from(n).unwrap_or(u32::MAX),
            ban_number,
            service: f.service,
            kind: f.kind,
        })
    }

    /// Forgets open attempts no line can join any more, once per [`MERGE_MS`] of log time
    /// (kept until `MERGE_MS` after they could last be joined, for files read out of step).
    fn sweep_attempts(&mut self, now_ms: i64) {
        if now_ms < self.next_sweep_ms && self.open.len() < OPEN_CAP {
            return;
        }
        let horizon = now_ms.saturating_sub(MERGE_MS);
        self.open.retain(|_, o| !o.expire(horizon));
        if self.open.len() >= OPEN_CAP {
            self.open.clear();
        }
        self.open.shrink_to(self.open.len().saturating_mul(2));
        self.next_sweep_ms = now_ms.saturating_add(MERGE_MS);
    }

    /// Drops counters that can no longer matter at log time `now_ms` (windows past
    /// `find_time`, no running ban, no ban served) and open attempts no line can join.
    pub fn prune(&mut self, now_ms: i64) {
        let now = secs(now_ms);
        for (jail, c) in self.jails.iter().zip(self.counters.iter_mut()) {
            c.forget_stale(now, jail.find_time);
        }
        self.open.retain(|_, o| !o.expire(now_ms));
    }
}

impl Counters {
    /// The entry of `key`, made room for (see the module docs) when it is new.
    fn slot(&mut self, key: Key, now: u32, jail: &Jail) -> &mut Entry {
        let cap = jail.max_tracked.max(1);
        if self.map.len() >= cap && !self.map.contains_key(&key) {
            self.shed(now, jail.find_time, cap);
        }
        self.map.entry(key).or_default()
    }

    /// Adds a finding at `t` to `key`'s window, dropping findings at or before
    /// `t - find_time`; returns the findings in the window. The entry exists (see `slot`).
    fn push(&mut self, key: Key, t: u32, jail: &Jail) -> usize {
        let start = i64::from(t) - jail.find_time.min(u64::from(u32::MAX)) as i64;
        let old = |x: &u32| i64::from(*x) <= start;
        let Some(e) = self.map.get_mut(&key) else {
            return 0;
        };
        if e.spilled() {
            let w = self.spill.entry(key).or_default();
            while w.front().is_some_and(old) {
                w.pop_front();
            }
            w.push_back(t);
            let n = w.len();
            if n <= INLINE {
                e.times[..n].copy_from_slice(&w.make_contiguous()[..n]);
                self.spill.remove(&key);
            }
            e.len = saturate16(n as u32);
            return n;
        }
        let len = usize::from(e.len);
        let drop = e.times[..len].iter().take_while(|x| old(x)).count();
        e.times.copy_within(drop..len, 0);
        let n = len - drop;
        if n < INLINE {
            e.times[n] = t;
            e.len = (n + 1) as u16;
            return n + 1;
        }
        let mut w = VecDeque::with_capacity(2 * INLINE);
        w.extend(&e.times[..n]);
        w.push_back(t);
        e.len = saturate16(w.len() as u32);
        self.spill.insert(key, w);
        n + 1
    }

    fn clear_window(&mut self, key: Key) {
        if let Some(e) = self.map.get_mut(&key) {
            e.len = 0;
        }
        self.spill.remove(&key);
    }

    /// The newest finding in `key`'s window.
    fn newest(spill: &HashMap<Key, VecDeque<u32>>, key: &Key, e: &Entry) -> Option<u32> {
        if e.spilled() {
            spill.get(key).and_then(|w| w.back().copied())
        } else {
            e.times[..usize::from(e.len)].last().copied()
        }
    }

    /// Drops entries with nothing left to remember at `now` (not evictions).
    fn forget_stale(&mut self, now: u32, find_time: u64) {
        let start = i64::from(now) - find_time.min(u64::from(u32::MAX)) as i64;
        let Counters { map, spill, .. } = self;
        map.retain(|key, e| {
            let keep = e.bans > 0
                || e.banned_until > now
                || Counters::newest(spill, key, e).is_some_and(|t| i64::from(t) > start);
            if !keep && e.spilled() {
                spill.remove(key);
            }
            keep
        });
    }

    /// Makes room for an eighth of `cap` new sources: forgets stale entries, then evicts the
    /// least threatening (see the module docs), then rebuilds the table at the cap's size.
    fn shed(&mut self, now: u32, find_time: u64, cap: usize) {
        self.forget_stale(now, find_time);
        self.evict(now, cap);
        // Removals leave tombstones that the table only clears by growing (to twice its size,
        // since it is still more than half full): rebuild it at the cap's size instead.
        let old = std::mem::replace(&mut self.map, HashMap::with_capacity(cap));
        self.map.extend(old);
    }

    /// Evicts the least threatening entries down to seven eighths of `cap`.
    fn evict(&mut self, now: u32, cap: usize) {
        let room = cap - (cap / 8).max(1);
        if self.map.len() <= room {
            return;
        }
        let need = self.map.len() - room;
        let level = |e: &Entry| -> u32 {
            if e.banned_until > now {
                u32::MAX
            } else if e.bans > 0 {
                u32::MAX - 1
            } else {
                u32::from(e.len)
            }
        };
        let Counters {
            map,
            spill,
            evicted,
        } = self;
        let age = |spill: &HashMap<Key, VecDeque<u32>>, key: &Key, e: &Entry| {
            Counters::newest(spill, key, e).unwrap_or(e.banned_until)
        };
        let mut histogram: BTreeMap<u32, usize> = BTreeMap::new();
        for e in map.values() {
            *histogram.entry(level(e)).or_default() += 1;
        }
        let mut below = 0;
        let mut cut = u32::MAX;
        for (&l, &n) in &histogram {
            if below + n >= need {
                cut = l;
                break;
            }
            below += n;
        }
        let mut take = need - below;
        let mut ages: Vec<u32> = map
            .iter()
            .filter(|(_, e)| level(e) == cut)
            .map(|(k, e)| age(spill, k, e))
            .collect();
        let threshold = if ages.is_empty() {
            0
        } else {
            let nth = take.clamp(1, ages.len()) - 1;
            *ages.select_nth_unstable(nth).1
        };
        drop(ages);
        map.retain(|key, e| {
            let l = level(e);
            let go = l < cut || (l == cut && take > 0 && age(spill, key, e) <= threshold);
            if go {
                if l == cut {
                    take -= 1;
                }
                if e.spilled() {
                    spill.remove(key);
                }
                *evicted += 1;
            }
            !go
        });
    }

    /// The tables' heap size, estimated from their capacities.
    fn bytes(&self) -> usize {
        fn table<K, V>(m: &HashMap<K, V>) -> usize {
            let slots = match m.capacity() {
                0 => 0,
                c if c < 8 => c + 1,
                c => (c * 8 / 7).next_power_of_two(),
            };
            slots * (std::mem::size_of::<(K, V)>() + 1)
        }
        table(&self.map)
            + table(&self.spill)
            + self.spill.values().map(|w| w.capacity() * 4).sum::<usize>()
    }
}

/// The network `ip` is counted under in `jail` (its `prefix_v4` / `prefix_v6`).
fn prefix_of(jail: &Jail, ip: IpAddr) -> IpNet {
    let len = match ip {
        IpAddr::V4(_) => jail.prefix_v4.min(32),
        IpAddr::V6(_) => jail.prefix_v6.min(128),
    };
    IpNet::new(ip, len).map_or(IpNet::from(ip), |n| n.trunc())
}

/// The key of a network (its network address; an address is a host network).
fn key_of_net(net: IpNet) -> Key {
    let v6 = match canonical_ip(net.network()) {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    let o = v6.octets();
    std::array::from_fn(|i| {
        u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]])
    })
}

/// The address of a key (for tests and listings).
#[cfg(test)]
fn ip_of_key(key: Key) -> IpAddr {
    let mut o = [0u8; 16];
    for (i, w) in key.iter().enumerate() {
        o[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
    }
    canonical_ip(IpAddr::V6(std::net::Ipv6Addr::from(o)))
}

/// A log time in whole Unix seconds (times before 1970 count as 1970).
fn secs(ms: i64) -> u32 {
    u32::try_from(ms.div_euclid(1000).max(0)).unwrap_or(u32::MAX)
}

/// A ban's end in Unix seconds, rounded up, so a ban never ends early.
fn until_secs(ms: i64) -> u32 {
    u32::try_from(ms.saturating_add(999).div_euclid(1000).max(0)).unwrap_or(u32::MAX)
}

fn ms_after(ms: i64, secs: u64) -> i64 {
    ms.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000))
}

fn saturate16(n: u32) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
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
        // IPv6 is counted (and its history kept) per /64.
        js.set_prior_bans("sip", "2001:db8::/64".parse::<IpNet>().unwrap(), 20);
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
            // One address in each of 10,000 /64s: one finding per counted prefix.
            let ip = std::net::Ipv6Addr::from(
                0x2001_0db8_0000_0000_0000_0000_0000_0001u128 + (u128::from(i) << 64),
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
        assert_eq!(js.open_attempts(), 0);
        let tracked: usize = js.usage().iter().map(|u| u.tracked).sum();
        assert_eq!(tracked, 1, "only the banned address is kept");
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
        let mut counted = 0;
        for n in 0..4 {
            for f in guess("198.51.100.188", n as i64 * 212, b"5062", n) {
                let o = js.observe(&f);
                assert!(o.decisions.is_empty(), "typo {}", n + 1);
                counted += usize::from(o.counted);
            }
        }
        assert_eq!(counted, 4);
    }

    fn jail_with(f: impl Fn(&mut Jail)) -> JailSet {
        let mut jails = tg_config::jail::builtin_jails();
        jails.retain(|j| j.name == "sip");
        f(&mut jails[0]);
        JailSet::new(jails, TrustedSet::new())
    }

    fn v6(n: u128) -> String {
        std::net::Ipv6Addr::from(n).to_string()
    }

    #[test]
    fn an_attacker_rotating_addresses_in_its_64_is_banned_as_the_64() {
        let mut js = jailset(&[]);
        let base = 0x2001_0db8_0001_0002_0000_0000_0000_0000u128;
        let mut decisions = Vec::new();
        for i in 0..5u128 {
            decisions.extend(
                js.observe(&sip(&v6(base + i * 7919 + 1), i as i64))
                    .decisions,
            );
        }
        assert_eq!(decisions.len(), 1, "one ban after max_retry findings");
        let d = &decisions[0];
        assert_eq!(d.net, "2001:db8:1:2::/64".parse::<IpNet>().unwrap());
        assert!(d.is_prefix());
        assert_eq!((d.count, d.ban_secs), (5, 3600));
        // Banned: further addresses of the /64 decide nothing; a neighbouring /64 is apart.
        assert!(js.observe(&sip(&v6(base + 99), 6)).decisions.is_empty());
        let next = 0x2001_0db8_0001_0003_0000_0000_0000_0001u128;
        for i in 0..4 {
            assert!(js.observe(&sip(&v6(next), 10 + i)).decisions.is_empty());
        }
        // IPv4 is per address by default, per prefix_v4 when set.
        for i in 0..20 {
            let ip = format!("198.51.100.{}", i + 1);
            assert!(js.observe(&sip(&ip, i)).decisions.is_empty(), "{ip}");
        }
        let mut js = jail_with(|j| j.prefix_v4 = 24);
        let d: Vec<Decision> = (0..5)
            .flat_map(|i| {
                js.observe(&sip(&format!("198.51.100.{}", i + 1), i))
                    .decisions
            })
            .collect();
        assert_eq!(d[0].net, "198.51.100.0/24".parse::<IpNet>().unwrap());
        // prefix_v6 = 128: single addresses again.
        let mut js = jail_with(|j| j.prefix_v6 = 128);
        for i in 0..20u128 {
            assert!(js.observe(&sip(&v6(base + i), 0)).decisions.is_empty());
        }
        let d: Vec<Decision> = (0..5)
            .flat_map(|i| js.observe(&sip(&v6(base + 1), i)).decisions)
            .collect();
        assert_eq!(d[0].net, "2001:db8:1:2::1/128".parse::<IpNet>().unwrap());
        assert!(!d[0].is_prefix());
    }

    #[test]
    fn a_64_holding_a_trusted_address_bans_its_addresses_never_the_prefix() {
        let mut js = jailset(&["2001:db8:1:2::5/128"]);
        let base = 0x2001_0db8_0001_0002_0000_0000_0000_0000u128;
        let mut decisions = Vec::new();
        // Four attackers rotate; none alone reaches max_retry.
        for i in 0..4u128 {
            decisions.extend(js.observe(&sip(&v6(base + 100 + i), i as i64)).decisions);
        }
        assert!(decisions.is_empty());
        // The fifth finding makes the prefix hostile: its sender is banned alone, and so is
        // every further untrusted address of the prefix at its first finding.
        let fifth = js.observe(&sip(&v6(base + 104), 4)).decisions;
        assert_eq!(fifth.len(), 1);
        assert_eq!(
            fifth[0].net,
            IpNet::from(v6(base + 104).parse::<IpAddr>().unwrap())
        );
        let later = js.observe(&sip(&v6(base + 200), 5)).decisions;
        assert_eq!(later[0].net.prefix_len(), 128);
        assert_eq!(later[0].count, 1);
        let again = js.observe(&sip(&v6(base + 100), 6)).decisions;
        assert_eq!(again.len(), 1, "an earlier rotator, at its next finding");
        // The trusted address is never counted, and no decision ever names the /64.
        let t = js.observe(&sip("2001:db8:1:2::5", 7));
        assert!(t.trusted && t.decisions.is_empty());
        for i in 0..50u128 {
            for d in js
                .observe(&sip(&v6(base + 1000 + i), 8 + i as i64))
                .decisions
            {
                assert!(!d.is_prefix());
            }
        }
    }

    #[test]
    fn the_cap_evicts_the_fewest_findings_then_the_oldest_and_counts_it() {
        let mut js = jail_with(|j| j.max_tracked = 1000);
        // A real attacker (3 of 5 guesses), a banned one, then a flood of one-off addresses.
        for t in 0..3 {
            js.observe(&sip("198.51.100.7", t));
        }
        for t in 0..5 {
            js.observe(&sip("198.51.100.8", t));
        }
        for i in 0..5000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            js.observe(&Finding {
                ip: IpAddr::V4(ip),
                ..sip("198.51.100.1", 10 + i64::from(i) / 100)
            });
        }
        let u = &js.usage()[0];
        assert!(u.tracked <= 1000, "{} tracked", u.tracked);
        // Rebuilt at the cap's size after each eviction, never grown past it by tombstones.
        assert!(u.bytes <= 2048 * 37 + 1024, "{} bytes", u.bytes);
        assert_eq!(u.evicted as usize, 5000 + 2 - u.tracked);
        let kept: Vec<IpAddr> = js.counters[0].map.keys().map(|k| ip_of_key(*k)).collect();
        assert!(
            kept.contains(&"198.51.100.7".parse().unwrap()),
            "3 findings outrank 1"
        );
        assert!(
            kept.contains(&"198.51.100.8".parse().unwrap()),
            "a running ban stays"
        );
        // Among the one-off addresses the newest stayed.
        assert!(
            kept.contains(&"10.0.19.135".parse().unwrap()),
            "the last one"
        );
        assert!(
            !kept.contains(&"10.0.0.0".parse().unwrap()),
            "the first one"
        );
        // The attacker's window survived: two more guesses ban it.
        js.observe(&sip("198.51.100.7", 100));
        let d = js.observe(&sip("198.51.100.7", 101)).decisions;
        assert_eq!(d[0].count, 5);
        assert!(js.observe(&sip("198.51.100.8", 102)).decisions.is_empty());
    }

    #[test]
    fn a_slot_is_36_bytes_and_long_windows_spill_and_come_back() {
        assert_eq!(std::mem::size_of::<(Key, Entry)>(), 36);
        let mut js = jail_with(|j| {
            j.max_retry = 12;
            j.find_time = 100;
        });
        // Nine findings, then the first ones leave the window: inline again.
        for t in 0..9 {
            assert!(js.observe(&sip("198.51.100.9", t)).decisions.is_empty());
        }
        assert_eq!(js.counters[0].spill.len(), 1);
        for t in 0..2 {
            js.observe(&sip("198.51.100.9", 200 + t));
        }
        assert!(js.counters[0].spill.is_empty());
        let d: Vec<Decision> = (0..10)
            .flat_map(|t| js.observe(&sip("198.51.100.9", 210 + t)).decisions)
            .collect();
        assert_eq!((d.len(), d[0].count), (1, 12));
        assert!(js.counters[0].spill.is_empty(), "a ban clears the window");
    }
}
