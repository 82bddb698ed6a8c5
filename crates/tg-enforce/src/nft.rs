//! The nftables enforcer: bans are elements of `banned_v4`/`banned_v6` (with timeouts) in the
//! shared `inet tollguard` table, written from inside the process as nf_tables netlink batches
//! ([`tg_nft::elements::SetWriter`]: no process start, no script text). Setup, `intact` and
//! `list` are rare and run a one-shot `nft`.
//!
//! Transactions are bounded. A `ban` or `unban` of up to
//! [`MAX_TRANSACTION`](tg_nft::elements::MAX_TRANSACTION) addresses is one all-or-nothing
//! transaction; a bigger one is split into transactions of that size. A `restore` (the
//! 100,000 bans put back after a restart) goes in transactions of [`RESTORE_CHUNK`]
//! addresses: the kernel holds the nfnetlink mutex for one transaction at a time, so a ban
//! from another thread (a new attacker during the restore) waits for one chunk — a few
//! milliseconds — and not for the whole restore. A failure leaves the earlier chunks applied;
//! the caller's retry (or the next `tg_daemon::reconcile`) redoes the rest.
//!
//! Refreshing an element that is already in the set costs three statements (see
//! `tg_nft::bans`), three times the kernel work of a plain add. So the enforcer remembers which
//! addresses it put into the kernel and until when (`live`), and uses the refresh form only for
//! those; a batch of new offenders is one plain `add`. `live` may only err towards "present":
//! an element added behind tollguard's back, unknown to `live`, keeps its own timeout on a
//! re-ban on older kernels such as Debian 12's 6.1 (still banned, possibly shorter) — which is
//! why the daemon calls `tg_daemon::reconcile` (it fills `live`) before banning.
//!
//! Every set has a `size` ([`NftEnforcer::set_size`]). When a ban batch is refused because a
//! set is full, the batch is banned again as prefixes: each address as its [`AGGREGATE_V4`] /
//! [`AGGREGATE_V6`] network, each prefix as one 8 (IPv4) or 16 (IPv6) bits wider, up to twice;
//! so a flood that fills the address set goes on being banned, coarser. Each aggregated order
//! is counted ([`Enforcer::aggregated`]) and logged. `init` asks for the size; a kernel that
//! refuses to resize an existing set gets the setup without sizes (logged), as before.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use serde_json::Value;
use tg_nft::bans::{clamp_timeout, BanScript, Element};
use tg_nft::elements::{SetWriter, MAX_TRANSACTION};
use tg_nft::{Nft, NftError, BANNED_NETS_V4, BANNED_NETS_V6, BANNED_V4, BANNED_V6};

use crate::conntrack::Conntrack;
use crate::{unique_nets, unique_orders, BanOrder, EnforceError, Enforcer};

/// The prefix an IPv4 address is banned as when its set is full.
pub const AGGREGATE_V4: u8 = 24;
/// The prefix an IPv6 address is banned as when its set is full.
pub const AGGREGATE_V6: u8 = 64;

/// Slack before `live` forgets an element: the kernel's clock started a little after ours.
const EXPIRY_SLACK: Duration = Duration::from_secs(2);

/// The most addresses one `restore` transaction carries, so that other bans can slip in
/// between two transactions of a large restore (about 1 ms each quiet, a few ms with a busy `nft monitor` listening).
pub const RESTORE_CHUNK: usize = 500;

/// Bans as nftables set elements with timeouts.
#[derive(Debug)]
pub struct NftEnforcer {
    nft: Nft,
    writer: SetWriter,
    script: BanScript,
    forward: bool,
    conntrack: Conntrack,
    live: HashMap<IpNet, Instant>,
    pruned_at_len: usize,
    size: Option<u32>,
    aggregated: u64,
}

impl NftEnforcer {
    /// The enforcer for the default table `inet tollguard`, with the forward chain.
    pub fn new() -> Result<NftEnforcer, EnforceError> {
        NftEnforcer::with_table(tg_nft::TABLE)
    }

    /// The enforcer for `inet <table>` (the `[daemon] table` setting), with the forward chain.
    pub fn with_table(table: &str) -> Result<NftEnforcer, EnforceError> {
        let nft = Nft::locate()?;
        Ok(NftEnforcer {
            writer: SetWriter::new(table)?,
            nft,
            script: BanScript::new(table)?,
            forward: true,
            conntrack: Conntrack::start(),
            live: HashMap::new(),
            pruned_at_len: 0,
            size: Some(tg_nft::bans::DEFAULT_SET_SIZE),
            aggregated: 0,
        })
    }

    /// Each ban set's `size` (default [`tg_nft::bans::DEFAULT_SET_SIZE`]; `None`: the
    /// kernel's default). Takes effect at [`Enforcer::init`].
    pub fn set_size(mut self, size: Option<u32>) -> NftEnforcer {
        self.size = size;
        self
    }

    /// Whether to also drop banned sources in forwarded traffic (chain `bans_forward`, hook
    /// forward, priority -150) — on by default, for a PBX in a container or VM behind this
    /// host. Takes effect at [`Enforcer::init`], which removes the chain when off.
    pub fn forward(mut self, on: bool) -> NftEnforcer {
        self.forward = on;
        self
    }

    fn elements(orders: &[BanOrder]) -> Vec<Element> {
        orders
            .iter()
            .map(|o| Element {
                net: o.net,
                secs: o.secs,
            })
            .collect()
    }

    fn remember(&mut self, orders: &[BanOrder]) {
        let now = Instant::now();
        for o in orders {
            self.live.insert(
                o.net,
                now + Duration::from_secs(clamp_timeout(o.secs)) + EXPIRY_SLACK,
            );
        }
        // Forget expired entries now and then, so the map stays the size of the live bans.
        if self.live.len() > 2 * self.pruned_at_len + 1024 {
            self.live.retain(|_, until| *until > now);
            self.pruned_at_len = self.live.len();
        }
    }

    fn list_set(&self, set: &str) -> Result<Vec<(IpNet, u64)>, EnforceError> {
        let json = self.nft.run(
            &["-j", "list", "set", "inet", self.script.table(), set],
            None,
        )?;
        parse_set_listing(&json).map_err(|detail| EnforceError::Unreadable {
            what: format!("nft -j list set inet {} {set}", self.script.table()),
            detail,
        })
    }
}

impl NftEnforcer {
    /// Writes elements. If the kernel refuses because the ban objects are gone (`nft flush
    /// ruleset`, e.g. a `systemctl reload nftables`), re-creates them and writes once more; the
    /// other bans that vanished with them are `tg_daemon::reconcile`'s to restore.
    fn write(
        &mut self,
        op: impl Fn(&mut SetWriter) -> Result<(), NftError>,
    ) -> Result<(), EnforceError> {
        match op(&mut self.writer) {
            Err(e) if e.is_refusal() && (e.objects_missing() || !self.intact()?) => {
                tracing::warn!(
                    table = self.script.table(),
                    error = %e,
                    "the ban sets were gone; re-creating them"
                );
                self.live.clear();
                self.init()?;
                Ok(op(&mut self.writer)?)
            }
            other => Ok(other?),
        }
    }
}

impl Enforcer for NftEnforcer {
    fn init(&mut self) -> Result<(), EnforceError> {
        let sized = self.script.clone().size(self.size);
        match self.nft.load(&sized.setup(self.forward)) {
            Err(e) if e.is_refusal() && self.size.is_some() => {
                tracing::warn!(
                    error = %e,
                    "the kernel refused to set the ban sets' size; keeping the sets as they are"
                );
                Ok(self
                    .nft
                    .load(&self.script.clone().size(None).setup(self.forward))?)
            }
            other => Ok(other?),
        }
    }

    fn aggregated(&self) -> u64 {
        self.aggregated
    }

    fn intact(&mut self) -> Result<bool, EnforceError> {
        // Terse: the definitions and rules without the (possibly 100,000) elements.
        let table = self.script.table();
        match self.nft.run(&["-t", "list", "table", "inet", table], None) {
            Ok(text) => Ok(ban_objects_present(&text, self.forward)),
            Err(tg_nft::NftError::Refused { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn ban(&mut self, orders: &[BanOrder]) -> Result<(), EnforceError> {
        let orders = unique_orders(orders);
        if orders.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        let (known, new): (Vec<BanOrder>, Vec<BanOrder>) = orders
            .iter()
            .partition(|o| self.live.get(&o.net).is_some_and(|until| *until > now));
        let (known, new) = (Self::elements(&known), Self::elements(&new));
        let written = self.write(|w| w.ban(&known, &new, MAX_TRANSACTION));
        // Even after a failure: earlier transactions may have landed, and `live` may only err
        // towards "present" (a refresh of an absent address is still a correct ban).
        self.remember(&orders);
        let orders = match written {
            Err(EnforceError::Nft(e)) if e.set_full() => self.ban_coarser(&orders, e)?,
            other => {
                other?;
                orders
            }
        };
        let nets: Vec<IpNet> = orders.iter().map(|o| o.net).collect();
        self.conntrack.forget(&nets);
        Ok(())
    }

    fn restore(&mut self, orders: &[BanOrder]) -> Result<(), EnforceError> {
        let orders = unique_orders(orders);
        if orders.is_empty() {
            return Ok(());
        }
        let elements = Self::elements(&orders);
        let written = self.write(|w| w.add(&elements, RESTORE_CHUNK));
        self.remember(&orders);
        written?;
        Ok(())
    }

    fn unban(&mut self, nets: &[IpNet]) -> Result<(), EnforceError> {
        let ips = unique_nets(nets);
        if ips.is_empty() {
            return Ok(());
        }
        self.write(|w| w.remove(&ips, MAX_TRANSACTION))?;
        for ip in &ips {
            self.live.remove(ip);
        }
        Ok(())
    }

    fn list(&mut self) -> Result<Vec<(IpNet, u64)>, EnforceError> {
        let mut all = Vec::new();
        for set in [BANNED_V4, BANNED_V6, BANNED_NETS_V4, BANNED_NETS_V6] {
            all.extend(self.list_set(set)?);
        }
        Ok(all)
    }

    fn backend(&self) -> &'static str {
        "nftables"
    }
}

impl NftEnforcer {
    /// A set was full: bans `orders` again as coarser prefixes (see the module docs); returns
    /// what was banned.
    fn ban_coarser(
        &mut self,
        orders: &[BanOrder],
        full: NftError,
    ) -> Result<Vec<BanOrder>, EnforceError> {
        let mut last = full;
        let mut current: Vec<BanOrder> = orders.to_vec();
        for _ in 0..3 {
            current = unique_orders(
                &current
                    .iter()
                    .map(|o| BanOrder {
                        net: coarser(o.net),
                        secs: o.secs,
                    })
                    .collect::<Vec<_>>(),
            );
            let elements = Self::elements(&current);
            match self.write(|w| w.add(&elements, MAX_TRANSACTION)) {
                Ok(()) => {
                    self.aggregated += orders.len() as u64;
                    self.remember(&current);
                    tracing::warn!(
                        orders = orders.len(),
                        prefixes = current.len(),
                        error = %last,
                        "a ban set is full: banned the addresses' prefixes instead"
                    );
                    return Ok(current);
                }
                Err(EnforceError::Nft(e)) if e.set_full() => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last.into())
    }
}

/// The next coarser ban target: an address becomes its [`AGGREGATE_V4`] / [`AGGREGATE_V6`]
/// network, a prefix one 8 (IPv4) or 16 (IPv6) bits wider, never wider than a /8 or /16.
fn coarser(net: IpNet) -> IpNet {
    let len = match net {
        IpNet::V4(n) if n.prefix_len() > AGGREGATE_V4 => AGGREGATE_V4,
        IpNet::V4(n) => n.prefix_len().saturating_sub(8).max(8),
        IpNet::V6(n) if n.prefix_len() > AGGREGATE_V6 => AGGREGATE_V6,
        IpNet::V6(n) => n.prefix_len().saturating_sub(16).max(16),
    };
    IpNet::new(net.addr(), len).map_or(net, |n| n.trunc())
}

/// True when `nft -t list table` text has both sets and the drop rules in the ban chain(s).
fn ban_objects_present(text: &str, forward: bool) -> bool {
    let chain_drops = |chain: &str| {
        let header = format!("chain {chain} {{");
        text.split_once(&header).is_some_and(|(_, rest)| {
            let body = rest.split_once("\n\t}").map_or(rest, |(body, _)| body);
            body.contains(&format!("ip saddr @{BANNED_V4} drop"))
                && body.contains(&format!("ip6 saddr @{BANNED_V6} drop"))
                && body.contains(&format!("ip saddr @{BANNED_NETS_V4} drop"))
                && body.contains(&format!("ip6 saddr @{BANNED_NETS_V6} drop"))
        })
    };
    [BANNED_V4, BANNED_V6, BANNED_NETS_V4, BANNED_NETS_V6]
        .iter()
        .all(|set| text.contains(&format!("set {set} {{")))
        && chain_drops(tg_nft::BAN_CHAIN)
        && (!forward || chain_drops(tg_nft::bans::BAN_FORWARD_CHAIN))
}

/// Reads `nft -j list set …`: elements are `"ADDR"` (no timeout) or
/// `{"elem": {"val": "ADDR", "timeout": N, "expires": N}}`, where an interval set's value is
/// `{"prefix": {"addr": "ADDR", "len": N}}` instead of `"ADDR"`.
fn parse_set_listing(json: &str) -> Result<Vec<(IpNet, u64)>, String> {
    let doc: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let items = doc
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("no \"nftables\" array")?;
    let mut out = Vec::new();
    for set in items.iter().filter_map(|i| i.get("set")) {
        let Some(elems) = set.get("elem").and_then(Value::as_array) else {
            continue;
        };
        for e in elems {
            let (val, left) = match e.get("elem") {
                Some(inner) => (
                    inner.get("val"),
                    inner
                        .get("expires")
                        .and_then(Value::as_u64)
                        .unwrap_or(u64::MAX),
                ),
                None => (Some(e), u64::MAX),
            };
            let prefix = val.and_then(|v| v.get("prefix"));
            let (text, len) = match prefix {
                Some(p) => (
                    p.get("addr").and_then(Value::as_str),
                    p.get("len").and_then(Value::as_u64),
                ),
                None => (val.and_then(Value::as_str), None),
            };
            let text = text.ok_or_else(|| format!("element without an address: {e}"))?;
            let ip: std::net::IpAddr = text
                .parse()
                .map_err(|_| format!("element {text:?} is not an address"))?;
            let net = match len {
                None => IpNet::from(ip),
                Some(len) => u8::try_from(len)
                    .ok()
                    .and_then(|len| IpNet::new(ip, len).ok())
                    .ok_or_else(|| format!("element {text:?}/{len} is not a prefix"))?,
            };
            out.push((net, left));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_listings_parse_with_and_without_timeouts() {
        let json = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"set": {"family": "inet", "name": "banned_v4",
            "table": "tollguard", "type": "ipv4_addr", "flags": ["timeout"], "elem": [{"elem": {"val": "198.51.100.7",
            "timeout": 600, "expires": 599}}, "192.0.2.9"]}}, {"set": {"name": "banned_nets_v6", "elem": [{"elem":
            {"val": {"prefix": {"addr": "2001:db8:1:2::", "len": 64}}, "timeout": 3600, "expires": 3000}}]}}]}"#;
        let got = parse_set_listing(json).unwrap();
        assert_eq!(
            got,
            vec![
                (tg_model::parse_net("198.51.100.7").unwrap(), 599),
                (tg_model::parse_net("192.0.2.9").unwrap(), u64::MAX),
                ("2001:db8:1:2::/64".parse().unwrap(), 3000),
            ]
        );
        let empty = r#"{"nftables": [{"metainfo": {}}, {"set": {"name": "banned_v6"}}]}"#;
        assert!(parse_set_listing(empty).unwrap().is_empty());
    }

    #[test]
    fn a_table_missing_a_set_or_a_drop_rule_is_not_intact() {
        let full = "table inet tollguard {\n\tset banned_v4 {\n\t\ttype ipv4_addr\n\t}\n\n\tset banned_v6 {\n\t\ttype ipv6_addr\n\t}\n\n\
                    \tset banned_nets_v4 {\n\t\ttype ipv4_addr\n\t}\n\n\tset banned_nets_v6 {\n\t\ttype ipv6_addr\n\t}\n\n\
                    \tchain bans {\n\t\ttype filter hook input priority mangle; policy accept;\n\t\tip saddr @banned_v4 drop\n\t\tip6 saddr @banned_v6 drop\n\
                    \t\tip saddr @banned_nets_v4 drop\n\t\tip6 saddr @banned_nets_v6 drop\n\t}\n\n\
                    \tchain fw_input {\n\t\tip saddr @banned_v4 drop\n\t\tip6 saddr @banned_v6 drop\n\t}\n}\n";
        assert!(ban_objects_present(full, false));
        assert!(!ban_objects_present(full, true), "no forward chain");
        assert!(
            !ban_objects_present(
                &full.replacen("\t\tip6 saddr @banned_v6 drop\n", "", 1),
                false
            ),
            "a rule in fw_input does not count"
        );
        assert!(!ban_objects_present(
            &full.replace("set banned_v6 {", "set other {"),
            false
        ));
        assert!(!ban_objects_present("", false));
        // A table from before prefix bans (no prefix sets) is set up again.
        assert!(!ban_objects_present(
            &full.replace("set banned_nets_v6 {", "set other {"),
            false
        ));
    }

    #[test]
    fn unreadable_listings_are_errors_not_panics() {
        assert!(parse_set_listing("").is_err());
        assert!(parse_set_listing(r#"{"x": 1}"#).is_err());
        assert!(parse_set_listing(
            r#"{"nftables": [{"set": {"elem": [{"elem": {"val": "nope"}}]}}]}"#
        )
        .is_err());
        assert!(parse_set_listing(r#"{"nftables": [{"set": {"elem": [7]}}]}"#).is_err());
    }
}
