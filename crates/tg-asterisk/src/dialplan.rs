//! The dialplan (`extensions.conf`) as contexts, extensions and includes, and the questions
//! the checks ask of it: which contexts a context reaches through `include =>` (transitively),
//! and which extensions in them dial international or premium numbers.
//!
//! Pattern matching follows `extensions.conf.sample`: `_` starts a pattern; `X` 0-9, `Z` 1-9,
//! `N` 2-9, `[…]` sets with ranges, `.` one or more further characters, `!` zero or more.

use std::collections::{HashMap, HashSet};

use crate::conf::{ConfFile, Loc};

/// One priority line of an extension.
#[derive(Clone, Debug)]
pub struct Step {
    /// The extension name or pattern (`_00.`, `s`, `100`), callerid match removed.
    pub exten: String,
    /// The application name (`Dial`).
    pub app: String,
    /// The application's arguments, raw.
    pub args: String,
    /// Where.
    pub at: Loc,
}

/// One context (all `[name]` sections with this name, merged as pbx_config does).
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// Priority lines in order.
    pub steps: Vec<Step>,
    /// `include => other` targets, with where they are written.
    pub includes: Vec<(String, Loc)>,
    /// Contexts entered with a caller-chosen extension, `Goto(ctx,${EXTEN},1)`: the caller
    /// can reach every extension there, exactly as through an include.
    pub jumps: Vec<(String, Loc)>,
}

/// The whole dialplan.
#[derive(Clone, Debug, Default)]
pub struct Dialplan {
    /// Contexts by lower-cased name.
    pub contexts: HashMap<String, Context>,
    /// Context names as written, in file order (for stable output).
    pub order: Vec<String>,
}

/// Numbers that, if an outbound pattern accepts them, reach international or premium rates,
/// as (prefix, subscriber digits): international prefixes 00 and +, the same behind a `9`
/// outside-line digit, NANP 1-900 premium. Patterns are tried against the prefix followed by
/// 6 or more of the digits, so fixed-length patterns (`_00XXXXXXXXX`) count too. The NANP
/// international prefix 011 is recognised only when written literally (`_011.`, `_9011.`):
/// elsewhere `01…` is a national number.
const PROBES: &[(&str, &str)] = &[
    ("00", "4420794600001"),
    ("+", "4420794600001"),
    ("900", "4420794600001"),
    ("1900", "5550100"),
    ("91900", "5550100"),
];

impl Dialplan {
    /// Builds the dialplan from a parsed `extensions.conf`.
    pub fn from_conf(conf: &ConfFile) -> Dialplan {
        let mut dp = Dialplan::default();
        for section in conf.objects() {
            let lname = section.name.to_ascii_lowercase();
            if lname == "general" || lname == "globals" {
                continue;
            }
            if !dp.contexts.contains_key(&lname) {
                dp.order.push(section.name.clone());
            }
            let ctx = dp.contexts.entry(lname).or_default();
            let mut last_exten = String::new();
            for e in &section.entries {
                match e.key.to_ascii_lowercase().as_str() {
                    "exten" | "same" => {
                        let (exten, rest) = if e.key.eq_ignore_ascii_case("same") {
                            (last_exten.clone(), e.value.as_str())
                        } else {
                            let Some((name, rest)) = split_exten(&e.value) else {
                                continue;
                            };
                            (name, rest)
                        };
                        last_exten = exten.clone();
                        // rest = "priority[(label)],App(args)"
                        let Some((_prio, app)) = rest.split_once(',') else {
                            continue;
                        };
                        let app = app.trim();
                        let (name, args) = match app.find(['(', ',']) {
                            Some(i) => {
                                let args = app[i + 1..].trim();
                                (&app[..i], args.strip_suffix(')').unwrap_or(args))
                            }
                            None => (app, ""),
                        };
                        if let Some(target) = caller_chosen_jump(name, args) {
                            ctx.jumps.push((target, e.at));
                        }
                        ctx.steps.push(Step {
                            exten,
                            app: name.trim().to_string(),
                            args: args.to_string(),
                            at: e.at,
                        });
                    }
                    "include" => {
                        let target = e.value.split(',').next().unwrap_or("").trim();
                        if !target.is_empty() {
                            ctx.includes.push((target.to_string(), e.at));
                        }
                    }
                    _ => {}
                }
            }
        }
        dp
    }

    /// A context by name.
    pub fn context(&self, name: &str) -> Option<&Context> {
        self.contexts.get(&name.to_ascii_lowercase())
    }

    /// The contexts reachable from `start` through includes and caller-chosen jumps, `start`
    /// first (lower-cased).
    pub fn reach(&self, start: &str) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut todo = vec![start.to_ascii_lowercase()];
        while let Some(name) = todo.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(ctx) = self.contexts.get(&name) {
                for (inc, _) in ctx.includes.iter().chain(&ctx.jumps).rev() {
                    todo.push(inc.to_ascii_lowercase());
                }
                out.push(name);
            }
        }
        out
    }

    /// The steps, reachable from `start`, whose extension accepts an international or premium
    /// number and that place the call (Dial, Queue, Page, a trunk macro), one per pattern.
    pub fn international_from(&self, start: &str) -> Vec<&Step> {
        let mut out: Vec<&Step> = Vec::new();
        for name in self.reach(start) {
            let Some(ctx) = self.contexts.get(&name) else {
                continue;
            };
            let mut done: HashSet<&str> = HashSet::new();
            for step in &ctx.steps {
                if done.contains(step.exten.as_str()) || !places_call(step) {
                    continue;
                }
                if is_international(&step.exten) {
                    done.insert(step.exten.as_str());
                    out.push(step);
                }
            }
        }
        out
    }

    /// Whether `start` reaches any step that dials something outside the PBX: a `Dial()` to a
    /// channel with a number part, a FreePBX trunk macro, or an international pattern.
    pub fn dials_out(&self, start: &str) -> bool {
        self.reach(start).iter().any(|name| {
            self.contexts.get(name).is_some_and(|ctx| {
                ctx.steps
                    .iter()
                    .any(|s| (places_call(s) && is_international(&s.exten)) || is_trunk_dial(s))
            })
        })
    }
}

/// The context of `Goto(ctx,${EXTEN…},prio)` / `Gosub(…)` (also behind `GotoIf(cond?…:…)`)
/// when the extension part is the caller's `${EXTEN}` and the context is literal.
fn caller_chosen_jump(app: &str, args: &str) -> Option<String> {
    let app = app.trim().to_ascii_lowercase();
    let targets = match app.as_str() {
        "goto" | "gosub" => args,
        "gotoif" | "gosubif" => args.split_once('?')?.1,
        _ => return None,
    };
    targets.split(':').find_map(|t| {
        let parts: Vec<&str> = t.split(',').map(str::trim).collect();
        let [ctx, exten, _prio] = parts.as_slice() else {
            return None;
        };
        let literal = !ctx.is_empty() && !ctx.contains('$');
        (literal && exten.to_ascii_lowercase().starts_with("${exten")).then(|| ctx.to_string())
    })
}

/// Splits `name,rest` of an `exten =>` value; a `[...]` set in the name may hold commas.
fn split_exten(value: &str) -> Option<(String, &str)> {
    let mut depth = 0i32;
    for (i, c) in value.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth <= 0 => {
                let name = value[..i].trim();
                let name = name.split('/').next().unwrap_or(name).trim();
                return Some((name.to_string(), &value[i + 1..]));
            }
            _ => {}
        }
    }
    None
}

/// Steps that place a call: `Dial`, `Queue`, `Page`, or FreePBX's trunk macro/subroutine.
/// A `Goto` is not counted: it moves within the dialplan, and what it reaches is only
/// followed through `include =>` (over-approximating every `Goto` target would flag
/// FreePBX's `from-sip-external`, which rejects unknown callers with a `Goto(s,1)`).
fn places_call(step: &Step) -> bool {
    let app = step.app.to_ascii_lowercase();
    match app.as_str() {
        "dial" | "queue" | "page" => true,
        "macro" | "gosub" => step.args.to_ascii_lowercase().contains("dialout"),
        _ => false,
    }
}

/// A `Dial()` that leaves the PBX: a technology followed by a number or trunk part
/// (`SIP/trunk/${EXTEN}`, `PJSIP/${EXTEN}@itsp`, `IAX2/prov/…`), or FreePBX's trunk macro.
pub fn is_trunk_dial(step: &Step) -> bool {
    let app = step.app.to_ascii_lowercase();
    let args = step.args.to_ascii_lowercase();
    if (app == "macro" || app == "gosub") && args.contains("dialout-trunk") {
        return true;
    }
    if app != "dial" {
        return false;
    }
    args.split('&').any(|target| {
        let target = target.split(',').next().unwrap_or("").trim();
        let Some((tech, rest)) = target.split_once('/') else {
            return false;
        };
        let tech_ok = matches!(tech, "sip" | "pjsip" | "iax2" | "dahdi" | "zap");
        tech_ok && (rest.contains('/') || rest.contains('@') || rest.contains("${exten"))
    })
}

/// Whether a pattern accepts an international or premium probe number (or is a catch-all).
pub fn is_international(exten: &str) -> bool {
    let Some(pattern) = exten.strip_prefix('_') else {
        return false;
    };
    if pattern.starts_with("011") || pattern.starts_with("9011") {
        return true;
    }
    PROBES.iter().any(|(prefix, digits)| {
        (6..=digits.len()).any(|k| pattern_matches(pattern, &format!("{prefix}{}", &digits[..k])))
    })
}

/// Whether a pattern (without the leading `_`) is open-ended (`.` or `!`).
pub fn is_open_ended(exten: &str) -> bool {
    exten.starts_with('_') && exten.contains(['.', '!'])
}

/// Asterisk pattern match of a whole number.
pub fn pattern_matches(pattern: &str, number: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = number.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    let Some(&first) = p.first() else {
        return n.is_empty();
    };
    match first {
        '.' => !n.is_empty(),
        '!' => true,
        '[' => {
            let Some(close) = p.iter().position(|&c| c == ']') else {
                return false;
            };
            let Some(&c) = n.first() else { return false };
            let set = &p[1..close];
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            hit && match_from(&p[close + 1..], &n[1..])
        }
        '-' | ' ' => match_from(&p[1..], n),
        _ => {
            let Some(&c) = n.first() else { return false };
            let ok = match first.to_ascii_uppercase() {
                'X' => c.is_ascii_digit(),
                'Z' => ('1'..='9').contains(&c),
                'N' => ('2'..='9').contains(&c),
                lit => lit == c.to_ascii_uppercase(),
            };
            ok && match_from(&p[1..], &n[1..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::parse_for_test;

    fn dialplan(text: &str) -> Dialplan {
        Dialplan::from_conf(&parse_for_test(
            "/etc/asterisk/extensions.conf",
            text.as_bytes(),
        ))
    }

    #[test]
    fn patterns_match_like_asterisk() {
        assert!(pattern_matches("00.", "0044123"));
        assert!(pattern_matches("NXXXXXX", "5551234"));
        assert!(!pattern_matches("NXXXXXX", "1551234"));
        assert!(pattern_matches("[1-3,5]XX", "512"));
        assert!(pattern_matches("9!", "9"));
        assert!(!pattern_matches("X.", "5"));
    }

    #[test]
    fn international_patterns_and_catch_alls() {
        // A NANP national route also reaches 1-900 premium numbers.
        for p in [
            "_00.",
            "_011.",
            "_+.",
            "_9011.",
            "_X.",
            "_.",
            "_!",
            "_9.",
            "_1900NXXXXXX",
            "_1NXXNXXXXXX",
        ] {
            assert!(is_international(p), "{p}");
        }
        for p in [
            "_NXXXXXX",
            "_1[2-8]XXNXXXXXX",
            "_0[1-9]XXXXXXXX",
            "_XXX",
            "100",
            "s",
        ] {
            assert!(!is_international(p), "{p}");
        }
    }

    #[test]
    fn includes_are_followed_transitively_and_cycles_end() {
        let dp = dialplan(
            "[phones]\ninclude => local\n[local]\ninclude => intl\nexten => _NXXXXXX,1,Dial(SIP/trunk/${EXTEN})\n\
             [intl]\ninclude => phones\nexten => _00.,1,Dial(SIP/trunk/${EXTEN})\nsame => n,Hangup()\n\
             [lobby]\nexten => s,1,Playback(hello)\n",
        );
        assert_eq!(dp.reach("phones"), ["phones", "local", "intl"]);
        let steps = dp.international_from("phones");
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].exten, "_00.");
        assert_eq!(steps[0].at.line, 8);
        assert!(dp.dials_out("local"));
        assert!(!dp.dials_out("lobby"));
    }

    #[test]
    fn a_goto_with_the_callers_extension_reaches_the_whole_context() {
        let dp = dialplan(
            "[from-pstn]\nexten => _X.,1,Goto(from-internal,${EXTEN},1)\n\
             [from-ivr]\nexten => 1,1,Goto(from-internal,100,1)\n\
             [from-internal]\nexten => _00.,1,Dial(SIP/trunk/${EXTEN})\n",
        );
        assert_eq!(dp.international_from("from-pstn").len(), 1);
        assert!(
            dp.international_from("from-ivr").is_empty(),
            "a fixed target is one extension"
        );
    }
}
