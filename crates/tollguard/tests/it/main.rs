//! The binary's integration tests, one test binary (matklad's habit: one link, one harness).
//! Each module is one command's or one scenario's tests; `support` holds what they share
//! (namespaces, the daemon's site, polling). Most start real programs in network namespaces and
//! need root.

mod support;

mod attempts_real_tools;
mod audit;
mod calls_report;
mod daemon_e2e;
mod daemon_guard;
mod daemon_journal;
mod daemon_restart;
mod decoys;
mod firewall;
mod scan;
mod scan_config;
mod scan_flood;
mod tidy;
