//! Joining the lines of one attempt (see `tg_model::AttemptPart` for what a line says about
//! itself).
//!
//! Per address, a short list of *open* attempts: each remembers its group, when its first line
//! was written and how many lines of each role it holds. A new line
//! - is a **copy** when an open attempt already holds a security event with its identity;
//! - **joins** the oldest open attempt of its group that began at most [`MERGE_MS`] before (or
//!   after: two files are not read in step) and still lacks a line of its role;
//! - otherwise **opens** a new attempt, and only that counts.
//!
//! So `max_retry` guesses sharing one Call-ID open `max_retry` attempts (each guess brings one
//! NOTICE and one event, and an attempt holds one of each), while the three lines of one typo
//! fill one attempt. The window is measured from an attempt's first line, so a stream of lines
//! cannot keep an attempt open by refreshing it.

use tg_model::{AttemptPart, Role};

/// How long after an attempt's first line (on the log's clock) its other lines may come.
/// One attempt's lines are written within milliseconds; security events pass through a queue
/// in Asterisk, so allow for a loaded server.
pub(crate) const MERGE_MS: i64 = 10_000;

/// Open attempts kept per address. A sender with more at once is flooding with its own lines;
/// dropping its oldest open attempt can only make a later line of it count again.
const OPEN_PER_ADDRESS: usize = 16;

/// Security-event identities one attempt remembers (PJSIP's unknown-user attempt writes the
/// most: two `InvalidAccountID` and one `ChallengeResponseFailed`).
const COPIES_PER_ATTEMPT: usize = 3;

#[derive(Clone, Debug)]
struct Open {
    group: u64,
    first_ms: i64,
    filled: [u8; Role::COUNT],
    copies: [Option<u64>; COPIES_PER_ATTEMPT],
}

impl Open {
    fn within(&self, time_ms: i64) -> bool {
        time_ms.saturating_sub(self.first_ms).saturating_abs() <= MERGE_MS
    }

    fn remember(&mut self, copy_of: Option<u64>) {
        if let Some(id) = copy_of {
            if let Some(slot) = self.copies.iter_mut().find(|c| c.is_none()) {
                *slot = Some(id);
            }
        }
    }
}

/// One address's open attempts.
#[derive(Clone, Debug, Default)]
pub(crate) struct OpenAttempts {
    open: Vec<Open>,
}

impl OpenAttempts {
    /// Takes one line; true when it begins a new attempt (and so counts).
    pub(crate) fn admit(&mut self, part: AttemptPart, time_ms: i64) -> bool {
        if let Some(id) = part.copy_of {
            if self
                .open
                .iter()
                .any(|o| o.within(time_ms) && o.copies.contains(&Some(id)))
            {
                return false;
            }
        }
        let role = part.role.index();
        if let Some(o) = self.open.iter_mut().find(|o| {
            o.group == part.group && o.within(time_ms) && o.filled[role] < part.role.per_attempt()
        }) {
            o.filled[role] += 1;
            o.remember(part.copy_of);
            return false;
        }
        if self.open.len() >= OPEN_PER_ADDRESS {
            self.open.remove(0);
        }
        if self.open.capacity() == 0 {
            // Most addresses never have a second attempt open at once.
            self.open.reserve_exact(1);
        }
        let mut o = Open {
            group: part.group,
            first_ms: time_ms,
            filled: [0; Role::COUNT],
            copies: [None; COPIES_PER_ATTEMPT],
        };
        o.filled[role] = 1;
        o.remember(part.copy_of);
        self.open.push(o);
        true
    }

    /// Forgets attempts no line at `now_ms` can join any more; true when none is left.
    pub(crate) fn expire(&mut self, now_ms: i64) -> bool {
        self.open
            .retain(|o| o.within(now_ms) || o.first_ms > now_ms);
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tg_model::{attempt_hash, Kind};

    fn notice(group: &str, kind: Kind) -> AttemptPart {
        AttemptPart {
            group: attempt_hash(&[group.as_bytes()]),
            role: Role::module(kind),
            copy_of: None,
        }
    }

    fn event(group: &str, kind: Kind, id: &str) -> AttemptPart {
        AttemptPart {
            group: attempt_hash(&[group.as_bytes()]),
            role: Role::event(kind),
            copy_of: Some(attempt_hash(&[id.as_bytes()])),
        }
    }

    fn count(lines: &[(AttemptPart, i64)]) -> usize {
        let mut open = OpenAttempts::default();
        lines.iter().filter(|(p, t)| open.admit(*p, *t)).count()
    }

    #[test]
    fn a_typo_written_to_two_files_is_one_attempt() {
        let a = Kind::AuthFailure;
        let typo = |id: &str, t| {
            vec![
                (notice("5062", a), t),
                (event("5062", a, id), t),
                (event("5062", a, id), t),
            ]
        };
        let mut lines = typo("hash1", 0);
        lines.extend(typo("hash2", 212));
        assert_eq!(count(&lines), 2);
        // The security file read after the messages file: copies still count once.
        let (messages, security): (Vec<_>, Vec<_>) =
            lines.iter().enumerate().partition(|(i, _)| i % 3 != 2);
        let reordered: Vec<_> = messages
            .into_iter()
            .chain(security)
            .map(|(_, l)| *l)
            .collect();
        assert_eq!(count(&reordered), 2);
    }

    #[test]
    fn guesses_sharing_a_call_id_are_each_an_attempt() {
        let a = Kind::AuthFailure;
        let mut lines = Vec::new();
        for g in 0..40 {
            let response = format!("response{g}");
            lines.push((notice("callid", a), g * 6));
            lines.push((event("callid", a, &response), g * 6));
            lines.push((event("callid", a, &response), g * 6));
        }
        assert_eq!(count(&lines), 40);
    }

    #[test]
    fn an_unknown_users_answered_challenge_is_one_attempt() {
        // PJSIP: `No matching endpoint` and `InvalidAccountID` for the challenged request and
        // again for its answer, then `Failed to authenticate` and `ChallengeResponseFailed`.
        let (u, a) = (Kind::UnknownAccount, Kind::AuthFailure);
        let attempt = |cid: &str, t: i64| {
            let unknown = Role::module(u).times(2);
            let unknown_event = Role::event(u).times(2);
            let part = |role, copy: Option<&str>| AttemptPart {
                group: attempt_hash(&[cid.as_bytes()]),
                role,
                copy_of: copy.map(|c| attempt_hash(&[c.as_bytes()])),
            };
            vec![
                (part(unknown, None), t),
                (part(unknown_event, Some(&format!("{cid}-1"))), t),
                (part(unknown, None), t + 3),
                (part(unknown_event, Some(&format!("{cid}-2"))), t + 3),
                (notice(cid, a), t + 3),
                (event(cid, a, &format!("{cid}-r")), t + 3),
            ]
        };
        let mut lines = attempt("a", 0);
        lines.extend(attempt("b", 10));
        assert_eq!(count(&lines), 2);
    }

    #[test]
    fn the_window_runs_from_the_first_line() {
        let a = Kind::AuthFailure;
        // A NOTICE, then the matching event 11 s later: too late to be the same attempt.
        assert_eq!(
            count(&[(notice("g", a), 0), (event("g", a, "x"), MERGE_MS + 1)]),
            2
        );
        // Lines of one role every second never keep one attempt open.
        let lines: Vec<_> = (0..30).map(|s| (notice("g", a), s * 1000)).collect();
        assert_eq!(count(&lines), 30);
    }

    #[test]
    fn other_groups_do_not_join() {
        let a = Kind::AuthFailure;
        assert_eq!(count(&[(notice("g1", a), 0), (event("g2", a, "x"), 0)]), 2);
        // Within a group every role may join: AMI's login to a nonexistent user writes two
        // NOTICE lines of two kinds and an event. Which kinds share a group is the detector's
        // word (chan_sip's group holds one kind).
        let u = Kind::UnknownAccount;
        assert_eq!(
            count(&[
                (notice("g", u), 0),
                (notice("g", a), 0),
                (event("g", u, "x"), 0)
            ]),
            1
        );
    }

    #[test]
    fn open_attempts_are_bounded_and_expire() {
        let mut open = OpenAttempts::default();
        for t in 0..1000 {
            assert!(open.admit(notice("g", Kind::AuthFailure), t));
        }
        assert!(open.open.len() <= OPEN_PER_ADDRESS);
        assert!(!open.expire(999 + MERGE_MS));
        assert!(open.expire(999 + MERGE_MS + 1));
    }
}
