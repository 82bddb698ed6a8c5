//! The report for a terminal: a per-day bar chart (unicode eighth blocks, fitted to the width
//! given), the destinations, the alarms with their evidence and the skipped lines. Every text
//! that came from a record was cleaned when the report was built ([`tg_model::text::clean`]).

use std::fmt::Write;

use crate::report::{Report, Severity};

/// Skipped lines listed at most (all are counted).
pub const MAX_SKIPS_SHOWN: usize = 10;

const BLOCKS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];

/// A bar of `value / max` of `width` cells, in eighths.
pub fn bar(value: f64, max: f64, width: usize) -> String {
    if max <= 0.0 || value <= 0.0 || width == 0 {
        return String::new();
    }
    let eighths = ((value / max).min(1.0) * (width * 8) as f64).round() as usize;
    let mut s = blocks(eighths);
    if s.is_empty() {
        s.push(BLOCKS[0]);
    }
    s
}

/// A bar for `total`, its `part` drawn shaded (`▒`) in whole cells at the end.
pub fn split_bar(total: f64, part: f64, max: f64, width: usize) -> String {
    if max <= 0.0 || width == 0 || total <= 0.0 {
        return String::new();
    }
    let cells = |v: f64| (v / max).min(1.0) * width as f64;
    let total_eighths = (cells(total) * 8.0).round() as usize;
    let part_cells = (cells(part.min(total)).round() as usize).min(total_eighths / 8);
    let rest = blocks(total_eighths - part_cells * 8);
    format!("{rest}{}", "▒".repeat(part_cells))
}

fn blocks(eighths: usize) -> String {
    let mut s = "█".repeat(eighths / 8);
    let partial = eighths % 8;
    if let Some(block) = partial.checked_sub(1).map(|i| BLOCKS[i]) {
        s.push(block);
    }
    s
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Medium => "medium",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

/// The whole report as text for a terminal `width` columns wide.
pub fn text(report: &Report, width: usize) -> String {
    let mut out = String::new();
    let width = width.clamp(60, 400);
    let alarm_days: std::collections::HashSet<&str> =
        report.alarms.iter().map(|a| &a.start[..10]).collect();
    let max_calls = report.days.iter().map(|d| d.calls).max().unwrap_or(0) as f64;
    // date(10) ' ' calls(7) answ(7) min(9) intl(7) intl-min(9) ' ! ' bar
    let fixed = 10 + 7 * 3 + 9 * 2 + 4;
    let bar_width = width.saturating_sub(fixed).max(8);
    let _ = writeln!(
        out,
        "{:<10} {:>6} {:>6} {:>8} {:>6} {:>8}    calls per day (█ national/internal/inbound, ▒ international)",
        "date", "calls", "answ", "minutes", "intl", "intl-min"
    );
    for d in &report.days {
        let mark = if alarm_days.contains(d.date.as_str()) {
            '!'
        } else {
            ' '
        };
        let _ = writeln!(
            out,
            "{:<10} {:>6} {:>6} {:>8.0} {:>6} {:>8.0} {mark}  {}",
            d.date,
            d.calls,
            d.answered,
            d.minutes,
            d.intl_calls,
            d.intl_minutes,
            split_bar(d.calls as f64, d.intl_calls as f64, max_calls, bar_width)
        );
    }
    let _ = writeln!(out, "\nDestinations (outbound, by country):");
    let max_dest = report.destinations.first().map_or(0, |d| d.calls) as f64;
    for d in report.destinations.iter().take(15) {
        let _ = writeln!(
            out,
            "  {:<5} {:>8} calls {:>9.0} min  {}",
            d.country,
            d.calls,
            d.minutes,
            bar(d.calls as f64, max_dest, bar_width.min(40))
        );
    }
    if report.alarms.is_empty() {
        let _ = writeln!(out, "\nNo alarms.");
    } else {
        let _ = writeln!(out, "\nAlarms ({}):", report.alarms.len());
        for a in &report.alarms {
            let _ = writeln!(
                out,
                "  [{}] {} {} .. {}  {}",
                severity(a.severity),
                a.kind,
                a.start,
                a.end,
                a.source
            );
            let _ = writeln!(out, "      {}", a.detail);
            for e in &a.examples {
                let _ = writeln!(
                    out,
                    "      e.g. {} {} -> {} ({}) {}s via {} (line {})",
                    e.time, e.src, e.dst, e.country, e.billsec, e.channel, e.line
                );
            }
        }
        if report.alarms_dropped > 0 {
            let _ = writeln!(out, "  … and {} more alarms", report.alarms_dropped);
        }
    }
    if report.skipped > 0 {
        let _ = writeln!(out, "\nSkipped {} malformed records:", report.skipped);
        for s in report.skipped_lines.iter().take(MAX_SKIPS_SHOWN) {
            let _ = writeln!(out, "  line {}: {}", s.line, s.reason);
        }
        if report.skipped as usize > MAX_SKIPS_SHOWN {
            let _ = writeln!(out, "  …");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_in_eighths() {
        assert_eq!(bar(1.0, 1.0, 4), "████");
        assert_eq!(bar(0.5, 1.0, 4), "██");
        assert_eq!(bar(1.0, 16.0, 4), "▎");
        assert_eq!(bar(1.0, 8.0, 4), "▌");
        assert_eq!(bar(0.0001, 1.0, 4), "▏");
        assert_eq!(bar(0.0, 1.0, 4), "");
        assert_eq!(bar(5.0, 1.0, 3), "███");
        assert_eq!(split_bar(10.0, 5.0, 10.0, 4), "██▒▒");
        assert_eq!(split_bar(10.0, 10.0, 10.0, 4), "▒▒▒▒");
        assert_eq!(split_bar(10.0, 0.0, 10.0, 4), "████");
    }
}
