//! The auditor: an Asterisk/FreePBX configuration tree and the host in, findings with file,
//! line, why and fix out.
//!
//! ```text
//!  --root DIR ──► tg_asterisk (the .conf dialect, dialplan, views) ──► checks ──► Report
//!                                                                    │        (score,
//!                 host (/proc/net, firewall, sshd, apache, rootkits) ┘         findings)
//!                 version (advisory + end-of-life tables)
//! ```
//!
//! Everything is read through [`tg_asterisk::Root`], so `--root DIR` audits a copy exactly
//! as it would audit `/`. Nothing is executed except `/usr/sbin/asterisk -V`, with argv, and only
//! when the root is the real `/` and no version was given.
//!
//! Secrets are read to be rated and never copied into a finding: titles name the object and
//! the weakness, fixes show the config line to write with a placeholder.
//!
//! ## Score
//! 100 minus 25 per critical, 10 per high, 4 per medium and 1 per low finding, never below 0.
//! A PBX scores 100 only when nothing but informational findings remain; one critical
//! finding alone leaves 75, which reads as "not fine".

#![deny(missing_docs)]

pub mod checks;
pub mod finding;
pub mod render;
pub mod secrets;
pub mod version;

use std::path::{Path, PathBuf};

use checks::version::Known;
pub use finding::{Category, Finding, Severity, RULES};
use tg_asterisk::conf::{ConfError, ConfFile};
use tg_asterisk::{dialplan, freepbx, Pbx, Root};

/// What to audit.
#[derive(Clone, Debug)]
pub struct Options {
    /// The directory standing for `/`.
    pub root: PathBuf,
    /// The Asterisk version, if the user gave it.
    pub asterisk_version: Option<String>,
    /// Today (YYYY-MM-DD) for end-of-life decisions; `None` reads the clock.
    pub today: Option<String>,
}

impl Options {
    /// Audit `root` with the version found on the machine and today's date.
    pub fn new(root: impl Into<PathBuf>) -> Options {
        Options {
            root: root.into(),
            asterisk_version: None,
            today: None,
        }
    }
}

/// The audit's result.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// Most severe first, then by file and line.
    pub findings: Vec<Finding>,
    /// 0–100; see the crate docs.
    pub score: u32,
    /// The Asterisk version audited against, if known.
    pub asterisk_version: Option<String>,
    /// The audited root.
    pub root: String,
    /// Every configuration file read (machine paths).
    pub files_read: Vec<String>,
}

impl Report {
    /// Whether any finding is high or critical (exit code 1).
    pub fn needs_action(&self) -> bool {
        self.findings.iter().any(|f| f.severity >= Severity::High)
    }

    /// Number of findings of a severity.
    pub fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }
}

/// Input that cannot be audited; the message names file and line.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A configuration file that is not one.
    #[error(transparent)]
    Config(#[from] ConfError),
    /// The root itself is not a directory.
    #[error("{0}: not a directory")]
    Root(String),
}

/// Runs the audit.
pub fn audit(opts: &Options) -> Result<Report, AuditError> {
    let root = Root::new(&opts.root);
    if !opts.root.is_dir() {
        return Err(AuditError::Root(opts.root.display().to_string()));
    }
    let pbx = Pbx::load(&root)?;
    let get = |name: &str| pbx.file(name);
    let empty = ConfFile::default();
    let dialplan = dialplan::Dialplan::from_conf(get("extensions.conf").unwrap_or(&empty));
    let firewall = checks::host::firewall(&root);

    let ctx = checks::Ctx {
        sources: &pbx.sources,
        sip: get("sip.conf"),
        pjsip: get("pjsip.conf"),
        iax: get("iax.conf"),
        manager: get("manager.conf"),
        http: get("http.conf"),
        ari: get("ari.conf"),
        voicemail: get("voicemail.conf"),
        logger: get("logger.conf"),
        asterisk: get("asterisk.conf"),
        dialplan: &dialplan,
        firewall: &firewall,
    };
    let mut findings = Vec::new();
    checks::run(&ctx, &mut findings);
    for s in &pbx.skipped {
        let f = Finding::new(
            "config.ignored-line",
            format!("Line ignored: {}", s.reason),
            format!(
                "{}: rewrite the line as `name = value`, or delete it",
                ctx.show(s.at)
            ),
        );
        findings.push(ctx.at(f, s.at));
    }

    let known = version_of(&root, opts);
    let today = opts.today.clone().unwrap_or_else(version::today);
    checks::version::check(&known, &today, &mut findings);

    checks::host::check_network(&root, &firewall, &mut findings);
    checks::host::check_ssh(&root, &mut findings);
    checks::host::check_web(&root, &mut findings);
    checks::host::check_rootkits(&root, &mut findings);

    for f in &mut findings {
        if f.file.as_deref().is_some_and(freepbx::is_generated) {
            f.fix.push_str(
                " (FreePBX regenerates this file: make the change in the FreePBX GUI, or override it in the matching *_custom.conf / *_custom_post.conf)",
            );
        }
    }

    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.file.cmp(&b.file))
            .then_with(|| a.line.cmp(&b.line))
            .then_with(|| a.id.cmp(b.id))
            .then_with(|| a.title.cmp(&b.title))
    });
    findings.dedup();
    let penalty: u32 = findings.iter().map(|f| f.severity.penalty()).sum();
    Ok(Report {
        score: 100u32.saturating_sub(penalty),
        asterisk_version: match &known {
            Known::Yes(v, _) => Some(v.clone()),
            Known::No(_) => None,
        },
        // Absolute, so that SARIF's file:// base URI is valid.
        root: std::fs::canonicalize(&opts.root)
            .unwrap_or_else(|_| opts.root.clone())
            .display()
            .to_string(),
        files_read: pbx
            .sources
            .all()
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        findings,
    })
}

/// The version from the options, else from `/usr/sbin/asterisk -V` on the real root.
fn version_of(root: &Root, opts: &Options) -> Known {
    if let Some(v) = &opts.asterisk_version {
        return Known::Yes(v.clone(), "--asterisk-version".to_string());
    }
    if !root.is_host() {
        return Known::No(
            "--root is not /, so the installed binary was not run; pass --asterisk-version"
                .to_string(),
        );
    }
    let bin = Path::new("/usr/sbin/asterisk");
    if !bin.exists() {
        return Known::No("/usr/sbin/asterisk is not installed".to_string());
    }
    match std::process::Command::new(bin).arg("-V").output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
            Known::Yes(text, "/usr/sbin/asterisk -V".to_string())
        }
        Ok(out) => Known::No(format!("/usr/sbin/asterisk -V failed with {}", out.status)),
        Err(e) => Known::No(format!("/usr/sbin/asterisk -V could not run: {e}")),
    }
}
