//! nftables: a typed ruleset model, rendered to one script and loaded atomically (`nft -f -`).
//! The only crate that runs `nft`; always with argv and validated values, never a shell.
