//! Single-thread `Detectors::detect` throughput over a log file held in memory (no I/O in the
//! timed loop), with the attackers found checked against the generator's `.truth` file.
//!
//! `cargo run --release -p tg-detect --example detect_throughput -- /tmp/w.log [rounds]`

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Instant;

use tg_detect::{Detectors, Outcome};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: detect_throughput FILE [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let det = Detectors::builtin();

    let mut best = f64::MAX;
    let (mut found, mut suspicious) = (0u64, 0u64);
    let mut ips = BTreeSet::new();
    for round in 0..rounds {
        let start = Instant::now();
        let (mut f, mut s) = (0u64, 0u64);
        for line in &lines {
            match det.detect(line) {
                Outcome::Found(d) => {
                    f += 1;
                    if round == 0 {
                        ips.insert(d.ip);
                    }
                }
                Outcome::Suspicious(_) => s += 1,
                Outcome::Nothing => {}
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
        (found, suspicious) = (f, s);
    }
    let n = lines.len() as f64;
    println!("| file | lines | best of {rounds} | lines/s (1 thread) | ns/line | MB/s | findings | suspicious | distinct IPs |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {path} | {} | {:.3} s | {:.2} M | {:.1} | {:.0} | {found} | {suspicious} | {} |",
        lines.len(),
        best,
        n / best / 1e6,
        best * 1e9 / n,
        text.len() as f64 / best / 1e6,
        ips.len()
    );
    if let Ok(truth) = std::fs::read_to_string(format!("{path}.truth")) {
        let truth: BTreeSet<IpAddr> = truth.lines().filter_map(|l| l.parse().ok()).collect();
        println!(
            "truth: {} attackers, found {}, missing {}, extra {}",
            truth.len(),
            truth.intersection(&ips).count(),
            truth.difference(&ips).count(),
            ips.difference(&truth).count()
        );
    }
}
