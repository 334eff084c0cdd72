//! End-to-end LMTP: the real `atoll serve` with the store role, driven by
//! Python's smtplib.LMTP (tests/lmtp_client.py) and by raw sockets, checked
//! with `atoll mailbox` and by looking at the island's blob folder.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Atoll, Started, start_server};
use serde_json::{Value, json};

/// example.org with ann and bob (bob's quota is `bob_quota`) and sue, who
/// is suspended.
fn installation(bob_quota: &str) -> Atoll {
    let a = Atoll::new();
    a.ok(&["domain", "add", "example.org"]);
    a.ok(&["user", "add", "ann@example.org", "--no-password"]);
    a.ok(&["user", "add", "bob@example.org", "--no-password", "--quota", bob_quota]);
    a.ok(&["user", "add", "sue@example.org", "--no-password"]);
    a.ok(&["user", "suspend", "sue@example.org"]);
    a
}

/// One transaction through smtplib.LMTP; every reply, as JSON.
fn lmtp_client(addr: SocketAddr, spec: Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lmtp_client.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(addr.port().to_string())
        .arg(spec.to_string())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "lmtp_client.py failed:\n{stdout}\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"))
}

/// (code, text) pairs of a list of replies.
fn replies(v: &Value) -> Vec<(u64, String)> {
    v.as_array()
        .expect("array of replies")
        .iter()
        .map(|r| (r[0].as_u64().expect("code"), r[1].as_str().expect("text").to_string()))
        .collect()
}

fn message(subject: &str, body_bytes: usize) -> String {
    let mut m = format!(
        "From: Sender <sender@example.net>\r\nTo: ann@example.org\r\nSubject: {subject}\r\n\
         Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@example.net>\r\n\r\n"
    );
    while m.len() < body_bytes {
        m.push_str("The quick brown fox jumps over the lazy dog.\r\n");
    }
    m.push_str(".a line that starts with a dot\r\n");
    m
}

/// `atoll mailbox show ADDRESS INBOX --json`.
fn inbox(a: &Atoll, s: &Started, address: &str) -> Vec<Value> {
    let cfg = s.config.to_str().unwrap();
    a.json(&["--config", cfg, "mailbox", "show", address, "INBOX"]).as_array().expect("array").clone()
}

/// Files in the default island's blob store, its temporary folder left out.
fn blobs(a: &Atoll) -> Vec<PathBuf> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(p) else { return };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|f| f != "tmp") {
                    walk(&path, out);
                }
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&a.data_dir().join("islands/default/blobs"), &mut out);
    out
}

fn blob_files(a: &Atoll) -> usize {
    blobs(a).len()
}

fn stop(mut s: Started) {
    let status = s.server.terminate(Duration::from_secs(15)).unwrap_or_else(|| {
        panic!("atoll serve did not stop within 15 s of SIGTERM:\n{}", s.server.log());
    });
    assert!(status.success(), "atoll serve exited with {status}:\n{}", s.server.log());
}

#[test]
fn lmtp_delivers_per_recipient_and_stores_one_body() {
    let a = installation("unlimited");
    let s = start_server(&a, "");
    assert!(s.server.log().contains("lmtp listening"), "{}", s.server.log());

    let r = lmtp_client(
        s.lmtp,
        json!({
            "from": "sender@example.net",
            "rcpts": ["ann@example.org", "bob@example.org", "nobody@example.org", "sue@example.org"],
            "message": message("Hello from LMTP", 200),
        }),
    );
    assert_eq!(r["lhlo"][0], 250, "{r}");
    for cap in ["pipelining", "enhancedstatuscodes", "8bitmime", "size", "chunking"] {
        assert!(r["features"].get(cap).is_some(), "LHLO lacks {cap}: {r}");
    }
    assert_eq!(r["features"]["size"], "52428800", "{r}");
    assert_eq!(r["mail"][0], 250, "{r}");
    let rcpt = replies(&r["rcpt"]);
    assert_eq!(rcpt.iter().map(|(c, _)| *c).collect::<Vec<_>>(), [250, 250, 550, 550], "{r}");
    assert!(rcpt[2].1.starts_with("5.1.1 "), "{r}");
    assert!(rcpt[3].1.starts_with("5.2.1 "), "{r}");
    // One reply per accepted recipient, each a success.
    let data = replies(&r["data"]);
    assert_eq!(data.len(), 2, "{r}");
    assert!(data.iter().all(|(c, t)| *c == 250 && t.starts_with("2.0.0 ")), "{r}");

    for who in ["ann@example.org", "bob@example.org"] {
        let msgs = inbox(&a, &s, who);
        assert_eq!(msgs.len(), 1, "{who}: {msgs:?}");
        assert_eq!(msgs[0]["subject"], "Hello from LMTP", "{who}: {msgs:?}");
        assert_eq!(msgs[0]["uid"], 1);
        assert_eq!(msgs[0]["flags"], json!([]));
    }
    let files = blobs(&a);
    assert_eq!(files.len(), 1, "one body for both recipients: {files:?}");
    let stored = std::fs::read_to_string(&files[0]).unwrap();
    assert!(stored.starts_with("Return-Path: <sender@example.net>\r\nReceived: from client.test ([127.0.0.1])\r\n\tby test-node (atoll) with LMTP id "), "{stored}");
    assert!(stored.contains("\r\n\r\nThe quick brown fox"), "{stored}");
    assert!(stored.ends_with("\r\n.a line that starts with a dot\r\n"), "dot-unstuffed: {stored}");

    let cfg = s.config.to_str().unwrap();
    let boxes = a.json(&["--config", cfg, "mailbox", "list", "ann@example.org"]);
    let inbox_row = boxes.as_array().unwrap().iter().find(|m| m["name"] == "INBOX").expect("INBOX listed").clone();
    assert_eq!((inbox_row["messages"].as_i64(), inbox_row["unseen"].as_i64()), (Some(1), Some(1)), "{boxes}");
    assert_eq!(inbox_row["uidnext"], 2, "{boxes}");
    assert!(boxes.as_array().unwrap().iter().any(|m| m["name"] == "Sent" && m["special_use"] == "\\Sent"));
    let table = a.ok(&["--config", cfg, "mailbox", "show", "bob@example.org", "INBOX"]);
    assert!(table.lines().nth(1).is_some_and(|l| l.contains("Hello from LMTP")), "{table}");
    // sue was refused: her (never created) mailboxes are empty.
    assert!(inbox(&a, &s, "sue@example.org").is_empty());

    stop(s);
}

#[test]
fn lmtp_refuses_an_oversized_message_per_recipient() {
    let a = installation("unlimited");
    let s = start_server(&a, "[lmtp]\nmax_message_size = \"2K\"\n");
    // Declared too large: refused at MAIL (RFC 1870).
    let r = lmtp_client(
        s.lmtp,
        json!({ "from": "sender@example.net", "mail_options": ["SIZE=5000"], "rcpts": ["ann@example.org"] }),
    );
    assert_eq!(r["features"]["size"], "2048", "{r}");
    assert_eq!(r["mail"][0], 552, "{r}");
    assert!(r["mail"][1].as_str().unwrap().starts_with("5.3.4 "), "{r}");
    // Not declared: read to the end, then refused for every recipient.
    let r = lmtp_client(
        s.lmtp,
        json!({
            "from": "sender@example.net",
            "rcpts": ["ann@example.org", "bob@example.org"],
            "message": message("Too big", 5000),
        }),
    );
    let data = replies(&r["data"]);
    assert_eq!(data.len(), 2, "{r}");
    assert!(data.iter().all(|(c, t)| *c == 552 && t.starts_with("5.3.4 ")), "{r}");
    assert!(inbox(&a, &s, "ann@example.org").is_empty());
    assert_eq!(blob_files(&a), 0);
    stop(s);
}

#[test]
fn lmtp_quota_refuses_only_the_full_mailbox() {
    let a = installation("1K");
    let s = start_server(&a, "");
    let r = lmtp_client(
        s.lmtp,
        json!({
            "from": "sender@example.net",
            "rcpts": ["ann@example.org", "bob@example.org"],
            "message": message("Larger than bob's quota", 3000),
        }),
    );
    assert_eq!(replies(&r["rcpt"]).iter().map(|(c, _)| *c).collect::<Vec<_>>(), [250, 250], "{r}");
    let data = replies(&r["data"]);
    assert_eq!(data[0].0, 250, "ann: {r}");
    assert_eq!((data[1].0, &data[1].1[..6]), (452, "4.2.2 "), "bob: {r}");
    assert_eq!(inbox(&a, &s, "ann@example.org").len(), 1);
    assert!(inbox(&a, &s, "bob@example.org").is_empty());
    stop(s);
}

/// A minimal line-based LMTP client on a raw socket.
struct Raw {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let w = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
        w.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut raw = Raw { r: BufReader::new(w.try_clone().unwrap()), w };
        assert!(raw.reply().starts_with("220 "));
        raw
    }

    fn send(&mut self, s: &str) {
        self.w.write_all(s.as_bytes()).unwrap();
    }

    /// One reply; its lines joined with "\n".
    fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            assert!(self.r.read_line(&mut line).expect("read a reply") > 0, "closed after {lines:?}");
            let line = line.trim_end().to_string();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines.join("\n");
            }
        }
    }
}

#[test]
fn lmtp_pipelining_and_a_client_gone_mid_data() {
    let a = installation("unlimited");
    let s = start_server(&a, "");

    // Every command up to DATA in one write (RFC 2920), the replies in order.
    let mut c = Raw::connect(s.lmtp);
    c.send(
        "LHLO client.test\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<ann@example.org>\r\n\
         RCPT TO:<nobody@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n",
    );
    let got: Vec<String> = (0..6).map(|_| c.reply()).collect();
    assert!(got[0].starts_with("250-") && got[0].contains("PIPELINING"), "{got:?}");
    assert!(got[1].starts_with("250 2.1.0"), "{got:?}");
    assert!(got[2].starts_with("250 2.1.5"), "{got:?}");
    assert!(got[3].starts_with("550 5.1.1"), "{got:?}");
    assert!(got[4].starts_with("250 2.1.5"), "{got:?}");
    assert!(got[5].starts_with("354 "), "{got:?}");
    c.send("Subject: Pipelined\r\n\r\nhello\r\n.\r\nQUIT\r\n");
    assert!(c.reply().starts_with("250 2.0.0"));
    assert!(c.reply().starts_with("250 2.0.0"));
    assert!(c.reply().starts_with("221 2.0.0"));

    // A client that goes away in the middle of DATA leaves nothing behind.
    let mut c = Raw::connect(s.lmtp);
    c.send("LHLO client.test\r\nMAIL FROM:<sender@example.net>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n");
    for _ in 0..4 {
        c.reply();
    }
    c.send("Subject: Never finished\r\n\r\nhalf of it\r\n");
    drop(c);

    // A later session on the same server still works.
    let mut c = Raw::connect(s.lmtp);
    c.send("LHLO client.test\r\n");
    assert!(c.reply().starts_with("250-"));
    c.send("NOOP\r\n");
    assert_eq!(c.reply(), "250 2.0.0 OK");

    let ann = inbox(&a, &s, "ann@example.org");
    assert_eq!(ann.iter().map(|m| m["subject"].as_str().unwrap()).collect::<Vec<_>>(), ["Pipelined"]);
    assert_eq!(blob_files(&a), 1);
    stop(s);
}
