//! The dialplan (`extensions.conf` and its includes): international and premium patterns
//! reachable without authentication or from every phone, `${EXTEN}` in `Dial()` on open
//! patterns (AST-2010-002), caller text in `System()`/`SHELL()`, and DISA passcodes.

use std::collections::{HashMap, HashSet};

use super::{device_contexts, entrances, Ctx};
use crate::finding::Finding;
use crate::secrets;
use tg_asterisk::conf::Loc;
use tg_asterisk::dialplan::{is_open_ended, Step};

/// Dialplan checks.
pub fn check(ctx: &Ctx, out: &mut Vec<Finding>) {
    international(ctx, out);
    injection(ctx, out);
    disa(ctx, out);
}

fn international(ctx: &Ctx, out: &mut Vec<Finding>) {
    let mut reported: HashSet<Loc> = HashSet::new();
    for entrance in entrances(ctx) {
        for step in ctx.dialplan.international_from(&entrance.context) {
            if !reported.insert(step.at) {
                continue;
            }
            let f = Finding::new(
                "dialplan.international.unauthenticated",
                format!(
                    "Pattern '{}' dials international or premium numbers and is reachable without authentication ({} into '{}')",
                    step.exten, entrance.how, entrance.context
                ),
                format!(
                    "{}: keep this pattern out of '{}' (remove the include or the entrance), e.g. set the entrance's context=<an inbound-only context>",
                    ctx.show(step.at),
                    entrance.context
                ),
            );
            out.push(ctx.at(f, step.at));
        }
    }

    let devices = device_contexts(ctx);
    let distinct: HashSet<String> = devices.iter().map(|c| c.to_ascii_lowercase()).collect();
    if devices.len() < 2 {
        return;
    }
    let mut count: HashMap<Loc, (usize, &Step)> = HashMap::new();
    for c in &distinct {
        for step in ctx.dialplan.international_from(c) {
            count.entry(step.at).or_insert((0, step)).0 += 1;
        }
    }
    let mut every: Vec<&Step> = count
        .values()
        .filter(|(n, _)| *n == distinct.len())
        .map(|(_, s)| *s)
        .collect();
    every.sort_by_key(|s| s.at);
    for step in every {
        if reported.contains(&step.at) {
            continue;
        }
        let f = Finding::new(
            "dialplan.international.every-extension",
            format!(
                "Pattern '{}' dials international or premium numbers and every one of the {} phones reaches it",
                step.exten,
                devices.len()
            ),
            format!(
                "{}: move this pattern to a context only some devices include, or put Authenticate(<PIN>) before the Dial",
                ctx.show(step.at)
            ),
        );
        out.push(ctx.at(f, step.at));
    }
}

/// Removes `FILTER(...)` calls so that only unfiltered variables remain.
fn strip_filters(args: &str) -> String {
    let mut s = args.to_ascii_lowercase();
    while let Some(start) = s.find("filter(") {
        let mut depth = 0i32;
        let mut end = s.len();
        for (i, c) in s[start..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = start + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        s.replace_range(start..end, "");
    }
    s
}

fn injection(ctx: &Ctx, out: &mut Vec<Finding>) {
    for name in &ctx.dialplan.order {
        let Some(c) = ctx.dialplan.context(name) else {
            continue;
        };
        for step in &c.steps {
            let app = step.app.to_ascii_lowercase();
            let args = strip_filters(&step.args);
            // Dial() and Page() split their argument on '&': that is the injection. Goto/Gosub with
            // an odd extension only fail to find it.
            let dialing = matches!(app.as_str(), "dial" | "page");
            if dialing && is_open_ended(&step.exten) && args.contains("${exten") {
                let f = Finding::new(
                    "dialplan.exten-injection",
                    format!(
                        "{}() uses ${{EXTEN}} unfiltered on the open pattern '{}' in context '{name}'",
                        step.app, step.exten
                    ),
                    format!(
                        "{}: use ${{FILTER(0-9+,${{EXTEN}})}} in place of ${{EXTEN}}, or a pattern without '.'/'!'",
                        ctx.show(step.at)
                    ),
                );
                out.push(ctx.at(f, step.at));
            }
            let shell = matches!(app.as_str(), "system" | "trysystem") || args.contains("shell(");
            let untrusted = [
                "${callerid",
                "${exten",
                "${sip_header",
                "${pjsip_header",
                "${calleridname",
                "${calleridnum",
            ]
            .iter()
            .any(|v| args.contains(v));
            if shell && untrusted {
                let f = Finding::new(
                    "dialplan.shell-injection",
                    format!("{}() runs a shell command with caller-controlled text in context '{name}'", step.app),
                    format!(
                        "{}: pass only ${{FILTER(0-9,...)}}-filtered values to the command, or drop the shell call",
                        ctx.show(step.at)
                    ),
                );
                out.push(ctx.at(f, step.at));
            }
        }
    }
}

fn disa(ctx: &Ctx, out: &mut Vec<Finding>) {
    for name in &ctx.dialplan.order {
        let Some(c) = ctx.dialplan.context(name) else {
            continue;
        };
        for step in c
            .steps
            .iter()
            .filter(|s| s.app.eq_ignore_ascii_case("disa"))
        {
            let pass = step.args.split([',', '|']).next().unwrap_or("").trim();
            if pass.eq_ignore_ascii_case("no-password") || pass.is_empty() {
                let f = Finding::new(
                    "dialplan.disa.no-password",
                    format!("DISA in context '{name}' needs no passcode"),
                    format!(
                        "{}: DISA(<a passcode of 8 or more random digits>,<a context without international routes>)",
                        ctx.show(step.at)
                    ),
                );
                out.push(ctx.at(f, step.at));
                continue;
            }
            if pass.starts_with('/') || pass.starts_with('$') {
                continue; // a passcode file or a variable: not rated here
            }
            let weak = pass.len() < 8
                || secrets::is_well_known(&pass.to_ascii_lowercase())
                || secrets::is_repeated_or_sequential(pass);
            if weak {
                let f = Finding::new(
                    "dialplan.disa.weak-password",
                    format!("DISA in context '{name}' has a short or trivial passcode"),
                    format!(
                        "{}: DISA(<a passcode of 8 or more random digits>,...)",
                        ctx.show(step.at)
                    ),
                );
                out.push(ctx.at(f, step.at));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_calls_are_removed() {
        assert_eq!(strip_filters("SIP/t/${FILTER(0-9,${EXTEN})}"), "sip/t/${}");
        assert!(strip_filters("SIP/t/${EXTEN}").contains("${exten"));
    }
}
