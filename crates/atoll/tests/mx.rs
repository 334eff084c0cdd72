//! End-to-end MX: the real `atoll serve`, driven by clients atoll did not
//! write (Python's smtplib in tests/mx_client.py, and swaks), checked with
//! `atoll mailbox show`; and a kill -9 in the middle of 2,000 messages.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{inbox_subjects, mail_installation, smtplib_send, start_server, wait_for_inbox};

/// How long a message may take from 250 to the mailbox.
const WAIT: Duration = Duration::from_secs(30);
use atoll_testkit::wait::until;
use serde_json::json;

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mx_client.py")
}

#[test]
fn smtplib_with_starttls_delivers_and_refuses_per_recipient() {
    let a = mail_installation(&[]);
    let s = start_server(&a, "");
    let message = "From: carol@example.net\r\nTo: team@example.org\r\nSubject: over TLS\r\n\r\nHello.\r\n";
    let r = smtplib_send(
        s.smtp.port(),
        &json!({"from": "carol@example.net", "starttls": true, "message": message,
               "rcpts": ["team@example.org", "nobody@example.org", "x@elsewhere.net", "ann@example.org"]}),
    );
    assert_eq!(r["starttls"][0], 220, "{r}");
    assert!(r["tls"].as_bool().unwrap());
    for ext in ["pipelining", "8bitmime", "smtputf8", "size", "enhancedstatuscodes", "chunking", "dsn"] {
        assert!(r["features"].get(ext).is_some(), "{ext} missing: {r}");
    }
    // After STARTTLS it is not offered again (RFC 3207 §4.2).
    assert!(r["features"].get("starttls").is_none(), "{r}");
    let codes: Vec<u64> = r["rcpt"].as_array().unwrap().iter().map(|x| x[0].as_u64().unwrap()).collect();
    assert_eq!(codes, [250, 550, 550, 250], "{r}");
    assert!(r["rcpt"][1][1].as_str().unwrap().starts_with("5.1.1"), "{r}");
    assert!(r["rcpt"][2][1].as_str().unwrap().starts_with("5.7.1"), "{r}");
    assert_eq!(r["data"][0], 250, "{r}");
    // ann is reached twice (alias and directly) and gets one copy.
    assert_eq!(wait_for_inbox(&a, &s, "ann@example.org", 1, WAIT).get("over TLS"), Some(&1));
    assert_eq!(wait_for_inbox(&a, &s, "bob@example.org", 1, WAIT).get("over TLS"), Some(&1));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(inbox_subjects(&a, &s, "ann@example.org").values().sum::<usize>(), 1);
    let log = s.server.log();
    assert!(log.contains("smtp: accepted"), "{log}");
}

#[test]
fn swaks_delivers_with_and_without_tls() {
    let a = mail_installation(&[]);
    let s = start_server(&a, "");
    let server = s.smtp.to_string();
    for (subject, tls) in [("swaks plain", false), ("swaks tls", true)] {
        let mut cmd = Command::new("swaks");
        cmd.args(["--server", &server, "--from", "carol@example.net", "--to", "bob@example.org"])
            .args(["--helo", "swaks.example.net", "--header", &format!("Subject: {subject}")])
            .args(["--body", "from swaks", "--timeout", "30"]);
        if tls {
            cmd.arg("--tls");
        }
        let out = cmd.output().expect("run swaks (installed by scripts/setup)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "swaks failed:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
        // swaks marks what it read over TLS with "<~", in clear with "<-".
        let queued = if tls { "<~  250 2.0.0 OK queued as" } else { "<-  250 2.0.0 OK queued as" };
        assert!(text.contains(queued), "{text}");
        if tls {
            assert!(text.contains("TLS started"), "{text}");
        }
    }
    // An unknown recipient: swaks reports the 550 and exits non-zero.
    let out = Command::new("swaks")
        .args(["--server", &server, "--from", "carol@example.net", "--to", "nobody@example.org", "--timeout", "30"])
        .output()
        .expect("run swaks");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("<** 550 5.1.1 no such user here"), "{text}");
    let got = wait_for_inbox(&a, &s, "bob@example.org", 2, WAIT);
    assert_eq!(got.get("swaks plain"), Some(&1), "{got:?}");
    assert_eq!(got.get("swaks tls"), Some(&1), "{got:?}");
}

/// Every message that got 250 is in the mailbox exactly once after a
/// kill -9 in the middle of the flood and a restart.
#[test]
fn kill_9_loses_nothing_acknowledged_and_duplicates_nothing() {
    const COUNT: usize = 2000;
    let a = mail_installation(&[]);
    let s = start_server(&a, "");
    let mut flood = Command::new("python3")
        .arg(script())
        .args([&s.smtp.port().to_string(), "flood", &COUNT.to_string(), "8"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3");
    let stdout = flood.stdout.take().expect("stdout");
    let mut acked = Vec::new();
    let mut lines = BufReader::new(stdout).lines();
    let mut server = s.server;
    // Kill once a good part has been acknowledged, while the rest flows.
    for line in lines.by_ref() {
        let line = line.expect("read flood output");
        acked.push(line.trim_start_matches("OK ").to_string());
        if acked.len() == COUNT / 3 {
            server.child.kill().expect("kill -9");
            break;
        }
    }
    for line in lines {
        acked.push(line.expect("read flood output").trim_start_matches("OK ").to_string());
    }
    let _ = flood.wait();
    let _ = server.child.wait();
    assert!(acked.len() >= COUNT / 3 && acked.len() < COUNT, "the kill came mid-flood: {} acknowledged", acked.len());
    drop(server);

    // Same configuration, same data: the queue picks up where it was.
    let s = start_server(&a, "");
    let got = wait_for_inbox(&a, &s, "ann@example.org", acked.len(), WAIT);
    // A moment more, in case anything would arrive twice.
    std::thread::sleep(Duration::from_millis(500));
    let got_now = inbox_subjects(&a, &s, "ann@example.org");
    assert_eq!(got, got_now, "nothing arrives after the queue drained");
    let missing: Vec<&String> = acked.iter().filter(|s| !got.contains_key(*s)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged messages lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let twice: Vec<(&String, &usize)> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "messages stored more than once: {twice:?}");
    // Messages that were in flight but never acknowledged may or may not be
    // there (the client will send them again); nothing else is.
    assert!(got.keys().all(|k| k.starts_with("flood-")), "{got:?}");
}

/// `atoll queue`: the copy for an outside alias target waits in the queue
/// (its relay host does not answer); list and show find it, remove drops
/// it, and bad ids are clear errors.
#[test]
fn queue_list_show_and_remove() {
    let a = mail_installation(&[]);
    a.ok(&["alias", "add", "out@example.org", "someone@elsewhere.net"]);
    let s = start_server(&a, &format!("[outbound]\nrelay = \"127.0.0.1:{}\"\n", common::free_port()));
    let cfg = s.config.to_str().unwrap();
    let message = "From: carol@example.net\r\nTo: out@example.org\r\nSubject: waits\r\n\r\nHello.\r\n";
    let r = smtplib_send(
        s.smtp.port(),
        &json!({"from": "carol@example.net", "rcpts": ["out@example.org"], "message": message}),
    );
    assert_eq!(r["data"][0], 250, "{r}");

    let queued = || a.json(&["--config", cfg, "queue", "list"]);
    until(|| !queued().as_array().unwrap().is_empty());
    let list = queued();
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{list}");
    assert_eq!(rows[0]["sender"], "carol@example.net");
    assert_eq!(rows[0]["pending"], json!(["someone@elsewhere.net"]));
    assert_eq!(rows[0]["via"], "outbound");
    let id = rows[0]["id"].as_str().unwrap().to_string();

    let shown = a.json(&["--config", cfg, "queue", "show", &id]);
    assert_eq!(shown["recipients"], json!(["someone@elsewhere.net"]));
    let header = shown["header"].as_str().unwrap();
    assert!(header.contains("Subject: waits") && header.starts_with("Delivered-To: out@example.org"), "{shown}");
    let table = a.ok(&["--config", cfg, "queue", "list"]);
    assert!(table.contains(&id) && table.contains("someone@elsewhere.net") && table.contains("outbound"), "{table}");

    let err = a.fail(&["--config", cfg, "queue", "show", "0000000000000001"]);
    assert!(err.one_error_line().contains("no message 0000000000000001 in the queue"), "{:?}", err.stderr_lines());
    let err = a.fail(&["--config", cfg, "queue", "remove", "not-an-id"]);
    assert!(err.one_error_line().contains("is not a queue id"), "{:?}", err.stderr_lines());

    a.ok(&["--config", cfg, "queue", "retry", &id]);
    a.ok(&["--config", cfg, "queue", "remove", &id]);
    until(|| queued().as_array().unwrap().is_empty());
    let list = queued();
    assert!(list.as_array().unwrap().is_empty(), "still queued after removal: {list}");
    let log = s.server.log();
    assert!(log.contains("queue: message removed by request"), "{log}");
}
