//! Alerts delivered for real: by email to an SMTP server the test starts (Python's aiosmtpd,
//! Debian package python3-aiosmtpd, writing a maildir), and by webhook to an HTTP listener the
//! test runs; rate limiting and de-duplication hold across deliveries.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tg_alert::{ban_notice, Alert, AlertSettings, Notifier};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Smtpd {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> &'static str {
    // The Debian package installs for the system interpreter; a pyenv shim may not see it.
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

fn start_smtpd(dir: &Path) -> Smtpd {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let maildir = dir.join("maildir");
    let child = Command::new(python())
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m aiosmtpd (apt-get install python3-aiosmtpd)");
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Smtpd {
        child,
        port,
        maildir,
    }
}

fn settings(smtp_port: u16, webhook: String) -> AlertSettings {
    AlertSettings {
        email_to: vec!["ops@example.com".into(), "noc@example.net".into()],
        email_from: "tollguard@pbx.example.com".into(),
        smtp_host: "127.0.0.1".into(),
        smtp_port,
        webhook_url: webhook,
        max_per_hour: 3,
        dedup_window: 600,
    }
}

fn mails(maildir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(maildir.join("new"))
        .map(|d| {
            d.flatten()
                .map(|e| std::fs::read_to_string(e.path()).unwrap())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Accepts `n` HTTP requests, answers 204, returns their raw text.
async fn webhook_server(n: usize) -> (String, tokio::task::JoinHandle<Vec<String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/tollguard", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut requests = Vec::new();
        for _ in 0..n {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let k = s.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..k]);
                let text = String::from_utf8_lossy(&buf);
                if let Some(i) = text.find("\r\n\r\n") {
                    let len: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() >= i + 4 + len {
                        break;
                    }
                }
                if k == 0 {
                    break;
                }
            }
            s.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
            requests.push(String::from_utf8_lossy(&buf).into_owned());
        }
        requests
    });
    (url, task)
}

fn alert(key: &str, subject: &str, body: &str, time: i64) -> Alert {
    Alert {
        key: key.into(),
        severity: tg_alert::Severity::High,
        subject: subject.into(),
        body: body.into(),
        time,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_and_webhook_arrive_rate_limited_and_deduplicated() {
    let dir = tempfile::tempdir().unwrap();
    let smtpd = start_smtpd(dir.path());
    let (url, hooks) = webhook_server(3).await;
    let mut n = Notifier::new(settings(smtpd.port, url));
    let t = 1_745_010_000;
    let fraud = alert(
        "guard:blocked-type:PJSIP/1005",
        "tollguard: blocked-type — PJSIP/1005 calling 011449098790123 (GB), hung up",
        "Channel PJSIP/1005-00000003 dialled 011449098790123.\n.a line starting with a dot\nAction: hung up.",
        t,
    );
    assert!(n.notify(fraud.clone(), t).await.unwrap());
    assert!(
        !n.notify(fraud.clone(), t + 5).await.unwrap(),
        "duplicate suppressed"
    );
    let ban = ban_notice(
        "203.0.113.5".parse::<std::net::IpAddr>().unwrap(),
        "sip",
        3600,
        "5 failed logins",
        t + 10,
    );
    assert!(n.notify(ban, t + 10).await.unwrap());
    let third = alert(
        "guard:concurrency:PJSIP/1001",
        "tollguard: concurrency",
        "3 calls",
        t + 20,
    );
    assert!(n.notify(third, t + 20).await.unwrap());
    let fourth = alert(
        "guard:concurrency:PJSIP/1002",
        "tollguard: concurrency 2",
        "3 calls",
        t + 30,
    );
    assert!(!n.notify(fourth, t + 30).await.unwrap(), "over 3 per hour");

    let deadline = Instant::now() + Duration::from_secs(10);
    let got = loop {
        let m = mails(&smtpd.maildir);
        if m.len() >= 3 || Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(got.len(), 3, "{got:#?}");
    let fraud_mail = got
        .iter()
        .find(|m| m.contains("blocked-type"))
        .expect("fraud mail");
    assert!(
        fraud_mail.contains(
            "Subject: tollguard: blocked-type ? PJSIP/1005 calling 011449098790123 (GB), hung up"
        ),
        "{fraud_mail}"
    );
    assert!(
        fraud_mail.contains("To: ops@example.com, noc@example.net"),
        "{fraud_mail}"
    );
    assert!(
        fraud_mail.contains("Channel PJSIP/1005-00000003 dialled 011449098790123."),
        "{fraud_mail}"
    );
    assert!(
        fraud_mail.contains("\n.a line starting with a dot"),
        "dot-stuffing undone by the server: {fraud_mail}"
    );
    // The next mail after the suppressed duplicate mentions it.
    let ban_mail = got
        .iter()
        .find(|m| m.contains("Subject: tollguard: banned 203.0.113.5 (sip) for 1h"))
        .expect("ban mail");
    assert!(
        ban_mail.contains("1 similar or excess alerts were suppressed"),
        "{ban_mail}"
    );

    let requests = hooks.await.unwrap();
    assert_eq!(requests.len(), 3);
    assert!(
        requests[0].starts_with("POST /hooks/tollguard HTTP/1.1\r\n"),
        "{}",
        requests[0]
    );
    let body = &requests[0][requests[0].find("\r\n\r\n").unwrap() + 4..];
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["key"], "guard:blocked-type:PJSIP/1005");
    assert_eq!(json["severity"], "high");
}

#[tokio::test]
async fn delivery_failures_are_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // closed again: nothing listens
    let mut n = Notifier::new(settings(port, String::new()));
    let err = n.notify(alert("k", "s", "b", 0), 0).await.unwrap_err();
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    let mut n = Notifier::new(AlertSettings {
        email_to: Vec::new(),
        ..settings(port, format!("http://127.0.0.1:{port}/x"))
    });
    let err = n.notify(alert("k", "s", "b", 0), 0).await.unwrap_err();
    assert!(
        err.to_string().starts_with("webhook http://127.0.0.1:"),
        "{err}"
    );
}
