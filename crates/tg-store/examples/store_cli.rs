//! A tiny front end to the SQLite store for the `kill -9` test and the commit-latency benchmark.
//!
//! ```text
//! store_cli record-loop DB N        record N bans, one transaction each; print each address
//!                                   once its transaction has committed
//! store_cli latency DB N full|normal  commit N one-ban batches; print p50/p99/max in ms
//! store_cli bulk DB N               record N bans in one batch, then again (each replaces
//!                                   one), then read the history back in pages, then list the
//!                                   active bans; print ms
//! ```

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::time::Instant;

use tg_store::{BanRecord, Durability, SqliteStore, Store};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("store_cli: {e}");
            ExitCode::from(2)
        }
    }
}

fn ban(i: u32) -> BanRecord {
    BanRecord {
        ip: IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 200, 0, 0)) + i)).into(),
        jail: "asterisk".into(),
        since_ms: 1_000,
        until_ms: i64::MAX / 2,
        reason: "auth-failure".into(),
        count: 3,
        ban_number: 1,
    }
}

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    match args {
        [cmd, db, n] if cmd == "record-loop" => {
            let mut store = SqliteStore::open(db.as_ref())?;
            let mut out = std::io::stdout().lock();
            for i in 1..=n.parse::<u32>()? {
                let b = ban(i);
                store.record_bans(std::slice::from_ref(&b))?;
                writeln!(out, "{}", b.ip.addr())?;
                out.flush()?;
            }
            Ok(())
        }
        [cmd, db, n, sync] if cmd == "latency" => {
            let durability = match sync.as_str() {
                "full" => Durability::PowerLoss,
                "normal" => Durability::ProcessCrash,
                other => return Err(format!("unknown durability {other:?}").into()),
            };
            let mut store = SqliteStore::open_with(db.as_ref(), durability)?;
            let mut ms = Vec::new();
            for i in 1..=n.parse::<u32>()? {
                let t = Instant::now();
                store.record_bans(&[ban(i)])?;
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            ms.sort_by(f64::total_cmp);
            let pick = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
            println!(
                "{sync} p50 {:.3} p99 {:.3} max {:.3}",
                pick(0.5),
                pick(0.99),
                pick(1.0)
            );
            Ok(())
        }
        [cmd, db, n] if cmd == "bulk" => {
            let mut store = SqliteStore::open(db.as_ref())?;
            let bans: Vec<BanRecord> = (1..=n.parse::<u32>()?).map(ban).collect();
            let t = Instant::now();
            store.record_bans(&bans)?;
            let first = t.elapsed().as_secs_f64() * 1000.0;
            let t = Instant::now();
            store.record_bans(&bans)?;
            let again = t.elapsed().as_secs_f64() * 1000.0;
            let mut reader = SqliteStore::open_read_only(db.as_ref())?;
            let t = Instant::now();
            let rows = reader.history_pages(0, 2_000, &mut |_| true)?;
            let read = t.elapsed().as_secs_f64() * 1000.0;
            // The restart's restore reads every running ban (sorted by start) this way.
            let t = Instant::now();
            let active = store.active_bans(0)?.len();
            let listed = t.elapsed().as_secs_f64() * 1000.0;
            println!(
                "new {first:.1} replace {again:.1} history {read:.1} rows {rows} active {listed:.1} bans {active}"
            );
            Ok(())
        }
        _ => Err("usage: record-loop DB N | latency DB N full|normal | bulk DB N".into()),
    }
}
