//! Asterisk's configuration, read once for everyone: the dialect of `main/config.c`
//! (templates, inheritance, `#include` with globs and cycle detection, nested block comments)
//! in [`conf`], and the views of it that tollguard's parts need: the dialplan ([`dialplan`]).
//!
//! ```text
//!  Root (--root DIR or /) ──► conf::Loader ──► ConfFile ──► dialplan::Dialplan
//! ```
//!
//! **No I/O but through [`Root`]:** every file is read through a [`Root`], which maps the
//! machine's paths (`/etc/asterisk/sip.conf`) to where they really are; the views are pure
//! functions of parsed files. Nothing here runs a program or writes a file.
//!
//! This is the only reader of Asterisk's configuration dialect in tollguard: the audit and
//! the firewall read the same file the same way.

#![deny(missing_docs)]

pub mod conf;
pub mod dialplan;
pub mod root;

pub use root::Root;
