//! chan_sip (`sip.conf`) and chan_iax2 (`iax.conf`): secrets, ACLs, guest calls,
//! `insecure=invite`, `autocreatepeer`, `alwaysauthreject`, IAX `authdebug`.
//!
//! Defaults from the research notes (§3.1, §3.3): `allowguest` yes, `alwaysauthreject` yes
//! since 1.8, peer/user `context` `default`, IAX `authdebug` off in current chan_iax2.

use super::{has_acl, is_loopback, is_numeric_name, secret_finding, Ctx, Entrance};
use crate::finding::Finding;
use tg_asterisk::conf::{is_false, is_true, ConfFile, Section};
use tg_asterisk::sip::{context_of, general_context, is_dynamic, peers};

fn general(conf: &ConfFile) -> Option<&Section> {
    conf.section("general")
}

fn insecure_invite(s: &Section) -> bool {
    s.value("insecure").is_some_and(|v| {
        let v = v.to_ascii_lowercase();
        v.contains("invite") || v == "very"
    })
}

fn allowguest(conf: &ConfFile) -> bool {
    conf.value("general", "allowguest")
        .is_none_or(|e| !is_false(&e.value))
}

/// Where chan_sip lets unauthenticated callers in.
pub fn entrances(ctx: &Ctx) -> Vec<Entrance> {
    let Some(conf) = ctx.sip else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if allowguest(conf) {
        out.push(Entrance {
            how: "SIP guest calls (allowguest)".to_string(),
            context: general_context(conf),
        });
    }
    if conf
        .value("general", "autocreatepeer")
        .is_some_and(|e| is_true(&e.value) || e.value.eq_ignore_ascii_case("persist"))
    {
        out.push(Entrance {
            how: "SIP autocreatepeer".to_string(),
            context: general_context(conf),
        });
    }
    for p in peers(conf) {
        let no_secret =
            p.get("secret").is_none_or(|e| e.value.is_empty()) && p.get("md5secret").is_none();
        if (insecure_invite(p) && !has_acl(p)) || (no_secret && is_dynamic(p)) {
            out.push(Entrance {
                how: format!("SIP peer '{}' (no authentication)", p.name),
                context: context_of(conf, p),
            });
        }
    }
    out
}

/// Contexts of chan_sip devices that authenticate with a secret.
pub fn device_contexts(ctx: &Ctx) -> Vec<String> {
    let Some(conf) = ctx.sip else {
        return Vec::new();
    };
    peers(conf)
        .filter(|p| is_dynamic(p) && p.get("secret").is_some_and(|e| !e.value.is_empty()))
        .map(|p| context_of(conf, p))
        .collect()
}

/// Where chan_iax2 lets unauthenticated callers in (users without a secret).
pub fn iax_entrances(ctx: &Ctx) -> Vec<Entrance> {
    let Some(conf) = ctx.iax else {
        return Vec::new();
    };
    iax_users(conf)
        .filter(|u| iax_unauthenticated(u))
        .map(|u| Entrance {
            how: format!("IAX user '{}' (no secret)", u.name),
            context: context_of(conf, u),
        })
        .collect()
}

/// chan_sip checks.
pub fn check(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(conf) = ctx.sip else { return };
    let g = general(conf);
    let g_at = g.map(|s| s.at);
    let show_general = |key: &str, value: &str| -> String {
        match g_at {
            Some(at) => format!("{} [general]: {key}={value}", ctx.show(at)),
            None => format!("{}: add [general] with {key}={value}", conf.path.display()),
        }
    };

    if allowguest(conf) {
        let context = general_context(conf);
        if ctx.dials_out(&context) {
            let entry = conf.value("general", "allowguest");
            let title = format!(
                "SIP guest calls are accepted (allowguest {}) into context '{context}', which can dial out",
                if entry.is_some() { "is on" } else { "defaults to yes" }
            );
            let fix = match entry {
                Some(e) => format!("{}: allowguest=no", ctx.show(e.at)),
                None => show_general("allowguest", "no"),
            };
            let f = Finding::new("sip.allowguest", title, fix);
            out.push(match entry.map(|e| e.at).or(g_at) {
                Some(at) => ctx.at(f, at),
                None => f.at(conf.path.display().to_string(), None),
            });
        }
    }
    if let Some(e) = conf.value("general", "autocreatepeer") {
        if is_true(&e.value) || e.value.eq_ignore_ascii_case("persist") {
            let f = Finding::new(
                "sip.autocreatepeer",
                "SIP autocreatepeer is on: any user agent may register and call",
                format!("{}: autocreatepeer=no", ctx.show(e.at)),
            );
            out.push(ctx.at(f, e.at));
        }
    }
    if let Some(e) = conf.value("general", "alwaysauthreject") {
        if is_false(&e.value) {
            let f = Finding::new(
                "sip.alwaysauthreject.off",
                "SIP alwaysauthreject is off: failed logins tell scanners which accounts exist",
                format!("{}: alwaysauthreject=yes", ctx.show(e.at)),
            );
            out.push(ctx.at(f, e.at));
        }
    }

    let sip_open = ctx.firewall.admits_anyone("sip");
    for p in peers(conf) {
        let context = context_of(conf, p);
        let secret = p.get("secret");
        let has_md5 = p.get("md5secret").is_some();
        let mut names = vec![p.name.as_str()];
        for k in ["defaultuser", "username", "fromuser", "authuser"] {
            if let Some(v) = p.value(k) {
                names.push(v);
            }
        }
        let mut weak = None;
        let empty = secret.is_none_or(|e| e.value.is_empty());
        if empty && !has_md5 {
            if is_dynamic(p) && !insecure_invite(p) {
                weak = secret_finding(ctx, "sip", "SIP peer", p, &names, "secret", out);
            }
        } else if !empty {
            weak = secret_finding(ctx, "sip", "SIP peer", p, &names, "secret", out);
        }
        if weak.is_some() && is_numeric_name(&p.name) {
            let f = Finding::new(
                "sip.device.numeric-name",
                format!("SIP peer '{}' is named after its extension and has a weak secret", p.name),
                format!(
                    "{}: rename the device to an opaque name (e.g. its MAC address) and keep the extension in the dialplan",
                    ctx.show(p.at)
                ),
            );
            out.push(ctx.at(f, p.at));
        }
        if insecure_invite(p) && !has_acl(p) && ctx.dials_out(&context) {
            if let Some(e) = p.get("insecure") {
                let f = Finding::new(
                    "sip.insecure-invite",
                    format!(
                        "SIP peer '{}' accepts INVITEs without authentication (insecure={}) into '{context}', which can dial out, from any address",
                        p.name, e.value
                    ),
                    format!(
                        "{}: deny=0.0.0.0/0.0.0.0 and permit=<the provider's address>/255.255.255.255 (or remove insecure=invite)",
                        ctx.show(e.at)
                    ),
                );
                out.push(ctx.at(f, e.at));
            }
        }
        if is_dynamic(p) && !has_acl(p) && sip_open && !empty {
            let f = Finding::new(
                "sip.peer.no-acl",
                format!("SIP peer '{}' accepts registrations and calls from any address", p.name),
                format!(
                    "{}: deny=0.0.0.0/0.0.0.0 and permit=<your office or VPN network>/<mask> (or restrict SIP in the firewall)",
                    ctx.show(p.at)
                ),
            );
            out.push(ctx.at(f, p.at));
        }
    }
}

fn iax_users(conf: &ConfFile) -> impl Iterator<Item = &Section> {
    peers(conf).filter(|s| {
        s.value("type")
            .is_some_and(|t| t.eq_ignore_ascii_case("user") || t.eq_ignore_ascii_case("friend"))
    })
}

fn iax_unauthenticated(u: &Section) -> bool {
    let rsa = u.value("auth").is_some_and(|a| a.contains("rsa")) && u.get("inkeys").is_some();
    u.get("secret").is_none_or(|e| e.value.is_empty()) && !rsa
}

/// chan_iax2 checks.
pub fn check_iax(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(conf) = ctx.iax else { return };
    let iax_open = ctx.firewall.admits_anyone("iax");
    let bound_public = conf
        .value("general", "bindaddr")
        .is_none_or(|e| !is_loopback(&e.value));
    let exposed = iax_open && bound_public && peers(conf).next().is_some();
    if exposed {
        let entry = conf.value("general", "authdebug");
        if entry.is_none_or(|e| !is_true(&e.value)) {
            let title = match entry {
                Some(_) => "IAX authdebug is off while IAX is exposed: failed IAX logins are not logged",
                None => "IAX authdebug is not enabled (off by default) while IAX is exposed: failed IAX logins are not logged",
            };
            let at = entry.map(|e| e.at).or(general(conf).map(|s| s.at));
            let fix = match at {
                Some(at) => format!("{} [general]: authdebug=yes", ctx.show(at)),
                None => format!("{}: add [general] with authdebug=yes", conf.path.display()),
            };
            let f = Finding::new("iax.authdebug.off", title, fix);
            out.push(match at {
                Some(at) => ctx.at(f, at),
                None => f.at(conf.path.display().to_string(), None),
            });
        }
    }
    for u in iax_users(conf) {
        let context = context_of(conf, u);
        if iax_unauthenticated(u) {
            if ctx.dials_out(&context) {
                let f = Finding::new(
                    "iax.guest",
                    format!(
                        "IAX user '{}' has no secret and lands in '{context}', which can dial out",
                        u.name
                    ),
                    format!(
                        "{}: remove [{}] or set context=<a context without outbound routes>",
                        ctx.show(u.at),
                        u.name
                    ),
                );
                out.push(ctx.at(f, u.at));
            }
            continue;
        }
        let mut names = vec![u.name.as_str()];
        if let Some(v) = u.value("username") {
            names.push(v);
        }
        secret_finding(ctx, "iax", "IAX user", u, &names, "secret", out);
        if !has_acl(u) && iax_open {
            let f = Finding::new(
                "iax.user.no-acl",
                format!("IAX user '{}' accepts calls from any address", u.name),
                format!(
                    "{}: deny=0.0.0.0/0.0.0.0 and permit=<the peer's network>/<mask>",
                    ctx.show(u.at)
                ),
            );
            out.push(ctx.at(f, u.at));
        }
    }
}
