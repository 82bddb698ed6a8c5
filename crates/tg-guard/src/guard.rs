//! The live call guard: an AMI client that logs in (`Events: call,security`), follows calls,
//! applies [`crate::policy`], sends `Action: Hangup` for offending calls, queues alerts, and
//! forwards security events (failed logins and ACL refusals with their `RemoteAddress`) to the
//! daemon's jails. Reconnects with exponential backoff; the daemon spawns [`run_guard`].
//!
//! After every login it asks for `CoreShowChannels`, so a call that began while the link was
//! down (or before tollguard started) is judged too: each `CoreShowChannel` list item is handed
//! to [`Policy::resync`] as it arrives (nothing is buffered; at most [`MAX_LISTED`] items are
//! looked at), while events keep flowing through the usual path.

use std::net::IpAddr;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use tg_alert::{Alert, AlertSender};
use tg_model::text::clean;
use tg_office::classify::{Classifier, ClassifyError, Dialplan};

use crate::ami::{
    encode_action, read_line, read_message, security_event, AmiError, Message, SecurityEvent,
};
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
    /// The office time zone is unknown.
    #[error(transparent)]
    Clock(#[from] tg_office::clock::ClockError),
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
            policy: PolicySettings::from_config(&calls)?,
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

/// List items of one `CoreShowChannels` answer looked at, at most (a hostile or broken peer
/// listing a million channels costs no memory and little time).
pub const MAX_LISTED: usize = 20_000;

/// Where the `CoreShowChannels` list of this session stands.
struct Resync {
    action_id: String,
    listed: usize,
    done: bool,
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
    let mut refusal_logged = false;
    loop {
        if security_events.is_closed() {
            return Ok(());
        }
        let mut ids = Ids {
            next: &mut action_id,
            refusal_logged: &mut refusal_logged,
        };
        let result = session(&cfg, &mut policy, &alerts, &security_events, &mut ids).await;
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

/// What outlives one connection: the ActionID counter and whether a refused
/// `CoreShowChannels` was already logged (it is logged once, not on every reconnect).
struct Ids<'a> {
    next: &'a mut u64,
    refusal_logged: &'a mut bool,
}

/// One connection: `Ok(true)` when it logged in and later ended.
async fn session(
    cfg: &GuardConfig,
    policy: &mut Policy,
    alerts: &AlertSender,
    security_events: &mpsc::Sender<SecurityEvent>,
    ids: &mut Ids<'_>,
) -> Result<bool, AmiError> {
    let action_id = &mut *ids.next;
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
    // Calls already running are unknown to us: ask for the list of channels.
    *action_id += 1;
    let mut resync = Resync {
        action_id: format!("tollguard-{action_id}"),
        listed: 0,
        done: false,
    };
    let list = encode_action("CoreShowChannels", &[("ActionID", &resync.action_id)])?;
    policy.begin_resync();
    wr.write_all(list.as_bytes()).await.map_err(io)?;
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
                if !resync.done && msg.get("ActionID") == Some(resync.action_id.as_str()) {
                    on_list_message(&msg, &mut resync, policy, ids.refusal_logged, now)
                } else if let Some(ev) = security_event(&msg, now * 1000) {
                    if security_events.send(ev).await.is_err() {
                        return Ok(true);
                    }
                    continue;
                } else {
                    policy.on_message(&msg, now)
                }
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

/// One message of the `CoreShowChannels` answer: the response, a list item, or the end.
fn on_list_message(
    msg: &Message,
    resync: &mut Resync,
    policy: &mut Policy,
    refusal_logged: &mut bool,
    now: i64,
) -> Vec<Decision> {
    match (msg.get("Response"), msg.event()) {
        (Some(r), _) if r.eq_ignore_ascii_case("Success") => Vec::new(),
        (Some(_), _) => {
            resync.done = true;
            policy.end_resync();
            if !std::mem::replace(refusal_logged, true) {
                tracing::warn!(
                    "call guard: AMI refused CoreShowChannels ({}): calls already running when \
                     the guard (re)connects are not checked; give the AMI user the `reporting` \
                     (or `system`) class in manager.conf `write =` to fix this",
                    clean(msg.get("Message").unwrap_or("no reason").as_bytes())
                );
            }
            Vec::new()
        }
        (None, Some("CoreShowChannel")) => {
            resync.listed += 1;
            if resync.listed == MAX_LISTED + 1 {
                tracing::warn!(
                    "call guard: CoreShowChannels listed more than {MAX_LISTED} channels; \
                     the rest are not checked"
                );
            }
            if resync.listed > MAX_LISTED {
                return Vec::new();
            }
            policy.resync(std::slice::from_ref(msg), now)
        }
        (None, Some("CoreShowChannelsComplete")) => {
            resync.done = true;
            policy.end_resync();
            tracing::info!(
                "call guard: {} channels running at login checked",
                resync.listed.min(MAX_LISTED)
            );
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// `tollguard calls guard`: runs the guard and the notifier on a runtime of their own, logging
/// security events (without the daemon there are no jails to feed).
pub fn run_standalone(config: &tg_config::Config) -> Result<(), GuardError> {
    let cfg = GuardConfig::from_config(config)?;
    let settings = tg_alert::AlertSettings::from_config(&config.alerts.clone().unwrap_or_default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(GuardError::Runtime)?;
    runtime.block_on(async move {
        let (alerts, alert_rx) = tg_alert::channel(1024);
        let (sec_tx, mut sec_rx) = mpsc::channel::<SecurityEvent>(1024);
        tokio::spawn(tg_alert::Notifier::new(settings).run(alert_rx));
        tokio::spawn(async move {
            while let Some(ev) = sec_rx.recv().await {
                eprintln!(
                    "security event {} from {} ({}, account {:?})",
                    ev.event,
                    ev.ip,
                    ev.service,
                    clean(ev.account.as_bytes())
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
        severity: tg_alert::Severity::Medium,
        subject: format!("tollguard: {} from {}", ev.event, ev.ip),
        body: format!("{} ({}) from {}:{}", ev.event, ev.service, ev.ip, ev.port),
        time: ev.time_ms / 1000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        let calls = tg_config::calls::CallsConfig::default();
        Policy::new(
            PolicySettings::from_config(&calls).unwrap(),
            Classifier::new(Dialplan::from_config(&calls).unwrap()),
        )
    }

    fn msg(pairs: &[(&str, &str)]) -> Message {
        Message {
            headers: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn cuba(channel: &str) -> Message {
        msg(&[
            ("Event", "CoreShowChannel"),
            ("ActionID", "tollguard-2"),
            ("Channel", channel),
            ("Context", "from-internal"),
            ("Application", "Dial"),
            ("ApplicationData", "PJSIP/01153781234567@trunk,60"),
            ("Duration", "00:10:00"),
            ("BridgeId", ""),
        ])
    }

    fn resync() -> Resync {
        Resync {
            action_id: "tollguard-2".into(),
            listed: 0,
            done: false,
        }
    }

    #[test]
    fn a_refusal_ends_the_list_and_is_noted_once() {
        let mut p = policy();
        let mut logged = false;
        for _ in 0..2 {
            let mut r = resync();
            p.begin_resync();
            let error = msg(&[
                ("Response", "Error"),
                ("ActionID", "tollguard-2"),
                ("Message", "Permission denied"),
            ]);
            assert!(on_list_message(&error, &mut r, &mut p, &mut logged, 0).is_empty());
            assert!(r.done);
            assert!(logged);
        }
    }

    #[test]
    fn the_list_is_bounded() {
        let mut p = policy();
        let mut logged = false;
        let mut r = resync();
        let ack = msg(&[("Response", "Success"), ("EventList", "start")]);
        assert!(on_list_message(&ack, &mut r, &mut p, &mut logged, 0).is_empty());
        assert!(!r.done);
        // Within the bound a fraud call is hung up …
        let d = on_list_message(&cuba("PJSIP/1005-00000001"), &mut r, &mut p, &mut logged, 0);
        assert!(d.contains(&Decision::Hangup {
            channel: "PJSIP/1005-00000001".into()
        }));
        // … beyond it nothing is looked at any more.
        let idle = msg(&[
            ("Event", "CoreShowChannel"),
            ("Channel", "Local/x@y-00000001;1"),
            ("Application", "Wait"),
        ]);
        for _ in 1..MAX_LISTED {
            assert!(on_list_message(&idle, &mut r, &mut p, &mut logged, 0).is_empty());
        }
        let d = on_list_message(&cuba("PJSIP/1006-00000002"), &mut r, &mut p, &mut logged, 0);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(p.active_calls(), 1);
        let done = msg(&[
            ("Event", "CoreShowChannelsComplete"),
            ("EventList", "Complete"),
            ("ListItems", "20001"),
        ]);
        on_list_message(&done, &mut r, &mut p, &mut logged, 0);
        assert!(r.done);
        assert!(!logged);
    }
}
