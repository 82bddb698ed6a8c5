//! Alerts: email (SMTP) and webhook (JSON POST), rate-limited and de-duplicated, for the live
//! guard, the daemon's bans and a daily summary.
//!
//! A crate of its own because its producers are unrelated: the daemon's enforcer (ban notices),
//! the live call guard (tg-guard) and summaries; none of them should have to link the others to
//! send an alert.
//!
//! Producers hold an [`AlertSender`] (cheap to clone, never blocks: when the queue is full the
//! alert is counted and dropped). One [`Notifier`] task delivers. Its admission rule is pure
//! ([`Limiter::admit`]): an alert whose key was sent within `dedup_window` is suppressed, and at
//! most `max_per_hour` are sent per hour; suppressed alerts are counted and mentioned in the
//! next one sent, so nothing disappears silently.
//!
//! Why no `lettre`/`ureq`: the SMTP and HTTP/1.1 we need (one message to a local relay, one POST
//! to an `http://` endpoint) are ~150 lines here, with timeouts and header-injection checks,
//! instead of a TLS stack and dozens of crates in a security tool. TLS delivery is the local
//! MTA's job (or a TLS-terminating relay in front of the webhook); the config validation says
//! so when someone writes an `https://` URL.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::timeout;

use tg_model::civil::{civil_from_days, format_time, weekday};

/// Makes Message-IDs unique within the process.
static MESSAGE_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Per-step network timeout.
const NET_TIMEOUT: Duration = Duration::from_secs(10);

/// One alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// De-duplication key (`guard:premium:PJSIP/1005`, `ban:203.0.113.5`).
    pub key: String,
    /// How urgent: `medium`, `high`, `critical` (or `info` for summaries and ban notices).
    pub severity: Severity,
    /// One line.
    pub subject: String,
    /// Details, several lines.
    pub body: String,
    /// Unix seconds.
    pub time: i64,
}

/// How urgent an alert is. Its text (`info`, `medium`, `high`, `critical`) is what the webhook's
/// JSON and the email's header carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Ban notices and quiet summaries.
    Info,
    /// Worth a look (a security event, an after-hours call).
    Medium,
    /// Needs action (a broken call policy, a summary with call alarms).
    High,
    /// Needs action now (international calling locked down).
    Critical,
}

impl Severity {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Delivering an alert failed.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// SMTP failed.
    #[error("SMTP {server}: {message}")]
    Smtp {
        /// `host:port`.
        server: String,
        /// What went wrong.
        message: String,
    },
    /// The webhook failed.
    #[error("webhook {url}: {message}")]
    Webhook {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// Where alerts go and how often.
#[derive(Clone, Debug)]
pub struct AlertSettings {
    /// Recipients (none: no email).
    pub email_to: Vec<String>,
    /// Sender.
    pub email_from: String,
    /// SMTP relay host.
    pub smtp_host: String,
    /// SMTP relay port.
    pub smtp_port: u16,
    /// Webhook URL (`http://…`), or empty.
    pub webhook_url: String,
    /// Most alerts per hour.
    pub max_per_hour: u32,
    /// Seconds during which an alert with the same key is not repeated.
    pub dedup_window: i64,
}

impl AlertSettings {
    /// From `[alerts]`.
    pub fn from_config(c: &tg_config::calls::AlertsConfig) -> AlertSettings {
        AlertSettings {
            email_to: c.email_to.iter().map(|e| e.get_ref().clone()).collect(),
            email_from: c.email_from.get_ref().clone(),
            smtp_host: c.smtp_host.clone(),
            smtp_port: c.smtp_port,
            webhook_url: c.webhook_url.get_ref().clone(),
            max_per_hour: c.max_per_hour,
            dedup_window: c.dedup_window.0 as i64,
        }
    }
}

/// The producer side: clone freely; sending never blocks.
#[derive(Clone, Debug)]
pub struct AlertSender {
    tx: mpsc::Sender<Alert>,
    dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl AlertSender {
    /// Queues an alert; when the queue is full it is dropped and counted.
    pub fn send(&self, alert: Alert) {
        if self.tx.try_send(alert).is_err() {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Alerts dropped because the queue was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A queue for alerts: the sender for producers, the receiver for [`Notifier::run`].
pub fn channel(capacity: usize) -> (AlertSender, mpsc::Receiver<Alert>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (
        AlertSender {
            tx,
            dropped: Default::default(),
        },
        rx,
    )
}

/// Rate limit and de-duplication, without I/O.
#[derive(Debug)]
pub struct Limiter {
    max_per_hour: u32,
    dedup_window: i64,
    last_sent: HashMap<String, i64>,
    sent: VecDeque<i64>,
    /// Alerts suppressed since the last one sent.
    pub suppressed: u64,
}

impl Limiter {
    /// A limiter.
    pub fn new(max_per_hour: u32, dedup_window: i64) -> Limiter {
        Limiter {
            max_per_hour: max_per_hour.max(1),
            dedup_window,
            last_sent: HashMap::new(),
            sent: VecDeque::new(),
            suppressed: 0,
        }
    }

    /// The alert to send now (with a note about suppressed ones), or `None`.
    pub fn admit(&mut self, mut alert: Alert, now: i64) -> Option<Alert> {
        while self.sent.front().is_some_and(|&t| now - t >= 3600) {
            self.sent.pop_front();
        }
        if self.last_sent.len() > 10_000 {
            let window = self.dedup_window;
            self.last_sent.retain(|_, t| now - *t < window);
        }
        let duplicate = self
            .last_sent
            .get(&alert.key)
            .is_some_and(|&t| now - t < self.dedup_window);
        if duplicate || self.sent.len() >= self.max_per_hour as usize {
            self.suppressed += 1;
            return None;
        }
        if self.suppressed > 0 {
            alert.body.push_str(&format!(
                "\n\n({} similar or excess alerts were suppressed since the last one.)",
                self.suppressed
            ));
            self.suppressed = 0;
        }
        self.last_sent.insert(alert.key.clone(), now);
        self.sent.push_back(now);
        Some(alert)
    }
}

/// Delivers alerts by email and webhook.
pub struct Notifier {
    settings: AlertSettings,
    limiter: Limiter,
}

impl Notifier {
    /// A notifier.
    pub fn new(settings: AlertSettings) -> Notifier {
        let limiter = Limiter::new(settings.max_per_hour, settings.dedup_window);
        Notifier { settings, limiter }
    }

    /// Sends one alert (after rate limiting) by every configured channel; `Ok(false)` when it
    /// was suppressed.
    pub async fn notify(&mut self, alert: Alert, now: i64) -> Result<bool, AlertError> {
        let Some(alert) = self.limiter.admit(alert, now) else {
            return Ok(false);
        };
        let mut first_error = None;
        if !self.settings.email_to.is_empty() {
            if let Err(e) = send_email(&self.settings, &alert).await {
                first_error.get_or_insert(e);
            }
        }
        if !self.settings.webhook_url.is_empty() {
            if let Err(e) = post_webhook(&self.settings.webhook_url, &alert).await {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(true),
        }
    }

    /// Delivers every alert from `rx` until all senders are gone; failures are logged.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Alert>) {
        while let Some(alert) = rx.recv().await {
            let now = alert.time;
            if let Err(e) = self.notify(alert, now).await {
                tracing::warn!("alert not delivered: {e}");
            }
        }
    }
}

/// A ban notice for the daemon (`ip`: an address, or a prefix such as `2001:db8:1:2::/64`).
pub fn ban_notice(
    ip: impl std::fmt::Display,
    jail: &str,
    ban_secs: u64,
    reason: &str,
    now: i64,
) -> Alert {
    Alert {
        key: format!("ban:{ip}"),
        severity: Severity::Info,
        subject: format!(
            "tollguard: banned {ip} ({jail}) for {}",
            tg_model::format_duration(ban_secs)
        ),
        body: format!(
            "{ip} was banned by jail {jail} for {}.\nReason: {reason}",
            tg_model::format_duration(ban_secs)
        ),
        time: now,
    }
}

/// Counts for a daily summary.
#[derive(Clone, Debug, Default)]
pub struct DailyCounts {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Bans made.
    pub bans: u64,
    /// The most banned addresses with counts.
    pub top_offenders: Vec<(String, u64)>,
    /// Calls, international calls.
    pub calls: u64,
    /// International calls.
    pub intl_calls: u64,
    /// Call alarms (one line each).
    pub alarms: Vec<String>,
}

/// The morning summary (key per date, so it is sent once a day).
pub fn daily_summary(c: &DailyCounts, now: i64) -> Alert {
    let mut body = format!(
        "Summary for {}\n\nBans: {}\nCalls: {} ({} international)\nCall alarms: {}\n",
        c.date,
        c.bans,
        c.calls,
        c.intl_calls,
        c.alarms.len()
    );
    if !c.top_offenders.is_empty() {
        body.push_str("\nMost banned:\n");
        for (ip, n) in &c.top_offenders {
            body.push_str(&format!("  {ip}  {n}\n"));
        }
    }
    for a in &c.alarms {
        body.push_str(&format!("  ! {a}\n"));
    }
    Alert {
        key: format!("summary:{}", c.date),
        severity: if c.alarms.is_empty() {
            Severity::Info
        } else {
            Severity::High
        },
        subject: format!(
            "tollguard daily summary {}: {} bans, {} call alarms",
            c.date,
            c.bans,
            c.alarms.len()
        ),
        body,
        time: now,
    }
}

/// Header text: one line, printable ASCII only (anything else becomes `?`).
fn header_safe(text: &str) -> String {
    text.chars()
        .take(200)
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// RFC 5322 date for Unix seconds (UTC).
fn rfc5322_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let wd = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][weekday(days)];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m as usize).saturating_sub(1) % 12];
    let t = &format_time(secs)[11..];
    format!("{wd}, {d} {mon} {y} {t} +0000")
}

async fn smtp_reply(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    server: &str,
) -> Result<(u16, String), AlertError> {
    let err = |message: String| AlertError::Smtp {
        server: server.to_string(),
        message,
    };
    let mut text = String::new();
    loop {
        let mut line = String::new();
        // A reply line is short; a server that sends an endless one is cut off.
        let n = timeout(NET_TIMEOUT, (&mut *r).take(4096).read_line(&mut line))
            .await
            .map_err(|_| err("timed out".into()))?
            .map_err(|e| err(e.to_string()))?;
        if n == 0 {
            return Err(err("connection closed".into()));
        }
        if line.len() < 4 || text.len() > 16 * 1024 {
            return Err(err(format!("bad reply {line:?}")));
        }
        text.push_str(&line);
        if line.as_bytes()[3] == b' ' || line.trim_end().len() == 3 {
            let code: u16 = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| err(format!("bad reply {line:?}")))?;
            return Ok((code, text));
        }
    }
}

/// Sends one alert as a plain-text email through the SMTP relay.
pub async fn send_email(s: &AlertSettings, alert: &Alert) -> Result<(), AlertError> {
    let server = format!("{}:{}", s.smtp_host, s.smtp_port);
    let err = |message: String| AlertError::Smtp {
        server: server.clone(),
        message,
    };
    for addr in s.email_to.iter().chain(std::iter::once(&s.email_from)) {
        if !tg_config::calls::is_email_address(addr) {
            return Err(err(format!("{addr:?} is not an email address")));
        }
    }
    let stream = timeout(NET_TIMEOUT, TcpStream::connect(&server))
        .await
        .map_err(|_| err("connect timed out".into()))?
        .map_err(|e| err(e.to_string()))?;
    let (rd, wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let greeting = smtp_reply(&mut rd, &server).await?;
    if greeting.0 != 220 {
        return Err(err(format!("greeting: {}", greeting.1.trim_end())));
    }
    let mut conn = SmtpConn {
        rd,
        wr,
        server: &server,
    };
    conn.step("EHLO tollguard\r\n", 250, "EHLO").await?;
    conn.step(
        &format!("MAIL FROM:<{}>\r\n", s.email_from),
        250,
        "MAIL FROM",
    )
    .await?;
    for to in &s.email_to {
        conn.step(&format!("RCPT TO:<{to}>\r\n"), 250, "RCPT TO")
            .await?;
    }
    conn.step("DATA\r\n", 354, "DATA").await?;
    let mut msg = format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{}.{}@tollguard>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nX-Tollguard-Severity: {}\r\n\r\n",
        s.email_from,
        s.email_to.join(", "),
        header_safe(&alert.subject),
        rfc5322_date(alert.time),
        alert.time,
        format_args!(
            "{}.{}",
            std::process::id(),
            MESSAGE_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ),
        alert.severity,
    );
    for line in alert.body.lines() {
        if line.starts_with('.') {
            msg.push('.');
        }
        msg.push_str(line);
        msg.push_str("\r\n");
    }
    msg.push_str(".\r\n");
    conn.step(&msg, 250, "message").await?;
    let _ = conn.wr.write_all(b"QUIT\r\n").await;
    Ok(())
}

struct SmtpConn<'a> {
    rd: BufReader<tokio::net::tcp::OwnedReadHalf>,
    wr: tokio::net::tcp::OwnedWriteHalf,
    server: &'a str,
}

impl SmtpConn<'_> {
    async fn step(&mut self, cmd: &str, want: u16, step: &str) -> Result<(), AlertError> {
        let err = |message: String| AlertError::Smtp {
            server: self.server.to_string(),
            message: format!("{step}: {message}"),
        };
        timeout(NET_TIMEOUT, self.wr.write_all(cmd.as_bytes()))
            .await
            .map_err(|_| err("timed out".into()))?
            .map_err(|e| err(e.to_string()))?;
        let (code, text) = smtp_reply(&mut self.rd, self.server).await?;
        if code == want || (want == 250 && code == 251) {
            Ok(())
        } else {
            Err(err(text.trim_end().to_string()))
        }
    }
}

/// `http://host[:port]/path` → (host, port, path).
pub fn parse_http_url(url: &str) -> Option<(String, u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => (h, p.parse().ok()?),
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ok = |s: &str| s.bytes().all(|b| b.is_ascii_graphic());
    if host.is_empty() || !ok(host) || !ok(path) || host.contains('@') {
        return None;
    }
    Some((host.to_string(), port, path.to_string()))
}

/// POSTs the alert as JSON; any 2xx status is success.
pub async fn post_webhook(url: &str, alert: &Alert) -> Result<(), AlertError> {
    let err = |message: String| AlertError::Webhook {
        url: url.to_string(),
        message,
    };
    let (host, port, path) = parse_http_url(url).ok_or_else(|| err("not an http:// URL".into()))?;
    let body = serde_json::to_string(alert).map_err(|e| err(e.to_string()))?;
    let host_header = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: tollguard\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let connect_to = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut stream = timeout(NET_TIMEOUT, TcpStream::connect(&connect_to))
        .await
        .map_err(|_| err("connect timed out".into()))?
        .map_err(|e| err(e.to_string()))?;
    timeout(NET_TIMEOUT, stream.write_all(request.as_bytes()))
        .await
        .map_err(|_| err("send timed out".into()))?
        .map_err(|e| err(e.to_string()))?;
    let mut rd = BufReader::new(stream);
    let mut status = String::new();
    timeout(NET_TIMEOUT, (&mut rd).take(4096).read_line(&mut status))
        .await
        .map_err(|_| err("no answer".into()))?
        .map_err(|e| err(e.to_string()))?;
    let code = status.split_whitespace().nth(1).unwrap_or("");
    if status.starts_with("HTTP/1.") && code.starts_with('2') && code.len() == 3 {
        Ok(())
    } else {
        Err(err(format!("answered {:?}", status.trim_end())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(key: &str, t: i64) -> Alert {
        Alert {
            key: key.into(),
            severity: Severity::High,
            subject: "s".into(),
            body: "b".into(),
            time: t,
        }
    }

    #[test]
    fn limiter_dedups_and_rate_limits() {
        let mut l = Limiter::new(3, 600);
        assert!(l.admit(alert("a", 0), 0).is_some());
        assert!(
            l.admit(alert("a", 10), 10).is_none(),
            "duplicate within window"
        );
        let b = l.admit(alert("b", 20), 20).unwrap();
        assert!(b.body.contains("1 similar or excess alerts"), "{}", b.body);
        assert!(l.admit(alert("c", 30), 30).is_some());
        assert!(l.admit(alert("d", 40), 40).is_none(), "fourth in the hour");
        let next = l.admit(alert("a", 3601), 3601).unwrap();
        assert!(
            next.body.contains("1 similar or excess alerts"),
            "{}",
            next.body
        );
    }

    #[tokio::test]
    async fn hostile_smtp_replies_are_errors_not_panics() {
        for reply in [
            &b"\xc3\xa9\xc3\xa9 hello\r\n"[..],
            b"2\xc3\xa90 x\r\n",
            &[b'2'; 10_000],
            b"22\r\n",
        ] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let reply = reply.to_vec();
            let server = tokio::spawn(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                let _ = s.write_all(&reply).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            });
            let settings = AlertSettings {
                email_to: vec!["a@example.com".into()],
                email_from: "b@example.com".into(),
                smtp_host: "127.0.0.1".into(),
                smtp_port: port,
                webhook_url: String::new(),
                max_per_hour: 1,
                dedup_window: 1,
            };
            assert!(send_email(&settings, &alert("k", 0)).await.is_err());
            server.abort();
        }
    }

    #[test]
    fn urls_and_headers() {
        assert_eq!(
            parse_http_url("http://127.0.0.1:8080/hook?x=1"),
            Some(("127.0.0.1".into(), 8080, "/hook?x=1".into()))
        );
        assert_eq!(
            parse_http_url("http://example.com"),
            Some(("example.com".into(), 80, "/".into()))
        );
        assert_eq!(parse_http_url("https://example.com/"), None);
        assert_eq!(parse_http_url("http://a b/"), None);
        assert_eq!(header_safe("x\r\nBcc: evil"), "x??Bcc: evil");
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
    }

    #[test]
    fn summary_and_ban_notice() {
        let s = daily_summary(
            &DailyCounts {
                date: "2025-04-19".into(),
                bans: 3,
                alarms: vec!["premium PJSIP/1005".into()],
                ..Default::default()
            },
            0,
        );
        assert!(s.subject.contains("3 bans, 1 call alarms"), "{}", s.subject);
        let b = ban_notice(
            "203.0.113.5".parse::<std::net::IpAddr>().unwrap(),
            "sip",
            3600,
            "5 failures",
            0,
        );
        assert_eq!(b.key, "ban:203.0.113.5");
        assert!(b.subject.contains("1h"), "{}", b.subject);
    }
}
