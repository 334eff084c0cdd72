//! The LMTP session state machine, driven byte by byte over an in-memory
//! stream, against a SQLite directory and a temporary island.

use std::path::{Path, PathBuf};
use std::time::Duration;

use atoll_directory::{Directory, NewAccount, Settings, state};
use atoll_smtp::{Lmtp, LmtpConfig, ShutdownTrigger, shutdown_channel};
use atoll_store::Island;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, ReadHalf, WriteHalf};
use tokio::task::JoinHandle;

/// A directory with example.org and a few recipients, and island "north"
/// served by this node ("south" exists but is served elsewhere).
struct World {
    _tmp: tempfile::TempDir,
    dir: Directory,
    north: Island,
    blobs: PathBuf,
}

const MAX_SIZE: usize = 4096;

async fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", tmp.path().join("directory.db").display());
    let dir = Directory::open(&url, Settings::default()).await.unwrap();
    dir.add_island("north", &tmp.path().join("north").display().to_string()).await.unwrap();
    dir.add_island("south", &tmp.path().join("south").display().to_string()).await.unwrap();
    dir.add_domain("example.org").await.unwrap();
    for (addr, island, quota) in [
        ("ann@example.org", "north", 0),
        ("bob@example.org", "north", 1024),
        ("sue@example.org", "north", 0),
        ("carl@example.org", "south", 0),
    ] {
        let mut a = NewAccount::new(addr);
        a.island = Some(island.into());
        a.quota_bytes = quota;
        dir.add_account(&a).await.unwrap();
    }
    dir.set_state("sue@example.org", state::SUSPENDED).await.unwrap();
    dir.add_alias("team@example.org", "ann@example.org").await.unwrap();
    dir.add_alias("team@example.org", "bob@example.org").await.unwrap();
    dir.add_alias("out@example.org", "someone@elsewhere.net").await.unwrap();
    dir.create_list("rust@example.org", "anyone", "").await.unwrap();
    let meta = format!("sqlite://{}?mode=rwc", tmp.path().join("north/meta.db").display());
    let blobs = tmp.path().join("north/blobs");
    let north = Island::open("north", &meta, &blobs, 4).await.unwrap();
    World { _tmp: tmp, dir, north, blobs }
}

fn config() -> LmtpConfig {
    LmtpConfig {
        hostname: "store.test".into(),
        max_message_size: MAX_SIZE,
        max_recipients: 5,
        timeout: Duration::from_secs(30),
    }
}

struct Client {
    r: BufReader<ReadHalf<DuplexStream>>,
    w: Option<WriteHalf<DuplexStream>>,
    session: JoinHandle<atoll_smtp::Result<()>>,
    trigger: ShutdownTrigger,
}

impl Client {
    async fn connect(w: &World, config: LmtpConfig) -> Client {
        let lmtp = Lmtp::new(config, w.dir.clone(), [w.north.clone()]);
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (trigger, shutdown) = shutdown_channel();
        let session =
            tokio::spawn(async move { lmtp.session(server, Some("192.0.2.1".parse().unwrap()), shutdown).await });
        let (r, wr) = tokio::io::split(client);
        let mut c = Client { r: BufReader::new(r), w: Some(wr), session, trigger };
        let greeting = c.reply().await;
        assert_eq!(greeting, "220 store.test LMTP atoll ready");
        c
    }

    async fn greeted(w: &World) -> Client {
        let mut c = Client::connect(w, config()).await;
        let caps = c.cmd("LHLO mx.test").await;
        assert!(caps.starts_with("250-store.test\n"), "{caps}");
        c
    }

    async fn send(&mut self, bytes: &[u8]) {
        let w = self.w.as_mut().expect("still connected");
        w.write_all(bytes).await.unwrap();
        w.flush().await.unwrap();
    }

    /// One reply, its lines joined with "\n".
    async fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(20), self.r.read_line(&mut line))
                .await
                .expect("a reply within 20 s")
                .unwrap();
            assert!(n > 0, "connection closed; got so far: {lines:?}");
            assert!(line.ends_with("\r\n"), "reply line without CRLF: {line:?}");
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

    async fn replies(&mut self, n: usize) -> Vec<String> {
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(self.reply().await);
        }
        v
    }

    /// Reads until the server closes the connection; returns what came.
    async fn until_closed(&mut self) -> String {
        let mut rest = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(20), self.r.read_line(&mut line))
                .await
                .expect("closed within 20 s")
                .unwrap();
            if n == 0 {
                return rest;
            }
            rest.push_str(&line);
        }
    }
}

fn message(subject: &str, body_lines: usize) -> String {
    let mut m = format!("From: ann@example.net\r\nTo: ann@example.org\r\nSubject: {subject}\r\n\r\n");
    for i in 0..body_lines {
        m.push_str(&format!("line {i}\r\n"));
    }
    m
}

/// The DATA form of `msg`: dot-stuffed and terminated.
fn dotted(msg: &str) -> String {
    let mut out = String::new();
    for line in msg.split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    out.push_str(".\r\n");
    out
}

async fn id(w: &World, addr: &str) -> i64 {
    w.dir.account(addr).await.unwrap().id
}

/// The raw messages in an account's INBOX (none if it has no mailboxes).
async fn inbox(w: &World, addr: &str) -> Vec<Vec<u8>> {
    let account = id(w, addr).await;
    let Ok(mbox) = w.north.mailbox(account, "INBOX").await else { return Vec::new() };
    let mut out = Vec::new();
    for m in w.north.messages(&mbox).await.unwrap() {
        out.push(w.north.read(m.blob).await.unwrap());
    }
    out
}

/// Files in the blob store, the temporary folder left out.
fn blob_files(root: &Path) -> usize {
    fn walk(p: &Path, n: &mut usize) {
        let Ok(entries) = std::fs::read_dir(p) else { return };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|f| f == "tmp") {
                    continue;
                }
                walk(&path, n);
            } else {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(root, &mut n);
    n
}

#[tokio::test]
async fn greeting_lhlo_and_sequence_errors() {
    let w = world().await;
    let mut c = Client::connect(&w, config()).await;
    assert!(c.cmd("EHLO mx.test").await.starts_with("500 5.5.1 "));
    assert!(c.cmd("HELO mx.test").await.starts_with("500 5.5.1 "));
    assert!(c.cmd("MAIL FROM:<a@example.net>").await.starts_with("503 5.5.1 "), "MAIL before LHLO");
    let caps = c.cmd("LHLO mx.test").await;
    let mut lines: Vec<&str> = caps.lines().skip(1).map(|l| &l[4..]).collect();
    lines.sort();
    assert_eq!(lines, ["8BITMIME", "CHUNKING", "ENHANCEDSTATUSCODES", "PIPELINING", "SIZE 4096"], "{caps}");
    assert!(c.cmd("FROB x").await.starts_with("500 5.5.1 "));
    assert!(c.cmd("RCPT TO:<ann@example.org>").await.starts_with("503 5.5.1 "), "RCPT before MAIL");
    assert!(c.cmd("DATA").await.starts_with("503 5.5.1 "), "DATA before MAIL");
    assert!(c.cmd("MAIL FROM:a@example.net").await.starts_with("501 5."), "bad syntax");
    assert!(c.cmd("MAIL FROM:<a@example.net> FOO=BAR").await.starts_with("555 5.5.4 "));
    assert!(c.cmd("STARTTLS").await.starts_with("502 5.5.1 "));
    assert_eq!(c.cmd("VRFY ann").await, "252 2.5.0 cannot VRFY user, but will accept message and attempt delivery");
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 OK");
    assert_eq!(c.cmd("MAIL FROM:<a@example.net>").await, "250 2.1.0 sender OK");
    assert!(c.cmd("MAIL FROM:<b@example.net>").await.starts_with("503 5.5.1 "), "nested MAIL");
    assert!(c.cmd("DATA").await.starts_with("503 5.5.1 "), "DATA without recipients");
    assert_eq!(c.cmd("RSET").await, "250 2.0.0 OK");
    assert_eq!(c.cmd("MAIL FROM:<>").await, "250 2.1.0 sender OK", "null sender");
    assert_eq!(c.cmd("QUIT").await, "221 2.0.0 store.test closing connection");
    assert_eq!(c.until_closed().await, "");
    c.session.await.unwrap().unwrap();
}

#[tokio::test]
async fn one_reply_per_recipient_and_one_copy_per_account() {
    let w = world().await;
    let mut c = Client::greeted(&w).await;
    assert_eq!(c.cmd("MAIL FROM:<sender@example.net> BODY=8BITMIME").await, "250 2.1.0 sender OK");
    let rcpts = [
        ("ann@example.org", "250 2.1.5 "),
        ("nobody@example.org", "550 5.1.1 "),
        ("sue@example.org", "550 5.2.1 "),
        ("carl@example.org", "550 5.1.1 mailbox is not on this node's islands"),
        ("out@example.org", "550 5.1.1 not a local mailbox"),
        ("rust@example.org", "550 5.1.1 not a local mailbox"),
        ("someone@elsewhere.net", "550 5.1.1 "),
        ("ANN+lists@Example.org", "250 2.1.5 "),
        ("team@example.org", "250 2.1.5 "),
    ];
    for (rcpt, want) in rcpts {
        let got = c.cmd(&format!("RCPT TO:<{rcpt}>")).await;
        assert!(got.starts_with(want), "RCPT {rcpt}: {got}");
    }
    assert!(c.cmd("DATA").await.starts_with("354 "));
    let msg = format!("{}.leading dot\r\n..two dots\r\nünïcode 8bit\r\n", message("Hello", 2));
    c.send(dotted(&msg).as_bytes()).await;
    // Three accepted recipients: three replies, in RCPT order.
    let replies = c.replies(3).await;
    assert_eq!(replies, ["250 2.0.0 delivered"; 3]);
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 OK", "the session goes on");

    let ann = inbox(&w, "ann@example.org").await;
    assert_eq!(ann.len(), 1, "ann is reached three times but gets one copy");
    let bob = inbox(&w, "bob@example.org").await;
    assert_eq!(bob.len(), 1);
    assert_eq!(ann, bob, "one body for everybody");
    assert_eq!(blob_files(&w.blobs), 1);
    let text = String::from_utf8(ann[0].clone()).unwrap();
    assert!(text.starts_with("Return-Path: <sender@example.net>\r\nReceived: from mx.test ([192.0.2.1])\r\n\tby store.test (atoll) with LMTP id "), "{text}");
    assert!(!text.contains("Delivered-To"), "{text}");
    assert!(text.ends_with(&msg), "the body, dot-unstuffed, unchanged:\n{text}");
    assert!(inbox(&w, "sue@example.org").await.is_empty());
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let w = world().await;
    let mut c = Client::connect(&w, config()).await;
    c.send(
        b"LHLO mx.test\r\nMAIL FROM:<s@example.net>\r\nRCPT TO:<ann@example.org>\r\n\
          RCPT TO:<nobody@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n",
    )
    .await;
    let replies = c.replies(6).await;
    assert!(replies[0].starts_with("250-store.test\n"), "{replies:?}");
    assert_eq!(replies[1], "250 2.1.0 sender OK");
    assert!(replies[2].starts_with("250 2.1.5"));
    assert!(replies[3].starts_with("550 5.1.1"));
    assert!(replies[4].starts_with("250 2.1.5"));
    assert!(replies[5].starts_with("354 "));
    // The end of the message and the next transaction in one write.
    let mut burst = dotted(&message("one", 1));
    burst.push_str("MAIL FROM:<s@example.net>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n");
    c.send(burst.as_bytes()).await;
    let replies = c.replies(5).await;
    assert_eq!(replies[..2], ["250 2.0.0 delivered", "250 2.0.0 delivered"]);
    assert_eq!(replies[2], "250 2.1.0 sender OK");
    assert!(replies[3].starts_with("250 2.1.5"));
    assert!(replies[4].starts_with("354 "));
    let mut burst = dotted(&message("two", 1));
    burst.push_str("QUIT\r\n");
    c.send(burst.as_bytes()).await;
    assert_eq!(c.replies(2).await, ["250 2.0.0 delivered", "221 2.0.0 store.test closing connection"]);
    assert_eq!(inbox(&w, "ann@example.org").await.len(), 2);
    assert_eq!(inbox(&w, "bob@example.org").await.len(), 1);
}

#[tokio::test]
async fn size_limits() {
    let w = world().await;
    let mut c = Client::greeted(&w).await;
    // Declared too large: refused at MAIL (RFC 1870).
    assert!(c.cmd("MAIL FROM:<s@example.net> SIZE=5000").await.starts_with("552 5.3.4 "));
    assert_eq!(c.cmd("MAIL FROM:<s@example.net> SIZE=100").await, "250 2.1.0 sender OK");
    assert!(c.cmd("RCPT TO:<ann@example.org>").await.starts_with("250 "));
    assert!(c.cmd("RCPT TO:<team@example.org>").await.starts_with("250 "));
    assert!(c.cmd("DATA").await.starts_with("354 "));
    // Larger than the limit (and than one read): read to the end, refused per recipient.
    c.send(dotted(&message("big", 2000)).as_bytes()).await;
    assert_eq!(
        c.replies(2).await,
        [
            "552 5.3.4 message size exceeds the fixed maximum message size",
            "552 5.3.4 message size exceeds the fixed maximum message size"
        ]
    );
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 OK");
    assert!(inbox(&w, "ann@example.org").await.is_empty());
    assert_eq!(blob_files(&w.blobs), 0);
}

#[tokio::test]
async fn quota_is_checked_at_rcpt_and_after_data() {
    let w = world().await;
    let mut c = Client::greeted(&w).await;
    // bob's quota is 1K: a 2K message is refused for him only.
    assert!(c.cmd("MAIL FROM:<s@example.net>").await.starts_with("250 "));
    assert!(c.cmd("RCPT TO:<ann@example.org>").await.starts_with("250 "));
    assert!(c.cmd("RCPT TO:<bob@example.org>").await.starts_with("250 "), "bob has room at RCPT time");
    assert!(c.cmd("DATA").await.starts_with("354 "));
    c.send(dotted(&message("big", 200)).as_bytes()).await;
    assert_eq!(c.replies(2).await, ["250 2.0.0 delivered", "452 4.2.2 mailbox full"]);
    assert_eq!(inbox(&w, "ann@example.org").await.len(), 1);
    assert!(inbox(&w, "bob@example.org").await.is_empty());

    // Small messages fit until the next one would not.
    let mut delivered = 0;
    loop {
        assert!(c.cmd("MAIL FROM:<s@example.net>").await.starts_with("250 "));
        assert!(c.cmd("RCPT TO:<bob@example.org>").await.starts_with("250 "), "bob is not full yet");
        assert!(c.cmd("DATA").await.starts_with("354 "));
        // (Not a divisor of the quota: the last one must be refused after DATA.)
        c.send(dotted(&message("smaller", 1)).as_bytes()).await;
        let r = c.reply().await;
        if r == "452 4.2.2 mailbox full" {
            break;
        }
        assert_eq!(r, "250 2.0.0 delivered");
        delivered += 1;
        assert!(delivered < 20, "the quota never filled");
    }
    assert!(delivered >= 2);
    assert_eq!(inbox(&w, "bob@example.org").await.len(), delivered);
    // Once the usage reaches the quota, RCPT refuses at once.
    let (used, _) = w.north.quota_usage(id(&w, "bob@example.org").await).await.unwrap();
    w.dir.set_quota("bob@example.org", used).await.unwrap();
    assert!(c.cmd("MAIL FROM:<s@example.net>").await.starts_with("250 "));
    assert_eq!(c.cmd("RCPT TO:<bob@example.org>").await, "452 4.2.2 mailbox full");
    assert_eq!(c.cmd("RSET").await, "250 2.0.0 OK");
    // An alias reaching a full mailbox is refused whole.
    assert!(c.cmd("MAIL FROM:<s@example.net>").await.starts_with("250 "));
    assert!(c.cmd("RCPT TO:<team@example.org>").await.starts_with("452 4.2.2 "));
}

#[tokio::test]
async fn too_many_recipients() {
    let w = world().await;
    let mut c = Client::greeted(&w).await;
    assert!(c.cmd("MAIL FROM:<s@example.net>").await.starts_with("250 "));
    for _ in 0..5 {
        assert!(c.cmd("RCPT TO:<ann@example.org>").await.starts_with("250 "));
    }
    assert_eq!(c.cmd("RCPT TO:<ann@example.org>").await, "452 4.5.3 too many recipients");
}

#[tokio::test]
async fn disconnect_mid_data_stores_nothing() {
    let w = world().await;
    let mut c = Client::greeted(&w).await;
    assert!(c.cmd("MAIL FROM:<s@example.net>").await.starts_with("250 "));
    assert!(c.cmd("RCPT TO:<ann@example.org>").await.starts_with("250 "));
    assert!(c.cmd("DATA").await.starts_with("354 "));
    c.send(b"Subject: cut\r\n\r\nhalf a message\r\n").await;
    c.w = None; // the client goes away
    drop(c.r);
    c.session.await.unwrap().unwrap();
    assert!(inbox(&w, "ann@example.org").await.is_empty());
    assert_eq!(blob_files(&w.blobs), 0);
}

#[tokio::test]
async fn bdat_chunks() {
    let w = world().await;
    let mut c = Client::greeted(&w).await;
    // A chunk without a transaction is read and refused.
    c.send(b"BDAT 5\r\nhello").await;
    assert!(c.reply().await.starts_with("503 5.5.1 "));
    assert!(c.cmd("MAIL FROM:<s@example.net>").await.starts_with("250 "));
    assert!(c.cmd("RCPT TO:<ann@example.org>").await.starts_with("250 "));
    assert!(c.cmd("RCPT TO:<bob@example.org>").await.starts_with("250 "));
    let body = b"Subject: chunks\r\n\r\n.not stuffed\r\n";
    let (a, b) = body.split_at(10);
    c.send(format!("BDAT {}\r\n", a.len()).as_bytes()).await;
    c.send(a).await;
    assert_eq!(c.reply().await, "250 2.0.0 10 octets received");
    assert!(c.cmd("DATA").await.starts_with("503 5.5.1 "), "no DATA after BDAT");
    c.send(format!("BDAT {} LAST\r\n", b.len()).as_bytes()).await;
    c.send(b).await;
    assert_eq!(c.replies(2).await, ["250 2.0.0 delivered", "250 2.0.0 delivered"]);
    let ann = inbox(&w, "ann@example.org").await;
    assert_eq!(ann.len(), 1);
    assert!(ann[0].ends_with(body), "BDAT content is taken as it is");

    // Over the limit: the chunk is read and thrown away.
    assert!(c.cmd("MAIL FROM:<s@example.net>").await.starts_with("250 "));
    assert!(c.cmd("RCPT TO:<ann@example.org>").await.starts_with("250 "));
    c.send(format!("BDAT {} LAST\r\n", MAX_SIZE + 1).as_bytes()).await;
    c.send(&vec![b'x'; MAX_SIZE + 1]).await;
    assert!(c.reply().await.starts_with("552 5.3.4 "));
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 OK");
    assert_eq!(inbox(&w, "ann@example.org").await.len(), 1);
}

#[tokio::test]
async fn long_lines_and_garbage_do_not_derail_the_session() {
    let w = world().await;
    let mut c = Client::greeted(&w).await;
    // Longer than one read of the server: smtp-proto caps a line it has to
    // buffer at 4096 octets.
    let long = format!("NOOP {}\r\n", "a".repeat(40_000));
    c.send(long.as_bytes()).await;
    let r = c.reply().await;
    assert!(r.starts_with("500 5.5.2 "), "{r}");
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 OK");
    c.send(b"\x00\xff\xfe garbage\r\n").await;
    assert!(c.reply().await.starts_with("50"));
    assert!(c.cmd("RCPT TO:<ann@example.org").await.starts_with("50"), "unterminated address");
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 OK");
}

#[tokio::test]
async fn idle_timeout_and_shutdown_say_421() {
    let w = world().await;
    let mut c = Client::connect(&w, LmtpConfig { timeout: Duration::from_millis(200), ..config() }).await;
    assert!(c.until_closed().await.starts_with("421 4.4.2 "));
    c.session.await.unwrap().unwrap();

    let mut c = Client::greeted(&w).await;
    c.trigger.fire();
    assert!(c.until_closed().await.starts_with("421 4.3.2 "));
    c.session.await.unwrap().unwrap();
}

/// Random sequences of command fragments, split at random places: the
/// session must neither panic nor hang, and must end when the client goes.
#[tokio::test]
async fn random_input_never_panics() {
    use tokio::io::AsyncReadExt;
    const FRAGMENTS: &[&[u8]] = &[
        b"LHLO x\r\n",
        b"MAIL FROM:<a@b.example>\r\n",
        b"MAIL FROM:<a@b.example> SIZE=99999999999999999999999\r\n",
        b"RCPT TO:<ann@example.org>\r\n",
        b"RCPT TO:<bob@example.org>\r\n",
        b"RCPT TO:<",
        b"DATA\r\n",
        b"BDAT 7\r\n",
        b"BDAT 3 LAST\r\n",
        b"BDAT 18446744073709551615\r\n",
        b"BDAT 99999999999999999999999999 LAST\r\n",
        b".\r\n",
        b"..\r\n",
        b"\r\n.\r\n",
        b"\r\n",
        b"\n",
        b"\r",
        b"RSET\r\n",
        b"NOOP\r\n",
        b"HELP\r\n",
        b"xyz",
        b"\x00\xff\xfe",
        b" ",
        b"Subject: x\r\n",
    ];
    let w = world().await;
    let lmtp = Lmtp::new(config(), w.dir.clone(), [w.north.clone()]);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut seen_replies, mut delivered) = (0, 0);
    for _ in 0..200 {
        let mut input = Vec::new();
        if next() % 2 == 0 {
            input.extend_from_slice(b"LHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<ann@example.org>\r\n");
        }
        for _ in 0..(next() % 40) {
            let f = FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize];
            input.extend_from_slice(f);
            if next() % 50 == 0 {
                input.extend(std::iter::repeat_n(b'a', 5000));
            }
        }
        let (client, server) = tokio::io::duplex(4096);
        let (_trigger, shutdown) = shutdown_channel();
        let l = lmtp.clone();
        let session = tokio::spawn(async move { l.session(server, None, shutdown).await });
        let (mut r, mut wr) = tokio::io::split(client);
        let drain = tokio::spawn(async move {
            let mut sink = Vec::new();
            let _ = r.read_to_end(&mut sink).await;
            sink
        });
        let mut rest = &input[..];
        while !rest.is_empty() {
            let n = ((next() % 300) as usize + 1).min(rest.len());
            if wr.write_all(&rest[..n]).await.is_err() {
                break; // the session ended (QUIT is not among the fragments, a 421 might be)
            }
            rest = &rest[n..];
        }
        // The client is done sending: the server reads end-of-file.
        let _ = wr.shutdown().await;
        let ended = tokio::time::timeout(Duration::from_secs(20), session).await.expect("the session ends");
        let _ = ended.expect("the session does not panic");
        let replies = String::from_utf8_lossy(&drain.await.unwrap()).into_owned();
        seen_replies += replies.lines().count();
        delivered += replies.matches("250 2.0.0 delivered").count();
    }
    // The fragments make real transactions now and then.
    assert!(seen_replies > 1000, "{seen_replies} replies");
    assert!(delivered > 0);
}
