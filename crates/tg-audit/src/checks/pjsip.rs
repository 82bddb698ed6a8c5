//! res_pjsip (`pjsip.conf` and, on FreePBX, its `pjsip.*.conf` includes): auth secrets,
//! endpoints without `auth=`, the `anonymous` endpoint, ACLs. What an endpoint is and does
//! (its context, its auths, whether it is identified by address) is
//! [`tg_asterisk::pjsip`]'s.

use std::collections::{HashMap, HashSet};

use super::{has_acl, is_numeric_name, secret_finding, Ctx, Entrance};
use crate::finding::{Finding, Severity};
use tg_asterisk::conf::Section;
use tg_asterisk::pjsip::{auth_refs, context_of, identified, is_anonymous, of_type};

/// Where res_pjsip lets unauthenticated callers in.
pub fn entrances(ctx: &Ctx) -> Vec<Entrance> {
    let Some(conf) = ctx.pjsip else {
        return Vec::new();
    };
    let ids = identified(conf);
    of_type(conf, "endpoint")
        .filter(|e| auth_refs(e).is_empty())
        .filter(|e| is_anonymous(e) || !ids.contains(&e.name.to_ascii_lowercase()))
        .map(|e| Entrance {
            how: if is_anonymous(e) {
                "PJSIP anonymous endpoint".to_string()
            } else {
                format!("PJSIP endpoint '{}' (no auth)", e.name)
            },
            context: context_of(e),
        })
        .collect()
}

/// Contexts of PJSIP endpoints that authenticate.
pub fn device_contexts(ctx: &Ctx) -> Vec<String> {
    let Some(conf) = ctx.pjsip else {
        return Vec::new();
    };
    of_type(conf, "endpoint")
        .filter(|e| !auth_refs(e).is_empty())
        .map(context_of)
        .collect()
}

/// res_pjsip checks.
pub fn check(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(conf) = ctx.pjsip else { return };
    let ids = identified(conf);
    let global_acl = of_type(conf, "acl").next().is_some();
    let sip_open = ctx.firewall.admits_anyone("sip");
    let mut rated_auths: HashSet<String> = HashSet::new();
    let auths: HashMap<String, &Section> = of_type(conf, "auth")
        .map(|a| (a.name.to_ascii_lowercase(), a))
        .collect();
    for e in of_type(conf, "endpoint") {
        let context = context_of(e);
        let refs = auth_refs(e);
        if refs.is_empty() {
            if is_anonymous(e) {
                if ctx.dials_out(&context) {
                    let f = Finding::new(
                        "pjsip.anonymous",
                        format!("PJSIP anonymous endpoint '{}' takes unmatched calls into '{context}', which can dial out", e.name),
                        format!(
                            "{}: remove the anonymous endpoint, or set context=<a context that only reaches your own extensions>",
                            ctx.show(e.at)
                        ),
                    );
                    out.push(ctx.at(f, e.at));
                }
            } else if !ids.contains(&e.name.to_ascii_lowercase()) {
                let dials = ctx.dials_out(&context);
                let title = if dials {
                    format!("PJSIP endpoint '{}' has no auth= and lands in '{context}', which can dial out", e.name)
                } else {
                    format!(
                        "PJSIP endpoint '{}' has no auth= and no identify: anyone may use it",
                        e.name
                    )
                };
                let f = Finding::new(
                    "pjsip.endpoint.no-auth",
                    title,
                    format!("{}: auth={}-auth (with a [{}-auth] type=auth section holding a strong password)", ctx.show(e.at), e.name, e.name),
                );
                let f = if dials {
                    f
                } else {
                    f.severity(Severity::Medium)
                };
                out.push(ctx.at(f, e.at));
            }
            continue;
        }
        let mut weak = false;
        for r in &refs {
            let Some(auth) = auths.get(&r.to_ascii_lowercase()).copied() else {
                continue;
            };
            let key = auth.name.to_ascii_lowercase();
            if auth.value("auth_type").is_some_and(|t| {
                t.eq_ignore_ascii_case("md5") || t.eq_ignore_ascii_case("google_oauth")
            }) || auth.get("password_digest").is_some()
            {
                continue;
            }
            let mut names = vec![e.name.as_str(), auth.name.as_str()];
            if let Some(u) = auth.value("username") {
                names.push(u);
            }
            if rated_auths.insert(key) {
                weak |= secret_finding(ctx, "pjsip", "PJSIP auth", auth, &names, "password", out)
                    .is_some();
            } else {
                weak |= crate::secrets::weakness(auth.value("password").unwrap_or(""), &names)
                    .is_some();
            }
        }
        if weak && is_numeric_name(&e.name) {
            let f = Finding::new(
                "pjsip.device.numeric-name",
                format!("PJSIP endpoint '{}' is named after its extension and has a weak password", e.name),
                format!(
                    "{}: rename the endpoint to an opaque name (e.g. its MAC address) and keep the extension in the dialplan",
                    ctx.show(e.at)
                ),
            );
            out.push(ctx.at(f, e.at));
        }
        let acl = has_acl(e);
        if !acl && !global_acl && sip_open && !ids.contains(&e.name.to_ascii_lowercase()) {
            let f = Finding::new(
                "pjsip.endpoint.no-acl",
                format!("PJSIP endpoint '{}' accepts requests from any address", e.name),
                format!(
                    "{}: deny=0.0.0.0/0.0.0.0 and permit=<your office or VPN network>/<mask> (or a type=acl section, or restrict SIP in the firewall)",
                    ctx.show(e.at)
                ),
            );
            out.push(ctx.at(f, e.at));
        }
    }
}
