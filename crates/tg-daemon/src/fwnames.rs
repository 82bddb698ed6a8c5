//! The `tg-fw-names` thread: keeps the firewall's `fw_trusted_v4`/`fw_trusted_v6` sets in step
//! with DNS for the trusted host names, with tg-firewall's [`Refresher`] (on the names' TTLs).
//!
//! It runs only when the configuration has a `[firewall]` section and at least one trusted host
//! name. The resolver runs its own small runtime, so this is a plain `std::thread`, never a
//! tokio task. Reloads stop it and start a new one when the compiled policy changed.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use tg_config::Config;
use tg_firewall::dns::Refresher;
use tg_firewall::policy::Policy;
use tg_firewall::state::StateDir;
use tg_firewall::FwError;

use crate::DaemonError;

/// The firewall policy whose names are refreshed, when there is one with names.
pub fn plan(config: &Config, config_path: &Path) -> Result<Option<Policy>, DaemonError> {
    if config.firewall.is_none() {
        return Ok(None);
    }
    // Both errors name the file (and the line) themselves.
    let fw = |e: FwError| DaemonError::Firewall(e);
    let (_, text) = Config::load_with_text(config_path).map_err(|e| fw(e.into()))?;
    let policy = Policy::build(config, &text, config_path).map_err(|e| fw(e.into()))?;
    Ok((!policy.trusted_names.is_empty()).then_some(policy))
}

/// The running refresher thread.
pub struct NamesThread {
    policy: Policy,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl NamesThread {
    /// Starts refreshing `policy`'s names from the addresses recorded in `state_dir` (what
    /// `tollguard firewall apply` loaded); the first round runs at once.
    pub fn start(policy: Policy, state_dir: &Path) -> Result<NamesThread, DaemonError> {
        let dir = StateDir::new(state_dir);
        let current = dir.names().map_err(DaemonError::Firewall)?;
        let nft = tg_nft::Nft::locate().map_err(|e| DaemonError::Firewall(e.into()))?;
        let mut refresher = Refresher::new(policy.clone(), nft, current)
            .map_err(DaemonError::Firewall)?
            .record_to(dir)
            .on_report(|line| tracing::warn!("trusted firewall names: {line}"));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        tracing::info!(
            "refreshing {} trusted firewall name(s) on their TTLs",
            policy.trusted_names.len()
        );
        let thread = std::thread::Builder::new()
            .name("tg-fw-names".into())
            .spawn(move || refresher.run(&flag))
            .map_err(DaemonError::Thread)?;
        Ok(NamesThread {
            policy,
            stop,
            thread,
        })
    }

    /// The policy it refreshes.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Stops the thread and waits for it: it notices within 200 ms, or when its current lookup
    /// ends (seconds at worst, against a dead DNS server). Joined, so an old refresher never
    /// writes the sets after its successor.
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}
