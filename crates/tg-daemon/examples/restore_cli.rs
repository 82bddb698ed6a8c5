//! A tiny front end to the store and [`tg_daemon::reconcile`] for tests and benchmarks: it acts
//! on the network namespace it is started in (tests start it with `ip netns exec`). The kernel
//! side alone (bans, refreshes, concurrency) is tg-enforce's `enforce_cli`.
//!
//! ```text
//! restore_cli [--backend nftables|iptables] COMMAND [+ COMMAND ...]
//!   seed-store DB N SECS         record N generated bans (10.200.0.1 upward) in the SQLite
//!                                store at DB
//!   record DB IP SECS            record one ban in the store (SECS < 0: already ended)
//!   read-store DB                read the store's active bans (timing only)
//!   reconcile DB [CHUNK]         restore the store's bans into the kernel (in one batch, or in
//!                                batches of CHUNK, printing the longest batch)
//!   ban IP SECS                  ban one address in the kernel (not in the store)
//!   list                         "IP SECONDS_LEFT" per line
//! ```
//! The enforcer's objects are created first unless every command is `list`. Commands joined by
//! `+` run in one process with one enforcer. Timings go to stdout as
//! `<step> <count> <milliseconds> ms`, for bench/bans_batch.sh.

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tg_daemon::enforcer::now_ms;
use tg_daemon::reconcile::{reconcile, reconcile_in_chunks};
use tg_enforce::{Backend, BanOrder, Enforcer};
use tg_store::{BanRecord, SqliteStore, Store};

type Res = Result<(), Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("restore_cli: {e}");
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

fn run(args: &[String]) -> Res {
    let (backend, commands) = match args {
        [flag, name, rest @ ..] if flag == "--backend" => (name.as_str(), rest),
        _ => ("nftables", args),
    };
    let backend = match backend {
        "nftables" => Backend::Nftables,
        "iptables" => Backend::Iptables,
        other => return Err(format!("unknown backend {other:?}").into()),
    };
    if commands.is_empty() {
        return Err("no command".into());
    }
    let mut enforcer = tg_enforce::build(backend)?;
    if commands.iter().any(|a| a != "list") {
        enforcer.init()?;
    }
    for command in commands.split(|a| a == "+") {
        one(enforcer.as_mut(), command)?;
    }
    Ok(())
}

/// A ban of `ip` in the `asterisk` jail from `since_ms` to `until_ms`.
fn record(ip: IpAddr, since_ms: i64, until_ms: i64) -> BanRecord {
    BanRecord {
        ip: ip.into(),
        jail: "asterisk".into(),
        since_ms,
        until_ms,
        reason: "auth-failure".into(),
        count: 3,
        ban_number: 1,
    }
}

fn one(enforcer: &mut dyn Enforcer, args: &[String]) -> Res {
    let t = Instant::now();
    let took = |step: &str, count: usize| {
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        println!("{step} {count} {ms:.1} ms");
    };
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words[..] {
        ["seed-store", db, n, secs] => {
            let mut store = SqliteStore::open(db.as_ref())?;
            let now = now_ms();
            let until = now + secs.parse::<i64>()? * 1000;
            let base = u32::from(Ipv4Addr::new(10, 200, 0, 0));
            let bans: Vec<BanRecord> = (1..=n.parse::<u32>()?)
                .map(|i| record(IpAddr::V4(Ipv4Addr::from(base + i)), now, until))
                .collect();
            let t = Instant::now();
            store.record_bans(&bans)?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            println!("seed-store {} {ms:.1} ms", bans.len());
        }
        ["record", db, ip, secs] => {
            let mut store = SqliteStore::open(db.as_ref())?;
            let now = now_ms();
            let until_ms = now + secs.parse::<i64>()? * 1000;
            store.record_bans(&[record(ip.parse()?, now.min(until_ms) - 1, until_ms)])?;
        }
        ["read-store", db] => {
            let bans = SqliteStore::open(db.as_ref())?.active_bans(now_ms())?;
            took("read-store", bans.len());
        }
        ["reconcile", db] => {
            let mut store = SqliteStore::open(db.as_ref())?;
            let report = reconcile(&mut store, enforcer, now_ms())?;
            took("reconcile", report.restored);
            println!("expired {}", report.expired);
        }
        ["reconcile", db, chunk] => {
            let mut store = SqliteStore::open(db.as_ref())?;
            // How long a new ban would wait: until the first callback (reading the store plus
            // the first batch), then the longest stretch between two callbacks.
            let mut last = Instant::now();
            let mut first: Option<Duration> = None;
            let mut longest = Duration::ZERO;
            let report =
                reconcile_in_chunks(&mut store, enforcer, now_ms(), chunk.parse()?, &mut |_| {
                    match first {
                        None => first = Some(last.elapsed()),
                        Some(_) => longest = longest.max(last.elapsed()),
                    }
                    last = Instant::now();
                    Ok(())
                })?;
            took("reconcile", report.restored);
            let first_ms = first.unwrap_or_default().as_secs_f64() * 1000.0;
            println!("first-chunk 1 {first_ms:.1} ms");
            println!("longest-chunk 1 {:.1} ms", longest.as_secs_f64() * 1000.0);
            println!("expired {}", report.expired);
        }
        ["ban", ip, secs] => enforcer.ban(&[BanOrder {
            net: tg_model::parse_net(ip).ok_or("not an address or prefix")?,
            secs: secs.parse()?,
        }])?,
        ["list"] => {
            let lines: Vec<String> = enforcer
                .list()?
                .into_iter()
                .map(|(net, left)| format!("{} {left}", tg_model::net_text(net)))
                .collect();
            if !lines.is_empty() {
                println!("{}", lines.join("\n"));
            }
        }
        _ => return Err(format!("bad command line: {args:?} (see the file's docs)").into()),
    }
    Ok(())
}
