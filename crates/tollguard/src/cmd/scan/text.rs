//! The text report of `tollguard scan`: who attacked, how often, whom the jails would have
//! banned, and the totals, for people (at most [`TEXT_ROWS`] rows a table; `--format json`
//! lists everything). Attacker-written text goes through [`sanitize`].

use std::io::{self, Write};

use tg_engine::Summary;
use tg_model::{format_duration, Service};

use crate::sanitize::sanitize;

/// The text report lists at most this many attackers and bans (JSON lists all of them).
const TEXT_ROWS: usize = 50;

/// Prints the report; `secs` is how long the scan took.
pub fn print_text(out: &mut impl Write, s: &Summary, secs: f64) -> io::Result<()> {
    let t = &s.totals;
    let files = s.files.len();
    writeln!(
        out,
        "Scanned {} lines in {} file{} ({:.2} s).",
        thousands(t.lines),
        files,
        if files == 1 { "" } else { "s" },
        secs
    )?;
    writeln!(out)?;
    if s.offenders.is_empty() {
        writeln!(out, "No attacks found.")?;
    } else {
        writeln!(
            out,
            "{} attacking address{} ({} finding{}), most active first:",
            s.offenders.len(),
            if s.offenders.len() == 1 { "" } else { "es" },
            thousands(t.findings - t.trusted_findings),
            if t.findings - t.trusted_findings == 1 {
                ""
            } else {
                "s"
            },
        )?;
        writeln!(out)?;
        let width = s
            .offenders
            .iter()
            .map(|o| o.ip.to_string().len())
            .max()
            .unwrap_or(7)
            .max(7);
        writeln!(
            out,
            "  {:<width$}  {:>8}  {:>8}  {:<19}  {:<19}  {:<10}  WHAT",
            "ADDRESS", "FINDINGS", "ATTEMPTS", "FIRST SEEN", "LAST SEEN", "WOULD BAN"
        )?;
        for o in s.offenders.iter().take(TEXT_ROWS) {
            // "sip: 74 unknown-account, 5 call-rejected; ami: 7 auth-failure"
            let mut by_service: Vec<(Service, Vec<String>)> = Vec::new();
            for w in &o.what {
                let item = format!("{} {}", thousands(w.count), w.kind);
                match by_service.iter_mut().find(|(s, _)| *s == w.service) {
                    Some((_, items)) => items.push(item),
                    None => by_service.push((w.service, vec![item])),
                }
            }
            let what: Vec<String> = by_service
                .iter()
                .map(|(service, items)| format!("{service}: {}", items.join(", ")))
                .collect();
            let ban = match o.bans.len() {
                0 => "no".to_string(),
                1 => "yes".to_string(),
                n => format!("yes, {n}x"),
            };
            writeln!(
                out,
                "  {:<width$}  {:>8}  {:>8}  {:<19}  {:<19}  {:<10}  {}",
                o.ip.to_string(),
                thousands(o.count),
                thousands(o.attempts),
                o.first_seen.replace('T', " "),
                o.last_seen.replace('T', " "),
                ban,
                what.join("; ")
            )?;
        }
        if s.offenders.len() > TEXT_ROWS {
            writeln!(
                out,
                "  … and {} more addresses (--format json lists every one)",
                thousands((s.offenders.len() - TEXT_ROWS) as u64)
            )?;
        }
        if s.offenders_not_listed > 0 {
            writeln!(
                out,
                "  ({} more offender entries with few findings and no ban were not kept: the \
                 report holds {} at most)",
                thousands(s.offenders_not_listed),
                thousands(tg_engine::report::REPORT_CAP as u64)
            )?;
        }
        writeln!(
            out,
            "  (FINDINGS counts lines; ATTEMPTS what the jails count: the lines of one attempt,\n   \
             such as a NOTICE and its security event in two files, count once.)"
        )?;
    }
    writeln!(out)?;
    if s.would_ban == 0 {
        writeln!(out, "The jails would have banned nobody.")?;
    } else {
        writeln!(
            out,
            "The jails would have banned {} address{} ({} ban{}):",
            s.would_ban,
            if s.would_ban == 1 { "" } else { "es" },
            s.bans,
            if s.bans == 1 { "" } else { "s" }
        )?;
        writeln!(out)?;
        let banned = s.offenders.iter().filter(|o| o.would_ban);
        let width = banned
            .clone()
            .flat_map(|o| o.bans.iter().map(|b| b.target.len()))
            .max()
            .unwrap_or(7)
            .max(7);
        let jail_width = banned
            .clone()
            .flat_map(|o| o.bans.iter().map(|b| b.jail.len()))
            .max()
            .unwrap_or(4)
            .max(4);
        writeln!(
            out,
            "  {:<width$}  {:<jail_width$}  {:<19}  {:<6}  WHY",
            "ADDRESS", "JAIL", "BANNED AT", "FOR"
        )?;
        let rows = banned.flat_map(|o| o.bans.iter().enumerate());
        for (i, b) in rows.take(TEXT_ROWS) {
            {
                let nth = match i {
                    0 => String::new(),
                    _ => format!(" (ban #{}, escalated)", i + 1),
                };
                writeln!(
                    out,
                    "  {:<width$}  {:<jail_width$}  {:<19}  {:<6}  {} attempts in {}{}",
                    b.target,
                    sanitize(&b.jail),
                    b.at.replace('T', " "),
                    format_duration(b.ban_secs),
                    b.after,
                    format_duration(b.within_secs),
                    nth
                )?;
            }
        }
        if s.bans as usize > TEXT_ROWS {
            writeln!(
                out,
                "  … and {} more bans (--format json lists every one)",
                thousands(s.bans - TEXT_ROWS as u64)
            )?;
        }
        let under: Vec<String> = s
            .offenders
            .iter()
            .filter(|o| !o.would_ban)
            .map(|o| format!("{} ({})", o.ip, o.count))
            .collect();
        if !under.is_empty() {
            writeln!(out)?;
            writeln!(
                out,
                "Stayed under every jail's threshold: {}",
                shorten_list(&under, 12)
            )?;
        }
    }
    if !s.ambiguous.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Ambiguous lines (each names several addresses between the server's fixed text; \
             nobody counted):"
        )?;
        for a in s.ambiguous.iter().take(TEXT_ROWS) {
            let candidates: Vec<String> = a.candidates.iter().map(|ip| ip.to_string()).collect();
            writeln!(
                out,
                "  {}, {} time{}",
                candidates.join(" or "),
                thousands(a.count),
                if a.count == 1 { "" } else { "s" }
            )?;
        }
        if s.ambiguous.len() > TEXT_ROWS {
            writeln!(
                out,
                "  … and {} more (--format json lists every one)",
                thousands((s.ambiguous.len() - TEXT_ROWS) as u64)
            )?;
        }
    }
    if !s.trusted.is_empty() {
        let list: Vec<String> = s
            .trusted
            .iter()
            .map(|t| format!("{} ({})", t.ip, t.count))
            .collect();
        writeln!(out)?;
        writeln!(out, "Trusted, never counted: {}", shorten_list(&list, 12))?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Totals: {} lines; {} findings ({} from trusted addresses, not counted);",
        thousands(t.lines),
        thousands(t.findings),
        thousands(t.trusted_findings),
    )?;
    writeln!(
        out,
        "        {} suspicious lines (attack-like, but no trustworthy address: nobody counted);",
        thousands(t.suspicious)
    )?;
    writeln!(
        out,
        "        {} skipped (over 64 KiB or cut off); {} without a readable time (took the previous \
         one's); {} with invalid UTF-8 (examined anyway).",
        thousands(t.skipped),
        thousands(t.untimed),
        thousands(t.invalid_utf8),
    )?;
    Ok(())
}

fn shorten_list(items: &[String], max: usize) -> String {
    if items.len() <= max {
        return items.join(", ");
    }
    format!(
        "{}, and {} more",
        items[..max].join(", "),
        items.len() - max
    )
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
