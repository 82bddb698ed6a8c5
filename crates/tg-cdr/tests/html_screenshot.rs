//! The HTML report rendered by a real browser: headless Chromium takes a screenshot and the
//! test checks that each chart drew its bars where the page puts it (colours by region, in page
//! order), not a blank or broken page.

use std::path::Path;
use std::process::Command;

use tg_cdr::html::{colour, html};
use tg_cdr::report::{Analyzer, ReportOptions};
use tg_cdr_gen::{generate, Campaign, GenConfig};
use tg_model::civil::days_from_civil;
use tg_office::classify::{Classifier, Dialplan};

fn rgb(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(&hex[1..], 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

struct Shot {
    width: usize,
    height: usize,
    pixels: Vec<[u8; 3]>,
}

impl Shot {
    /// Rows (y) of pixels of exactly this colour.
    fn rows_of(&self, c: [u8; 3]) -> Vec<usize> {
        (0..self.pixels.len())
            .filter(|&i| self.pixels[i] == c)
            .map(|i| i / self.width)
            .collect()
    }
}

fn screenshot(page: &Path, out: &Path) -> Shot {
    let profile = tempfile::tempdir().unwrap();
    let status = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", out.display()))
        .arg("--window-size=1200,2000")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium (apt-get install chromium)");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let decoder = png::Decoder::new(std::fs::File::open(out).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    Shot {
        width: info.width as usize,
        height: info.height as usize,
        pixels,
    }
}

#[test]
fn charts_render_in_chromium() {
    let friday = days_from_civil(2025, 4, 18);
    let cfg = GenConfig {
        days: 120,
        campaigns: vec![Campaign::article(friday * 86_400 + 21 * 3600)],
        ..GenConfig::default()
    };
    let mut csv = Vec::new();
    generate(&cfg, &mut csv).unwrap();
    let calls = tg_config::calls::CallsConfig::default();
    let mut a = Analyzer::new(
        Classifier::new(Dialplan::from_config(&calls).unwrap()),
        ReportOptions::from_config(&calls, None).unwrap(),
    );
    let skips = a.read(&csv[..], Path::new("gen.csv")).unwrap();
    let report = a.finish(&skips);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, html(&report, "Master.csv <test>")).unwrap();
    let shot = screenshot(&page, &dir.path().join("shot.png"));
    assert_eq!((shot.width, shot.height), (1200, 2000));
    let white = shot
        .pixels
        .iter()
        .filter(|p| **p == [255, 255, 255])
        .count();
    assert!(white < shot.pixels.len() * 97 / 100, "page is blank");

    // Each chart's colour is present in quantity, and the charts come in page order:
    // calls per day, minutes per day, destinations, sources, heat map.
    let median_row = |c: &str| {
        let mut rows = shot.rows_of(rgb(c));
        assert!(rows.len() > 300, "{c}: only {} pixels", rows.len());
        rows.sort_unstable();
        rows[rows.len() / 2]
    };
    let calls_y = median_row(colour::CALLS);
    let minutes_y = median_row(colour::MINUTES);
    let countries_y = median_row(colour::COUNTRIES);
    let sources_y = median_row(colour::SOURCES);
    assert!(calls_y < minutes_y, "{calls_y} {minutes_y}");
    assert!(minutes_y < countries_y, "{minutes_y} {countries_y}");
    assert!(countries_y < sources_y, "{countries_y} {sources_y}");
    // The campaign's international bars (red) are tall in both day charts: red pixels above
    // the minutes chart's median and below it.
    let red = shot.rows_of(rgb(colour::INTL));
    let red_in_calls = red.iter().filter(|&&y| y < minutes_y && y > 120).count();
    let red_in_minutes = red
        .iter()
        .filter(|&&y| y > calls_y + 100 && y < countries_y)
        .count();
    assert!(red_in_calls > 2000, "{red_in_calls}");
    assert!(red_in_minutes > 2000, "{red_in_minutes}");
    // The heat map's busiest cells (darkest blue) sit below the sources chart.
    let dark = shot
        .pixels
        .iter()
        .enumerate()
        .filter(|(_, p)| p[2] > 150 && p[0] < 60 && p[1] < 90)
        .map(|(i, _)| i / shot.width)
        .filter(|&y| y > sources_y)
        .count();
    assert!(dark > 2000, "heat map missing: {dark}");
}
