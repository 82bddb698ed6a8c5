//! `tg-gen-cdr`: writes realistic `cdr_csv` records (see `tg_cdr_gen`) to stdout, for tests,
//! demos and the benchmark (`bench/calls_report.sh`).
//!
//! ```text
//! tg-gen-cdr [--days N] [--extensions N] [--calls-per-day X] [--seed N] [--start YYYY-MM-DD]
//!            [--fraud-article YYYY-MM-DDTHH:MM]... [--fraud-calls N] [--fraud-hours N]
//! ```
//!
//! `--fraud-calls`/`--fraud-hours` scale every injected campaign (default: the article's
//! 11,000 calls in 46 hours).

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use tg_cdr_gen::{generate, Campaign, GenConfig};
use tg_model::civil::parse_date;

fn main() -> ExitCode {
    match run() {
        Ok(n) => {
            eprintln!("tg-gen-cdr: {n} records");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tg-gen-cdr: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<u64, String> {
    let mut cfg = GenConfig::default();
    let (mut scale_calls, mut scale_hours) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: {v:?} is not a number"))
        };
        match flag.as_str() {
            "--days" => cfg.days = num(value()?)? as u32,
            "--extensions" => cfg.extensions = num(value()?)? as u32,
            "--calls-per-day" => {
                let v = value()?;
                cfg.calls_per_ext_day = v.parse().map_err(|_| format!("{flag}: {v:?}"))?;
            }
            "--seed" => cfg.seed = num(value()?)?,
            "--start" => {
                let v = value()?;
                cfg.first_day = parse_date(&v).ok_or(format!("{flag}: {v:?} is not YYYY-MM-DD"))?;
            }
            "--fraud-article" => {
                let v = value()?;
                let (d, t) = v
                    .split_once('T')
                    .ok_or(format!("{flag}: {v:?} is not YYYY-MM-DDTHH:MM"))?;
                let day = parse_date(d).ok_or(format!("{flag}: bad date in {v:?}"))?;
                let (h, m) = t
                    .split_once(':')
                    .ok_or(format!("{flag}: bad time in {v:?}"))?;
                let secs = num(h.to_string())? * 3600 + num(m.to_string())? * 60;
                cfg.campaigns
                    .push(Campaign::article(day * 86_400 + secs as i64));
            }
            "--fraud-calls" => scale_calls = Some(num(value()?)? as u32),
            "--fraud-hours" => scale_hours = Some(num(value()?)? as u32),
            "-h" | "--help" => {
                println!("tg-gen-cdr [--days N] [--extensions N] [--calls-per-day X] [--seed N] [--start YYYY-MM-DD] [--fraud-article YYYY-MM-DDTHH:MM]... [--fraud-calls N] [--fraud-hours N]");
                return Ok(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    for c in &mut cfg.campaigns {
        c.calls = scale_calls.unwrap_or(c.calls);
        c.hours = scale_hours.unwrap_or(c.hours).max(1);
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let n = generate(&cfg, &mut out).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    Ok(n)
}
