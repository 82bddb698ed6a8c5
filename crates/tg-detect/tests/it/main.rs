//! tg-detect's integration tests, one test binary: real and recorded lines (`attempts`,
//! `corpus`, `redteam`), the generated workload, custom detectors and the hostile proptests.
//! `no_alloc` stays a binary of its own: it installs a counting global allocator, which would
//! count every other test's allocations too.

mod attempts;
mod corpus;
mod custom;
mod hostile;
mod redteam;
mod workload;
