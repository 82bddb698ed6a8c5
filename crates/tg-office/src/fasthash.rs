//! The hash of the classifier's cache and the report's hot maps: rustc's FxHash
//! (the `rustc-hash` crate), fast and non-cryptographic.
//!
//! The keys are bounded by caps in the report (sources, ranges, cache entries), so hash
//! flooding can only slow a report down, never grow memory; the default SipHash took a fifth
//! of the time of a ten-million-record report.

use std::hash::Hasher;

pub use rustc_hash::{FxHashMap, FxHashSet, FxHasher};

/// Hashes bytes.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(bytes);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguishes_lengths_and_content() {
        assert_ne!(hash_bytes(b"1"), hash_bytes(b"1\0"));
        assert_ne!(hash_bytes(b"2125550123"), hash_bytes(b"2125550124"));
        assert_eq!(hash_bytes(b"abc"), hash_bytes(b"abc"));
    }
}
