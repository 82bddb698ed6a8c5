//! The live guard against a scripted AMI peer on 127.0.0.1 that speaks the real wire format
//! (banner, `Response: Success` with the ActionID echoed, `Key: Value` events ending in a blank
//! line) and replays call sequences written from Asterisk's documented event formats
//! (`Newchannel`, `DialBegin`, `DialEnd`, `Newstate`, `Hangup`, security events). The guard must
//! hang up exactly the fraudulent calls, forward security events, and log in again after the
//! peer drops the connection. After each login the guard asks for `CoreShowChannels`; the peer
//! answers like `action_coreshowchannels` (list ack, one `CoreShowChannel` per channel with the
//! ActionID, `CoreShowChannelsComplete`), so calls that began while the link was down are judged.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

use tg_guard::ami::{read_line, read_message, Message};
use tg_guard::guard::{run_guard, GuardConfig};
use tg_model::Kind;

/// A channel block as `ast_manager_build_channel_state_string_prefix` writes it.
fn channel_block(
    prefix: &str,
    channel: &str,
    state: (u8, &str),
    cid: &str,
    context: &str,
    exten: &str,
    uid: &str,
) -> String {
    format!(
        "{p}Channel: {channel}\r\n{p}ChannelState: {}\r\n{p}ChannelStateDesc: {}\r\n{p}CallerIDNum: {cid}\r\n{p}CallerIDName: <unknown>\r\n\
{p}ConnectedLineNum: <unknown>\r\n{p}ConnectedLineName: <unknown>\r\n{p}Language: en\r\n{p}AccountCode: \r\n\
{p}Context: {context}\r\n{p}Exten: {exten}\r\n{p}Priority: 1\r\n{p}Uniqueid: {uid}\r\n{p}Linkedid: {uid}\r\n",
        state.0,
        state.1,
        p = prefix
    )
}

struct Call<'a> {
    caller: &'a str,
    cid: &'a str,
    context: &'a str,
    exten: &'a str,
    dest: &'a str,
    dial_string: &'a str,
    uid: &'a str,
}

fn newchannel(c: &Call) -> String {
    format!(
        "Event: Newchannel\r\nPrivilege: call,all\r\n{}\r\n",
        channel_block("", c.caller, (4, "Ring"), c.cid, c.context, c.exten, c.uid)
    )
}

fn dial_begin(c: &Call) -> String {
    format!(
        "Event: DialBegin\r\nPrivilege: call,all\r\n{}{}DialString: {}\r\n\r\n",
        channel_block("", c.caller, (4, "Ring"), c.cid, c.context, c.exten, c.uid),
        channel_block(
            "Dest",
            c.dest,
            (0, "Down"),
            c.exten,
            "from-trunk",
            c.exten,
            &format!("{}9", c.uid)
        ),
        c.dial_string
    )
}

fn dial_end_answer(c: &Call) -> String {
    format!(
        "Event: DialEnd\r\nPrivilege: call,all\r\n{}{}DialStatus: ANSWER\r\n\r\nEvent: Newstate\r\nPrivilege: call,all\r\n{}\r\n",
        channel_block("", c.caller, (6, "Up"), c.cid, c.context, c.exten, c.uid),
        channel_block("Dest", c.dest, (6, "Up"), c.exten, "from-trunk", c.exten, &format!("{}9", c.uid)),
        channel_block("", c.caller, (6, "Up"), c.cid, c.context, c.exten, c.uid),
    )
}

fn hangup(c: &Call) -> String {
    format!(
        "Event: Hangup\r\nPrivilege: call,all\r\n{}Cause: 16\r\nCause-txt: Normal Clearing\r\n\r\nEvent: Hangup\r\nPrivilege: call,all\r\n{}Cause: 16\r\nCause-txt: Normal Clearing\r\n\r\n",
        channel_block("", c.dest, (6, "Up"), c.exten, "from-trunk", c.exten, &format!("{}9", c.uid)),
        channel_block("", c.caller, (6, "Up"), c.cid, c.context, c.exten, c.uid),
    )
}

const INVALID_PASSWORD: &str = "Event: InvalidPassword\r\nPrivilege: security,all\r\nEventTV: 2025-04-18T21:00:00.123+0000\r\n\
Severity: Error\r\nService: PJSIP\r\nEventVersion: 2\r\nAccountID: 1005\r\nSessionID: 0x7f\r\n\
LocalAddress: IPV4/UDP/192.0.2.10/5060\r\nRemoteAddress: IPV4/UDP/203.0.113.5/5060\r\n\
Challenge: 1a2b\r\nReceivedChallenge: 1a2b\r\nReceivedHash: ffff\r\n\r\n";

/// `astman_send_listack`.
fn list_ack(id: &str) -> String {
    format!("Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n")
}

fn list_complete(id: &str, items: usize) -> String {
    format!("Event: CoreShowChannelsComplete\r\nEventList: Complete\r\nListItems: {items}\r\nActionID: {id}\r\n\r\n")
}

/// One `CoreShowChannel` item: the channel block, then `Application`, `ApplicationData`,
/// `Duration` (`%02d:%02d:%02d` since the channel was created) and `BridgeId`.
fn list_item(id: &str, c: &Call, app: &str, data: &str, duration: &str, bridge: &str) -> String {
    let state = if bridge.is_empty() {
        (4, "Ring")
    } else {
        (6, "Up")
    };
    format!(
        "Event: CoreShowChannel\r\nActionID: {id}\r\n{}Application: {app}\r\nApplicationData: {data}\r\nDuration: {duration}\r\nBridgeId: {bridge}\r\n\r\n",
        channel_block("", c.caller, state, c.cid, c.context, c.exten, c.uid)
    )
}

/// The peer's side of one connection.
struct Peer {
    rd: BufReader<tokio::net::tcp::OwnedReadHalf>,
    wr: tokio::net::tcp::OwnedWriteHalf,
}

impl Peer {
    /// Accepts the guard, takes its Login, and answers its `CoreShowChannels` with no channels.
    async fn accept(listener: &TcpListener) -> Peer {
        let (mut peer, list_id) = Peer::accept_logged_in(listener).await;
        peer.send(&list_ack(&list_id)).await;
        peer.send(&list_complete(&list_id, 0)).await;
        peer
    }

    /// Accepts the guard and takes its Login; returns the ActionID of the `CoreShowChannels`
    /// the guard sends right after, for the test to answer.
    async fn accept_logged_in(listener: &TcpListener) -> (Peer, String) {
        let (stream, _) = timeout(Duration::from_secs(10), listener.accept())
            .await
            .expect("guard connects")
            .unwrap();
        let (rd, mut wr) = stream.into_split();
        wr.write_all(b"Asterisk Call Manager/7.0.3\r\n")
            .await
            .unwrap();
        let mut peer = Peer {
            rd: BufReader::new(rd),
            wr,
        };
        let login = peer
            .next_action(Duration::from_secs(5))
            .await
            .expect("Login");
        assert_eq!(login.get("Action"), Some("Login"));
        assert_eq!(login.get("Username"), Some("tollguard"));
        assert_eq!(login.get("Secret"), Some("s3cret"));
        assert_eq!(login.get("Events"), Some("call,security"));
        let id = login.get("ActionID").expect("ActionID").to_string();
        peer.send(&format!(
            "Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n"
        ))
        .await;
        peer.send("Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 100\r\nLastReload: 100\r\nStatus: Fully Booted\r\n\r\n").await;
        let list = peer
            .next_action(Duration::from_secs(5))
            .await
            .expect("CoreShowChannels after Login");
        assert_eq!(list.get("Action"), Some("CoreShowChannels"), "{list:?}");
        let list_id = list.get("ActionID").expect("ActionID").to_string();
        assert_ne!(list_id, id, "each action has its own ActionID");
        (peer, list_id)
    }

    async fn send(&mut self, text: &str) {
        self.wr.write_all(text.as_bytes()).await.unwrap();
    }

    async fn next_action(&mut self, wait: Duration) -> Option<Message> {
        timeout(wait, read_message(&mut self.rd))
            .await
            .ok()?
            .unwrap()
    }

    /// Waits for a Hangup action, answers it like Asterisk, and returns its channel.
    async fn expect_hangup(&mut self) -> String {
        let action = self
            .next_action(Duration::from_secs(5))
            .await
            .expect("an action");
        assert_eq!(action.get("Action"), Some("Hangup"), "{action:?}");
        let id = action.get("ActionID").unwrap_or("").to_string();
        self.send(&format!(
            "Response: Success\r\nActionID: {id}\r\nMessage: Channel Hungup\r\n\r\n"
        ))
        .await;
        action.get("Channel").unwrap().to_string()
    }
}

fn config(port: u16) -> GuardConfig {
    let text = format!(
        // Business hours all week: whatever the time the test runs at, no call is after hours
        // (the after-hours policy has tests of its own, on a fixed clock).
        "[calls]\nhome_country = \"US\"\nallowed_countries = [\"US\", \"GB\", \"DE\"]\n\
         business_hours = \"Mon-Sun 00:00-24:00\"\n\
         [calls.ami]\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"tollguard\"\nsecret = \"s3cret\"\n"
    );
    let cfg = tg_config::Config::parse(&text, Path::new("t.toml")).unwrap();
    let mut g = GuardConfig::from_config(&cfg).unwrap();
    g.reconnect_min = Duration::from_millis(50);
    g.reconnect_max = Duration::from_millis(200);
    g.tick = Duration::from_millis(100);
    g.keepalive = Duration::from_secs(30);
    g
}

#[tokio::test]
async fn guard_hangs_up_fraud_leaves_normal_calls_and_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (alerts, mut alert_rx) = tg_alert::channel(64);
    let (sec_tx, mut sec_rx) = mpsc::channel(16);
    let guard = tokio::spawn(run_guard(config(port), alerts, sec_tx));

    let mut peer = Peer::accept(&listener).await;
    // A normal national call and a normal call to a regular UK contact, answered and ended.
    let national = Call {
        caller: "PJSIP/1001-00000001",
        cid: "1001",
        context: "from-internal",
        exten: "2125550123",
        dest: "PJSIP/trunk-00000002",
        dial_string: "trunk/2125550123",
        uid: "1745010000.1",
    };
    let uk = Call {
        caller: "PJSIP/1002-00000005",
        cid: "1002",
        context: "from-internal",
        exten: "011442079460101",
        dest: "PJSIP/trunk-00000006",
        dial_string: "trunk/011442079460101",
        uid: "1745010000.5",
    };
    for c in [&national, &uk] {
        peer.send(&newchannel(c)).await;
        peer.send(&dial_begin(c)).await;
        peer.send(&dial_end_answer(c)).await;
    }
    // The fraudulent call: extension 1005 dials a UK premium-rate range.
    let fraud = Call {
        caller: "PJSIP/1005-00000003",
        cid: "1005",
        context: "from-internal",
        exten: "011449098790123",
        dest: "PJSIP/trunk-00000004",
        dial_string: "trunk/011449098790123",
        uid: "1745010000.3",
    };
    peer.send(&newchannel(&fraud)).await;
    peer.send(&dial_begin(&fraud)).await;
    assert_eq!(peer.expect_hangup().await, "PJSIP/1005-00000003");
    peer.send(&hangup(&fraud)).await;
    for c in [&national, &uk] {
        peer.send(&hangup(c)).await;
    }
    // An internal call and an inbound call are none of the guard's business.
    let internal = Call {
        caller: "PJSIP/1003-00000007",
        cid: "1003",
        context: "from-internal",
        exten: "1004",
        dest: "PJSIP/1004-00000008",
        dial_string: "PJSIP/1004",
        uid: "1745010000.7",
    };
    let inbound = Call {
        caller: "PJSIP/trunk-0000000a",
        cid: "4155550199",
        context: "from-trunk",
        exten: "2125550100",
        dest: "PJSIP/1001-0000000b",
        dial_string: "PJSIP/1001",
        uid: "1745010000.10",
    };
    for c in [&internal, &inbound] {
        peer.send(&newchannel(c)).await;
        peer.send(&dial_begin(c)).await;
        peer.send(&dial_end_answer(c)).await;
        peer.send(&hangup(c)).await;
    }
    peer.send(INVALID_PASSWORD).await;
    let ev = timeout(Duration::from_secs(5), sec_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ev.ip.to_string(), "203.0.113.5");
    assert_eq!(ev.kind, Kind::AuthFailure);
    assert_eq!(ev.account, "1005");
    // Nothing else was hung up.
    if let Some(extra) = peer.next_action(Duration::from_millis(500)).await {
        panic!("unexpected action {extra:?}");
    }
    let mut keys = Vec::new();
    while let Ok(a) = alert_rx.try_recv() {
        keys.push(a.key);
    }
    assert!(
        keys.contains(&"guard:blocked-type:PJSIP/1005".to_string()),
        "{keys:?}"
    );
    assert!(keys.contains(&"guard:lockdown".to_string()), "{keys:?}");
    assert!(
        !keys
            .iter()
            .any(|k| k.contains("1001") || k.contains("1002") || k.contains("1003")),
        "{keys:?}"
    );

    // The peer drops the connection; the guard logs in again and keeps guarding. The premium
    // call started a lockdown, so a new call to an allowed country is cut too, and a call to a
    // satellite code would be anyway.
    drop(peer);
    let mut peer = Peer::accept(&listener).await;
    let sat = Call {
        caller: "PJSIP/1002-00000009",
        cid: "1002",
        context: "from-internal",
        exten: "0118816212345678",
        dest: "PJSIP/trunk-0000000c",
        dial_string: "trunk/0118816212345678",
        uid: "1745010100.9",
    };
    peer.send(&newchannel(&sat)).await;
    peer.send(&dial_begin(&sat)).await;
    assert_eq!(peer.expect_hangup().await, "PJSIP/1002-00000009");
    let local = Call {
        caller: "PJSIP/1004-0000000d",
        cid: "1004",
        context: "from-internal",
        exten: "3125550188",
        dest: "PJSIP/trunk-0000000e",
        dial_string: "trunk/3125550188",
        uid: "1745010100.13",
    };
    peer.send(&newchannel(&local)).await;
    peer.send(&dial_begin(&local)).await;
    if let Some(extra) = peer.next_action(Duration::from_millis(500)).await {
        panic!("national call during lockdown was touched: {extra:?}");
    }
    drop(peer);
    drop(sec_rx);
    // With the receiver gone the guard ends on its next attempt.
    let _ = TcpStream::connect(("127.0.0.1", port)).await;
    let ended = timeout(Duration::from_secs(5), guard).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
}

#[tokio::test]
async fn refused_login_is_retried_with_backoff() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (alerts, _alert_rx) = tg_alert::channel(8);
    let (sec_tx, sec_rx) = mpsc::channel(8);
    let guard = tokio::spawn(run_guard(config(port), alerts, sec_tx));
    let mut attempts = Vec::new();
    for _ in 0..3 {
        let (stream, _) = timeout(Duration::from_secs(5), listener.accept())
            .await
            .unwrap()
            .unwrap();
        attempts.push(std::time::Instant::now());
        let (rd, mut wr) = stream.into_split();
        let mut rd = BufReader::new(rd);
        wr.write_all(b"Asterisk Call Manager/7.0.3\r\n")
            .await
            .unwrap();
        let login = read_message(&mut rd).await.unwrap().unwrap();
        let id = login.get("ActionID").unwrap().to_string();
        wr.write_all(
            format!("Response: Error\r\nActionID: {id}\r\nMessage: Authentication failed\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    }
    // Backoff doubles: 50 ms, then 100 ms (at least).
    assert!(
        attempts[2] - attempts[1] >= Duration::from_millis(90),
        "{attempts:?}"
    );
    // Not a banner: refused too, without a crash.
    let (stream, _) = timeout(Duration::from_secs(5), listener.accept())
        .await
        .unwrap()
        .unwrap();
    let (mut rd, mut wr) = stream.into_split();
    wr.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await.unwrap();
    let mut rdb = BufReader::new(&mut rd);
    assert_eq!(
        timeout(Duration::from_secs(2), read_line(&mut rdb))
            .await
            .unwrap()
            .unwrap(),
        None,
        "the guard hangs up without logging in"
    );
    drop(sec_rx);
    guard.abort();
}

#[tokio::test]
async fn silent_peer_is_pinged_then_dropped_and_reconnected() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (alerts, _alert_rx) = tg_alert::channel(8);
    let (sec_tx, _sec_rx) = mpsc::channel(8);
    let mut cfg = config(port);
    cfg.keepalive = Duration::from_millis(200);
    let guard = tokio::spawn(run_guard(cfg, alerts, sec_tx));
    let mut peer = Peer::accept(&listener).await;
    // After 200 ms of silence the guard pings; this peer never answers.
    let ping = peer
        .next_action(Duration::from_secs(5))
        .await
        .expect("a Ping");
    assert_eq!(ping.get("Action"), Some("Ping"));
    assert!(ping.get("ActionID").is_some());
    // After 600 ms of silence it gives up on this connection and logs in again.
    let _again = Peer::accept(&listener).await;
    guard.abort();
}

#[tokio::test]
async fn calls_begun_while_the_link_was_down_are_judged_after_the_reconnect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (alerts, mut alert_rx) = tg_alert::channel(64);
    let (sec_tx, mut sec_rx) = mpsc::channel(16);
    let guard = tokio::spawn(run_guard(config(port), alerts, sec_tx));

    // First session: nothing running. The link drops.
    let peer = Peer::accept(&listener).await;
    drop(peer);

    // While it was down, 1005 started a call to Cuba (not allowed), answered 40 minutes ago,
    // and 1002 a call to a German customer (allowed). Both show up in the list, with the
    // trunk legs (AppDial) and a phone listening to voicemail beside them.
    let (mut peer, id) = Peer::accept_logged_in(&listener).await;
    let cuba = Call {
        caller: "PJSIP/1005-00000031",
        cid: "1005",
        context: "from-internal",
        exten: "01153781234567",
        dest: "PJSIP/trunk-00000032",
        dial_string: "",
        uid: "1745020000.31",
    };
    let germany = Call {
        caller: "PJSIP/1002-00000033",
        cid: "1002",
        context: "from-internal",
        exten: "s",
        dest: "PJSIP/trunk-00000034",
        dial_string: "",
        uid: "1745020000.33",
    };
    let trunk_leg = Call {
        caller: "PJSIP/trunk-00000032",
        cid: "01153781234567",
        context: "from-trunk",
        exten: "01153781234567",
        dest: "",
        dial_string: "",
        uid: "1745020000.32",
    };
    let voicemail = Call {
        caller: "PJSIP/1003-00000035",
        cid: "1003",
        context: "from-internal",
        exten: "*97",
        dest: "",
        dial_string: "",
        uid: "1745020000.35",
    };
    peer.send(&list_ack(&id)).await;
    peer.send(&list_item(
        &id,
        &germany,
        "Dial",
        "PJSIP/trunk/sip:0114930901820@gw.example.net,300,Tt",
        "00:12:41",
        "2f8e-44aa-b1",
    ))
    .await;
    // Live events may arrive in between; they are handled as usual.
    peer.send(INVALID_PASSWORD).await;
    peer.send(&list_item(
        &id,
        &trunk_leg,
        "AppDial",
        "(Outgoing Line)",
        "00:40:02",
        "9c1d-07",
    ))
    .await;
    peer.send(&list_item(
        &id,
        &cuba,
        "Dial",
        "PJSIP/01153781234567@trunk,60,T",
        "00:40:09",
        "9c1d-07",
    ))
    .await;
    peer.send(&list_item(
        &id,
        &voicemail,
        "VoiceMailMain",
        "@default",
        "00:01:10",
        "",
    ))
    .await;
    peer.send(&list_complete(&id, 4)).await;

    assert_eq!(peer.expect_hangup().await, "PJSIP/1005-00000031");
    let ev = timeout(Duration::from_secs(5), sec_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ev.ip.to_string(), "203.0.113.5");
    if let Some(extra) = peer.next_action(Duration::from_millis(500)).await {
        panic!("only the Cuban call may be hung up: {extra:?}");
    }
    let mut keys = Vec::new();
    while let Ok(a) = alert_rx.try_recv() {
        keys.push(a.key);
    }
    assert!(
        keys.contains(&"guard:disallowed-country:PJSIP/1005".to_string()),
        "{keys:?}"
    );
    assert!(
        !keys
            .iter()
            .any(|k| k.contains("1002") || k.contains("1003")),
        "{keys:?}"
    );

    // The listed calls are followed now: a late DialBegin of the Cuban channel (a second
    // leg of its dial) is not judged, nor hung up, a second time.
    peer.send(&dial_begin(&Call {
        dial_string: "PJSIP/01153781234567@trunk",
        ..cuba
    }))
    .await;
    if let Some(extra) = peer.next_action(Duration::from_millis(300)).await {
        panic!("a known call was judged again: {extra:?}");
    }
    drop(peer);
    drop(sec_rx);
    let _ = TcpStream::connect(("127.0.0.1", port)).await;
    let ended = timeout(Duration::from_secs(5), guard).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
}

#[tokio::test]
async fn a_refused_channel_list_is_survived() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (alerts, _alert_rx) = tg_alert::channel(64);
    let (sec_tx, _sec_rx) = mpsc::channel(16);
    let guard = tokio::spawn(run_guard(config(port), alerts, sec_tx));
    // The AMI user has no `reporting`/`system` write class: Asterisk says so.
    let (mut peer, id) = Peer::accept_logged_in(&listener).await;
    peer.send(&format!(
        "Response: Error\r\nActionID: {id}\r\nMessage: Permission denied\r\n\r\n"
    ))
    .await;
    // The guard carries on guarding live calls on the same connection.
    let sat = Call {
        caller: "PJSIP/1002-00000041",
        cid: "1002",
        context: "from-internal",
        exten: "0118816212345678",
        dest: "PJSIP/trunk-00000042",
        dial_string: "trunk/0118816212345678",
        uid: "1745030000.41",
    };
    peer.send(&newchannel(&sat)).await;
    peer.send(&dial_begin(&sat)).await;
    assert_eq!(peer.expect_hangup().await, "PJSIP/1002-00000041");
    guard.abort();
}
