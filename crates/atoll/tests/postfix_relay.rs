//! Postfix from the OS packages relaying to the real `atoll serve`: a
//! throwaway Postfix instance takes mail for example.org and hands it to
//! atoll's MX over STARTTLS, as an edge relay or backup MX would. Mail for
//! atoll's accounts lands in their mailboxes once; an address atoll does
//! not know gets atoll's 550 5.1.1, and the bounce Postfix makes of it
//! comes back through the relay to the sender's atoll mailbox. Checked
//! with `atoll mailbox show`, the island's blob folder, atoll's log and
//! Postfix's own log.
//!
//! The Postfix instance is tests/common/postfix.rs's.

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::postfix::{Postfix, postfix_runs_here};
use common::{Atoll, inbox_subjects, mail_installation, smtplib_send, start_server, wait_for_inbox};
use serde_json::json;

/// Postfix's myhostname: the name it gives in EHLO, which atoll's Received
/// line shows.
const POSTFIX_HOST: &str = "postfix-relay.example.net";
/// How long Postfix's and atoll's queues may take to pass the mail on.
const WAIT: Duration = Duration::from_secs(30);

/// Sends one message into Postfix's smtpd; asserts that Postfix took every
/// recipient and the message, and returns Postfix's queue id for it.
fn send_to_postfix(postfix: &Postfix, rcpts: &[&str], subject: &str) -> String {
    let message = format!(
        "From: Carol <carol@example.org>\r\nTo: {}\r\nSubject: {subject}\r\n\
         Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n\r\nThrough Postfix to atoll.\r\n",
        rcpts.join(", ")
    );
    let r = smtplib_send(postfix.port, &json!({"from": "carol@example.org", "rcpts": rcpts, "message": message}));
    let codes: Vec<u64> = r["rcpt"].as_array().expect("rcpt replies").iter().map(|x| x[0].as_u64().unwrap()).collect();
    assert_eq!(codes, vec![250; rcpts.len()], "Postfix refused a recipient: {r}");
    assert_eq!(r["data"][0], 250, "{r}");
    let text = r["data"][1].as_str().expect("DATA reply text");
    text.split_once("queued as ").map(|(_, id)| id.trim().to_string()).unwrap_or_else(|| panic!("no queue id: {r}"))
}

/// The stored messages of the default island (one file per distinct
/// message, shared by all its recipients), its temporary folder left out.
fn blobs(a: &Atoll) -> Vec<String> {
    fn walk(p: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(p) else { return };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|f| f != "tmp") {
                    walk(&path, out);
                }
            } else {
                out.push(fs::read_to_string(&path).expect("a stored message is text"));
            }
        }
    }
    let mut out = Vec::new();
    walk(&a.data_dir().join("islands/default/blobs"), &mut out);
    out
}

/// The one stored message whose header has `Subject: subject` (a bounce
/// quotes the subject of what it returns, but in its body).
fn stored<'a>(blobs: &'a [String], subject: &str) -> &'a str {
    let field = format!("\r\nSubject: {subject}\r\n");
    let found: Vec<&String> =
        blobs.iter().filter(|b| b.split_once("\r\n\r\n").is_some_and(|(head, _)| head.contains(&field))).collect();
    assert_eq!(found.len(), 1, "one stored message with Subject {subject:?}: {blobs:#?}");
    found[0]
}

/// The queue id a bounce got from Postfix, once it logged making one.
fn bounce_id(maillog: &str, qid: &str) -> Option<String> {
    let marker = format!(" {qid}: sender non-delivery notification: ");
    maillog.lines().find_map(|l| l.split_once(&marker).map(|(_, id)| id.trim().to_string()))
}

/// Whether Postfix is done with queue file `qid` (every recipient sent or
/// bounced, the file deleted).
fn removed(maillog: &str, qid: &str) -> bool {
    let end = format!(" {qid}: removed");
    maillog.lines().any(|l| l.ends_with(&end))
}

/// The line Postfix logged for its delivery attempt to `rcpt` of queue
/// file `qid`; asserts there was exactly one (no deferral and no retry).
fn delivery<'a>(maillog: &'a str, qid: &str, rcpt: &str) -> &'a str {
    let key = format!(" {qid}: to=<{rcpt}>, ");
    let lines: Vec<&str> = maillog.lines().filter(|l| l.contains(&key)).collect();
    assert_eq!(lines.len(), 1, "one delivery attempt for {rcpt} of {qid}:\n{maillog}");
    lines[0]
}

/// atoll's queue id in the reply Postfix logged for a sent message.
fn queued_as(line: &str) -> String {
    let marker = "status=sent (250 2.0.0 OK queued as ";
    let (_, rest) = line.split_once(marker).unwrap_or_else(|| panic!("not sent with atoll's 250: {line}"));
    rest.trim_end_matches(')').to_string()
}

#[test]
fn postfix_relays_to_the_mx_and_bounces_what_atoll_refuses() {
    if !postfix_runs_here() {
        return;
    }
    // carol sends the test mail: the bounce comes back to her.
    let a = mail_installation(&["carol@example.org"]);
    let s = start_server(&a, "");
    let postfix = Postfix::relay(POSTFIX_HOST, s.smtp);

    // ann twice (directly and through the alias) in one message: atoll
    // gets both in one transaction and stores one copy for her.
    let team = send_to_postfix(&postfix, &["ann@example.org", "team@example.org"], "to ann and the team");
    let bob = send_to_postfix(&postfix, &["bob@example.org"], "to bob");
    // Postfix does not know atoll's users: it takes this one (asserted in
    // send_to_postfix) and only learns at atoll's RCPT TO that it is wrong.
    let nobody = send_to_postfix(&postfix, &["nobody@example.org"], "to nobody");

    // Postfix is done once every queue file, the bounce's included, is
    // gone; after that it sends nothing more.
    let deadline = Instant::now() + WAIT;
    let (log, bounce) = loop {
        let log = postfix.maillog();
        let bounce = bounce_id(&log, &nobody);
        if let Some(bounce) = bounce.filter(|b| [&team, &bob, &nobody, b].iter().all(|q| removed(&log, q))) {
            break (log, bounce);
        }
        assert!(
            Instant::now() < deadline,
            "Postfix has not finished with {team}, {bob}, {nobody} and a bounce:\n{log}\natoll:\n{}",
            s.server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };

    let relay = format!("relay={}[{}]:{}, ", s.smtp.ip(), s.smtp.ip(), s.smtp.port());
    let sent = |qid: &str, rcpt: &str| {
        let line = delivery(&log, qid, rcpt);
        assert!(line.contains(&relay), "not relayed to atoll's MX: {line}");
        queued_as(line)
    };
    let team_id = sent(&team, "ann@example.org");
    assert_eq!(sent(&team, "team@example.org"), team_id, "both recipients in one transaction:\n{log}");
    let bob_id = sent(&bob, "bob@example.org");
    let bounce_atoll_id = sent(&bounce, "carol@example.org");
    let refused = delivery(&log, &nobody, "nobody@example.org");
    assert!(refused.contains(&relay), "not relayed to atoll's MX: {refused}");
    assert!(
        refused.contains(&format!("dsn=5.1.1, status=bounced (host {ip}[{ip}] said: 550 5.1.1 ", ip = s.smtp.ip()))
            && refused.ends_with("(in reply to RCPT TO command))"),
        "atoll's 550 5.1.1 at RCPT TO: {refused}"
    );
    // smtp_tls_security_level = may: Postfix took atoll's self-signed
    // certificate rather than falling back to plain text.
    assert!(
        log.contains(&format!("TLS connection established to {}[{}]:{}: ", s.smtp.ip(), s.smtp.ip(), s.smtp.port())),
        "{log}"
    );

    let ann_got = wait_for_inbox(&a, &s, "ann@example.org", 1, WAIT);
    let bob_got = wait_for_inbox(&a, &s, "bob@example.org", 2, WAIT);
    let carol_got = wait_for_inbox(&a, &s, "carol@example.org", 1, WAIT);
    // A moment more, in case anything would arrive twice.
    std::thread::sleep(Duration::from_millis(300));
    let once = |subjects: &[&str]| -> HashMap<String, usize> { subjects.iter().map(|s| (s.to_string(), 1)).collect() };
    assert_eq!(ann_got, once(&["to ann and the team"]));
    assert_eq!(bob_got, once(&["to ann and the team", "to bob"]));
    assert_eq!(carol_got, once(&["Undelivered Mail Returned to Sender"]));
    assert_eq!(inbox_subjects(&a, &s, "ann@example.org"), ann_got, "nothing arrives after the queues drained");
    assert_eq!(inbox_subjects(&a, &s, "bob@example.org"), bob_got, "nothing arrives after the queues drained");
    assert_eq!(inbox_subjects(&a, &s, "carol@example.org"), carol_got, "nothing arrives after the queues drained");
    // Three transactions reached atoll's queue (the refused one had no
    // recipient left and never got to DATA), each once.
    let atoll_log = s.server.log();
    assert_eq!(atoll_log.matches("smtp: accepted").count(), 3, "{atoll_log}");

    let bodies = blobs(&a);
    assert_eq!(bodies.len(), 3, "one stored body per message: {bodies:#?}");
    // atoll's Received line on top: from Postfix (its EHLO name; a
    // loopback client's reverse DNS name is "localhost"), over TLS
    // (ESMTPS), with the queue id Postfix logged; Postfix's own Received
    // line below it names the queue file the client's 250 gave.
    let received = |atoll_id: &str| {
        format!(
            "Received: from {POSTFIX_HOST} (localhost [127.0.0.1])\r\n\tby test-node (atoll) with ESMTPS id {atoll_id};\r\n"
        )
    };
    // A copy for one mailbox names it (Delivered-To, RFC 9228); the copy
    // ann and bob share names no one.
    for (subject, postfix_id, atoll_id, delivered_to) in
        [("to ann and the team", &team, &team_id, ""), ("to bob", &bob, &bob_id, "Delivered-To: bob@example.org\r\n")]
    {
        let m = stored(&bodies, subject);
        let top = format!("Return-Path: <carol@example.org>\r\n{delivered_to}{}", received(atoll_id));
        assert!(m.starts_with(&top), "expected it to start with {top:?}:\n{m}");
        assert!(m.contains(&format!("\tby {POSTFIX_HOST} (Postfix) with ESMTP id {postfix_id}")), "{m}");
        assert!(m.ends_with("\r\n\r\nThrough Postfix to atoll.\r\n"), "{m}");
    }
    // The bounce: from the null sender, about the message Postfix queued
    // as `nobody`, with atoll's refusal as the diagnostic (RFC 3464).
    let m = stored(&bodies, "Undelivered Mail Returned to Sender");
    let top = format!("Return-Path: <>\r\nDelivered-To: carol@example.org\r\n{}", received(&bounce_atoll_id));
    assert!(m.starts_with(&top), "expected it to start with {top:?}:\n{m}");
    for field in [
        format!("X-Postfix-Queue-ID: {nobody}\r\n"),
        "Final-Recipient: rfc822; nobody@example.org\r\n".to_string(),
        "Action: failed\r\n".to_string(),
        "Status: 5.1.1\r\n".to_string(),
        "Diagnostic-Code: smtp; 550 5.1.1 ".to_string(),
    ] {
        assert!(m.contains(&field), "{field:?} missing from the bounce:\n{m}");
    }

    postfix.stop();
}
