//! Sources: where lines come from.
//!
//! `reader` turns files (plain or gzip) and stdin into complete lines for `scan`; `follow`
//! tails live files through rotation for the daemon; `journal` reads the systemd journal.
//! Lines are bytes: invalid UTF-8 is the detectors' business, not a reason to stop.

pub mod follow;
pub mod journal;

pub mod reader;
