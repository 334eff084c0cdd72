//! Moderated lists: a post from anyone but a moderator is held in the
//! queue (after its 250), the moderators get one notice, and a decision
//! (approve, reject, discard, or none in time) finishes it.
//!
//! One platform, example.org, with its directory, island, queue and MX:
//! rust@example.org is moderated, ann and bob are members, mod moderates
//! it (without being a member), carol is neither. A second platform,
//! elsewhere.net, stands for a moderator's mail server elsewhere.

#[path = "common/inbox.rs"]
mod mailbox;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use atoll_directory::{Directory, NewAccount, Settings};
use atoll_smtp::client::{ClientConfig, Connection, Outgoing, OutgoingRecipient, Protocol, ServerReply};
use atoll_smtp::filter::Filters;
use atoll_smtp::queue::control::{self, Request};
use atoll_smtp::queue::spool::parse_id;
use atoll_smtp::queue::{Outbound, OutboundConfig};
use atoll_smtp::{Mx, MxConfig, Queue, QueueConfig, Router, ShutdownTrigger, shutdown_channel};
use atoll_store::Island;
use atoll_testkit::wait::until_async;

const LIST: &str = "rust@example.org";

struct World {
    tmp: tempfile::TempDir,
    dir: Directory,
    island: Island,
}

/// A domain with these accounts on one island.
async fn platform(domain: &str, accounts: &[&str]) -> World {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", tmp.path().join("directory.db").display());
    let dir = Directory::open(&url, Settings::default()).await.unwrap();
    dir.add_island("main", &tmp.path().join("main").display().to_string()).await.unwrap();
    dir.add_domain(domain).await.unwrap();
    for a in accounts {
        let mut acct = NewAccount::new(&format!("{a}@{domain}"));
        acct.island = Some("main".into());
        dir.add_account(&acct).await.unwrap();
    }
    let meta = format!("sqlite://{}?mode=rwc", tmp.path().join("main/meta.db").display());
    let island = Island::open("main", &meta, tmp.path().join("main/blobs"), 4).await.unwrap();
    World { tmp, dir, island }
}

async fn world() -> World {
    let w = platform("example.org", &["ann", "bob", "mod", "carol"]).await;
    let dir = &w.dir;
    dir.create_list(LIST, "moderated", "").await.unwrap();
    dir.subscribe(LIST, "ann@example.org", false).await.unwrap();
    dir.subscribe(LIST, "bob@example.org", false).await.unwrap();
    dir.add_moderator(LIST, "mod@example.org").await.unwrap();
    w
}

impl World {
    fn spool(&self) -> PathBuf {
        self.tmp.path().join("spool")
    }

    fn queue(&self, give_up_after: Duration) -> Queue {
        self.queue_relaying(give_up_after, None)
    }

    /// A queue whose outbound path sends everything to `relay`.
    fn queue_relaying(&self, give_up_after: Duration, relay: Option<SocketAddr>) -> Queue {
        let outbound = relay.map(|relay| {
            let mut o = OutboundConfig::new("mx.example.org");
            o.relay = Some(relay.to_string());
            Outbound::new(o)
        });
        let config = QueueConfig {
            node: "mx.example.org".into(),
            hostname: "mx.example.org".into(),
            retry_initial: Duration::from_millis(200),
            retry_max: Duration::from_millis(500),
            give_up_after,
            delay_warning: None,
            ..QueueConfig::default()
        };
        Queue::start(self.spool(), config, Router::new(self.dir.clone(), [self.island.clone()]), outbound).unwrap()
    }

    async fn mx(&self, queue: &Queue) -> (SocketAddr, ShutdownTrigger) {
        let config = MxConfig {
            hostname: "mx.example.org".into(),
            max_message_size: 1 << 20,
            max_recipients: 100,
            timeout: Duration::from_secs(30),
            max_connections_per_ip: 50,
        };
        let mx =
            Mx::new(config, self.dir.clone(), [self.island.clone()], queue.clone(), None, Filters::default(), None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopping) = shutdown_channel();
        tokio::spawn(async move { mx.serve(listener, stopping, Duration::from_secs(1)).await });
        (addr, stop)
    }

    async fn inbox(&self, addr: &str) -> Vec<String> {
        mailbox::inbox(&self.dir, &self.island, addr).await
    }

    async fn wait_inbox(&self, addr: &str, n: usize) -> Vec<String> {
        mailbox::wait_inbox(&self.dir, &self.island, addr, n).await
    }
}

/// Waits until the queue holds nothing.
async fn drained(queue: &Queue) -> bool {
    until_async(|| std::future::ready(queue.list().is_empty())).await
}

/// Sends one message over SMTP: one reply per recipient (the RCPT
/// refusal, or the reply to the data).
async fn post(addr: SocketAddr, from: &str, to: &[&str], subject: &str) -> Vec<ServerReply> {
    let config = ClientConfig::new("client.example.net");
    let mut c = Connection::open(addr, "127.0.0.1", Protocol::Smtp, &config, None).await.unwrap();
    let body = format!("From: {from}\r\nTo: {}\r\nSubject: {subject}\r\n\r\nThe text of {subject}.\r\n", to.join(", "));
    let m = Outgoing {
        sender: from,
        recipients: to.iter().map(|a| OutgoingRecipient { address: a, notify: 0, orcpt: None }).collect(),
        envid: None,
        ret: None,
        body: body.as_bytes(),
    };
    let replies = c.send(&m).await.unwrap();
    c.quit().await;
    replies
}

/// The held message in the queue (there must be exactly one).
fn the_held(queue: &Queue) -> u64 {
    let held: Vec<_> = queue.list().into_iter().filter(|m| m.held).collect();
    assert_eq!(held.len(), 1, "one held post: {:?}", queue.list());
    assert_eq!(held[0].attempts, 0, "a held post is never attempted");
    held[0].id
}

/// Posts as `from` to the list and checks the 250; returns the held
/// message's id once its moderator's notice has arrived.
async fn held_post(w: &World, queue: &Queue, addr: SocketAddr, from: &str, subject: &str) -> u64 {
    let replies = post(addr, from, &[LIST], subject).await;
    assert_eq!(replies[0].code, 250, "{replies:?}");
    let id = the_held(queue);
    let queued_as = replies[0].lines.join(" ");
    assert_eq!(queued_as.rsplit(' ').next().and_then(parse_id), Some(id), "{queued_as}");
    let notices = w.wait_inbox("mod@example.org", 1).await;
    assert_eq!(notices.len(), 1, "the moderator is told");
    id
}

#[tokio::test]
async fn a_members_post_is_held_and_the_moderator_is_told_once() {
    let w = world().await;
    let queue = w.queue(Duration::from_secs(3600));
    let (addr, _stop) = w.mx(&queue).await;
    let id = held_post(&w, &queue, addr, "ann@example.org", "first post").await;

    let notice = &w.inbox("mod@example.org").await[0];
    assert!(notice.starts_with("Return-Path: <>\r\n"), "from the null sender: {notice}");
    assert!(
        notice.contains("Subject: Post to rust@example.org from ann@example.org requires approval\r\n"),
        "{notice}"
    );
    let qid = format!("{id:016X}");
    assert!(notice.contains(&format!("Queue id:   {qid}")), "{notice}");
    assert!(notice.contains("Subject:    first post"), "{notice}");
    assert!(notice.contains(&format!("atoll list approve {qid}")), "{notice}");
    assert!(notice.contains(&format!("atoll list reject {qid} --reason")), "{notice}");
    assert!(notice.contains("Content-Type: text/rfc822-headers\r\n\r\nReceived: from client.example.net"), "{notice}");
    assert!(!notice.contains("The text of first post"), "the header only: {notice}");

    // Nothing went to the members, and the post still waits.
    assert!(w.inbox("ann@example.org").await.is_empty());
    assert!(w.inbox("bob@example.org").await.is_empty());
    assert_eq!(the_held(&queue), id);
    assert_eq!(queue.list().len(), 1, "the notice itself is delivered and gone");
    assert_eq!(w.inbox("mod@example.org").await.len(), 1, "one notice");
}

#[tokio::test]
async fn a_moderators_post_goes_to_the_members_at_once() {
    let w = world().await;
    let queue = w.queue(Duration::from_secs(3600));
    let (addr, _stop) = w.mx(&queue).await;
    let replies = post(addr, "mod@example.org", &[LIST], "from the moderator").await;
    assert_eq!(replies[0].code, 250, "{replies:?}");
    assert_eq!(w.wait_inbox("ann@example.org", 1).await.len(), 1);
    assert_eq!(w.wait_inbox("bob@example.org", 1).await.len(), 1);
    assert!(drained(&queue).await, "nothing held: {:?}", queue.list());
    assert!(w.inbox("mod@example.org").await.is_empty(), "no notice, and mod is no member");
}

#[tokio::test]
async fn approval_by_request_file_delivers_to_every_member_once() {
    let w = world().await;
    let queue = w.queue(Duration::from_secs(3600));
    let (addr, _stop) = w.mx(&queue).await;
    let id = held_post(&w, &queue, addr, "carol@example.org", "please approve").await;
    // As `atoll list approve` does it: a request file the queue takes up.
    control::submit(&w.spool(), &Request::Approve(id)).unwrap();
    for member in ["ann@example.org", "bob@example.org"] {
        let got = w.wait_inbox(member, 1).await;
        assert_eq!(got.len(), 1, "{member}");
        assert!(got[0].contains("Subject: please approve\r\n"), "{}", got[0]);
        assert!(got[0].starts_with("Return-Path: <carol@example.org>\r\n"), "the sender is kept: {}", got[0]);
    }
    assert!(drained(&queue).await, "{:?}", queue.list());
    assert!(!queue.approve(id).await, "approved once");
    assert_eq!(w.inbox("ann@example.org").await.len(), 1);
    assert_eq!(w.inbox("bob@example.org").await.len(), 1);
    assert!(w.inbox("carol@example.org").await.is_empty(), "no notice to the sender");
}

#[tokio::test]
async fn rejection_sends_the_sender_a_notice_with_the_reason() {
    let w = world().await;
    let queue = w.queue(Duration::from_secs(3600));
    let (addr, _stop) = w.mx(&queue).await;
    let id = held_post(&w, &queue, addr, "carol@example.org", "off topic").await;
    control::submit(&w.spool(), &Request::Reject(id, Some("this list is about Rust\r\nBcc: x".into()))).unwrap();
    let got = w.wait_inbox("carol@example.org", 1).await;
    assert_eq!(got.len(), 1, "one notice");
    let n = &got[0];
    assert!(n.starts_with("Return-Path: <>\r\n"), "{n}");
    assert!(n.contains("report-type=delivery-status"), "{n}");
    assert!(n.contains("Final-Recipient: rfc822; rust@example.org\r\nAction: failed\r\nStatus: 5.7.2\r\n"), "{n}");
    assert!(
        n.contains("the moderators of rust@example.org rejected the post: this list is about Rust Bcc: x"),
        "the reason, on one line: {n}"
    );
    assert!(n.contains("The text of off topic."), "the post comes back: {n}");
    assert!(drained(&queue).await, "{:?}", queue.list());
    assert!(w.inbox("ann@example.org").await.is_empty());
    assert!(w.inbox("bob@example.org").await.is_empty());
}

#[tokio::test]
async fn discarding_tells_nobody() {
    let w = world().await;
    let queue = w.queue(Duration::from_secs(3600));
    let (addr, _stop) = w.mx(&queue).await;
    let id = held_post(&w, &queue, addr, "carol@example.org", "buy now").await;
    assert!(queue.discard(id).await);
    assert!(queue.list().is_empty(), "gone, and no notice queued: {:?}", queue.list());
    assert!(!queue.reject(id, None).await, "nothing left to decide");
    assert!(w.inbox("carol@example.org").await.is_empty());
    assert!(w.inbox("ann@example.org").await.is_empty());
    drop(queue);
    // Discarded for good: not back after a restart.
    let again = w.queue(Duration::from_secs(3600));
    assert!(again.list().is_empty(), "{:?}", again.list());
}

#[tokio::test]
async fn a_held_post_survives_a_restart_without_a_second_notice() {
    let w = world().await;
    let queue = w.queue(Duration::from_secs(3600));
    let (addr, stop) = w.mx(&queue).await;
    let id = held_post(&w, &queue, addr, "carol@example.org", "across a restart").await;
    assert!(drained_but_held(&queue).await);
    assert!(queue.list()[0].moderators_notified);
    drop(stop);
    queue.stop().await;
    drop(queue);

    let queue = w.queue(Duration::from_secs(3600));
    assert_eq!(the_held(&queue), id, "held again after the restart");
    assert!(queue.list()[0].moderators_notified, "the spool remembers the notice");
    assert!(queue.approve(id).await);
    assert_eq!(w.wait_inbox("ann@example.org", 1).await.len(), 1);
    assert_eq!(w.wait_inbox("bob@example.org", 1).await.len(), 1);
    assert!(drained(&queue).await, "{:?}", queue.list());
    assert_eq!(w.inbox("mod@example.org").await.len(), 1, "the notice was not sent again");
}

/// Waits until only held messages are left (their notices delivered).
async fn drained_but_held(queue: &Queue) -> bool {
    until_async(|| std::future::ready(queue.list().iter().all(|m| m.held))).await
}

#[tokio::test]
async fn an_undecided_post_is_refused_when_time_is_up() {
    let w = world().await;
    let queue = w.queue(Duration::from_secs(2));
    let (addr, _stop) = w.mx(&queue).await;
    held_post(&w, &queue, addr, "carol@example.org", "nobody looks").await;
    let got = w.wait_inbox("carol@example.org", 1).await;
    assert_eq!(got.len(), 1, "the sender hears of it");
    assert!(got[0].contains("Action: failed\r\nStatus: 5.4.7\r\n"), "{}", got[0]);
    assert!(got[0].contains("no moderator of rust@example.org decided on the post within 2 seconds"), "{}", got[0]);
    assert!(drained(&queue).await, "{:?}", queue.list());
    assert!(w.inbox("ann@example.org").await.is_empty());
}

#[tokio::test]
async fn list_and_direct_recipients_in_one_transaction_are_split() {
    let w = world().await;
    let queue = w.queue(Duration::from_secs(3600));
    let (addr, _stop) = w.mx(&queue).await;
    let replies = post(addr, "carol@example.org", &["ann@example.org", LIST], "both").await;
    assert_eq!(replies.iter().map(|r| r.code).collect::<Vec<_>>(), [250, 250], "{replies:?}");
    // ann's own copy goes at once; the list's waits.
    assert_eq!(w.wait_inbox("ann@example.org", 1).await.len(), 1);
    assert_eq!(w.wait_inbox("mod@example.org", 1).await.len(), 1);
    let id = the_held(&queue);
    assert!(drained_but_held(&queue).await);
    assert!(w.inbox("bob@example.org").await.is_empty());
    assert!(queue.approve(id).await);
    assert_eq!(w.wait_inbox("bob@example.org", 1).await.len(), 1);
    assert!(drained(&queue).await, "{:?}", queue.list());
    // ann is a member too: the list's copy is a second delivery to her.
    assert_eq!(w.wait_inbox("ann@example.org", 2).await.len(), 2);
}

#[tokio::test]
async fn moderators_elsewhere_get_their_notice_over_smtp() {
    let away = platform("elsewhere.net", &["helper"]).await;
    let away_queue = away.queue(Duration::from_secs(3600));
    let (away_addr, _away_stop) = away.mx(&away_queue).await;
    let w = world().await;
    w.dir.add_moderator(LIST, "helper@elsewhere.net").await.unwrap();
    let queue = w.queue_relaying(Duration::from_secs(3600), Some(away_addr));
    let (addr, _stop) = w.mx(&queue).await;
    let id = held_post(&w, &queue, addr, "carol@example.org", "two notices").await;
    let got = away.wait_inbox("helper@elsewhere.net", 1).await;
    assert_eq!(got.len(), 1, "the outside moderator is told too");
    assert!(got[0].starts_with("Return-Path: <>\r\n"), "{}", got[0]);
    assert!(got[0].contains(&format!("atoll list approve {id:016X}")), "{}", got[0]);
    assert!(drained_but_held(&queue).await, "{:?}", queue.list());
    assert!(queue.list()[0].moderators_notified);
    assert_eq!(w.inbox("mod@example.org").await.len(), 1, "one notice each");
    assert_eq!(away.inbox("helper@elsewhere.net").await.len(), 1);
}
