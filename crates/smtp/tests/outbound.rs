//! Mail that leaves the platform: forwards and outside list members go to
//! another domain's server over SMTP, with Delivered-To; what that server
//! refuses, or what cannot be delivered in time, comes back to the sender
//! as a delivery status notification (RFC 3464); a forwarding loop between
//! two platforms is stopped.
//!
//! Two platforms run here, each with its own directory, island, queue and
//! MX: example.org ("home") and elsewhere.net ("away"). Home's outbound
//! path sends to away's MX as its relay host, and the other way round.

#[path = "common/inbox.rs"]
mod mailbox;

use std::net::SocketAddr;
use std::time::Duration;

use atoll_directory::{Directory, NewAccount, Settings};
use atoll_smtp::client::{ClientConfig, Connection, Outgoing, OutgoingRecipient, Protocol};
use atoll_smtp::filter::Filters;
use atoll_smtp::queue::record::notify;
use atoll_smtp::{
    Mx, MxConfig, Queue, QueueConfig, Router, ShutdownTrigger,
    queue::{Envelope, EnvelopeRecipient, Outbound, OutboundConfig},
    shutdown_channel,
};
use atoll_store::Island;
use atoll_testkit::wait::until_async;

struct Platform {
    _tmp: tempfile::TempDir,
    dir: Directory,
    island: Island,
    queue: Queue,
    addr: SocketAddr,
    _stop: ShutdownTrigger,
}

struct Setup {
    domain: &'static str,
    accounts: &'static [&'static str],
    relay: Option<String>,
    give_up_after: Duration,
    delay_warning: Option<Duration>,
    /// The MX's listener, when the address must be known in advance.
    listener: Option<tokio::net::TcpListener>,
}

impl Setup {
    fn new(domain: &'static str, accounts: &'static [&'static str]) -> Setup {
        Setup {
            domain,
            accounts,
            relay: None,
            give_up_after: Duration::from_secs(3600),
            delay_warning: None,
            listener: None,
        }
    }
}

async fn platform(s: Setup) -> Platform {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", tmp.path().join("directory.db").display());
    let dir = Directory::open(&url, Settings::default()).await.unwrap();
    dir.add_island("main", &tmp.path().join("main").display().to_string()).await.unwrap();
    dir.add_domain(s.domain).await.unwrap();
    for a in s.accounts {
        let address = format!("{a}@{}", s.domain);
        let mut acct = NewAccount::new(&address);
        acct.island = Some("main".into());
        dir.add_account(&acct).await.unwrap();
    }
    let meta = format!("sqlite://{}?mode=rwc", tmp.path().join("main/meta.db").display());
    let island = Island::open("main", &meta, tmp.path().join("main/blobs"), 4).await.unwrap();
    let hostname = format!("mx.{}", s.domain);
    let config = QueueConfig {
        node: hostname.clone(),
        hostname: hostname.clone(),
        retry_initial: Duration::from_millis(200),
        retry_max: Duration::from_millis(500),
        give_up_after: s.give_up_after,
        delay_warning: s.delay_warning,
        ..QueueConfig::default()
    };
    let outbound = s.relay.map(|relay| {
        let mut o = OutboundConfig::new(hostname.clone());
        o.relay = Some(relay);
        o.client.connect_timeout = Duration::from_secs(2);
        Outbound::new(o)
    });
    let queue =
        Queue::start(tmp.path().join("spool"), config, Router::new(dir.clone(), [island.clone()]), outbound).unwrap();
    let mx_config = MxConfig {
        hostname,
        max_message_size: 1 << 20,
        max_recipients: 100,
        timeout: Duration::from_secs(30),
        max_connections_per_ip: 50,
    };
    let mx = Mx::new(mx_config, dir.clone(), [island.clone()], queue.clone(), None, Filters::default(), None);
    let listener = match s.listener {
        Some(l) => l,
        None => tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    };
    let addr = listener.local_addr().unwrap();
    let (stop, stopping) = shutdown_channel();
    tokio::spawn(async move { mx.serve(listener, stopping, Duration::from_secs(1)).await });
    Platform { _tmp: tmp, dir, island, queue, addr, _stop: stop }
}

impl Platform {
    async fn inbox(&self, addr: &str) -> Vec<String> {
        mailbox::inbox(&self.dir, &self.island, addr).await
    }

    async fn wait_inbox(&self, addr: &str, n: usize) -> Vec<String> {
        mailbox::wait_inbox(&self.dir, &self.island, addr, n).await
    }

    /// Queues a message as the MX would after DATA.
    async fn queue(&self, sender: &str, recipients: &[(&str, u8)], body: &str) {
        let envelope = Envelope {
            sender: sender.into(),
            recipients: recipients
                .iter()
                .map(|(a, bits)| EnvelopeRecipient { address: a.to_string(), notify: *bits, orcpt: None })
                .collect(),
            arrived: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64,
            envid: Some("ENV-42".into()),
            ret: None,
            junk: false,
            remote: false,
            held: false,
        };
        self.queue.accept(self.queue.new_id(), envelope, body.as_bytes().to_vec()).await.unwrap();
    }
}

const MESSAGE: &str =
    "From: carol@example.org\r\nTo: ann@example.org\r\nSubject: onward\r\n\r\nFirst line.\r\n.leading dot\r\n";

/// A port nobody listens on.
async fn closed_port() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr.to_string()
}

#[tokio::test]
async fn forwards_and_outside_list_members_get_a_copy_with_delivered_to() {
    let away = platform(Setup::new("elsewhere.net", &["friend", "pal"])).await;
    let home =
        platform(Setup { relay: Some(away.addr.to_string()), ..Setup::new("example.org", &["ann", "carol"]) }).await;
    home.dir.add_forward("ann@example.org", "friend@elsewhere.net", true).await.unwrap();
    home.dir.create_list("club@example.org", "anyone", "").await.unwrap();
    home.dir.subscribe("club@example.org", "carol@example.org", false).await.unwrap();
    home.dir.subscribe("club@example.org", "pal@elsewhere.net", false).await.unwrap();

    home.queue("carol@example.org", &[("ann@example.org", 0)], MESSAGE).await;
    home.queue("carol@example.org", &[("club@example.org", 0)], MESSAGE).await;

    // The local copy stays (keep_copy), the forward goes out.
    let kept = home.wait_inbox("ann@example.org", 1).await;
    assert_eq!(kept.len(), 1);
    // Her own copy names her (RFC 9228: the address it was delivered to).
    assert!(
        kept[0].starts_with("Return-Path: <carol@example.org>\r\nDelivered-To: ann@example.org\r\n"),
        "{}",
        kept[0]
    );
    assert_eq!(kept[0].matches("Delivered-To:").count(), 1, "{}", kept[0]);
    let got = away.wait_inbox("friend@elsewhere.net", 1).await;
    assert_eq!(got.len(), 1, "the forward arrived once");
    assert!(got[0].contains("Delivered-To: ann@example.org\r\n"), "{}", got[0]);
    assert!(
        got[0].contains("Return-Path: <carol@example.org>\r\nDelivered-To: friend@elsewhere.net\r\n"),
        "{}",
        got[0]
    );
    assert!(got[0].contains("\r\n.leading dot\r\n"), "dot-stuffing is undone on the other side: {}", got[0]);
    assert!(got[0].starts_with("Return-Path: <carol@example.org>\r\n"), "the sender is kept: {}", got[0]);

    let pal = away.wait_inbox("pal@elsewhere.net", 1).await;
    assert_eq!(pal.len(), 1);
    assert!(pal[0].contains("Delivered-To: club@example.org\r\n"));
    assert_eq!(home.wait_inbox("carol@example.org", 1).await.len(), 1, "the local member has it too");

    // Nothing is left in either queue, and nothing arrives twice.
    until_async(|| std::future::ready(home.queue.list().is_empty() && away.queue.list().is_empty())).await;
    assert!(home.queue.list().is_empty(), "{:?}", home.queue.list());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(away.inbox("friend@elsewhere.net").await.len(), 1);
    assert_eq!(home.inbox("carol@example.org").await.len(), 1, "no notification: nothing failed");
}

#[tokio::test]
async fn a_refused_forward_bounces_to_the_sender_with_a_delivery_status_report() {
    let away = platform(Setup::new("elsewhere.net", &["friend"])).await;
    let home =
        platform(Setup { relay: Some(away.addr.to_string()), ..Setup::new("example.org", &["ann", "carol"]) }).await;
    home.dir.add_forward("ann@example.org", "nobody@elsewhere.net", false).await.unwrap();

    home.queue("carol@example.org", &[("ann@example.org", 0)], MESSAGE).await;
    let bounces = home.wait_inbox("carol@example.org", 1).await;
    assert_eq!(bounces.len(), 1, "one bounce");
    let b = &bounces[0];
    assert!(b.starts_with("Return-Path: <>\r\n"), "from the null sender: {b}");
    assert!(b.contains("Subject: Undelivered Mail Returned to Sender\r\n"), "{b}");
    assert!(b.contains("report-type=delivery-status"), "{b}");
    assert!(b.contains("Reporting-MTA: dns; mx.example.org\r\n"), "{b}");
    assert!(b.contains("Original-Envelope-Id: ENV-42\r\n"), "{b}");
    assert!(b.contains("Final-Recipient: rfc822; nobody@elsewhere.net\r\n"), "{b}");
    assert!(b.contains("Original-Recipient: rfc822; ann@example.org\r\n"), "{b}");
    assert!(b.contains("Action: failed\r\nStatus: 5.1.1\r\n"), "{b}");
    assert!(b.contains("Remote-MTA: dns; 127.0.0.1\r\n"), "{b}");
    assert!(b.contains("Diagnostic-Code: smtp; 550 5.1.1"), "{b}");
    assert!(b.contains("Subject: onward"), "the original comes back: {b}");
    assert!(home.inbox("ann@example.org").await.is_empty(), "no local copy was asked for");
}

#[tokio::test]
async fn an_unreachable_destination_warns_once_then_bounces() {
    let home = platform(Setup {
        relay: Some(closed_port().await),
        give_up_after: Duration::from_secs(4),
        delay_warning: Some(Duration::from_secs(1)),
        ..Setup::new("example.org", &["ann", "carol", "dave"])
    })
    .await;
    home.dir.add_forward("ann@example.org", "friend@elsewhere.net", false).await.unwrap();
    home.dir.add_forward("dave@example.org", "friend@elsewhere.net", false).await.unwrap();

    home.queue("carol@example.org", &[("ann@example.org", 0)], MESSAGE).await;
    // NOTIFY=NEVER: the same failure makes no notification.
    home.queue("carol@example.org", &[("dave@example.org", notify::NEVER)], MESSAGE).await;
    let got = home.wait_inbox("carol@example.org", 2).await;
    assert_eq!(got.len(), 2, "a warning, then the bounce: {got:?}");
    assert!(got[0].contains("Subject: Delayed Mail (still being retried)\r\n"), "{}", got[0]);
    assert!(got[0].contains("Action: delayed\r\nStatus: 4.4.1\r\n"), "{}", got[0]);
    assert!(got[0].contains("Will-Retry-Until: "), "{}", got[0]);
    assert!(got[1].contains("Subject: Undelivered Mail Returned to Sender\r\n"), "{}", got[1]);
    assert!(got[1].contains("Action: failed\r\nStatus: 5.4.7\r\n"), "{}", got[1]);
    until_async(|| std::future::ready(home.queue.list().is_empty())).await;
    assert!(home.queue.list().is_empty(), "everything finished: {:?}", home.queue.list());
    assert_eq!(home.inbox("carol@example.org").await.len(), 2, "nothing for NOTIFY=NEVER");
}

#[tokio::test]
async fn a_success_notice_when_notify_success_asks_for_one() {
    let home = platform(Setup::new("example.org", &["ann", "carol"])).await;
    home.queue("carol@example.org", &[("ann@example.org", notify::SUCCESS)], MESSAGE).await;
    assert_eq!(home.wait_inbox("ann@example.org", 1).await.len(), 1);
    let notice = home.wait_inbox("carol@example.org", 1).await;
    assert_eq!(notice.len(), 1);
    assert!(notice[0].contains("Subject: Successful Mail Delivery Report\r\n"), "{}", notice[0]);
    assert!(notice[0].contains("Final-Recipient: rfc822; ann@example.org\r\nAction: delivered\r\nStatus: 2.0.0\r\n"));
    assert!(notice[0].contains("Content-Type: text/rfc822-headers"), "a success notice returns the header only");
}

#[tokio::test]
async fn a_forwarding_loop_between_two_platforms_is_stopped() {
    // ann@example.org forwards to x@elsewhere.net, which forwards back:
    // each platform relays to the other.
    let home_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let away_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (home_addr, away_addr) = (home_listener.local_addr().unwrap(), away_listener.local_addr().unwrap());
    let home = platform(Setup {
        relay: Some(away_addr.to_string()),
        listener: Some(home_listener),
        ..Setup::new("example.org", &["ann", "carol"])
    })
    .await;
    let away = platform(Setup {
        relay: Some(home_addr.to_string()),
        listener: Some(away_listener),
        ..Setup::new("elsewhere.net", &["x"])
    })
    .await;
    home.dir.add_forward("ann@example.org", "x@elsewhere.net", false).await.unwrap();
    away.dir.add_forward("x@elsewhere.net", "ann@example.org", false).await.unwrap();
    home.queue("carol@example.org", &[("ann@example.org", 0)], MESSAGE).await;
    let bounce = home.wait_inbox("carol@example.org", 1).await;
    assert_eq!(bounce.len(), 1, "{bounce:?}");
    assert!(bounce[0].contains("Status: 5.4.6"), "{}", bounce[0]);
    assert!(bounce[0].contains("mail forwarding loop for ann@example.org"), "{}", bounce[0]);
    assert!(bounce[0].contains("Delivered-To: x@elsewhere.net\r\n"), "the returned copy shows the path: {}", bounce[0]);
}

#[tokio::test]
async fn the_client_speaks_pipelined_smtp_with_per_recipient_answers() {
    let away = platform(Setup::new("elsewhere.net", &["friend", "pal"])).await;
    let config = ClientConfig::new("client.example.org");
    let mut c = Connection::open(away.addr, "127.0.0.1", Protocol::Smtp, &config, None).await.unwrap();
    let m = Outgoing {
        sender: "ann@example.org",
        recipients: ["friend@elsewhere.net", "ghost@elsewhere.net", "pal@elsewhere.net"]
            .iter()
            .map(|a| OutgoingRecipient { address: a, notify: 0, orcpt: None })
            .collect(),
        envid: None,
        ret: None,
        body: b"Subject: direct\r\n\r\nbody\r\n",
    };
    let replies = c.send(&m).await.unwrap();
    let codes: Vec<u16> = replies.iter().map(|r| r.code).collect();
    assert_eq!(codes, [250, 550, 250]);
    assert_eq!(replies[1].status, Some([5, 1, 1]));
    // A second transaction on the same connection.
    let again =
        Outgoing { recipients: vec![OutgoingRecipient { address: "pal@elsewhere.net", notify: 0, orcpt: None }], ..m };
    assert_eq!(c.send(&again).await.unwrap()[0].code, 250);
    c.quit().await;
    assert_eq!(away.wait_inbox("pal@elsewhere.net", 2).await.len(), 2);
    assert_eq!(away.wait_inbox("friend@elsewhere.net", 1).await.len(), 1);
}
