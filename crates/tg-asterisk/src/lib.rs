//! Asterisk's configuration, read once for everyone: the dialect of `main/config.c`
//! (templates, inheritance, `#include` with globs and cycle detection, nested block comments)
//! in [`conf`], the PBX's set of files ([`Pbx`]) and FreePBX's generated files ([`freepbx`]),
//! and the typed views tollguard's parts need: PJSIP endpoints and trunks ([`pjsip`]),
//! chan_sip / IAX peers and trunks ([`sip`]), AMI users ([`manager`]), logger channels
//! ([`logger`]), the RTP ports ([`rtp`]) and the dialplan ([`dialplan`]).
//!
//! ```text
//!  Root (--root DIR, or /) ──► conf::Loader ──► ConfFile ──► pjsip, sip, manager, logger,
//!       pbx::Pbx (asterisk.conf → astetcdir → FILES) ┘                rtp, dialplan
//! ```
//!
//! **No I/O but through [`Root`]:** every file is read through a [`Root`], which maps the
//! machine's paths (`/etc/asterisk/sip.conf`) to where they really are (`--root DIR`); the
//! views are pure functions of parsed files. Nothing here runs a program or writes a file.
//!
//! This is the only reader of Asterisk's configuration dialect in tollguard, so the audit and
//! the firewall read a file the same way. The audit reads strictly (what cannot be a
//! configuration is an error naming file and line); the firewall reads leniently
//! ([`conf::Loader::lenient`]): the same sections, but a broken line is skipped, not fatal.

#![deny(missing_docs)]

pub mod conf;
pub mod dialplan;
pub mod freepbx;
pub mod logger;
pub mod manager;
pub mod pbx;
pub mod pjsip;
pub mod root;
pub mod rtp;
pub mod sip;

pub use pbx::Pbx;
pub use root::Root;

/// A host the configuration names for a trunk (a SIP peer the PBX talks to), and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrunkHost<T> {
    /// The host, as the caller's `accept` turned it (see [`pjsip::trunk_hosts`]).
    pub host: T,
    /// Where it is written (for an inherited value: in the template).
    pub at: conf::Loc,
}
