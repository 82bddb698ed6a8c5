//! Calls: CDR files and live AMI events in; daily volume, destinations by country and fraud
//! alarms out; a live guard that hangs up fraudulent calls; alerts by email and webhook.
//!
//! - [`cdr`] reads `cdr_csv` records one at a time; [`classify`] says where each call went;
//!   [`report`] aggregates them into bounded per-day/country/source data and alarms;
//!   [`render`] and [`html`] print the report.
//! - [`ami`] speaks the manager protocol; [`policy`] decides (no I/O); [`guard`] connects the
//!   two and is what the daemon spawns.
//! - [`alert`] delivers alerts (SMTP, webhook) with rate limiting and de-duplication.
//! - [`gen`] generates realistic records with injectable fraud, for tests and benchmarks.

pub mod alert;
pub mod ami;
pub mod cdr;
pub mod classify;
pub mod clock;
pub mod fasthash;
pub mod gen;
pub mod guard;
pub mod html;
pub mod policy;
pub mod render;
pub mod report;

pub use alert::{Alert, AlertSender, Notifier};
pub use ami::SecurityEvent;
pub use guard::{run_guard, GuardConfig};
