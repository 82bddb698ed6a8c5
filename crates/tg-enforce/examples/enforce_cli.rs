//! A tiny front end to the enforcers for tests and benchmarks: it acts on the network namespace
//! it is started in (tests start it with `ip netns exec`), never on a built shell string.
//!
//! ```text
//! enforce_cli [--backend nftables|iptables] [--no-forward] [--no-init] [--set-size N] COMMAND [+ COMMAND ...]
//!   init                         create sets and drop rules (done once before other commands,
//!                                unless --no-init)
//!   intact                       "intact true|false": are the sets and drop rules in place
//!   ban IP SECS [IP SECS ...]    one batch (IP: an address or a prefix ADDR/LEN)
//!   unban IP [IP ...]
//!   list                         "IP SECONDS_LEFT" per line
//!   ban-many N SECS              ban N generated addresses (10.200.0.1 upward) in one call
//!   restore-many N SECS          restore N generated addresses (Enforcer::restore) in one call
//!   restore-with-bans N M        two enforcers, two threads: one restores N generated addresses
//!                                while the other bans M others (10.250.0.1 upward) one at a
//!                                time, 1 ms apart; prints each side's timing, and the one-address
//!                                bans' p50/p99/max ms counting only those started during the
//!                                restore ("bans-during-restore K p50 .. p99 .. max ..")
//!   ban-latency N                N one-address batches, one after another: p50/p99/max ms
//! ```
//! Commands joined by `+` run in one process with one enforcer (e.g. a ban then a re-ban).
//! Timings go to stdout as `<step> <count> <milliseconds> ms`, for bench/bans_batch.sh. The store
//! and restoring from it are tg-daemon's `restore_cli`.

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use tg_enforce::{BanOrder, Enforcer, IpsetEnforcer, NftEnforcer};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("enforce_cli: {e}");
            ExitCode::from(2)
        }
    }
}

type Res = Result<(), Box<dyn std::error::Error>>;

fn run(mut args: &[String]) -> Res {
    let mut backend = "nftables";
    let mut forward = true;
    let mut init = true;
    let mut set_size = Some(tg_nft::bans::DEFAULT_SET_SIZE);
    loop {
        match args {
            [flag, value, rest @ ..] if flag == "--set-size" => {
                set_size = Some(value.parse()?);
                args = rest;
            }
            [flag, value, rest @ ..] if flag == "--backend" => {
                backend = value;
                args = rest;
            }
            [flag, rest @ ..] if flag == "--no-forward" => {
                forward = false;
                args = rest;
            }
            [flag, rest @ ..] if flag == "--no-init" => {
                init = false;
                args = rest;
            }
            _ => break,
        }
    }
    let make = || -> Result<Box<dyn Enforcer>, Box<dyn std::error::Error>> {
        Ok(match backend {
            "nftables" => Box::new(NftEnforcer::new()?.forward(forward).set_size(set_size)),
            "iptables" => Box::new(IpsetEnforcer::new()?),
            other => return Err(format!("unknown backend {other:?}").into()),
        })
    };
    let mut enforcer = make()?;
    if args.is_empty() {
        return Err("no command".into());
    }
    if init && args.iter().any(|a| a != "list" && a != "intact") {
        let t = Instant::now();
        enforcer.init()?;
        timing("init", 1, t);
    }
    for command in args.split(|a| a == "+") {
        one(enforcer.as_mut(), command, &make)?;
    }
    Ok(())
}

type Make<'a> = &'a dyn Fn() -> Result<Box<dyn Enforcer>, Box<dyn std::error::Error>>;

fn one(enforcer: &mut dyn Enforcer, args: &[String], make: Make<'_>) -> Res {
    let Some((command, rest)) = args.split_first() else {
        return Err("empty command".into());
    };
    match (command.as_str(), rest) {
        ("init", []) => Ok(()),
        ("ban", pairs) if !pairs.is_empty() && pairs.len() % 2 == 0 => {
            let orders = pairs
                .chunks(2)
                .map(|p| {
                    Ok(BanOrder {
                        net: tg_model::parse_net(&p[0]).ok_or("not an address or prefix")?,
                        secs: p[1].parse()?,
                    })
                })
                .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
            Ok(enforcer.ban(&orders)?)
        }
        ("unban", ips) if !ips.is_empty() => {
            let ips = ips
                .iter()
                .map(|s| tg_model::parse_net(s).ok_or("not an address or prefix"))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(enforcer.unban(&ips)?)
        }
        ("intact", []) => {
            println!("intact {}", enforcer.intact()?);
            Ok(())
        }
        ("list", []) => {
            for (ip, left) in enforcer.list()? {
                println!("{} {left}", tg_model::net_text(ip));
            }
            Ok(())
        }
        ("ban-many", [n, secs]) => {
            let secs: u64 = secs.parse()?;
            let orders: Vec<BanOrder> = generated(n.parse()?)
                .map(|ip| BanOrder {
                    net: ip.into(),
                    secs,
                })
                .collect();
            let t = Instant::now();
            enforcer.ban(&orders)?;
            timing("ban", orders.len(), t);
            Ok(())
        }
        ("restore-many", [n, secs]) => {
            let secs: u64 = secs.parse()?;
            let orders: Vec<BanOrder> = generated(n.parse()?)
                .map(|ip| BanOrder {
                    net: ip.into(),
                    secs,
                })
                .collect();
            let t = Instant::now();
            enforcer.restore(&orders)?;
            timing("restore", orders.len(), t);
            Ok(())
        }
        ("restore-with-bans", [n, m]) => {
            let orders: Vec<BanOrder> = generated(n.parse()?)
                .map(|ip| BanOrder {
                    net: ip.into(),
                    secs: 3600,
                })
                .collect();
            let newcomers: Vec<IpAddr> =
                generated_from(Ipv4Addr::new(10, 250, 0, 0), m.parse()?).collect();
            let mut second = make()?;
            let restoring = AtomicBool::new(true);
            let start = Barrier::new(2);
            let (restored, bans) = std::thread::scope(|s| {
                let banner = s.spawn(|| {
                    start.wait();
                    let mut during = Vec::new();
                    for &ip in &newcomers {
                        let was_restoring = restoring.load(Ordering::SeqCst);
                        let t = Instant::now();
                        second.ban(&[BanOrder {
                            net: ip.into(),
                            secs: 3600,
                        }])?;
                        if was_restoring {
                            during.push(t.elapsed().as_secs_f64() * 1000.0);
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Ok::<_, tg_enforce::EnforceError>(during)
                });
                start.wait();
                let t = Instant::now();
                let restored = enforcer.restore(&orders).map(|()| t.elapsed());
                restoring.store(false, Ordering::SeqCst);
                let bans = banner.join().unwrap_or_else(|_| {
                    Err(tg_enforce::EnforceError::Unreadable {
                        what: "the banning thread".into(),
                        detail: "panicked".into(),
                    })
                });
                (restored, bans)
            });
            println!(
                "restore {} {:.1} ms",
                orders.len(),
                restored?.as_secs_f64() * 1000.0
            );
            let mut during = bans?;
            println!("bans {}", newcomers.len());
            print_latencies("bans-during-restore", &mut during);
            Ok(())
        }
        ("ban-latency", [n]) => {
            let mut ms: Vec<f64> = Vec::new();
            for ip in generated(n.parse()?) {
                let t = Instant::now();
                enforcer.ban(&[BanOrder {
                    net: ip.into(),
                    secs: 3600,
                }])?;
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            print_latencies("ban-latency", &mut ms);
            Ok(())
        }
        _ => Err(format!("bad command line: {args:?} (see the file's docs)").into()),
    }
}

/// `n` distinct addresses from 10.200.0.1 upward.
fn generated(n: u32) -> impl Iterator<Item = IpAddr> {
    generated_from(Ipv4Addr::new(10, 200, 0, 0), n)
}

/// `n` distinct addresses from `base` + 1 upward.
fn generated_from(base: Ipv4Addr, n: u32) -> impl Iterator<Item = IpAddr> {
    let base = u32::from(base);
    (1..=n).map(move |i| IpAddr::V4(Ipv4Addr::from(base.wrapping_add(i))))
}

/// `<step> <count> p50 <ms> p99 <ms> max <ms>` (zeros when there is nothing to report).
fn print_latencies(step: &str, ms: &mut [f64]) {
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        if ms.is_empty() {
            return 0.0;
        }
        ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1]
    };
    println!(
        "{step} {} p50 {:.2} p99 {:.2} max {:.2}",
        ms.len(),
        pick(0.5),
        pick(0.99),
        pick(1.0)
    );
}

fn timing(step: &str, count: usize, since: Instant) {
    println!(
        "{step} {count} {:.1} ms",
        since.elapsed().as_secs_f64() * 1000.0
    );
}
