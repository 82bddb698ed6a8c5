//! The configuration file (`/etc/tollguard/tollguard.toml`), parsed and validated without I/O
//! beyond reading the text.
//!
//! One file configures every part; each part owns one section module here:
//! `[daemon]` ([`daemon`]), `[trusted]` ([`trusted`]), `[jail.NAME]` ([`jail`]),
//! `[[detector]]` ([`detector`]), `[firewall]` ([`firewall`]), `[calls]` and `[alerts]`
//! ([`calls`]). Unknown keys are errors that name the key and line. Validation is pure and
//! collects every error, not just the first. Reading the file, and the secret files it names,
//! checks their owner and mode first when running as root (`file`).

pub mod calls;
pub mod daemon;
pub mod detector;
mod duration;
mod file;
pub mod firewall;
pub mod jail;
pub mod trusted;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use duration::Secs;

/// The whole configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[daemon]`: where state lives, the control socket, the firewall backend.
    #[serde(default)]
    pub daemon: daemon::DaemonConfig,
    /// `[trusted]`: addresses, networks and host names that are never banned.
    #[serde(default)]
    pub trusted: trusted::TrustedConfig,
    /// `[jail.NAME]`: the user's jails, merged over the built-in ones by [`Config::jails`].
    #[serde(default)]
    pub jail: std::collections::BTreeMap<String, jail::JailSection>,
    /// `[[detector]]`: custom `<HOST>` patterns for services tollguard does not know.
    #[serde(default)]
    pub detector: Vec<detector::CustomDetector>,
    /// `[firewall]`: the declarative firewall policy.
    #[serde(default)]
    pub firewall: Option<firewall::FirewallConfig>,
    /// `[calls]`: call-record analysis and the live call guard.
    #[serde(default)]
    pub calls: Option<calls::CallsConfig>,
    /// `[alerts]`: where alarms and ban notices are sent.
    #[serde(default)]
    pub alerts: Option<calls::AlertsConfig>,
}

/// A configuration that could not be used. Each problem names the file, line and key.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The file the text came from.
    pub path: PathBuf,
    /// Every problem found, in file order where the line is known.
    pub problems: Vec<Problem>,
}

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The key, dotted (`jail.sip.max_retry`), when known.
    pub key: Option<String>,
    /// What is wrong, in a sentence.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.path.display())?;
            if let Some(line) = p.line {
                write!(f, ":{line}")?;
            }
            if let Some(key) = &p.key {
                write!(f, ": {key}")?;
            }
            write!(f, ": {}", p.message)?;
        }
        Ok(())
    }
}

impl Config {
    /// Reads and validates a configuration file, and the secret files it names. Run as root,
    /// a file not owned by root or writable by others is refused (see `file`).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with_text(path).map(|(config, _)| config)
    }

    /// [`Config::load`], with the file's text (the firewall compiles from it).
    pub fn load_with_text(path: &Path) -> Result<(Config, String), ConfigError> {
        let fail = |key: Option<&str>, line, message| ConfigError {
            path: path.to_path_buf(),
            problems: vec![Problem {
                line,
                key: key.map(str::to_string),
                message,
            }],
        };
        let text =
            file::read_checked(path, file::Purpose::Config).map_err(|m| fail(None, None, m))?;
        let mut config = Config::parse(&text, path)?;
        if let Some(ami) = config.calls.as_mut().and_then(|c| c.ami.as_mut()) {
            if let Some(secret_file) = &ami.secret_file {
                let key = Some("calls.ami.secret_file");
                let line = Some(line_of(&text, secret_file.span().start));
                let at = secret_file.get_ref();
                let read = file::read_checked(at, file::Purpose::Secret)
                    .map_err(|m| fail(key, line, format!("{}: {m}", at.display())))?;
                let secret = read.strip_suffix('\n').unwrap_or(&read);
                let secret = secret.strip_suffix('\r').unwrap_or(secret);
                if secret.is_empty() || secret.contains(['\r', '\n']) {
                    return Err(fail(
                        key,
                        line,
                        format!("{}: must hold the secret on one line", at.display()),
                    ));
                }
                ami.secret = secret.to_string();
            }
        }
        Ok((config, text))
    }

    /// Parses and validates configuration text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let fail = |problems| ConfigError {
            path: path.to_path_buf(),
            problems,
        };
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            let message = e.message().to_string();
            fail(vec![Problem {
                line,
                key: None,
                message,
            }])
        })?;
        let mut problems = Vec::new();
        config.validate(text, &mut problems);
        if problems.is_empty() {
            Ok(config)
        } else {
            problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
            Err(fail(problems))
        }
    }

    fn validate(&self, text: &str, problems: &mut Vec<Problem>) {
        self.daemon.validate(text, problems);
        self.trusted.validate(text, problems);
        for (name, section) in &self.jail {
            section.validate(name, text, problems);
        }
        for d in &self.detector {
            d.validate(text, problems);
        }
        if let Some(fw) = &self.firewall {
            fw.validate(text, problems);
        }
        if let Some(calls) = &self.calls {
            calls.validate(text, problems);
        }
        if let Some(alerts) = &self.alerts {
            alerts.validate(text, problems);
        }
    }

    /// The effective jails: the built-in ones, overridden field by field by the user's.
    pub fn jails(&self) -> Vec<jail::Jail> {
        jail::effective_jails(&self.jail)
    }

    /// Settings that work but weaken what tollguard can promise, one sentence each, for the
    /// daemon to print at start. Today: journal matches on fields the logging program sets
    /// itself (`SYSLOG_IDENTIFIER`, `MESSAGE`…), which any local user can forge (`logger -t
    /// sshd '… from X port 22'`, or `SYSLOG_IDENTIFIER=sshd` over the journal socket) to get an
    /// innocent address banned. journald's own fields start with `_`.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for jail in self.jails().iter().filter(|j| j.enabled) {
            for m in &jail.journal {
                let field = m.split_once('=').map_or(m.as_str(), |(f, _)| f);
                if !field.starts_with('_') {
                    out.push(format!(
                        "jail.{}: journal match {m:?} is on a field the logging program sets \
                         itself, so any local user can write entries it matches and get an \
                         address banned; match journald's trusted fields instead \
                         (_SYSTEMD_UNIT=, _COMM= or _EXE=)",
                        jail.name
                    ));
                }
            }
        }
        out
    }
}

/// The 1-based line holding byte offset `offset` of `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A [`Problem`] at a span of the text.
pub fn problem_at(
    text: &str,
    span: std::ops::Range<usize>,
    key: impl Into<String>,
    message: impl Into<String>,
) -> Problem {
    Problem {
        line: Some(line_of(text, span.start)),
        key: Some(key.into()),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("t.toml"))
    }

    #[test]
    fn the_ami_secret_comes_from_a_root_only_file_and_never_holds_a_line_break() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("ami.secret");
        std::fs::write(&secret, "s3cret\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let conf = dir.path().join("tollguard.toml");
        let write = |body: &str| std::fs::write(&conf, body).unwrap();
        write(&format!(
            "[calls]\n[calls.ami]\nuser = \"tg\"\nsecret_file = {:?}\n",
            secret
        ));
        let c = Config::load(&conf).unwrap();
        assert_eq!(c.calls.unwrap().ami.unwrap().secret, "s3cret");
        // Readable by others: refused, at the key's line, without the secret in the message.
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Config::load(&conf).unwrap_err().to_string();
        assert!(e.contains("tollguard.toml:4: calls.ami.secret_file"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&secret, "line1\nline2\n").unwrap();
        let e = Config::load(&conf).unwrap_err().to_string();
        assert!(e.contains("one line") && !e.contains("line1"), "{e}");
        // Both, or a line break in the inline secret: config errors, the secret not echoed.
        let e = parse(&format!(
            "[calls]\n[calls.ami]\nsecret = \"x\"\nsecret_file = {secret:?}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("both set"), "{e}");
        let e = parse("[calls]\n[calls.ami]\nsecret = \"pa\\r\\nAction: Originate\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("calls.ami.secret: contains a line break"), "{e}");
        assert!(!e.contains("Originate"), "{e}");
    }

    #[test]
    fn journal_matches_on_client_set_fields_are_warned_about() {
        let c = parse(
            "[jail.ssh]\njournal = { match = [\"SYSLOG_IDENTIFIER=sshd\", \"_SYSTEMD_UNIT=ssh.service\"] }\n",
        )
        .unwrap();
        let w = c.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("SYSLOG_IDENTIFIER=sshd") && w[0].contains("_SYSTEMD_UNIT="));
        assert!(
            parse("").unwrap().warnings().is_empty(),
            "the defaults are trusted"
        );
    }

    #[test]
    fn empty_config_gives_builtin_jails() {
        let c = parse("").unwrap();
        let names: Vec<_> = c.jails().into_iter().map(|j| j.name).collect();
        for want in ["sip", "iax", "ami", "web", "ssh", "ftp"] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
    }

    #[test]
    fn unknown_key_names_line() {
        let err = parse("[daemon]\nsocket = \"/run/x.sock\"\nbogus = 1\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("t.toml:3"), "{text}");
        assert!(text.contains("bogus"), "{text}");
    }

    #[test]
    fn jail_override_keeps_other_defaults() {
        let c = parse("[jail.sip]\nmax_retry = 3\n").unwrap();
        let sip = c.jails().into_iter().find(|j| j.name == "sip").unwrap();
        assert_eq!(sip.max_retry, 3);
        assert_eq!(sip.find_time, 600);
        assert_eq!(sip.ban_time, 3600);
    }

    #[test]
    fn all_problems_are_collected() {
        let err = parse(
            "[trusted]\naddresses = [\"10.0.0.0/33\", \"not an address!\"]\n\
             [jail.sip]\nmax_retry = 0\nban_time_multiplier = 0\n",
        )
        .unwrap_err();
        assert!(err.problems.len() >= 3, "{err}");
        assert!(err.problems.iter().all(|p| p.line.is_some()), "{err}");
    }

    #[test]
    fn bad_duration_names_line() {
        let err = parse("[jail.ssh]\n\nfind_time = \"10x\"\n").unwrap_err();
        assert!(err.to_string().contains("t.toml:3"), "{err}");
        assert!(err.to_string().contains("10x"), "{err}");
    }
}
