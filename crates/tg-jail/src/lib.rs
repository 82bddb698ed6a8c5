//! Jails and decisions: findings in, ban decisions out.
//!
//! A [`JailSet`] counts each address's (or each prefix's: an IPv6 /64 by default) findings per
//! jail on the **log's own clock** (the finding's `time_ms`, never the wall clock), so replaying
//! a week of logs offline decides exactly what the daemon would have decided live. Memory is
//! bounded: each jail tracks at most `max_tracked` sources and evicts the least threatening. Trusted addresses are never counted. A repeat offender's
//! ban grows by the jail's multiplier up to its cap. What is counted is an *attempt*, not a line:
//! the lines one attempt writes (a NOTICE and its security events, in one file or two) are
//! joined first (`attempts`).
//!
//! This crate does no I/O: no files, no clocks, no sockets.

mod attempts;
mod clock;
mod jails;

pub use clock::{civil_to_unix_ms, LogClock};
pub use jails::{Decision, JailSet, JailUsage, Observation};
