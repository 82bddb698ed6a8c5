//! One attempt, several lines: how a line says which attempt it belongs to.
//!
//! A password guess against Asterisk is one request answered with a challenge, yet it is logged
//! as several lines: chan_pjsip writes a NOTICE and a `ChallengeResponseFailed` security event,
//! a `messages` channel and a `security` channel both get that event, and the AMI guard sees it
//! a third time. Counting lines would ban an office phone for two typos; merging every line
//! that shares a Call-ID lets a cracker that reuses one Call-ID (SIPVicious' `svcrack`) guess
//! forever. So a line says exactly what it is within an attempt ([`AttemptPart`]), and the jail
//! (`tg_jail`) joins a line to an open attempt only where that attempt still lacks a line of
//! that [`Role`]:
//! - the **group** names what an attempt's lines share: the request's Call-ID and source port
//!   (PJSIP), the source port (chan_sip), the login name (AMI);
//! - the **role** says which line it is (a module's NOTICE or a security event, of which kind)
//!   and how many of it one attempt writes (PJSIP logs `No matching endpoint found` for the
//!   challenged request and again for its answer);
//! - a security event carries its **identity** (event name, `EventTV`, `SessionID`, digest),
//!   the same in every copy, so a copy never counts.
//!
//! Group and identity are keyed hashes ([`attempt_hash`]) with a secret chosen per process:
//! attacker text feeds them (a Call-ID, a user name, a digest), and an unkeyed hash would let an
//! attacker aim for collisions. A sender can only merge or split lines of its *own* address,
//! and never below one count per answered challenge: distinct requests fill the roles of
//! distinct attempts whatever their Call-ID.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use crate::Kind;

/// Where a line stands within an attempt (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttemptPart {
    /// What the lines of one attempt share ([`attempt_hash`] of the request's ids).
    pub group: u64,
    /// Which of the attempt's lines this is.
    pub role: Role,
    /// A security event's identity, the same in every copy of the event (`messages`,
    /// `security`, AMI); `None` for a module's own line, which is never written twice.
    pub copy_of: Option<u64>,
}

/// Which line of an attempt, and how many such lines one attempt writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Role {
    index: u8,
    per_attempt: u8,
}

impl Role {
    /// How many distinct roles there are: a module line and a security event for each kind.
    pub const COUNT: usize = 2 * Kind::ALL.len();

    /// The module's own line (a NOTICE or WARNING) of this kind, once per attempt.
    pub fn module(kind: Kind) -> Role {
        Role {
            index: 2 * kind.index(),
            per_attempt: 1,
        }
    }

    /// A security event of this kind, once per attempt.
    pub fn event(kind: Kind) -> Role {
        Role {
            index: 2 * kind.index() + 1,
            per_attempt: 1,
        }
    }

    /// The same role, written `n` times (at least once) by one attempt.
    pub fn times(self, n: u8) -> Role {
        Role {
            per_attempt: n.max(1),
            ..self
        }
    }

    /// `0..Role::COUNT`.
    pub fn index(self) -> usize {
        usize::from(self.index)
    }

    /// How many lines of this role one attempt writes.
    pub fn per_attempt(self) -> u8 {
        self.per_attempt
    }
}

/// A hash of `parts` (each framed by its length) keyed with this process's secret.
///
/// Stable within one process, which is all that counting needs: `scan` and the daemon each
/// compute every key they compare themselves. SipHash-1-3 from std (`RandomState`), keyed from
/// the OS's randomness once.
pub fn attempt_hash(parts: &[&[u8]]) -> u64 {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    let mut h = KEY.get_or_init(RandomState::new).build_hasher();
    for p in parts {
        h.write_usize(p.len());
        h.write(p);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_distinct_per_kind_and_line() {
        let mut seen = std::collections::HashSet::new();
        for k in Kind::ALL {
            assert!(seen.insert(Role::module(k).index()));
            assert!(seen.insert(Role::event(k).index()));
        }
        assert!(seen.iter().all(|&i| i < Role::COUNT));
        assert_eq!(Role::module(Kind::Flood).times(0).per_attempt(), 1);
        assert_eq!(Role::event(Kind::UnknownAccount).times(2).per_attempt(), 2);
    }

    #[test]
    fn the_hash_frames_its_parts() {
        assert_eq!(attempt_hash(&[b"ab", b"c"]), attempt_hash(&[b"ab", b"c"]));
        assert_ne!(attempt_hash(&[b"ab", b"c"]), attempt_hash(&[b"a", b"bc"]));
        assert_ne!(attempt_hash(&[b"abc"]), attempt_hash(&[b"abc", b""]));
    }
}
