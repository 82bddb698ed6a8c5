//! The logger (`logger.conf`): the channels Asterisk writes (files, console, syslog), each
//! with its formatter and levels, and the date format of every line.
//!
//! A channel is `name => [formatter]level,level,…` in `[logfiles]`: `name` is a file under
//! the log directory, an absolute path, `console` or `syslog.facility`; the formatter
//! (`default`, `plain`, `json`) is optional; `*` is every level.

use crate::conf::{ConfFile, Entry, Loc, Section};

/// `logger.conf`, read.
#[derive(Clone, Debug)]
pub struct Logger<'a> {
    /// `[general]`'s `dateformat` (a strftime format), when written.
    pub dateformat: Option<&'a Entry>,
    /// The `[logfiles]` section, when there is one.
    pub logfiles: Option<&'a Section>,
    /// Its channels, in order.
    pub channels: Vec<Channel<'a>>,
}

/// One channel of `[logfiles]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel<'a> {
    /// The file, `console` or `syslog.facility`, as written.
    pub name: &'a str,
    /// The formatter between brackets (`plain`, `json`…), when written.
    pub formatter: Option<&'a str>,
    /// The levels, trimmed and lower-cased (`*` is every level).
    pub levels: Vec<String>,
    /// Where the channel is written.
    pub at: Loc,
}

impl Channel<'_> {
    /// Whether the channel writes `level` (lower case), also through `*`.
    pub fn logs(&self, level: &str) -> bool {
        self.levels.iter().any(|l| l == level || l == "*")
    }
}

impl<'a> Logger<'a> {
    /// Reads the channels and date format of a parsed `logger.conf`.
    pub fn from_conf(conf: &'a ConfFile) -> Logger<'a> {
        let logfiles = conf.section("logfiles");
        let channels = logfiles
            .map(|s| s.entries.iter().map(Channel::from_entry).collect())
            .unwrap_or_default();
        Logger {
            dateformat: conf.value("general", "dateformat"),
            logfiles,
            channels,
        }
    }
}

impl<'a> Channel<'a> {
    fn from_entry(e: &'a Entry) -> Channel<'a> {
        let value = e.value.as_str();
        let (formatter, levels) = match value.find(']') {
            Some(i) if value.starts_with('[') => (Some(value[1..i].trim()), &value[i + 1..]),
            _ => (None, value),
        };
        Channel {
            name: e.key.as_str(),
            formatter,
            levels: levels
                .split(',')
                .map(|l| l.trim().to_ascii_lowercase())
                .collect(),
            at: e.at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::parse_for_test;

    #[test]
    fn channels_with_formatters_levels_and_the_date_format() {
        let conf = parse_for_test(
            "/etc/asterisk/logger.conf",
            b"[general]\ndateformat=%F %T.%3q\n[logfiles]\nconsole => notice,warning\n\
              security => [plain]Security\nfull.json => [json]*\n",
        );
        let logger = Logger::from_conf(&conf);
        assert_eq!(
            logger.dateformat.map(|e| e.value.as_str()),
            Some("%F %T.%3q")
        );
        let c = &logger.channels;
        assert_eq!(c.len(), 3);
        assert_eq!((c[0].name, c[0].formatter), ("console", None));
        assert_eq!(c[0].levels, ["notice", "warning"]);
        assert!(!c[0].logs("security"));
        assert_eq!((c[1].name, c[1].formatter), ("security", Some("plain")));
        assert!(c[1].logs("security"));
        assert_eq!(c[2].formatter, Some("json"));
        assert!(c[2].logs("security"), "* is every level");
        assert_eq!(c[2].at.line, 6);
    }
}
