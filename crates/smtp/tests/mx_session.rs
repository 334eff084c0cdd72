//! The MX over real TCP: recipient policy through the directory, the
//! queue (spool, then delivery into the island), limits, and a restart of
//! the queue with messages still in it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use atoll_directory::{Directory, NewAccount, Settings, state};
use atoll_smtp::filter::{Filters, Policy, Scanner, SpamAction};
use atoll_smtp::greylist::{Greylist, GreylistConfig};
use atoll_smtp::{Mx, MxConfig, Queue, QueueConfig, Router, ShutdownTrigger, shutdown_channel};
use atoll_store::Island;
use atoll_testkit::wait::until_async;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

#[path = "common/filter_daemons.rs"]
mod daemons;
#[path = "common/inbox.rs"]
mod mailbox;

struct World {
    tmp: tempfile::TempDir,
    dir: Directory,
    north: Island,
}

async fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", tmp.path().join("directory.db").display());
    let dir = Directory::open(&url, Settings::default()).await.unwrap();
    dir.add_island("north", &tmp.path().join("north").display().to_string()).await.unwrap();
    dir.add_domain("example.org").await.unwrap();
    for (addr, quota) in [("ann@example.org", 0), ("bob@example.org", 1), ("sue@example.org", 0)] {
        let mut a = NewAccount::new(addr);
        a.island = Some("north".into());
        a.quota_bytes = quota;
        dir.add_account(&a).await.unwrap();
    }
    dir.set_state("sue@example.org", state::SUSPENDED).await.unwrap();
    dir.add_alias("team@example.org", "ann@example.org").await.unwrap();
    dir.add_alias("team@example.org", "bob@example.org").await.unwrap();
    dir.create_list("club@example.org", "members", "").await.unwrap();
    dir.subscribe("club@example.org", "ann@example.org", false).await.unwrap();
    dir.subscribe("club@example.org", "friend@elsewhere.net", false).await.unwrap();
    dir.create_list("open@example.org", "anyone", "").await.unwrap();
    dir.subscribe("open@example.org", "ann@example.org", false).await.unwrap();
    let meta = format!("sqlite://{}?mode=rwc", tmp.path().join("north/meta.db").display());
    let north = Island::open("north", &meta, tmp.path().join("north/blobs"), 4).await.unwrap();
    World { tmp, dir, north }
}

fn spool(w: &World) -> PathBuf {
    w.tmp.path().join("spool")
}

fn queue_config() -> QueueConfig {
    QueueConfig {
        node: "mx.test".into(),
        workers: 4,
        retry_initial: Duration::from_millis(200),
        retry_max: Duration::from_secs(1),
        ..QueueConfig::default()
    }
}

struct Server {
    addr: SocketAddr,
    mx: Mx,
    _stop: ShutdownTrigger,
}

async fn start(w: &World, islands: Vec<Island>, config: MxConfig) -> Server {
    start_with(w, islands, config, Filters::default(), None).await
}

async fn start_with(
    w: &World,
    islands: Vec<Island>,
    config: MxConfig,
    filters: Filters,
    greylist: Option<Greylist>,
) -> Server {
    let queue = Queue::start(spool(w), queue_config(), Router::new(w.dir.clone(), islands.clone()), None).unwrap();
    let mx = Mx::new(config, w.dir.clone(), islands, queue, None, filters, greylist);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopping) = shutdown_channel();
    let serving = mx.clone();
    tokio::spawn(async move { serving.serve(listener, stopping, Duration::from_secs(1)).await });
    Server { addr, mx, _stop: stop }
}

fn config() -> MxConfig {
    MxConfig {
        hostname: "mx.test".into(),
        max_message_size: 8192,
        max_recipients: 3,
        timeout: Duration::from_secs(30),
        max_connections_per_ip: 3,
    }
}

struct Client {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
}

impl Client {
    async fn connect(s: &Server) -> (Client, String) {
        let tcp = TcpStream::connect(s.addr).await.unwrap();
        let (r, w) = tcp.into_split();
        let mut c = Client { r: BufReader::new(r), w };
        let greeting = c.reply().await;
        (c, greeting)
    }

    async fn greeted(s: &Server) -> Client {
        let (mut c, greeting) = Client::connect(s).await;
        assert_eq!(greeting, "220 mx.test ESMTP atoll ready");
        let ehlo = c.cmd("EHLO client.example.net").await;
        assert!(ehlo.starts_with("250-mx.test\n"), "{ehlo}");
        c
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).await.unwrap();
    }

    /// One reply, its lines joined with "\n"; empty when the server closed.
    async fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(20), self.r.read_line(&mut line))
                .await
                .expect("a reply within 20 s")
                .unwrap();
            if n == 0 {
                return lines.join("\n");
            }
            let line = line.trim_end().to_string();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines.join("\n");
            }
        }
    }

    async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// MAIL, RCPTs (each must be accepted), DATA: the final reply.
    async fn mail(&mut self, from: &str, to: &[&str], message: &str) -> String {
        assert!(self.cmd(&format!("MAIL FROM:<{from}>")).await.starts_with("250"));
        for t in to {
            let r = self.cmd(&format!("RCPT TO:<{t}>")).await;
            assert!(r.starts_with("250 2.1.5"), "RCPT {t}: {r}");
        }
        assert!(self.cmd("DATA").await.starts_with("354"));
        self.send(message.as_bytes()).await;
        self.cmd(".").await
    }
}

const MESSAGE: &str = "From: carol@example.net\r\nTo: ann@example.org\r\nSubject: hello\r\n\r\nHi there.\r\n";

async fn inbox(w: &World, addr: &str) -> Vec<String> {
    mailbox::inbox(&w.dir, &w.north, addr).await
}

/// Waits (up to 20 s) until `addr`'s INBOX holds `n` messages.
async fn wait_inbox(w: &World, addr: &str, n: usize) -> Vec<String> {
    mailbox::wait_inbox(&w.dir, &w.north, addr, n).await
}

#[tokio::test]
async fn ehlo_offers_the_extensions() {
    let w = world().await;
    let s = start(&w, vec![w.north.clone()], config()).await;
    let (mut c, _) = Client::connect(&s).await;
    let ehlo = c.cmd("EHLO client.example.net").await;
    for ext in ["PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 8192", "ENHANCEDSTATUSCODES", "CHUNKING", "DSN"] {
        assert!(ehlo.lines().any(|l| &l[4..] == ext), "{ext} missing from {ehlo}");
    }
    // No certificate configured here: no STARTTLS offered, and refused.
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    assert_eq!(c.cmd("STARTTLS").await, "502 5.5.1 command not implemented");
    // HELO: plain SMTP, no extension list.
    assert_eq!(c.cmd("HELO client.example.net").await, "250 mx.test");
    // LMTP's greeting is not SMTP.
    assert!(c.cmd("LHLO client.example.net").await.starts_with("500 5.5.1"));
    assert!(c.cmd("QUIT").await.starts_with("221 2.0.0"));
}

#[tokio::test]
async fn recipients_are_checked_against_the_directory() {
    let w = world().await;
    let s = start(&w, vec![w.north.clone()], config()).await;
    let mut c = Client::greeted(&s).await;
    // Sequence errors first.
    assert!(c.cmd("RCPT TO:<ann@example.org>").await.starts_with("503 5.5.1"));
    assert!(c.cmd("MAIL FROM:<carol@example.net>").await.starts_with("250 2.1.0"));
    for (rcpt, want) in [
        ("ann@example.org", "250 2.1.5"),
        ("nobody@example.org", "550 5.1.1"),
        ("someone@elsewhere.net", "550 5.7.1"),
        ("sue@example.org", "550 5.2.1"),
        ("club@example.org", "550 5.7.2"),
        ("open@example.org", "250 2.1.5"),
        ("team@example.org", "250 2.1.5"),
        ("ann@example.org", "452 4.5.3"),
        ("not an address", "501"),
    ] {
        let r = c.cmd(&format!("RCPT TO:<{rcpt}>")).await;
        assert!(r.starts_with(want), "RCPT {rcpt}: {r}");
    }
    assert!(c.cmd("RSET").await.starts_with("250"));
    // A member may post to a members-only list; the null sender may not.
    assert!(c.cmd("MAIL FROM:<ann@example.org>").await.starts_with("250"));
    assert!(c.cmd("RCPT TO:<club@example.org>").await.starts_with("250 2.1.5"));
    assert!(c.cmd("RSET").await.starts_with("250"));
    assert!(c.cmd("MAIL FROM:<>").await.starts_with("250"));
    assert!(c.cmd("RCPT TO:<club@example.org>").await.starts_with("550 5.7.2"));
    assert!(c.cmd("RSET").await.starts_with("250"));

    // bob's quota (1 byte) is used up by one message: then 452 4.2.2.
    let r = c.mail("carol@example.net", &["bob@example.org"], MESSAGE).await;
    assert!(r.starts_with("250 2.0.0 OK queued as "), "{r}");
    wait_inbox(&w, "bob@example.org", 1).await;
    assert!(c.cmd("MAIL FROM:<carol@example.net>").await.starts_with("250"));
    assert_eq!(c.cmd("RCPT TO:<bob@example.org>").await, "452 4.2.2 mailbox full");
}

#[tokio::test]
async fn accepted_mail_reaches_the_inbox_with_trace_headers() {
    let w = world().await;
    let s = start(&w, vec![w.north.clone()], config()).await;
    let mut c = Client::greeted(&s).await;
    let r = c.mail("carol@example.net", &["ann@example.org"], MESSAGE).await;
    let qid = r.strip_prefix("250 2.0.0 OK queued as ").unwrap_or_else(|| panic!("{r}")).to_string();
    let got = wait_inbox(&w, "ann@example.org", 1).await;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert!(
        m.starts_with(
            "Return-Path: <carol@example.net>\r\nDelivered-To: ann@example.org\r\nReceived: from client.example.net ([127.0.0.1])"
        ),
        "{m}"
    );
    assert!(m.contains(&format!("by mx.test (atoll) with ESMTP id {qid};")), "{m}");
    assert!(m.ends_with(MESSAGE), "{m}");

    // An alias to two mailboxes and a list with a local member and an
    // outside one: each mailbox gets one copy.
    let r = c.mail("ann@example.org", &["team@example.org", "club@example.org"], MESSAGE).await;
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(wait_inbox(&w, "ann@example.org", 2).await.len(), 2);
    assert_eq!(wait_inbox(&w, "bob@example.org", 1).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(inbox(&w, "ann@example.org").await.len(), 2, "one copy for ann, however many ways she is reached");
    // The outside list member's copy waits in the queue: this node has no
    // outbound path. The list post itself is finished.
    let queued = s.mx.queue().list();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].pending, vec!["friend@elsewhere.net".to_string()]);
    assert!(queued[0].envelope.remote);
}

#[tokio::test]
async fn limits_and_bad_input() {
    let w = world().await;
    let s = start(&w, vec![w.north.clone()], config()).await;
    let mut c = Client::greeted(&s).await;
    // A declared size over the limit, then a message that grows too big.
    assert!(c.cmd("MAIL FROM:<carol@example.net> SIZE=100000").await.starts_with("552 5.3.4"));
    assert!(c.cmd("MAIL FROM:<carol@example.net>").await.starts_with("250"));
    assert!(c.cmd("RCPT TO:<ann@example.org>").await.starts_with("250"));
    assert!(c.cmd("DATA").await.starts_with("354"));
    let big = format!("Subject: big\r\n\r\n{}", "x".repeat(70).repeat(200).replace("xx", "x\r\n"));
    c.send(big.as_bytes()).await;
    assert!(c.cmd(".").await.starts_with("552 5.3.4"));
    // A line longer than any command (and than one read of the server:
    // smtp-proto caps a line it has to buffer at 4096 octets).
    let long = format!("NOOP {}", "a".repeat(40_000));
    assert!(c.cmd(&long).await.starts_with("500 5.5.2"));
    // Still usable after all that; nothing was queued.
    assert!(c.cmd("NOOP").await.starts_with("250"));
    assert!(c.cmd("FOO bar").await.starts_with("500 5.5.1"));
    assert!(c.cmd("MAIL FROM:<bad address").await.starts_with("501"));
    assert!(s.mx.queue().list().is_empty());
    assert!(inbox(&w, "ann@example.org").await.is_empty());

    // Connections per client address: the fourth is turned away.
    let _a = Client::connect(&s).await;
    let _b = Client::connect(&s).await;
    let (_, refused) = Client::connect(&s).await;
    assert_eq!(refused, "421 4.7.0 too many connections from your address, try later");
    drop(c);
    // A slot frees when a session ends.
    let mut freed = None;
    for _ in 0..50 {
        let (c, greeting) = Client::connect(&s).await;
        if greeting.starts_with("220") {
            freed = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(freed.is_some(), "a slot came free after a client left");
}

#[tokio::test]
async fn pipelining_and_bdat() {
    let w = world().await;
    let s = start(&w, vec![w.north.clone()], config()).await;
    let mut c = Client::greeted(&s).await;
    // RFC 2920: the whole transaction in one write, replies in order.
    let body = "Subject: chunked\r\n\r\nin one chunk\r\n";
    c.send(
        format!(
            "MAIL FROM:<carol@example.net>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<ann@example.org>\r\nBDAT {} LAST\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await;
    assert!(c.reply().await.starts_with("250 2.1.0"));
    assert!(c.reply().await.starts_with("550 5.1.1"));
    assert!(c.reply().await.starts_with("250 2.1.5"));
    assert!(c.reply().await.starts_with("250 2.0.0 OK queued as"));
    let got = wait_inbox(&w, "ann@example.org", 1).await;
    assert!(got[0].ends_with(body), "{}", got[0]);
}

#[tokio::test]
async fn the_queue_keeps_mail_until_the_island_takes_it_once() {
    let w = world().await;
    // First life: the MX runs without the island (as if it were down).
    let s = start(&w, Vec::new(), config()).await;
    let mut c = Client::greeted(&s).await;
    for i in 0..5 {
        let r = c
            .mail(
                "carol@example.net",
                &["ann@example.org", "team@example.org"],
                &format!("Subject: {i}\r\n\r\n{i}\r\n"),
            )
            .await;
        assert!(r.starts_with("250 2.0.0"), "{r}");
    }
    // Each message is tried once in the background and waits.
    let tried = || s.mx.queue().list().iter().all(|m| m.attempts >= 1 && m.last_error.is_some());
    until_async(|| std::future::ready(tried())).await;
    let queued = s.mx.queue().list();
    assert_eq!(queued.len(), 5);
    assert!(queued.iter().all(|m| m.attempts >= 1 && m.last_error.is_some()), "{queued:?}");
    assert!(inbox(&w, "ann@example.org").await.is_empty());
    drop(c);
    s.mx.queue().stop().await;
    drop(s);

    // Second life: the spool is read again and everything delivered once.
    let queue = Queue::start(spool(&w), queue_config(), Router::new(w.dir.clone(), [w.north.clone()]), None).unwrap();
    assert_eq!(wait_inbox(&w, "ann@example.org", 5).await.len(), 5);
    assert_eq!(wait_inbox(&w, "bob@example.org", 5).await.len(), 5);
    until_async(|| std::future::ready(queue.list().is_empty())).await;
    assert!(queue.list().is_empty(), "{:?}", queue.list());
    queue.stop().await;
    drop(queue);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Third life: nothing left to deliver, nothing delivered twice.
    let queue = Queue::start(spool(&w), queue_config(), Router::new(w.dir.clone(), [w.north.clone()]), None).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(queue.list().is_empty());
    assert_eq!(inbox(&w, "ann@example.org").await.len(), 5);
}

/// The content filters at the MX with a real spamd: GTUBE is refused, or
/// tagged and filed into Junk, as configured; clean mail goes to INBOX;
/// X-Spam headers from outside do not survive.
#[tokio::test]
async fn spamd_verdicts_refuse_or_file_into_junk() {
    let Some(spamd) = daemons::spamd().await else { return };
    let scanner = || Scanner::spamd(spamd.addr().parse().unwrap());
    let gtube = format!("Subject: buy now\r\nX-Spam-Flag: NO\r\n\r\n{}\r\n", daemons::gtube());

    let w = world().await;
    let reject =
        Filters { scanners: vec![scanner()], policy: Policy { spam: SpamAction::Reject, ..Policy::default() } };
    let s = start_with(&w, vec![w.north.clone()], config(), reject, None).await;
    let mut c = Client::greeted(&s).await;
    let r = c.mail("carol@example.net", &["ann@example.org"], &gtube).await;
    assert!(r.starts_with("550 5.7.1"), "{r}");
    assert!(c.mail("carol@example.net", &["ann@example.org"], MESSAGE).await.starts_with("250"));
    let got = wait_inbox(&w, "ann@example.org", 1).await;
    assert_eq!(got.len(), 1);
    assert!(!got[0].contains("X-Spam-Flag: YES"), "clean mail is not tagged as spam: {}", got[0]);
    s.mx.queue().stop().await;
    drop(c);
    drop(s);

    let junk = Filters { scanners: vec![scanner()], policy: Policy { spam: SpamAction::Junk, ..Policy::default() } };
    let s = start_with(&w, vec![w.north.clone()], config(), junk, None).await;
    let mut c = Client::greeted(&s).await;
    assert!(c.mail("carol@example.net", &["ann@example.org"], &gtube).await.starts_with("250"));
    let account = w.dir.account("ann@example.org").await.unwrap().id;
    let mut filed = Vec::new();
    for _ in 0..200 {
        let junk = w.north.mailbox(account, "Junk").await.unwrap();
        filed = w.north.messages(&junk).await.unwrap();
        if !filed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(filed.len(), 1, "GTUBE filed into Junk");
    let m = String::from_utf8(w.north.read(filed[0].blob).await.unwrap()).unwrap();
    assert!(m.contains("X-Spam-Flag: YES"), "{m}");
    assert!(!m.contains("X-Spam-Flag: NO"), "the sender's own verdict header is gone: {m}");
    assert_eq!(inbox(&w, "ann@example.org").await.len(), 1, "INBOX holds only the clean message");
}

/// Greylisting at RCPT: a new triplet is deferred with 451 4.7.1, a retry
/// after the delay passes, and from then on the triplet passes at once;
/// another recipient is a new triplet; a whitelisted recipient never waits.
#[tokio::test]
async fn greylisting_defers_the_first_attempt() {
    let w = world().await;
    // The greylist counts whole seconds: a 1 s delay could pass the retry
    // below when the two attempts straddle a second boundary; with 2 s the
    // early retry waited at most 1 s, and the one after the 2.1 s sleep at
    // least 2 s, wherever the boundaries fall.
    let config = GreylistConfig {
        delay: Duration::from_secs(2),
        whitelist_recipients: vec!["bob@example.org".into()],
        ..GreylistConfig::default()
    };
    let greylist = Greylist::new(config, w.dir.clone()).unwrap();
    let s = start_with(&w, vec![w.north.clone()], self::config(), Filters::default(), Some(greylist)).await;
    let mut c = Client::greeted(&s).await;
    assert!(c.cmd("MAIL FROM:<carol@example.net>").await.starts_with("250"));
    let r = c.cmd("RCPT TO:<ann@example.org>").await;
    assert_eq!(r, "451 4.7.1 greylisted, please try again later");
    assert!(c.cmd("RCPT TO:<ann@example.org>").await.starts_with("451 4.7.1"), "too early");
    // Unknown recipients are refused before greylisting is asked.
    assert!(c.cmd("RCPT TO:<nobody@example.org>").await.starts_with("550 5.1.1"));
    assert!(c.cmd("RCPT TO:<bob@example.org>").await.starts_with("250"), "whitelisted recipient");
    assert!(c.cmd("RSET").await.starts_with("250"));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = c.mail("carol@example.net", &["ann@example.org"], MESSAGE).await;
    assert!(r.starts_with("250 2.0.0"), "{r}");
    // Passed: later mail of the same triplet is not delayed.
    assert!(c.mail("carol@example.net", &["ann@example.org"], MESSAGE).await.starts_with("250"));
    // Another sender is another triplet.
    assert!(c.cmd("MAIL FROM:<dave@example.net>").await.starts_with("250"));
    assert!(c.cmd("RCPT TO:<ann@example.org>").await.starts_with("451 4.7.1"));
    assert_eq!(wait_inbox(&w, "ann@example.org", 2).await.len(), 2);
}
