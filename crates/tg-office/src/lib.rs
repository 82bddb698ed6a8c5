//! The office a PBX serves, as tollguard's two call checkers see it: the CDR report (tg-cdr)
//! after the fact and the live AMI guard (tg-guard) while a call is dialled. Both must agree on
//! where a number goes and what time it is at the office, so that knowledge lives here, below
//! both, rather than in one of them.
//!
//! - [`classify`]: the dialled digits → internal, inbound, national, international, premium,
//!   satellite, and the country (libphonenumber's data, cached by prefix), from the `[calls]`
//!   dial plan (home country, prefixes, inbound contexts).
//! - [`clock`]: UTC → the office's wall clock, daylight saving included, from the system's
//!   time-zone database (read once, when the clock is made).
//! - [`fasthash`]: the FxHash maps (`rustc-hash`) of the classifier's cache and the report's hot
//!   maps.
//!
//! No I/O once built: a [`classify::Classifier`] and a [`clock::OfficeClock`] are plain values.

pub mod classify;
pub mod clock;
pub mod fasthash;
