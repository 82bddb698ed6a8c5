//! The live AMI call guard (`tollguard calls guard`, and the daemon's guard thread): it follows
//! calls on the Asterisk Manager Interface as they are dialled, hangs up those that break the
//! `[calls.guard]` policies, raises alerts, and hands AMI security events to the daemon's jails.
//!
//! A crate of its own because it is the one part of the calls work that is live, async and on
//! the network; the after-the-fact CDR report is tg-cdr, alert delivery is tg-alert, and the
//! classifier and office clock both judge calls by are tg-office.
//!
//! - [`ami`] speaks the manager protocol and turns security events into findings (with the kind
//!   and attempt `tg_detect` gives their log lines);
//! - [`policy`] decides, without I/O;
//! - [`guard`] connects the two and is what the daemon spawns.

pub mod ami;
pub mod guard;
pub mod policy;

pub use ami::SecurityEvent;
pub use guard::{run_guard, GuardConfig};
