//! The checks: each module reads one part of the parsed configuration (or the host) and
//! pushes [`Finding`]s. They share [`Ctx`], which holds everything already parsed, and the
//! answers several checks need: which contexts dial out, and whether the firewall admits a
//! service from anywhere.

pub mod dialplan;
pub mod host;
pub mod manager;
pub mod pjsip;
pub mod rulesfile;
pub mod sip;
pub mod version;
pub mod voicemail;

use crate::finding::Finding;
use crate::secrets::{self, Weakness};
use tg_asterisk::conf::{ConfFile, Loc, Section, Sources};
use tg_asterisk::dialplan::Dialplan;

/// Everything the checks read.
pub struct Ctx<'a> {
    /// Every file read, for turning a [`Loc`] into a path.
    pub sources: &'a Sources,
    /// `sip.conf` (chan_sip).
    pub sip: Option<&'a ConfFile>,
    /// `pjsip.conf`.
    pub pjsip: Option<&'a ConfFile>,
    /// `iax.conf`.
    pub iax: Option<&'a ConfFile>,
    /// `manager.conf`.
    pub manager: Option<&'a ConfFile>,
    /// `http.conf`.
    pub http: Option<&'a ConfFile>,
    /// `ari.conf`.
    pub ari: Option<&'a ConfFile>,
    /// `voicemail.conf`.
    pub voicemail: Option<&'a ConfFile>,
    /// `logger.conf`.
    pub logger: Option<&'a ConfFile>,
    /// `asterisk.conf`.
    pub asterisk: Option<&'a ConfFile>,
    /// `extensions.conf`, as contexts.
    pub dialplan: &'a Dialplan,
    /// The host's firewall as far as the audit can tell.
    pub firewall: &'a host::Firewall,
}

/// A caller who reaches a context without authenticating.
#[derive(Clone, Debug)]
pub struct Entrance {
    /// How ("SIP guest calls (allowguest)").
    pub how: String,
    /// The context they land in.
    pub context: String,
}

impl Ctx<'_> {
    /// Machine path and line of a location.
    pub fn place(&self, at: Loc) -> (String, Option<u32>) {
        (
            self.sources.path(at.file).display().to_string(),
            Some(at.line),
        )
    }

    /// `path:line` for messages.
    pub fn show(&self, at: Loc) -> String {
        format!("{}:{}", self.sources.path(at.file).display(), at.line)
    }

    /// A finding placed at `at`.
    pub fn at(&self, f: Finding, at: Loc) -> Finding {
        let (file, line) = self.place(at);
        f.at(file, line)
    }

    /// Whether a context (through its includes) dials anything outside the PBX.
    pub fn dials_out(&self, context: &str) -> bool {
        self.dialplan.dials_out(context)
    }
}

/// The contexts unauthenticated callers land in, from every channel driver.
pub fn entrances(ctx: &Ctx) -> Vec<Entrance> {
    let mut out = Vec::new();
    out.extend(sip::entrances(ctx));
    out.extend(pjsip::entrances(ctx));
    out.extend(sip::iax_entrances(ctx));
    out
}

/// The contexts of authenticated devices (phones), from every channel driver.
pub fn device_contexts(ctx: &Ctx) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(sip::device_contexts(ctx));
    out.extend(pjsip::device_contexts(ctx));
    out
}

/// Runs every configuration check.
pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    sip::check(ctx, out);
    sip::check_iax(ctx, out);
    pjsip::check(ctx, out);
    manager::check(ctx, out);
    dialplan::check(ctx, out);
    voicemail::check(ctx, out);
}

/// A secret check shared by every technology: rates `section`'s `fix_key` (`secret`,
/// `password`) and reports `{tech}.secret.{weakness}` at the secret's line (or at the section header when there is no secret). Returns the weakness found.
pub fn secret_finding(
    ctx: &Ctx,
    tech: &'static str,
    what: &str,
    section: &Section,
    names: &[&str],
    fix_key: &str,
    out: &mut Vec<Finding>,
) -> Option<Weakness> {
    let secret = section.get(fix_key);
    let value = secret.map(|e| e.value.as_str()).unwrap_or("");
    let w = secrets::weakness(value, names)?;
    let id = secret_id(tech, w)?;
    let at = secret.map(|e| e.at).unwrap_or(section.at);
    let title = format!("{what} '{}': the {fix_key} {}", section.name, w.phrase());
    let fix = format!(
        "{}: {fix_key}=<at least 16 random characters, e.g. from `openssl rand -base64 18`>",
        ctx.show(at)
    );
    out.push(ctx.at(Finding::new(id, title, fix), at));
    Some(w)
}

fn secret_id(tech: &str, w: Weakness) -> Option<&'static str> {
    crate::finding::RULES.iter().map(|r| r.id).find(|id| {
        id.strip_prefix(tech)
            .and_then(|r| r.strip_prefix(".secret."))
            .is_some_and(|slug| slug == w.slug())
    })
}

/// Whether a listen address is loopback-only (`127.x`, `::1`, `localhost`).
pub fn is_loopback(addr: &str) -> bool {
    let a = addr.trim();
    let host = if let Some(rest) = a.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else if a.matches(':').count() == 1 {
        a.split(':').next().unwrap_or(a)
    } else {
        a
    };
    host.starts_with("127.") || host == "::1" || host.eq_ignore_ascii_case("localhost")
}

/// Whether a section restricts source addresses (`permit`, `deny`, `acl`, any prefix form).
pub fn has_acl(section: &Section) -> bool {
    section.has_any(&["permit", "deny", "acl"])
}

/// All-digit names are what svwar enumerates.
pub fn is_numeric_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses() {
        for a in [
            "127.0.0.1",
            "127.0.0.1:5038",
            "::1",
            "[::1]:8088",
            "localhost",
        ] {
            assert!(is_loopback(a), "{a}");
        }
        for a in ["0.0.0.0", "::", "[::]", "192.0.2.1", "192.0.2.1:5038"] {
            assert!(!is_loopback(a), "{a}");
        }
    }

    #[test]
    fn every_weakness_has_an_id_for_sip() {
        for w in [
            Weakness::Empty,
            Weakness::EqualsUser,
            Weakness::WellKnown,
            Weakness::ContainsUser,
            Weakness::RepeatedOrSequential,
            Weakness::AllDigits,
            Weakness::Short,
        ] {
            assert!(secret_id("sip", w).is_some(), "{w:?}");
        }
        assert!(secret_id("ami", Weakness::Empty).is_none());
    }
}
