//! The CDR report (`tollguard calls report`): call records in; daily volume, destinations by
//! country and fraud alarms out, as text, JSON or a self-contained HTML page.
//!
//! A crate of its own because it is a different job from the live guard (tg-guard): it reads
//! files after the fact, on threads, with no network and no async runtime. What the two share,
//! the dial plan's classifier and the office's clock, is tg-office.
//!
//! - [`cdr`] reads `cdr_csv` records one at a time (every layout, plain or gzip);
//! - [`report`] classifies them (`tg_office::classify`) and aggregates them into bounded
//!   per-day/country/source data and alarms with evidence;
//! - [`render`] (terminal) and [`html`] (SVG charts) print the report.
//!
//! Test data comes from tg-cdr-gen, a dev tool, not from this crate.

pub mod cdr;
pub mod html;
pub mod render;
pub mod report;
