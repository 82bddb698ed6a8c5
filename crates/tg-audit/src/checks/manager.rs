//! The control surfaces: AMI (`manager.conf`), the HTTP server (`http.conf`), ARI
//! (`ari.conf`), and `asterisk.conf` options that widen them (`live_dangerously`,
//! `execincludes`).
//!
//! Defaults from the research notes (§3.4–3.5, §3.8): AMI `enabled` no, `bindaddr` all
//! interfaces; HTTP `enabled` no, `bindaddr` unset (nothing bound); `live_dangerously` no.

use super::{has_acl, is_loopback, secret_finding, Ctx};
use crate::finding::{Finding, Severity};
use tg_asterisk::conf::{is_true, ConfFile};
use tg_asterisk::manager as ami;

/// Write classes that amount to shell access (the best-practices doc: treat `originate`
/// like `system`).
const DANGEROUS_WRITE: &[&str] = &["system", "command", "originate", "all"];

/// AMI, HTTP, ARI and asterisk.conf checks.
pub fn check(ctx: &Ctx, out: &mut Vec<Finding>) {
    if let Some(conf) = ctx.manager {
        check_ami(ctx, conf, out);
    }
    if let Some(conf) = ctx.http {
        check_http(ctx, conf, out);
    }
    if let Some(conf) = ctx.ari {
        check_ari(ctx, conf, out);
    }
    if let Some(conf) = ctx.asterisk {
        check_options(ctx, conf, out);
    }
}

fn check_ami(ctx: &Ctx, conf: &ConfFile, out: &mut Vec<Finding>) {
    let Some(enabled) = ami::enabled(conf) else {
        return;
    };
    let bind = ami::bindaddr(conf);
    let public = bind.is_none_or(|e| !is_loopback(&e.value));
    let admitted = ctx.firewall.admits_anyone("ami");
    if public && admitted {
        let at = bind.map(|e| e.at).unwrap_or(enabled.at);
        let title = match bind {
            Some(e) => format!("AMI is enabled and bound to {} with no firewall restriction", e.value),
            None => "AMI is enabled and bound to every interface (no bindaddr) with no firewall restriction".to_string(),
        };
        let f = Finding::new(
            "ami.bind.public",
            title,
            format!(
                "{}: bindaddr=127.0.0.1 (reach AMI over SSH or a VPN)",
                ctx.show(at)
            ),
        );
        out.push(ctx.at(f, at));
    }
    for user in ami::users(conf) {
        secret_finding(
            ctx,
            "ami",
            "AMI user",
            user,
            &[user.name.as_str()],
            "secret",
            out,
        );
        if public && !has_acl(user) {
            let f = Finding::new(
                "ami.user.no-permit",
                format!("AMI user '{}' may log in from any address", user.name),
                format!(
                    "{}: deny=0.0.0.0/0.0.0.0 and permit=127.0.0.1/255.255.255.255",
                    ctx.show(user.at)
                ),
            );
            out.push(ctx.at(f, user.at));
        }
        if let Some(w) = user.get("write") {
            let classes: Vec<String> = w
                .value
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .filter(|c| DANGEROUS_WRITE.contains(&c.as_str()))
                .collect();
            if !classes.is_empty() {
                let f = Finding::new(
                    "ami.user.dangerous-write",
                    format!("AMI user '{}' has write={} (shell-level power)", user.name, classes.join(",")),
                    format!(
                        "{}: write=<only the classes the tool needs, e.g. call,reporting> (never system, command, originate or all for integrations)",
                        ctx.show(w.at)
                    ),
                );
                let f = if public {
                    f
                } else {
                    f.severity(Severity::Medium)
                };
                out.push(ctx.at(f, w.at));
            }
        }
    }
}

fn check_http(ctx: &Ctx, conf: &ConfFile, out: &mut Vec<Finding>) {
    let Some(enabled) = conf.value("general", "enabled") else {
        return;
    };
    if !is_true(&enabled.value) {
        return;
    }
    for key in ["bindaddr", "tlsbindaddr"] {
        let Some(bind) = conf.value("general", key) else {
            continue;
        };
        if key == "tlsbindaddr"
            && !conf
                .value("general", "tlsenable")
                .is_some_and(|e| is_true(&e.value))
        {
            continue;
        }
        if is_loopback(&bind.value) {
            continue;
        }
        let admitted = ctx.firewall.admits_anyone("ari");
        let f = Finding::new(
            "http.bind.public",
            format!("Asterisk's HTTP server is enabled on {} ({key})", bind.value),
            format!("{}: {key}=127.0.0.1 (put a reverse proxy with TLS and authentication in front if remote access is needed)", ctx.show(bind.at)),
        );
        let f = if admitted {
            f
        } else {
            f.severity(Severity::Medium)
        };
        out.push(ctx.at(f, bind.at));
    }
}

fn check_ari(ctx: &Ctx, conf: &ConfFile, out: &mut Vec<Finding>) {
    if let Some(origins) = conf.value("general", "allowed_origins") {
        if origins.value.split(',').any(|o| o.trim() == "*") {
            let f = Finding::new(
                "ari.allowed-origins.any",
                "ARI allows cross-origin requests from any web site (allowed_origins=*)",
                format!(
                    "{}: allowed_origins=<the origin of your ARI application>",
                    ctx.show(origins.at)
                ),
            );
            out.push(ctx.at(f, origins.at));
        }
    }
    for user in conf.objects().filter(|s| {
        s.value("type")
            .is_some_and(|t| t.eq_ignore_ascii_case("user"))
    }) {
        if user
            .value("password_format")
            .is_some_and(|f| f.eq_ignore_ascii_case("crypt"))
        {
            continue;
        }
        secret_finding(
            ctx,
            "ari",
            "ARI user",
            user,
            &[user.name.as_str()],
            "password",
            out,
        );
    }
}

fn check_options(ctx: &Ctx, conf: &ConfFile, out: &mut Vec<Finding>) {
    if let Some(e) = conf.value("options", "live_dangerously") {
        if is_true(&e.value) {
            let f = Finding::new(
                "asterisk.live-dangerously",
                "live_dangerously is on: AMI and ARI users can reach SHELL() and FILE()",
                format!("{}: live_dangerously=no", ctx.show(e.at)),
            );
            out.push(ctx.at(f, e.at));
        }
    }
    if let Some(e) = conf.value("options", "execincludes") {
        if is_true(&e.value) {
            let f = Finding::new(
                "asterisk.execincludes",
                "execincludes is on: #exec in any config file runs a program",
                format!("{}: execincludes=no", ctx.show(e.at)),
            );
            out.push(ctx.at(f, e.at));
        }
    }
}
