//! The live call guard: an AMI client that logs in (`Events: call,security`), follows calls,
//! applies [`crate::policy`], sends `Action: Hangup` for offending calls, queues alerts, and
//! forwards security events (failed logins and ACL refusals with their `RemoteAddress`) to the
//! daemon's jails. Reconnects with exponential backoff; the daemon spawns [`run_guard`].

use std::net::IpAddr;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::alert::{Alert, AlertSender};
use crate::ami::{encode_action, read_line, read_message, security_event, AmiError, SecurityEvent};
use crate::classify::{Classifier, ClassifyError, Dialplan};
use crate::policy::{Decision, Policy, PolicySettings};

/// How the guard reaches AMI and what it enforces.
#[derive(Clone, Debug)]
pub struct GuardConfig {
    /// AMI host.
    pub host: String,
    /// AMI port.
    pub port: u16,
    /// manager.conf user.
    pub user: String,
    /// Its secret.
    pub secret: String,
    /// The dial plan for classification.
    pub plan: Dialplan,
    /// The limits and actions.
    pub policy: PolicySettings,
    /// First reconnect delay (doubles up to `reconnect_max`).
    pub reconnect_min: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// How often running calls are re-checked (international minutes).
    pub tick: Duration,
    /// A `Ping` is sent after this much silence; after three times as much the connection is
    /// taken for dead (a rebooted PBX leaves a half-open socket) and reopened.
    pub keepalive: Duration,
}

/// The guard could not start or stopped for good.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// No `[calls.ami]` section.
    #[error("the configuration has no [calls.ami] section")]
    NoAmi,
    /// The dial plan is unusable.
    #[error(transparent)]
    Classify(#[from] ClassifyError),
    /// The runtime could not be built (standalone mode).
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl GuardConfig {
    /// From the whole configuration.
    pub fn from_config(config: &tg_config::Config) -> Result<GuardConfig, GuardError> {
        let calls = config.calls.clone().unwrap_or_default();
        let ami = calls.ami.clone().ok_or(GuardError::NoAmi)?;
        Ok(GuardConfig {
            host: ami.host.get_ref().clone(),
            port: ami.port,
            user: ami.user,
            secret: ami.secret,
            plan: Dialplan::from_config(&calls)?,
            policy: PolicySettings::from_config(&calls),
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            tick: Duration::from_secs(5),
            keepalive: Duration::from_secs(30),
        })
    }

    fn addr(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]:{}", self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs the guard until `security_events`' receiver is dropped. Connection failures are logged
/// and retried with backoff, never returned.
pub async fn run_guard(
    cfg: GuardConfig,
    alerts: AlertSender,
    security_events: mpsc::Sender<SecurityEvent>,
) -> Result<(), GuardError> {
    let mut policy = Policy::new(cfg.policy.clone(), Classifier::new(cfg.plan.clone()));
    let mut delay = cfg.reconnect_min;
    let mut action_id: u64 = 0;
    loop {
        if security_events.is_closed() {
            return Ok(());
        }
        let result = session(&cfg, &mut policy, &alerts, &security_events, &mut action_id).await;
        policy.reset_calls();
        match result {
            Ok(true) => delay = cfg.reconnect_min, // logged in, then lost: start over quickly
            Ok(false) => {}
            Err(e) => tracing::warn!("call guard: {e}"),
        }
        if security_events.is_closed() {
            return Ok(());
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(cfg.reconnect_max);
    }
}

/// One connection: `Ok(true)` when it logged in and later ended.
async fn session(
    cfg: &GuardConfig,
    policy: &mut Policy,
    alerts: &AlertSender,
    security_events: &mpsc::Sender<SecurityEvent>,
    action_id: &mut u64,
) -> Result<bool, AmiError> {
    let addr = cfg.addr();
    let io = |source| AmiError::Io {
        addr: addr.clone(),
        source,
    };
    let proto = |message: String| AmiError::Protocol {
        addr: addr.clone(),
        message,
    };
    let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&addr))
        .await
        .map_err(|_| proto("connect timed out".into()))?
        .map_err(io)?;
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let banner = tokio::time::timeout(Duration::from_secs(10), read_line(&mut rd))
        .await
        .map_err(|_| proto("no banner".into()))?
        .map_err(io)?
        .unwrap_or_default();
    if !banner.starts_with("Asterisk Call Manager/") {
        return Err(proto(format!("not an AMI banner: {banner:?}")));
    }
    *action_id += 1;
    let login_id = format!("tollguard-{action_id}");
    let login = encode_action(
        "Login",
        &[
            ("ActionID", &login_id),
            ("Username", &cfg.user),
            ("Secret", &cfg.secret),
            ("Events", "call,security"),
        ],
    )?;
    wr.write_all(login.as_bytes()).await.map_err(io)?;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(15), read_message(&mut rd))
            .await
            .map_err(|_| proto("no answer to Login".into()))?
            .map_err(io)?
            .ok_or_else(|| proto("closed during Login".into()))?;
        if msg.get("ActionID") == Some(login_id.as_str()) && msg.get("Response").is_some() {
            if msg.get("Response") == Some("Success") {
                break;
            }
            return Err(proto(format!(
                "login refused: {}",
                msg.get("Message").unwrap_or("no reason")
            )));
        }
    }
    tracing::info!("call guard: logged in to AMI at {addr}");
    let mut tick = tokio::time::interval(cfg.tick.min(cfg.keepalive));
    let mut last_heard = tokio::time::Instant::now();
    let mut last_ping = last_heard;
    loop {
        let decisions = tokio::select! {
            msg = read_message(&mut rd) => {
                let Some(msg) = msg.map_err(io)? else {
                    return Ok(true);
                };
                last_heard = tokio::time::Instant::now();
                let now = now_secs();
                if let Some(ev) = security_event(&msg, now * 1000) {
                    if security_events.send(ev).await.is_err() {
                        return Ok(true);
                    }
                    continue;
                }
                policy.on_message(&msg, now)
            }
            _ = tick.tick() => {
                let silent = last_heard.elapsed();
                if silent >= cfg.keepalive * 3 {
                    return Err(proto(format!("no answer for {}s, reconnecting", silent.as_secs())));
                }
                if silent >= cfg.keepalive && last_ping.elapsed() >= cfg.keepalive {
                    last_ping = tokio::time::Instant::now();
                    *action_id += 1;
                    let ping = encode_action("Ping", &[("ActionID", &format!("tollguard-{action_id}"))])?;
                    wr.write_all(ping.as_bytes()).await.map_err(io)?;
                }
                policy.on_tick(now_secs())
            }
        };
        for d in decisions {
            match d {
                Decision::Hangup { channel } => {
                    *action_id += 1;
                    let id = format!("tollguard-{action_id}");
                    match encode_action("Hangup", &[("ActionID", &id), ("Channel", &channel)]) {
                        Ok(action) => {
                            tracing::warn!("call guard: hanging up {channel}");
                            wr.write_all(action.as_bytes()).await.map_err(io)?;
                        }
                        Err(e) => tracing::warn!("call guard: {e}"),
                    }
                }
                Decision::Alert(alert) => alerts.send(alert),
            }
        }
    }
}

/// `tollguard calls guard`: runs the guard and the notifier on a runtime of their own, logging
/// security events (without the daemon there are no jails to feed).
pub fn run_standalone(config: &tg_config::Config) -> Result<(), GuardError> {
    let cfg = GuardConfig::from_config(config)?;
    let settings =
        crate::alert::AlertSettings::from_config(&config.alerts.clone().unwrap_or_default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(GuardError::Runtime)?;
    runtime.block_on(async move {
        let (alerts, alert_rx) = crate::alert::channel(1024);
        let (sec_tx, mut sec_rx) = mpsc::channel::<SecurityEvent>(1024);
        tokio::spawn(crate::alert::Notifier::new(settings).run(alert_rx));
        tokio::spawn(async move {
            while let Some(ev) = sec_rx.recv().await {
                eprintln!(
                    "security event {} from {} ({}, account {:?})",
                    ev.event,
                    ev.ip,
                    ev.service,
                    crate::report::clean(ev.account.as_bytes())
                );
            }
        });
        run_guard(cfg, alerts, sec_tx).await
    })
}

/// An alert for a security event (for callers that want one; the daemon bans instead).
pub fn security_alert(ev: &SecurityEvent) -> Alert {
    Alert {
        key: format!("security:{}:{}", ev.event, ev.ip),
        severity: "medium".into(),
        subject: format!("tollguard: {} from {}", ev.event, ev.ip),
        body: format!("{} ({}) from {}:{}", ev.event, ev.service, ev.ip, ev.port),
        time: ev.time_ms / 1000,
    }
}
