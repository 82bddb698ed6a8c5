//! The engine `tollguard scan` and `tollguard run` share: sources → detectors → jails, and the
//! pieces both must do the same way.
//!
//! - [`step`]: the one step from a line to a finding. [`step::detect`] runs the detectors and
//!   handles a `Suspicious` line (the only place, for the daemon's file and journal paths and
//!   for `scan` alike): one naming several candidate addresses goes to the caller's
//!   [`Evidence`] (none for `scan`), which may pick one of them; what stays ambiguous is counted
//!   and handed back ([`Seen::Ambiguous`]) for `scan` to report. [`step::finding`] is the one
//!   `Detection → Finding` conversion, on the stream's own `LogClock`.
//! - [`trusted`]: the one trusted-set builder. Its failure rule is data: the set always, plus
//!   the names that did not resolve; `scan` exits 2 on them, the daemon warns and retries.
//! - [`inputs`] and [`replay`]: the offline engine of `scan`: files (or stdin) opened up front,
//!   rotated copies oldest first, chunks detected on a worker pool, several logs merged by
//!   time, each file on its own clock, one `JailSet` fed in order.
//! - [`report`]: what a replay found, as data ([`Summary`]): per-offender counts, attempts, bans.
//!
//! # Why a crate, and why this one
//! `scan` used to carry an engine of its own in the binary, and the daemon a second copy of the
//! line → finding step, with different rules for `Suspicious` lines and for trusted names that
//! do not resolve. The daemon's live loop (followers, store, enforcer) stays in `tg-daemon`;
//! what both commands must agree on lives here, so they cannot drift apart again.
//!
//! # Boundaries
//! - I/O only through `tg-source` (reading files and stdin) and the system resolver
//!   ([`trusted::resolve_system`]); no terminal, no kernel, no store, no wall clock except the
//!   reference time of stdin's year-less stamps. `tg-detect` and `tg-jail` below it stay free of
//!   I/O.
//! - Prints nothing and decides no exit code: findings go to the caller's `on_event`, progress
//!   to its `on_chunk`, failures come back as data or `thiserror` values. The binary formats.

pub mod inputs;
pub mod replay;
pub mod report;
pub mod step;
pub mod trusted;

pub use inputs::{InputError, Inputs};
pub use replay::Replay;
pub use report::{Event, Summary};
pub use step::{Evidence, NoEvidence, Seen};
