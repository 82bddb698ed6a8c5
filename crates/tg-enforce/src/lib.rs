//! Enforcers: decisions into the kernel, in batches (nftables sets with timeouts; iptables +
//! ipset fallback).
