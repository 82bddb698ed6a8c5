//! Forgetting banned sources' connection-tracking entries, so a flow the kernel already tracks
//! (an established UDP SIP "connection", a NAT binding) does not outlive the ban. The drop rule
//! runs before `ct state established accept` and would stop the packets anyway; deleting the
//! entries also stops forwarded/NATed flows on hosts whose chains accept established traffic
//! before ours, and frees the table.
//!
//! One `conntrack -R -` process per batch reads `-D -s ADDR` lines on stdin. Each of those
//! lines costs the tool a table dump, so for a large batch the table is listed once (per
//! family) and only the banned sources that actually have entries are deleted.

use std::collections::HashSet;
use std::fmt::Write;
use std::net::IpAddr;

use crate::program::Program;
use crate::EnforceError;

/// Up to this many addresses, delete directly; above, list the table first.
const DIRECT_LIMIT: usize = 64;

/// The `conntrack` tool, if installed.
#[derive(Clone, Debug)]
pub(crate) struct Conntrack {
    program: Option<Program>,
}

impl Conntrack {
    pub(crate) fn locate() -> Conntrack {
        let program = Program::locate("conntrack", "conntrack").ok();
        if program.is_none() {
            tracing::warn!("conntrack not found: banned sources' tracked flows will not be cleared (install the conntrack package)");
        }
        Conntrack { program }
    }

    /// Deletes the entries whose original source is one of `ips`; problems are logged, not
    /// returned (the ban itself is already in force).
    pub(crate) fn forget(&self, ips: &[IpAddr]) {
        let Some(program) = &self.program else { return };
        if ips.is_empty() {
            return;
        }
        if let Err(e) = forget(program, ips) {
            tracing::warn!(error = %e, addresses = ips.len(), "clearing conntrack entries of banned sources failed");
        }
    }
}

fn forget(program: &Program, ips: &[IpAddr]) -> Result<(), EnforceError> {
    let targets: Vec<IpAddr> = if ips.len() <= DIRECT_LIMIT {
        ips.to_vec()
    } else {
        tracked_among(program, ips)?
    };
    if targets.is_empty() {
        return Ok(());
    }
    let mut batch = String::with_capacity(targets.len() * 24);
    for ip in &targets {
        let _ = writeln!(batch, "-D -s {ip}");
    }
    program.run(&["-R", "-"], Some(&batch)).map(|_| ())
}

/// The addresses of `ips` that are the original source of at least one tracked flow.
fn tracked_among(program: &Program, ips: &[IpAddr]) -> Result<Vec<IpAddr>, EnforceError> {
    let wanted: HashSet<IpAddr> = ips.iter().copied().collect();
    let mut found = HashSet::new();
    for (family, any) in [
        ("ipv4", ips.iter().any(IpAddr::is_ipv4)),
        ("ipv6", ips.iter().any(IpAddr::is_ipv6)),
    ] {
        if !any {
            continue;
        }
        let listing = program.run(&["-L", "-f", family], None)?;
        found.extend(original_sources(&listing).filter(|ip| wanted.contains(ip)));
    }
    Ok(found.into_iter().collect())
}

/// The first `src=` of each line of a `conntrack -L` listing: the original direction's source.
fn original_sources(listing: &str) -> impl Iterator<Item = IpAddr> + '_ {
    listing.lines().filter_map(|line| {
        line.split_whitespace()
            .find_map(|field| field.strip_prefix("src="))
            .and_then(|ip| ip.parse().ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_source_is_the_first_src_of_a_line() {
        let listing = "udp      17 29 src=10.66.0.2 dst=10.66.0.1 sport=40000 dport=5060 [UNREPLIED] src=10.66.0.1 dst=10.66.0.2 sport=5060 dport=40000 mark=0 use=1\n\
                       tcp      6 431999 ESTABLISHED src=2001:db8::2 dst=2001:db8::1 sport=1 dport=2 src=2001:db8::1 dst=2001:db8::2 sport=2 dport=1 [ASSURED] mark=0 use=1\n\
                       garbage src=not-an-address\n\
                       \n";
        let got: Vec<IpAddr> = original_sources(listing).collect();
        assert_eq!(
            got,
            vec![
                "10.66.0.2".parse::<IpAddr>().unwrap(),
                "2001:db8::2".parse().unwrap()
            ]
        );
    }
}
