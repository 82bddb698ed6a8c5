//! tg-enforce's kernel tests, one test binary: `backends` runs the scenarios every backend must
//! pass for nftables and for iptables + ipset alike; `nft` and `ipset` hold what only one of them
//! does. Every test makes its own network namespaces (tg-testnet) and needs root.

mod backends;
mod common;
mod ipset;
mod nft;
