//! res_pjsip (`pjsip.conf` and, on FreePBX, its `pjsip.*.conf` includes): objects by
//! `type=`, auth secrets, endpoints without `auth=`, the `anonymous` endpoint, ACLs.
//!
//! Behaviour from the research notes (§3.2): authentication is only required when the
//! endpoint has an `auth=`; a request matching no endpoint goes to `anonymous` when it
//! exists; endpoint `context` defaults to `default`.

use std::collections::{HashMap, HashSet};

use super::{has_acl, is_numeric_name, secret_finding, Ctx, Entrance};
use crate::finding::{Finding, Severity};
use tg_asterisk::conf::{ConfFile, Section};

fn of_type<'a>(conf: &'a ConfFile, ty: &'a str) -> impl Iterator<Item = &'a Section> + 'a {
    conf.objects()
        .filter(move |s| s.value("type").is_some_and(|t| t.eq_ignore_ascii_case(ty)))
}

fn context_of(s: &Section) -> String {
    s.value("context").unwrap_or("default").to_string()
}

fn auth_refs(s: &Section) -> Vec<String> {
    s.value("auth")
        .map(|v| {
            v.split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Endpoints identified by source address. An `identify` that matches only on a header
/// (`match_header`) or the request URI does not count: the sender writes those.
fn identified(conf: &ConfFile) -> HashSet<String> {
    of_type(conf, "identify")
        .filter(|s| s.get("match").is_some_and(|m| !m.value.is_empty()))
        .filter_map(|s| s.value("endpoint"))
        .map(str::to_ascii_lowercase)
        .collect()
}

fn is_anonymous(s: &Section) -> bool {
    let n = s.name.to_ascii_lowercase();
    n == "anonymous" || n.starts_with("anonymous@")
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use tg_asterisk::conf::{Loader, Sources};
    use tg_asterisk::Root;

    #[test]
    fn header_only_identify_does_not_authenticate() {
        let root = Root::new("/nonexistent");
        let mut sources = Sources::default();
        let mut skipped = Vec::new();
        let mut l = Loader::new(&root, "/etc/asterisk", &mut sources, &mut skipped);
        let conf = l
            .parse_text(
                Path::new("/etc/asterisk/pjsip.conf"),
                b"[a]\ntype=identify\nendpoint=trunk-a\nmatch=203.0.113.5\n\
                  [b]\ntype=identify\nendpoint=trunk-b\nmatch_header=X-Trunk: b\n",
            )
            .unwrap();
        let ids = identified(&conf);
        assert!(ids.contains("trunk-a"));
        assert!(!ids.contains("trunk-b"));
    }
}
