//! Enforcers: decisions into the kernel, in batches (nftables sets with timeouts; iptables +
//! ipset fallback). Putting the store's bans back after a restart is `tg_daemon::reconcile`'s
//! job: this crate knows nothing of the store.
//!
//! # API (used by tg-daemon; blocking — run it on the daemon's own thread)
//! ```text
//! let mut enforcer = tg_enforce::build_from(&config.daemon)?;   // or build(backend)
//! enforcer.init()?;                                            // table, sets, chains; keeps bans
//! tg_daemon::reconcile::reconcile(&mut store, enforcer.as_mut(), now_ms)?; // store → kernel
//! // (or reconcile_in_chunks(.., 1000, &mut |e| { /* ban what queued up */ Ok(()) }))
//! // per batch of decisions: enforcer.ban, and store.record(&bans, &positions) committing the
//! // positions only with their bans (either order: tg-store docs, "Durability"):
//! enforcer.ban(&[BanOrder { net, secs }])?;                   // one transaction; conntrack after
//! enforcer.unban(&[net])?;                                     // absent addresses are fine
//! enforcer.list()?;                                            // (address or prefix, seconds left)
//! if !enforcer.intact()? { enforcer.init()?; reconcile(..)?; } // now and then: self-healing
//! ```
//! - [`Enforcer::ban`]: one kernel transaction for the whole batch (nftables: for up to
//!   [`tg_nft::elements::MAX_TRANSACTION`] addresses; a bigger batch is split into transactions
//!   of that size, each all-or-nothing); an address already banned gets exactly the new
//!   duration (refresh). It returns as soon as the kernel has the batch;
//!   the banned sources' conntrack entries are deleted right after by the enforcer's worker
//!   thread, over ctnetlink (one table dump per pass however many sources, passes coalesced to
//!   at most one a second under a flood). A conntrack failure does not fail the ban (the drop
//!   rules work without it); it is logged with `tracing::warn`. Dropping the enforcer waits for
//!   the pending pass.
//! - [`Enforcer::restore`]: adds what is missing (present elements stay banned: older kernels
//!   keep their timeout, recent ones take the restored one); no conntrack work. This is what
//!   `reconcile` uses. nftables applies it in transactions of at most [`RESTORE_CHUNK`]
//!   addresses, so another thread's ban (a new attacker during a 100,000-ban restore) waits for
//!   one chunk, not for the whole restore.
//! - Someone else's `nft flush ruleset` (Debian's `systemctl reload nftables` does one) removes
//!   the ban objects with every ban in them. The next `ban`/`restore`/`unban` notices, re-creates
//!   the objects and succeeds; [`Enforcer::intact`] lets the daemon notice sooner (poll it every
//!   few seconds) and run `init` + `reconcile` to put the other bans back.
//! - [`NftEnforcer`] also drops banned sources in forwarded traffic (chain `bans_forward`, for a
//!   PBX in a container or VM behind the host); `NftEnforcer::new()?.forward(false)` leaves it
//!   out. [`IpsetEnforcer`] guards `INPUT` only.
//! - Never banned, whatever the order says: unspecified (`0.0.0.0`, `::`), loopback, multicast
//!   and broadcast addresses (skipped with a warning).
//! - A ban is of one address or of a prefix ([`BanOrder::net`], an `IpNet`; a single address
//!   is a /32 or /128). nftables keeps prefixes in interval sets beside the address sets
//!   (`tg_nft::bans`); ipset in `hash:net` sets beside the `hash:ip` ones.
//! - A full set never stops banning: when the kernel refuses an add because a set reached its
//!   `size` (`[daemon] set_size`), [`NftEnforcer`] bans the refused addresses' prefixes instead
//!   ([`AGGREGATE_V4`], [`AGGREGATE_V6`]; wider still if the prefix sets are full too), logs it
//!   and counts it ([`Enforcer::aggregated`]).
//! - Durations are clamped to what the kernel accepts: nftables `[1 s, 3650 days]`
//!   ([`tg_nft::bans::MAX_TIMEOUT_SECS`]), ipset `[1 s, 2,147,483 s ≈ 24.8 days]`
//!   ([`ipset::MAX_TIMEOUT_SECS`]). An IPv4-mapped IPv6 address is banned as IPv4.
//!
//! # Ordering and `kill -9`
//! The caller records a batch in the store in one transaction together with the file positions
//! past the lines that caused it, and calls `ban` before or after that commit; on start it
//! calls `init` then `reconcile`. A kill before the commit makes the restart read the lines
//! again and decide the bans again; after it, reconcile re-adds what the kernel lost; bans in
//! the kernel outlive the process anyway. The tg-store docs walk through every moment; the
//! daemon's order is in `tg_daemon::enforcer`.
//!
//! # Safety of the calls
//! nftables bans, restores and unbans are netlink messages built in the process from [`IpAddr`]
//! values ([`tg_nft::elements`]: no program, no text). Programs (`nft` for setup and listings,
//! `ipset`, `iptables`, `ip6tables`) are found only in `/usr/sbin`, `/sbin`, `/usr/bin`, `/bin`
//! (never `PATH`) and called with argv; addresses reach them only as [`IpAddr`] values
//! formatted by Rust, in argv or in a batch on stdin. No shell. Conntrack entries are deleted
//! over a netlink socket, by the exact tuple the kernel reported. Everything runs in the
//! network namespace of the thread that first uses the enforcer (the netlink sockets are opened
//! on first use; the conntrack worker thread is spawned by the caller's thread and shares it).

mod conntrack;
pub mod ipset;
mod nft;
mod program;

use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;

pub use conntrack::{tracked_flows, Flow};
pub use ipset::IpsetEnforcer;
pub use nft::{NftEnforcer, AGGREGATE_V4, AGGREGATE_V6, RESTORE_CHUNK};
pub use tg_config::daemon::Backend;

/// The conntrack dump reader, exposed for the fuzz target (`fuzz/fuzz_targets/netlink.rs`),
/// not an API: a ctnetlink message's payload (after `nlmsghdr`) → the flow's original source and
/// the attributes that name it for deletion, `None` when the message holds no such flow.
#[doc(hidden)]
pub fn parse_conntrack_entry(payload: &[u8]) -> Option<(IpAddr, Vec<u8>)> {
    conntrack::parse_entry(payload).map(|e| (e.source, e.key))
}

/// Ban `net` for `secs` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BanOrder {
    /// The address (a /32 or /128) or prefix.
    pub net: IpNet,
    /// The duration in seconds (clamped to the backend's range).
    pub secs: u64,
}

/// Why an enforcer failed.
#[derive(Debug, thiserror::Error)]
pub enum EnforceError {
    /// `nft` or the kernel failed or refused the batch (nothing of the failing transaction took
    /// effect).
    #[error(transparent)]
    Nft(#[from] tg_nft::NftError),
    /// The configured table name is not an nftables identifier.
    #[error(transparent)]
    Table(#[from] tg_nft::bans::InvalidTableName),
    /// A required program is not installed.
    #[error(
        "{program} not found in /usr/sbin, /sbin, /usr/bin or /bin (install the {package} package)"
    )]
    NotFound {
        /// The program.
        program: &'static str,
        /// The Debian package that has it.
        package: &'static str,
    },
    /// Could not start or talk to a program.
    #[error("running {path}: {source}")]
    Io {
        /// The binary.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// A program refused the command or batch.
    #[error("{path} {args} failed: {stderr}")]
    Refused {
        /// The binary.
        path: PathBuf,
        /// Its arguments, space-joined (for the message only).
        args: String,
        /// What it printed.
        stderr: String,
    },
    /// A listing could not be understood.
    #[error("cannot read the output of {what}: {detail}")]
    Unreadable {
        /// Which listing.
        what: String,
        /// What was wrong.
        detail: String,
    },
}

/// Puts bans into the kernel. One implementation per backend.
pub trait Enforcer: Send {
    /// Ensures the sets and drop rules exist (idempotent; keeps existing bans).
    fn init(&mut self) -> Result<(), EnforceError>;
    /// True when the sets and drop rules are all in place (cheap: no elements are listed). A
    /// `false` means someone removed them (`nft flush ruleset`, a firewall reload): call
    /// [`Enforcer::init`] then `tg_daemon::reconcile`. Both real enforcers check the kernel; the default,
    /// for test stand-ins without a kernel, says yes.
    fn intact(&mut self) -> Result<bool, EnforceError> {
        Ok(true)
    }
    /// Bans every order in one batch; an address already banned gets exactly the new duration.
    /// Then schedules the deletion of the banned sources' conntrack entries (done within about
    /// a second by a worker thread; see the crate docs).
    fn ban(&mut self, orders: &[BanOrder]) -> Result<(), EnforceError>;
    /// Adds the orders that are missing from the kernel, leaving present ones as they are; no
    /// conntrack work (for `tg_daemon::reconcile`). nftables: in transactions of at most
    /// [`RESTORE_CHUNK`] addresses, so other bans can interleave; ipset: one batch.
    fn restore(&mut self, orders: &[BanOrder]) -> Result<(), EnforceError>;
    /// Lifts the bans of `nets` (addresses or prefixes); ones not banned are fine.
    fn unban(&mut self, nets: &[IpNet]) -> Result<(), EnforceError>;
    /// Every banned address and prefix with its seconds left (`u64::MAX` for an element
    /// without timeout, which tollguard never adds).
    fn list(&mut self) -> Result<Vec<(IpNet, u64)>, EnforceError>;
    /// Addresses banned as their prefix because their set was full, since the start.
    fn aggregated(&self) -> u64 {
        0
    }
    /// The backend's name, for logs and status (`"nftables"` or `"iptables"`).
    fn backend(&self) -> &'static str;
}

/// The enforcer for `backend`, with the default table (`inet tollguard`) for nftables.
pub fn build(backend: Backend) -> Result<Box<dyn Enforcer>, EnforceError> {
    Ok(match backend {
        Backend::Nftables => Box::new(NftEnforcer::new()?),
        Backend::Iptables => Box::new(IpsetEnforcer::new()?),
    })
}

/// The enforcer the `[daemon]` section asks for (`backend`, and `table` and `set_size` for
/// nftables).
pub fn build_from(
    daemon: &tg_config::daemon::DaemonConfig,
) -> Result<Box<dyn Enforcer>, EnforceError> {
    Ok(match daemon.backend {
        Backend::Nftables => {
            Box::new(NftEnforcer::with_table(&daemon.table)?.set_size(Some(daemon.set_size)))
        }
        Backend::Iptables => Box::new(IpsetEnforcer::new()?),
    })
}

/// Canonical form (IPv4-mapped IPv6 → IPv4) and one order per address, the last one winning;
/// addresses that are never a remote sender are dropped with a warning.
fn unique_orders(orders: &[BanOrder]) -> Vec<BanOrder> {
    let mut seen = std::collections::HashSet::with_capacity(orders.len());
    let mut out: Vec<BanOrder> = orders
        .iter()
        .rev()
        .map(|o| BanOrder {
            net: tg_model::canonical_net(o.net),
            secs: o.secs,
        })
        .filter(|o| bannable(o.net))
        .filter(|o| seen.insert(o.net))
        .collect();
    out.reverse();
    out
}

/// Defence in depth behind the daemon's trusted list: unspecified, loopback, multicast and
/// broadcast addresses are never the source of a remote attack, and banning one (a parser bug,
/// a forged log line) would cut the host off from itself; nor is a prefix that holds one, or
/// one wider than a /8 (IPv4) or /16 (IPv6).
fn bannable(net: IpNet) -> bool {
    let local = |ip: IpAddr| {
        ip.is_unspecified()
            || ip.is_loopback()
            || ip.is_multicast()
            || matches!(ip, IpAddr::V4(v4) if v4.is_broadcast())
    };
    let too_wide = match net {
        IpNet::V4(n) => n.prefix_len() < 8,
        IpNet::V6(n) => n.prefix_len() < 16,
    };
    let never = too_wide || local(net.network()) || local(net.broadcast());
    if never {
        tracing::warn!(%net, "refusing to ban a local, unspecified or multicast address (or a prefix that wide)");
    }
    !never
}

fn unique_nets(nets: &[IpNet]) -> Vec<IpNet> {
    let mut seen = std::collections::HashSet::with_capacity(nets.len());
    nets.iter()
        .map(|&n| tg_model::canonical_net(n))
        .filter(|n| seen.insert(*n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_unspecified_addresses_are_never_banned() {
        let orders: Vec<BanOrder> = [
            "127.0.0.1",
            "::1",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "ff02::1",
            "255.255.255.255",
            "::ffff:127.0.0.1",
            "198.51.100.7",
        ]
        .iter()
        .map(|ip| BanOrder {
            net: tg_model::parse_net(ip).unwrap(),
            secs: 60,
        })
        .collect();
        let kept: Vec<IpNet> = unique_orders(&orders).into_iter().map(|o| o.net).collect();
        assert_eq!(kept, [tg_model::parse_net("198.51.100.7").unwrap()]);
        let nets: Vec<BanOrder> = ["2001:db8:1:2::/64", "127.0.0.0/24", "0.0.0.0/4", "2000::/8"]
            .iter()
            .map(|n| BanOrder {
                net: n.parse().unwrap(),
                secs: 60,
            })
            .collect();
        let kept: Vec<IpNet> = unique_orders(&nets).into_iter().map(|o| o.net).collect();
        assert_eq!(kept, ["2001:db8:1:2::/64".parse::<IpNet>().unwrap()]);
    }

    #[test]
    fn orders_are_canonical_and_unique_last_wins() {
        let o = |ip: &str, secs| BanOrder {
            net: tg_model::parse_net(ip).unwrap(),
            secs,
        };
        let got = unique_orders(&[
            o("::ffff:192.0.2.1", 5),
            o("2001:db8::1", 6),
            o("192.0.2.1", 7),
        ]);
        assert_eq!(got, vec![o("2001:db8::1", 6), o("192.0.2.1", 7)]);
        let ips = unique_nets(&[
            tg_model::parse_net("::ffff:192.0.2.1").unwrap(),
            tg_model::parse_net("192.0.2.1").unwrap(),
        ]);
        assert_eq!(ips, vec![tg_model::parse_net("192.0.2.1").unwrap()]);
    }
}
