//! Calls: CDR files and live AMI events in; daily volume, destinations by country and fraud
//! alarms out.

pub mod cdr;
pub mod classify;
pub mod clock;
pub mod gen;
pub mod report;
