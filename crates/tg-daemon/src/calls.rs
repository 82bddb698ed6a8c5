//! The `tg-calls` thread: one small tokio runtime that runs the AMI live call guard
//! (`[calls.ami]`, tg-guard) and the alert notifier (`[alerts]`, tg-alert).
//!
//! The guard's security events (failed AMI/SIP logins, ACL refusals) become
//! [`PipelineMsg::External`] findings, so they count in the same jails as log lines. Ban notices
//! reach the notifier through an [`AlertSlot`] the enforcer thread holds; the notifier does the
//! rate limiting and de-duplication. Reloads stop the thread and start a new one only when the
//! guard's or the alerts' settings changed.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tg_alert::{channel, AlertSender, AlertSettings, Notifier};
use tg_config::Config;
use tg_guard::ami::SecurityEvent;
use tg_guard::guard::{run_guard, GuardConfig};

use crate::pipeline::PipelineMsg;
use crate::stats::Stats;
use crate::DaemonError;

/// Queue sizes: alerts are dropped and counted beyond this (the notifier allows far fewer per
/// hour anyway); security events wait for the pipeline.
const ALERT_QUEUE: usize = 1024;
const EVENT_QUEUE: usize = 1024;
/// How long a stopping notifier may take to deliver what is already queued.
const FLUSH_ON_STOP: Duration = Duration::from_secs(3);

/// Where the enforcer thread sends ban notices: the running notifier's queue, or nothing when
/// `[alerts]` is absent. Swapped on reload.
pub type AlertSlot = Arc<Mutex<Option<AlertSender>>>;

/// What the thread runs, derived from the configuration; compared on reload.
#[derive(Clone, Debug)]
pub struct CallsPlan {
    guard: Option<GuardConfig>,
    alerts: Option<AlertSettings>,
}

impl CallsPlan {
    /// The guard when `[calls.ami]` is configured, the notifier when `[alerts]` is.
    pub fn from_config(config: &Config) -> Result<CallsPlan, DaemonError> {
        let guard = match config.calls.as_ref().and_then(|c| c.ami.as_ref()) {
            Some(_) => Some(GuardConfig::from_config(config).map_err(DaemonError::Calls)?),
            None => None,
        };
        let alerts = config.alerts.as_ref().map(AlertSettings::from_config);
        Ok(CallsPlan { guard, alerts })
    }

    /// Nothing to run.
    pub fn is_empty(&self) -> bool {
        self.guard.is_none() && self.alerts.is_none()
    }

    /// Whether `other` runs the same thing (GuardConfig and AlertSettings have no `PartialEq`;
    /// their `Debug` forms hold every field and no source positions).
    pub fn same_as(&self, other: &CallsPlan) -> bool {
        format!("{self:?}") == format!("{other:?}")
    }
}

/// The running `tg-calls` thread.
pub struct CallsThread {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl CallsThread {
    /// Starts the runtime thread for `plan` (`None` when there is nothing to run). Security
    /// events go to `pipeline`; `slot` gets the notifier's sender.
    pub fn start(
        plan: &CallsPlan,
        pipeline: Sender<PipelineMsg>,
        slot: &AlertSlot,
        stats: Arc<Stats>,
    ) -> Result<Option<CallsThread>, DaemonError> {
        if plan.is_empty() {
            set_slot(slot, None);
            return Ok(None);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(DaemonError::Thread)?;
        let (alerts, alert_rx) = channel(ALERT_QUEUE);
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let plan = plan.clone();
        if plan.alerts.is_some() {
            set_slot(slot, Some(alerts.clone()));
        } else {
            set_slot(slot, None);
        }
        let thread = std::thread::Builder::new()
            .name("tg-calls".into())
            .spawn(move || {
                runtime.block_on(serve(plan, alerts, alert_rx, pipeline, stop_rx, stats))
            })
            .map_err(DaemonError::Thread)?;
        Ok(Some(CallsThread { stop, thread }))
    }

    /// Stops the guard, lets the notifier deliver what is queued (briefly), joins the thread.
    /// The slot is emptied first: the notifier ends when no sender is left.
    pub fn stop(self, slot: &AlertSlot) {
        set_slot(slot, None);
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

fn set_slot(slot: &AlertSlot, sender: Option<AlertSender>) {
    if let Ok(mut s) = slot.lock() {
        *s = sender;
    }
}

async fn serve(
    plan: CallsPlan,
    alerts: AlertSender,
    alert_rx: tokio::sync::mpsc::Receiver<tg_alert::Alert>,
    pipeline: Sender<PipelineMsg>,
    stop: tokio::sync::oneshot::Receiver<()>,
    stats: Arc<Stats>,
) {
    let notifier = match plan.alerts {
        Some(settings) => tokio::spawn(Notifier::new(settings).run(alert_rx)),
        // Without [alerts] the guard's alarms still reach the log.
        None => tokio::spawn(log_alerts(alert_rx)),
    };
    let guard = plan.guard.map(|cfg| {
        let (events_tx, events_rx) = tokio::sync::mpsc::channel(EVENT_QUEUE);
        let forward = tokio::spawn(forward_events(events_rx, pipeline));
        let guard = tokio::spawn(supervise(cfg, alerts.clone(), events_tx, stats));
        (guard, forward)
    });
    let _ = stop.await;
    if let Some((guard, forward)) = guard {
        guard.abort();
        forward.abort();
        let _ = guard.await;
    }
    // The guard's clone is gone and the slot was emptied by `stop`: dropping ours ends the
    // notifier once the queue is empty.
    drop(alerts);
    if tokio::time::timeout(FLUSH_ON_STOP, notifier).await.is_err() {
        tracing::warn!("alerts still queued at stop were not delivered");
    }
}

/// Runs the guard, and runs it again whenever it ends while the daemon still wants it: after
/// an error, and after a panic (a hostile AMI frame must never silence hang-ups for good).
async fn supervise(
    cfg: GuardConfig,
    alerts: AlertSender,
    events: tokio::sync::mpsc::Sender<SecurityEvent>,
    stats: Arc<Stats>,
) {
    let wanted = events.clone();
    keep_running(
        || run_guard(cfg.clone(), alerts.clone(), events.clone()),
        move || !wanted.is_closed(),
        &stats,
        RESTART,
    )
    .await;
}

/// Starts `run` again while `wanted()` after it ends, in error or in a panic, waiting
/// `backoff.0` at first, doubling up to `backoff.1` (back to the start after a long healthy
/// run); each restart counts in `guard_restarts`.
async fn keep_running<F, Fut>(
    mut run: F,
    wanted: impl Fn() -> bool,
    stats: &Stats,
    backoff: (Duration, Duration),
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), tg_guard::guard::GuardError>> + Send + 'static,
{
    let (min, max) = backoff;
    let mut delay = min;
    loop {
        let mut task = AbortOnDrop(tokio::spawn(run()));
        let started = std::time::Instant::now();
        match (&mut task.0).await {
            Ok(_) if !wanted() => return,
            Ok(Ok(())) => tracing::error!("call guard ended; restarting it"),
            Ok(Err(e)) => tracing::error!("call guard stopped: {e}; restarting it"),
            Err(e) if e.is_panic() => {
                tracing::error!("call guard failed (a bug, please report it); restarting it")
            }
            Err(_) => return, // cancelled: the daemon is stopping
        }
        Stats::add(&stats.guard_restarts, 1);
        if started.elapsed() > max {
            delay = min;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(max);
    }
}

/// The guard's restart backoff: first wait, longest wait.
const RESTART: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(60));

/// A task that is aborted when its handle is dropped (the supervisor's own abort then ends the
/// guard it runs).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Every security event becomes a finding for the jails.
async fn forward_events(
    mut rx: tokio::sync::mpsc::Receiver<SecurityEvent>,
    pipeline: Sender<PipelineMsg>,
) {
    while let Some(ev) = rx.recv().await {
        tracing::info!(
            "AMI security event {} from {} ({})",
            ev.event,
            ev.ip,
            ev.service
        );
        if pipeline
            .send(PipelineMsg::External(ev.to_finding()))
            .is_err()
        {
            return;
        }
    }
}

async fn log_alerts(mut rx: tokio::sync::mpsc::Receiver<tg_alert::Alert>) {
    while let Some(a) = rx.recv().await {
        tracing::warn!("{} (no [alerts] configured)", a.subject);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    #[test]
    fn a_guard_that_panics_or_fails_is_started_again_and_counted() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let stats = Stats::default();
        let runs = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&runs);
        let done = Arc::new(AtomicBool::new(false));
        let finished = Arc::clone(&done);
        runtime.block_on(keep_running(
            move || {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let finished = Arc::clone(&finished);
                async move {
                    match n {
                        0 => panic!("a hostile frame"),
                        1 => Err(tg_guard::guard::GuardError::NoAmi),
                        _ => {
                            finished.store(true, Ordering::SeqCst);
                            Ok(())
                        }
                    }
                }
            },
            || !done.load(Ordering::SeqCst),
            &stats,
            (Duration::from_millis(10), Duration::from_millis(40)),
        ));
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "started again after the panic and the error"
        );
        assert_eq!(Stats::get(&stats.guard_restarts), 2);
    }
}
