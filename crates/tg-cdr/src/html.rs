//! The report as one self-contained HTML page: inline SVG charts (daily volume, minutes,
//! destinations by country, top sources, hour-of-week heat map) and the alarms with evidence.
//! No scripts, no external assets; every text is HTML-escaped.

use std::fmt::Write;

use crate::report::Report;

/// Chart colours (the screenshot test looks for them).
pub mod colour {
    /// All calls.
    pub const CALLS: &str = "#2563eb";
    /// International calls and minutes.
    pub const INTL: &str = "#dc2626";
    /// Minutes.
    pub const MINUTES: &str = "#059669";
    /// Destinations.
    pub const COUNTRIES: &str = "#7c3aed";
    /// Sources.
    pub const SOURCES: &str = "#d97706";
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const W: f64 = 1100.0;

/// Vertical bars per day: `series` is (value, colour) drawn over each other, largest first.
fn day_chart(out: &mut String, title: &str, labels: &[&str], series: &[(&[f64], &str)]) {
    let h = 220.0;
    let (left, bottom, top) = (60.0, 30.0, 10.0);
    let max = series
        .iter()
        .flat_map(|s| s.0.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1.0);
    let n = labels.len().max(1) as f64;
    let step = (W - left - 50.0) / n;
    let _ = write!(
        out,
        "<h2>{}</h2><svg class=\"chart\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" role=\"img\">",
        escape(title)
    );
    let _ = write!(
        out,
        "<line x1=\"{left}\" y1=\"{y}\" x2=\"{W}\" y2=\"{y}\" stroke=\"#999\"/><text x=\"{x}\" y=\"{t}\" font-size=\"11\" text-anchor=\"end\">{max:.0}</text><text x=\"{x}\" y=\"{y}\" font-size=\"11\" text-anchor=\"end\">0</text>",
        y = h - bottom,
        x = left - 4.0,
        t = top + 10.0
    );
    for (values, colour) in series {
        for (i, v) in values.iter().enumerate() {
            let bh = v / max * (h - bottom - top);
            let _ = write!(
                out,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\"><title>{}: {v:.0}</title></rect>",
                left + i as f64 * step,
                h - bottom - bh,
                (step * 0.85).max(0.5),
                bh,
                escape(labels[i])
            );
        }
    }
    let every = (labels.len() / 10).max(1);
    for (i, l) in labels.iter().enumerate().step_by(every) {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            left + (i as f64 + 0.5) * step,
            h - 10.0,
            escape(l)
        );
    }
    out.push_str("</svg>");
}

/// Horizontal bars with labels.
fn bar_list(out: &mut String, title: &str, rows: &[(String, f64, String)], colour: &str) {
    let row_h = 22.0;
    let h = row_h * rows.len().max(1) as f64 + 10.0;
    let left = 170.0;
    let max = rows.iter().map(|r| r.1).fold(0.0f64, f64::max).max(1.0);
    let _ = write!(
        out,
        "<h2>{}</h2><svg class=\"chart\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" role=\"img\">",
        escape(title)
    );
    for (i, (label, v, note)) in rows.iter().enumerate() {
        let y = 5.0 + i as f64 * row_h;
        let bw = v / max * (W - left - 320.0);
        let _ = write!(
            out,
            "<text x=\"{x}\" y=\"{ty}\" font-size=\"13\" text-anchor=\"end\">{}</text><rect x=\"{left}\" y=\"{y}\" width=\"{bw:.1}\" height=\"{bh}\" fill=\"{colour}\"/><text x=\"{nx:.1}\" y=\"{ty}\" font-size=\"12\">{}</text>",
            escape(label),
            escape(note),
            x = left - 8.0,
            ty = y + 14.0,
            bh = row_h - 5.0,
            nx = left + bw + 6.0
        );
    }
    out.push_str("</svg>");
}

fn heat_map(out: &mut String, hours: &[Vec<u64>]) {
    let (cell_w, cell_h, left, top) = (40.0, 24.0, 50.0, 20.0);
    let h = top + cell_h * 7.0 + 10.0;
    let max = hours.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let _ = write!(
        out,
        "<h2>Calls by hour of the week</h2><svg class=\"chart\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" role=\"img\">"
    );
    for hour in (0..24).step_by(3) {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"14\" font-size=\"11\">{hour:02}h</text>",
            left + hour as f64 * cell_w
        );
    }
    for (d, name) in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .iter()
        .enumerate()
    {
        let y = top + d as f64 * cell_h;
        let _ = write!(
            out,
            "<text x=\"4\" y=\"{:.1}\" font-size=\"12\">{name}</text>",
            y + 16.0
        );
        for hour in 0..24 {
            let v = hours.get(d).and_then(|r| r.get(hour)).copied().unwrap_or(0);
            // Light to dark blue by share of the busiest hour.
            let t = (v as f64 / max).sqrt();
            let (r, g, b) = (
                (239.0 - t * (239.0 - 30.0)) as u8,
                (246.0 - t * (246.0 - 64.0)) as u8,
                (255.0 - t * (255.0 - 175.0)) as u8,
            );
            let _ = write!(
                out,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{}\" height=\"{}\" fill=\"rgb({r},{g},{b})\"><title>{name} {hour:02}h: {v}</title></rect>",
                left + hour as f64 * cell_w,
                cell_w - 2.0,
                cell_h - 2.0
            );
        }
    }
    out.push_str("</svg>");
}

/// The report page. `title` names the file analysed.
pub fn html(report: &Report, title: &str) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>tollguard calls: {t}</title>\
<style>body{{font-family:sans-serif;margin:24px;color:#111;background:#fff}}h1{{font-size:22px}}h2{{font-size:16px;margin:22px 0 6px}}\
.legend span{{display:inline-block;width:12px;height:12px;margin:0 4px 0 14px;vertical-align:middle}}\
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}}\
.sev-critical,.sev-high{{color:#b91c1c;font-weight:bold}}.sev-medium{{color:#92400e}}.muted{{color:#666}}</style></head><body>",
        t = escape(title)
    );
    let calls: u64 = report.days.iter().map(|d| d.calls).sum();
    let intl: u64 = report.days.iter().map(|d| d.intl_calls).sum();
    let _ = write!(
        out,
        "<h1>Call report: {}</h1><p>{} days, {calls} calls, {intl} international, {} alarms, {} malformed records skipped.</p>",
        escape(title),
        report.days.len(),
        report.alarms.len(),
        report.skipped
    );
    let labels: Vec<&str> = report.days.iter().map(|d| d.date.as_str()).collect();
    let calls_s: Vec<f64> = report.days.iter().map(|d| d.calls as f64).collect();
    let intl_s: Vec<f64> = report.days.iter().map(|d| d.intl_calls as f64).collect();
    let min_s: Vec<f64> = report.days.iter().map(|d| d.minutes).collect();
    let intl_min_s: Vec<f64> = report.days.iter().map(|d| d.intl_minutes).collect();
    let _ = write!(
        out,
        "<p class=\"legend\"><span style=\"background:{}\"></span>all calls<span style=\"background:{}\"></span>international<span style=\"background:{}\"></span>minutes</p>",
        colour::CALLS,
        colour::INTL,
        colour::MINUTES
    );
    day_chart(
        &mut out,
        "Calls per day",
        &labels,
        &[(&calls_s, colour::CALLS), (&intl_s, colour::INTL)],
    );
    day_chart(
        &mut out,
        "Billable minutes per day",
        &labels,
        &[(&min_s, colour::MINUTES), (&intl_min_s, colour::INTL)],
    );
    let dest: Vec<(String, f64, String)> = report
        .destinations
        .iter()
        .take(15)
        .map(|d| {
            (
                d.country.clone(),
                d.calls as f64,
                format!("{} calls, {:.0} min", d.calls, d.minutes),
            )
        })
        .collect();
    bar_list(
        &mut out,
        "Destinations by country",
        &dest,
        colour::COUNTRIES,
    );
    let src: Vec<(String, f64, String)> = report
        .sources
        .iter()
        .take(10)
        .map(|s| {
            (
                s.source.clone(),
                s.calls as f64,
                format!(
                    "{} calls, {:.0} min, {} international",
                    s.calls, s.minutes, s.intl_calls
                ),
            )
        })
        .collect();
    bar_list(
        &mut out,
        "Top sources (outbound calls)",
        &src,
        colour::SOURCES,
    );
    heat_map(&mut out, &report.hour_of_week);
    out.push_str("<h2>Alarms</h2>");
    if report.alarms.is_empty() {
        out.push_str("<p>No alarms.</p>");
    } else {
        out.push_str("<table><tr><th>severity</th><th>kind</th><th>from</th><th>to</th><th>source</th><th>detail and evidence</th></tr>");
        for a in &report.alarms {
            let sev = serde_json::to_value(a.severity)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let _ = write!(
                out,
                "<tr><td class=\"sev-{sev}\">{sev}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}",
                escape(&a.kind),
                escape(&a.start),
                escape(&a.end),
                escape(&a.source),
                escape(&a.detail)
            );
            for e in &a.examples {
                let _ = write!(
                    out,
                    "<br><span class=\"muted\">{} {} → {} ({}) {}s via {}</span>",
                    escape(&e.time),
                    escape(&e.src),
                    escape(&e.dst),
                    escape(&e.country),
                    e.billsec,
                    escape(&e.channel)
                );
            }
            out.push_str("</td></tr>");
        }
        out.push_str("</table>");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_record_text_is_escaped_in_the_page() {
        use crate::report::{Analyzer, ReportOptions};
        use tg_office::classify::{Classifier, Dialplan};
        let line = "\"\",\"1001\",\"011449098790123\",\"from-internal\",\"\",\"PJSIP/<script>alert(1)</script>-0001\",\"\",\"Dial\",\"\",\"2025-01-06 10:00:00\",,\"2025-01-06 10:00:09\",9,0,\"NO ANSWER\",\"DOCUMENTATION\"\n";
        let calls = tg_config::calls::CallsConfig::default();
        let mut a = Analyzer::new(
            Classifier::new(Dialplan::from_config(&calls).unwrap()),
            ReportOptions::from_config(&calls, None).unwrap(),
        );
        let skips = a.read(line.as_bytes(), std::path::Path::new("x")).unwrap();
        let report = a.finish(&skips);
        assert_eq!(report.alarms.len(), 1, "{:?}", report.alarms);
        let page = html(&report, "<b>file</b>");
        assert!(!page.contains("<script>"));
        assert!(page.contains("PJSIP/&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&lt;b&gt;file&lt;/b&gt;"));
    }

    #[test]
    fn escapes_hostile_text() {
        assert_eq!(escape("<script>\"&'"), "&lt;script&gt;&quot;&amp;&#39;");
    }
}
