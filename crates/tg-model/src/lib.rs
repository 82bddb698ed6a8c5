//! The vocabulary every tollguard stage speaks: [`Finding`], [`Service`], [`Kind`],
//! durations ([`parse_duration`], [`format_duration`]), the [`TrustedSet`] and ban targets (one
//! address or a prefix, as an `IpNet`, with their text form: [`net_text`], [`parse_net`]).
//!
//! This crate does no I/O and depends on nothing heavier than `serde` and `ipnet`, so the
//! detectors and jails that build on it stay pure.

mod attempt;
pub mod civil;
mod duration;
mod finding;
mod net;
pub mod text;
mod trusted;

pub use attempt::{attempt_hash, AttemptPart, Role};
pub use duration::{format_duration, parse_duration, DurationError};
pub use finding::{Finding, Kind, Service, Stamp};
pub use net::{canonical_net, is_host, net_text, parse_net};
pub use trusted::{canonical_ip, TrustedSet};
