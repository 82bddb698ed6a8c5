//! Trusted host names: resolved (A and AAAA) with their TTL, and kept current in the kernel by
//! the [`Refresher`], which rewrites `fw_trusted_v4`/`fw_trusted_v6` in one nft transaction
//! whenever an address changes.
//!
//! The resolver is synchronous (hickory's blocking `Resolver`, which runs its own small runtime):
//! run [`Refresher::run`] on a plain `std::thread` (never on a tokio worker: creating a
//! runtime inside a runtime panics). The daemon does:
//!
//! ```text
//! let policy = Policy::build(&config, &text, &path)?;
//! let dir = StateDir::new(&config.daemon.state_dir);
//! let mut r = Refresher::new(policy, Nft::locate()?, dir.names()?)?.record_to(dir);
//! std::thread::spawn(move || r.run(&stop)); // stop: Arc<AtomicBool> set on shutdown/reload
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hickory_resolver::config::{NameServerConfig, Protocol, ResolverConfig, ResolverOpts};
use hickory_resolver::Resolver;

use crate::policy::{Policy, TrustedName};
use crate::render;
use crate::state::StateDir;
use crate::FwError;

/// Re-resolution never happens sooner than this after the last one (a TTL of 0 would spin).
pub const MIN_REFRESH: Duration = Duration::from_secs(1);
/// After a failed lookup, try again this soon (bounded by the configured refresh).
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

/// One name's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// A and AAAA addresses, sorted.
    pub addrs: Vec<IpAddr>,
    /// The answer's TTL (the smallest of its records).
    pub ttl: Duration,
}

/// A DNS resolver for trusted names: the configured servers, or the system's.
pub struct NameResolver {
    inner: Resolver,
}

impl NameResolver {
    /// Uses `servers` (UDP, then TCP), or `/etc/resolv.conf` when empty.
    pub fn new(servers: &[SocketAddr]) -> Result<NameResolver, FwError> {
        let mut opts = ResolverOpts::default();
        opts.timeout = Duration::from_secs(2);
        opts.attempts = 2;
        opts.ip_strategy = hickory_resolver::config::LookupIpStrategy::Ipv4AndIpv6;
        let inner = if servers.is_empty() {
            let (config, mut sys_opts) = hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| FwError::Dns {
                    detail: format!("reading /etc/resolv.conf: {e}"),
                })?;
            sys_opts.ip_strategy = opts.ip_strategy;
            Resolver::new(config, sys_opts)
        } else {
            let mut config = ResolverConfig::new();
            for s in servers {
                config.add_name_server(NameServerConfig::new(*s, Protocol::Udp));
                config.add_name_server(NameServerConfig::new(*s, Protocol::Tcp));
            }
            Resolver::new(config, opts)
        }
        .map_err(|e| FwError::Dns {
            detail: format!("starting the resolver: {e}"),
        })?;
        Ok(NameResolver { inner })
    }

    /// Resolves one name (A and AAAA), fresh (the cache is cleared first so the TTL we see is
    /// the server's).
    pub fn resolve(&self, name: &str) -> Result<Answer, String> {
        self.inner.clear_cache();
        let fqdn = if name.ends_with('.') {
            name.to_string()
        } else {
            format!("{name}.")
        };
        let lookup = self
            .inner
            .lookup_ip(fqdn.as_str())
            .map_err(|e| e.to_string())?;
        let ttl = lookup
            .valid_until()
            .saturating_duration_since(Instant::now());
        let mut addrs: Vec<IpAddr> = lookup.iter().map(tg_model::canonical_ip).collect();
        addrs.sort();
        addrs.dedup();
        if addrs.is_empty() {
            return Err("no A or AAAA record".into());
        }
        Ok(Answer { addrs, ttl })
    }
}

/// What every trusted name currently resolves to.
pub type Resolved = BTreeMap<String, Vec<IpAddr>>;

/// Resolves every name once; the first failure is an error naming the name and where it was
/// configured (nothing is applied then).
pub fn resolve_all(
    resolver: &NameResolver,
    names: &[TrustedName],
) -> Result<(Resolved, Duration), FwError> {
    let mut out = Resolved::new();
    let mut next = Duration::MAX;
    for n in names {
        let answer = resolver
            .resolve(&n.name)
            .map_err(|detail| FwError::Unresolved {
                name: n.name.clone(),
                origin: n.origin.clone(),
                detail,
            })?;
        next = next.min(answer.ttl);
        out.insert(n.name.clone(), answer.addrs);
    }
    Ok((out, next))
}

/// Keeps the trusted sets in step with DNS: resolves every name, and when any address changed,
/// rewrites both sets atomically. Failed lookups keep the name's last addresses (a DNS outage
/// must not lock the provider out) and are retried soon.
pub struct Refresher {
    policy: Policy,
    resolver: NameResolver,
    nft: tg_nft::Nft,
    current: Resolved,
    /// Called with a line for each change or failure (the CLI prints them; the daemon logs).
    report: Box<dyn FnMut(&str) + Send>,
    /// Where the loaded addresses are recorded for `status`.
    record: Option<StateDir>,
}

impl Refresher {
    /// A refresher for `policy`'s names, starting from `current` (what apply loaded).
    pub fn new(policy: Policy, nft: tg_nft::Nft, current: Resolved) -> Result<Refresher, FwError> {
        let resolver = NameResolver::new(&policy.dns_servers)?;
        Ok(Refresher {
            policy,
            resolver,
            nft,
            current,
            report: Box::new(|_| {}),
            record: None,
        })
    }

    /// Sets where change and failure lines go.
    pub fn on_report(mut self, f: impl FnMut(&str) + Send + 'static) -> Refresher {
        self.report = Box::new(f);
        self
    }

    /// Records each change in `dir` (`names.json`), for `tollguard firewall status`.
    pub fn record_to(mut self, dir: StateDir) -> Refresher {
        self.record = Some(dir);
        self
    }

    /// What the kernel sets hold now, by name.
    pub fn current(&self) -> &Resolved {
        &self.current
    }

    /// One round: resolve every name, update the sets if anything changed. Returns how long to
    /// wait before the next round (the shortest TTL, within [`MIN_REFRESH`] and the configured
    /// refresh).
    pub fn step(&mut self) -> Result<Duration, FwError> {
        let max = Duration::from_secs(self.policy.refresh_max_secs);
        let mut next = max;
        let mut fresh = self.current.clone();
        for n in &self.policy.trusted_names {
            match self.resolver.resolve(&n.name) {
                Ok(a) => {
                    next = next.min(a.ttl);
                    fresh.insert(n.name.clone(), a.addrs);
                }
                Err(e) => {
                    next = next.min(RETRY_AFTER);
                    (self.report)(&format!(
                        "{}: {} (keeping {:?})",
                        n.name,
                        e,
                        self.current.get(&n.name)
                    ));
                }
            }
        }
        if fresh != self.current {
            let script = render::trusted_update(&self.policy, &fresh);
            self.nft.load(&script).map_err(FwError::Nft)?;
            for (name, addrs) in &fresh {
                if self.current.get(name) != Some(addrs) {
                    (self.report)(&format!("{name}: now {}", join(addrs)));
                }
            }
            self.current = fresh;
            if let Some(dir) = &self.record {
                dir.save_names(&self.current)?;
            }
        }
        Ok(next.max(MIN_REFRESH))
    }

    /// Runs rounds until `stop` is set (checked every 200 ms). A failed kernel update is
    /// reported and retried after [`RETRY_AFTER`] (or sooner on a short TTL).
    pub fn run(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let wait = match self.step() {
                Ok(w) => w,
                Err(e) => {
                    (self.report)(&format!("updating the trusted sets: {e}"));
                    RETRY_AFTER
                        .min(Duration::from_secs(self.policy.refresh_max_secs))
                        .max(MIN_REFRESH)
                }
            };
            let until = Instant::now() + wait;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200).min(until - Instant::now()));
            }
        }
    }
}

fn join(addrs: &[IpAddr]) -> String {
    addrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
