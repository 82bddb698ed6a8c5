//! A SIP registrar for tests that answers like Asterisk 20 and writes, for every request, the
//! lines a real Asterisk writes to its `messages` and `security` logs (formats copied from
//! `shared/research/real-asterisk-samples.md`), so real attack tools (svcrack, sipp) and
//! hand-rolled phones can be pointed at a "PBX" inside a network namespace while the daemon
//! follows the two files.
//!
//! Two dialects: [`Dialect::Pjsip`] (a wrong digest gets `401` with a new challenge; the NOTICE
//! names the Call-ID, the security events use the Call-ID as `SessionID`) and
//! [`Dialect::ChanSip`] (a wrong digest gets `403`; the `SessionID` is a fresh pointer per
//! dialog). Any user name is accepted; one password is right. It counts every wrong digest per
//! source address and remembers when each failure's lines were written.
//!
//! MD5 (RFC 1321) is implemented here so the production crates need no digest dependency.

// Entering a network namespace (setns) and the local time (localtime_r) are libc calls.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tg_testnet::Netns;

/// The realm every challenge names, as Asterisk's default.
pub const REALM: &str = "asterisk";

/// Which channel driver the responder imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// chan_pjsip (res_pjsip): wrong digest → 401 with a new challenge.
    Pjsip,
    /// chan_sip: wrong digest → 403 Forbidden.
    ChanSip,
}

/// One REGISTER as the responder saw it (for reports on what a tool really sends).
#[derive(Clone, Debug)]
pub struct Seen {
    /// Sender.
    pub from: SocketAddr,
    /// The Call-ID header.
    pub call_id: String,
    /// The CSeq header.
    pub cseq: String,
    /// The digest's nonce, when the request carried an Authorization header.
    pub nonce: Option<String>,
    /// Whether the digest was right (false without Authorization).
    pub ok: bool,
}

#[derive(Default)]
struct State {
    wrong: HashMap<IpAddr, u32>,
    failures_written: HashMap<IpAddr, Vec<Instant>>,
    seen: Vec<Seen>,
    /// chan_sip dialogs: Call-ID → (SessionID pointer, nonce sent).
    dialogs: HashMap<String, (String, String)>,
    serial: u64,
}

struct Shared {
    dialect: Dialect,
    password: String,
    messages: PathBuf,
    security: PathBuf,
    state: Mutex<State>,
}

/// The running responder; its threads stop (and sockets close) on drop.
pub struct SipResponder {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl SipResponder {
    /// Binds UDP 5060 on every address of `addrs` inside `ns` and answers from there, appending
    /// Asterisk's lines to `messages` and `security`. Panics when a bind fails.
    pub fn start(
        ns: &Netns,
        addrs: &[IpAddr],
        dialect: Dialect,
        password: &str,
        messages: PathBuf,
        security: PathBuf,
    ) -> SipResponder {
        let shared = Arc::new(Shared {
            dialect,
            password: password.to_string(),
            messages,
            security,
            state: Mutex::new(State::default()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for &addr in addrs {
            let (tx, rx) = mpsc::channel();
            let path = format!("/run/netns/{}", ns.name());
            let (shared, stop) = (shared.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                let sock = match enter(&path).and_then(|()| bind(addr)) {
                    Ok(s) => {
                        let _ = tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                serve(&sock, &shared, &stop);
            }));
            rx.recv()
                .expect("responder thread")
                .unwrap_or_else(|e| panic!("responder cannot bind {addr}:5060: {e}"));
        }
        SipResponder {
            shared,
            stop,
            threads,
        }
    }

    /// Wrong digests received from `ip`.
    pub fn wrong(&self, ip: IpAddr) -> u32 {
        let st = self.shared.state.lock().unwrap();
        st.wrong.get(&ip).copied().unwrap_or(0)
    }

    /// When the lines of each wrong digest from `ip` had been written to both files.
    pub fn failures_written(&self, ip: IpAddr) -> Vec<Instant> {
        let st = self.shared.state.lock().unwrap();
        st.failures_written.get(&ip).cloned().unwrap_or_default()
    }

    /// Every REGISTER received, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.state.lock().unwrap().seen.clone()
    }
}

impl Drop for SipResponder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn enter(path: &str) -> std::io::Result<()> {
    let file = std::fs::File::open(path)?;
    // SAFETY: setns on a valid namespace fd changes only this thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn bind(addr: IpAddr) -> std::io::Result<UdpSocket> {
    let sock = UdpSocket::bind(SocketAddr::new(addr, 5060))?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    Ok(sock)
}

fn serve(sock: &UdpSocket, shared: &Shared, stop: &AtomicBool) {
    let local = sock.local_addr().unwrap();
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if let Some(reply) = answer(shared, &text, local, from) {
            let _ = sock.send_to(reply.as_bytes(), from);
        }
    }
}

/// A parsed request: just what Asterisk's answer and log lines need.
struct Request {
    method: String,
    vias: Vec<String>,
    from: String,
    to: String,
    call_id: String,
    cseq: String,
    auth: Option<HashMap<String, String>>,
}

fn parse(text: &str) -> Option<Request> {
    let head = text.split("\r\n\r\n").next().unwrap_or(text);
    let mut lines = head.split('\n').map(|l| l.trim_end_matches('\r'));
    let first = lines.next()?;
    let mut parts = first.split(' ');
    let method = parts.next()?.to_string();
    if method == "SIP/2.0" || parts.nth(1) != Some("SIP/2.0") {
        return None;
    }
    let mut req = Request {
        method,
        vias: Vec::new(),
        from: String::new(),
        to: String::new(),
        call_id: String::new(),
        cseq: String::new(),
        auth: None,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match name.trim().to_ascii_lowercase().as_str() {
            "via" | "v" => req.vias.push(value),
            "from" | "f" => req.from = value,
            "to" | "t" => req.to = value,
            "call-id" | "i" => req.call_id = value,
            "cseq" => req.cseq = value,
            "authorization" => req.auth = Some(digest_params(&value)),
            _ => {}
        }
    }
    Some(req)
}

/// `Digest a="x",b=y,...` → its parameters (quotes removed).
pub fn digest_params(value: &str) -> HashMap<String, String> {
    let rest = value
        .trim()
        .strip_prefix("Digest")
        .unwrap_or(value)
        .trim_start();
    let mut out = HashMap::new();
    let mut in_quotes = false;
    let mut start = 0;
    let bytes = rest.as_bytes();
    let mut pieces = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                pieces.push(&rest[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&rest[start..]);
    for p in pieces {
        if let Some((k, v)) = p.split_once('=') {
            out.insert(
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            );
        }
    }
    out
}

/// The name-addr of a From/To header without its parameters: `"100" <sip:100@h>`.
fn name_addr(header: &str) -> &str {
    match header.find('>') {
        Some(end) => &header[..=end],
        None => header.split(';').next().unwrap_or(header),
    }
}

/// The user part of a From/To header's URI.
fn user_of(header: &str) -> &str {
    let uri = match header.find("sip:") {
        Some(i) => &header[i + 4..],
        None => header,
    };
    uri.split(['@', '>', ';']).next().unwrap_or("")
}

/// The response a client computes (RFC 2617; RFC 2069 when the request names no cnonce).
pub fn digest_response(
    params: &HashMap<String, String>,
    password: &str,
    method: &str,
) -> Option<String> {
    let user = params.get("username")?;
    let realm = params.get("realm")?;
    let nonce = params.get("nonce")?;
    let uri = params.get("uri")?;
    let ha1 = md5_hex(format!("{user}:{realm}:{password}").as_bytes());
    let ha2 = md5_hex(format!("{method}:{uri}").as_bytes());
    Some(
        match (params.get("qop"), params.get("cnonce"), params.get("nc")) {
            (Some(qop), Some(cnonce), Some(nc)) => {
                md5_hex(format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}").as_bytes())
            }
            _ => md5_hex(format!("{ha1}:{nonce}:{ha2}").as_bytes()),
        },
    )
}

/// The `Authorization` value a phone sends for `password` against `nonce`.
pub fn authorization(user: &str, password: &str, nonce: &str, uri: &str) -> String {
    let ha1 = md5_hex(format!("{user}:{REALM}:{password}").as_bytes());
    let ha2 = md5_hex(format!("REGISTER:{uri}").as_bytes());
    let response = md5_hex(format!("{ha1}:{nonce}:{ha2}").as_bytes());
    format!(
        "Digest username=\"{user}\",realm=\"{REALM}\",nonce=\"{nonce}\",uri=\"{uri}\",response=\"{response}\",algorithm=MD5"
    )
}

/// `IPV4/UDP/a/p` or `IPV6/UDP/a/p`, as security events print addresses.
fn event_addr(a: SocketAddr) -> String {
    let family = if a.is_ipv4() { "IPV4" } else { "IPV6" };
    format!("{family}/UDP/{}/{}", a.ip(), a.port())
}

/// The logger's date (`[YYYY-MM-DD HH:MM:SS]`, local time) and a security event's `EventTV`
/// (`YYYY-MM-DDTHH:MM:SS.mmm+hhmm`) for the wall clock now.
fn stamps() -> (String, String) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let secs = libc::time_t::try_from(now.as_secs()).unwrap();
    // SAFETY: localtime_r writes only into the tm we pass.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    let date = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    );
    let off = tm.tm_gmtoff / 60;
    let sign = if off < 0 { '-' } else { '+' };
    let tv = format!(
        "{}T{}.{:03}{sign}{:02}{:02}",
        &date[..10],
        &date[11..],
        now.subsec_millis(),
        off.abs() / 60,
        off.abs() % 60
    );
    (format!("[{date}]"), tv)
}

fn reply(req: &Request, status: &str, tag: u64, extra: &str) -> String {
    let mut r = format!("SIP/2.0 {status}\r\n");
    for v in &req.vias {
        r.push_str(&format!("Via: {v}\r\n"));
    }
    r.push_str(&format!("Call-ID: {}\r\n", req.call_id));
    r.push_str(&format!("From: {}\r\n", req.from));
    if req.to.contains(";tag=") {
        r.push_str(&format!("To: {}\r\n", req.to));
    } else {
        r.push_str(&format!("To: {};tag=as{tag:08x}\r\n", req.to));
    }
    r.push_str(&format!("CSeq: {}\r\n", req.cseq));
    r.push_str(extra);
    r.push_str("Server: Asterisk PBX 20.20.1\r\nContent-Length: 0\r\n\r\n");
    r
}

fn challenge(nonce: &str) -> String {
    format!("WWW-Authenticate: Digest realm=\"{REALM}\",nonce=\"{nonce}\",algorithm=MD5\r\n")
}

/// The thread ids in the logger's prefix: `(NOTICE[..], SECURITY[..])`.
fn thread_ids(dialect: Dialect) -> (u32, u32) {
    match dialect {
        Dialect::Pjsip => (28525, 28554),
        Dialect::ChanSip => (29173, 29174),
    }
}

/// Handles one datagram: writes the log lines and returns the answer (None for non-requests).
fn answer(shared: &Shared, text: &str, local: SocketAddr, from: SocketAddr) -> Option<String> {
    let req = parse(text)?;
    let mut st = shared.state.lock().unwrap();
    st.serial += 1;
    let serial = st.serial;
    if req.method == "OPTIONS" {
        return Some(reply(&req, "200 OK", serial, ""));
    }
    if req.method != "REGISTER" {
        return Some(reply(&req, "405 Method Not Allowed", serial, ""));
    }
    let (date, tv) = stamps();
    let (notice_tid, sec_tid) = thread_ids(shared.dialect);
    let sec = format!("{date} SECURITY[{sec_tid}] res_security_log.c: ");
    let (la, ra) = (event_addr(local), event_addr(from));
    let account = user_of(&req.from).to_string();
    let service = match shared.dialect {
        Dialect::Pjsip => "PJSIP",
        Dialect::ChanSip => "SIP",
    };
    let digest = req.auth.as_ref().map(|p| {
        let expected = digest_response(p, &shared.password, &req.method);
        let got = p.get("response").cloned().unwrap_or_default();
        let ok = expected.as_deref() == Some(got.as_str());
        (p.get("nonce").cloned().unwrap_or_default(), got, ok)
    });
    st.seen.push(Seen {
        from,
        call_id: req.call_id.clone(),
        cseq: req.cseq.clone(),
        nonce: digest.as_ref().map(|d| d.0.clone()),
        ok: digest.as_ref().is_some_and(|d| d.2),
    });

    // (lines for messages only, lines for both files, the answer)
    let (only_messages, both, response, failed) = match (shared.dialect, digest) {
        (Dialect::Pjsip, None) => {
            let event = format!(
                "{sec}SecurityEvent=\"ChallengeSent\",EventTV=\"{tv}\",Severity=\"Informational\",Service=\"{service}\",EventVersion=\"1\",AccountID=\"{account}\",SessionID=\"{}\",LocalAddress=\"{la}\",RemoteAddress=\"{ra}\",Challenge=\"\"\n",
                req.call_id
            );
            let nonce = pjsip_nonce();
            (
                String::new(),
                event,
                reply(&req, "401 Unauthorized", serial, &challenge(&nonce)),
                false,
            )
        }
        (Dialect::Pjsip, Some((nonce, got, false))) => {
            let notice = format!(
                "{date} NOTICE[{notice_tid}] res_pjsip/pjsip_distributor.c: Request 'REGISTER' from '{}' failed for '{from}' (callid: {}) - Failed to authenticate\n",
                name_addr(&req.from),
                req.call_id
            );
            let event = format!(
                "{sec}SecurityEvent=\"ChallengeResponseFailed\",EventTV=\"{tv}\",Severity=\"Error\",Service=\"{service}\",EventVersion=\"1\",AccountID=\"{account}\",SessionID=\"{}\",LocalAddress=\"{la}\",RemoteAddress=\"{ra}\",Challenge=\"{nonce}\",Response=\"{got}\",ExpectedResponse=\"\"\n",
                req.call_id
            );
            let fresh = pjsip_nonce();
            (
                notice,
                event,
                reply(&req, "401 Unauthorized", serial, &challenge(&fresh)),
                true,
            )
        }
        (Dialect::ChanSip, None) => {
            // A new dialog structure: a new pointer as SessionID, a new 8-hex-digit nonce.
            let pointer = pointer(serial);
            let nonce = md5_hex(format!("{serial}:{tv}").as_bytes())[..8].to_string();
            let event = format!(
                "{sec}SecurityEvent=\"ChallengeSent\",EventTV=\"{tv}\",Severity=\"Informational\",Service=\"{service}\",EventVersion=\"1\",AccountID=\"{account}\",SessionID=\"{pointer}\",LocalAddress=\"{la}\",RemoteAddress=\"{ra}\",Challenge=\"{nonce}\"\n"
            );
            st.dialogs
                .insert(req.call_id.clone(), (pointer, nonce.clone()));
            (
                String::new(),
                event,
                reply(&req, "401 Unauthorized", serial, &challenge(&nonce)),
                false,
            )
        }
        (Dialect::ChanSip, Some((nonce, got, false))) => {
            let (pointer, sent) = st
                .dialogs
                .remove(&req.call_id)
                .unwrap_or_else(|| (pointer(serial), String::new()));
            let notice = format!(
                "{date} NOTICE[{notice_tid}] chan_sip.c: Registration from '{}' failed for '{from}' - Wrong password\n",
                name_addr(&req.to)
            );
            let event = format!(
                "{sec}SecurityEvent=\"InvalidPassword\",EventTV=\"{tv}\",Severity=\"Error\",Service=\"{service}\",EventVersion=\"2\",AccountID=\"{account}\",SessionID=\"{pointer}\",LocalAddress=\"{la}\",RemoteAddress=\"{ra}\",Challenge=\"{sent}\",ReceivedChallenge=\"{nonce}\",ReceivedHash=\"{got}\"\n"
            );
            (
                notice,
                event,
                reply(&req, "403 Forbidden", serial, ""),
                true,
            )
        }
        (dialect, Some((_, _, true))) => {
            let session = match dialect {
                Dialect::Pjsip => req.call_id.clone(),
                Dialect::ChanSip => st
                    .dialogs
                    .remove(&req.call_id)
                    .map(|d| d.0)
                    .unwrap_or_else(|| pointer(serial)),
            };
            let event = format!(
                "{sec}SecurityEvent=\"SuccessfulAuth\",EventTV=\"{tv}\",Severity=\"Informational\",Service=\"{service}\",EventVersion=\"1\",AccountID=\"{account}\",SessionID=\"{session}\",LocalAddress=\"{la}\",RemoteAddress=\"{ra}\",UsingPassword=\"1\"\n"
            );
            let contact = format!("Expires: 60\r\nDate: {}\r\n", &date[1..date.len() - 1]);
            (
                String::new(),
                event,
                reply(&req, "200 OK", serial, &contact),
                false,
            )
        }
    };
    super::append(&shared.messages, &(only_messages + &both));
    super::append(&shared.security, &both);
    if failed {
        *st.wrong.entry(from.ip()).or_default() += 1;
        st.failures_written
            .entry(from.ip())
            .or_default()
            .push(Instant::now());
    }
    Some(response)
}

/// chan_sip's SessionID: the address of the dialog's structure, new for every dialog.
fn pointer(serial: u64) -> String {
    format!("0x7f8054{:06x}", (0x28c0 + serial * 0x4780) % 0x100_0000)
}

/// res_pjsip's nonce: `<unix seconds>/<md5>`, the same for every challenge within a second.
fn pjsip_nonce() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    format!(
        "{secs}/{}",
        md5_hex(format!("{secs}:tollguard-test").as_bytes())
    )
}

/// MD5 of `data` as 32 lowercase hex digits (RFC 1321).
pub fn md5_hex(data: &[u8]) -> String {
    md5(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// MD5 of `data` (RFC 1321).
pub fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    // K[i] = floor(abs(sin(i + 1)) * 2^32).
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    let (mut a0, mut b0, mut c0, mut d0) = (
        0x6745_2301u32,
        0xefcd_ab89u32,
        0x98ba_dcfeu32,
        0x1032_5476u32,
    );
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    let mut out = [0u8; 16];
    for (i, w) in [a0, b0, c0, d0].iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}
