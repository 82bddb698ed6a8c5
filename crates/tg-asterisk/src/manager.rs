//! The Asterisk Manager Interface (`manager.conf`): whether it is on, where it listens, and
//! its users.
//!
//! Defaults from the research notes (§3.4): `enabled` no, `bindaddr` all interfaces.

use crate::conf::{is_true, ConfFile, Entry, Section};

/// `[general]`'s `enabled`, when it is written and true.
pub fn enabled(conf: &ConfFile) -> Option<&Entry> {
    conf.value("general", "enabled")
        .filter(|e| is_true(&e.value))
}

/// `[general]`'s `bindaddr`, when written (unset: every interface).
pub fn bindaddr(conf: &ConfFile) -> Option<&Entry> {
    conf.value("general", "bindaddr")
}

/// The AMI users: every real section but `[general]`.
pub fn users(conf: &ConfFile) -> impl Iterator<Item = &Section> {
    conf.objects()
        .filter(|s| !s.name.eq_ignore_ascii_case("general"))
}
