//! The outbound path across kill -9: forwards to another domain go to a
//! receiving server (tests/smtp_sink.py, which records what it
//! acknowledged). The node is killed while that server sits on a message
//! without answering; after the restart every message reaches the other
//! side exactly once: nothing acknowledged is sent again (the queue's done
//! record is on disk before the next transaction to the destination
//! starts), nothing unacknowledged is lost.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atoll_testkit::wait::until;
use common::{Atoll, free_port, start_custom};

const MESSAGES: usize = 60;
const HANG_AT: usize = 25;

struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sink(port: u16, log: &Path, hang: Option<(usize, &Path)>) -> Sink {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).arg(port.to_string()).arg(log);
    if let Some((n, status)) = hang {
        cmd.arg(n.to_string()).arg(status);
    }
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start smtp_sink.py");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "smtp_sink.py did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Sink(child)
}

fn taken(log: &Path) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
        *out.entry(line.to_string()).or_default() += 1;
    }
    out
}

fn config(smtp: SocketAddr, http: SocketAddr, sink: u16) -> String {
    format!(
        "[node]\nname = \"mx.example.org\"\nheartbeat = \"1s\"\n\n\
         [listen]\nsmtp = [\"{smtp}\"]\nhttp = [\"{http}\"]\nlmtp = []\nsubmission = []\nsubmissions = []\n\
         imap = []\nimaps = []\npop3 = []\npop3s = []\nmanagesieve = []\n\n\
         [queue]\nretry_initial = \"1s\"\nretry_max = \"1s\"\n\n\
         [outbound]\nrelay = \"127.0.0.1:{sink}\"\nper_destination = 1\nmax_connections = 1\n\
         command_timeout = \"5m\"\n\n[log]\nlevel = \"info\"\n"
    )
}

#[test]
fn kill_9_while_a_remote_server_holds_a_message_loses_and_repeats_nothing() {
    let a = Atoll::new();
    a.ok(&["domain", "add", "example.org"]);
    a.ok(&["user", "add", "ann@example.org", "--no-password"]);
    a.ok(&["forward", "add", "ann@example.org", "friend@elsewhere.net"]);
    let log: PathBuf = a.cwd().join("sink.log");
    let status = a.cwd().join("sink.status");
    let sink_port = free_port();
    let first_sink = sink(sink_port, &log, Some((HANG_AT, &status)));

    let (smtp, http) =
        (SocketAddr::from(([127, 0, 0, 1], free_port())), SocketAddr::from(([127, 0, 0, 1], free_port())));
    let mut node = start_custom(&a, "node", &config(smtp, http, sink_port), &[smtp]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mx_client.py");
    let out = Command::new("python3")
        .arg(&script)
        .args([&smtp.port().to_string(), "flood", &MESSAGES.to_string(), "4"])
        .output()
        .expect("run mx_client.py");
    let acknowledged = String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("OK flood-")).count();
    assert_eq!(acknowledged, MESSAGES, "the MX took every message");

    // The sink sits on message HANG_AT; then the node dies.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !status.exists() {
        assert!(Instant::now() < deadline, "the sink never got message {HANG_AT}:\n{}", node.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    node.child.kill().expect("kill -9");
    let _ = node.child.wait();
    let before = taken(&log);
    assert_eq!(before.values().sum::<usize>(), HANG_AT - 1, "{before:?}");
    drop(first_sink);

    // The other side is back and answers; the node restarts.
    let _sink = sink(sink_port, &log, None);
    let node = start_custom(&a, "node-again", &config(smtp, http, sink_port), &[smtp]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = taken(&log);
        if got.len() >= MESSAGES || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let got = taken(&log);
    assert_eq!(got.len(), MESSAGES, "every message arrived: {got:?}\n{}", node.log());
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    assert!(a.json(&["queue", "list"]).as_array().unwrap().is_empty());
}

/// Submission, DKIM and the outbound path together, against programs
/// atoll did not write: mail from ann@example.org is signed with the key
/// `atoll domain dkim generate` made, sent to elsewhere.net's MX (found
/// through a DNS server the test runs) over STARTTLS, stored there by
/// Postfix, and verified by dkimpy with the record the command printed.
#[test]
fn submitted_mail_is_signed_and_delivered_to_the_domains_mail_exchanger() {
    use common::dns::{Zone, dns_section};
    use common::postfix::{Postfix, postfix_runs_here};
    use serde_json::json;

    if !postfix_runs_here() {
        return;
    }
    let a = Atoll::new();
    a.ok(&["domain", "add", "example.org"]);
    let pw = a.write("pw", "secret ann");
    a.ok(&["user", "add", "ann@example.org", "--password-file", pw.to_str().unwrap()]);
    let key = a.json(&["domain", "dkim", "generate", "example.org", "--selector", "s2026"]);
    let (name, value) = (key["name"].as_str().unwrap().to_string(), key["value"].as_str().unwrap().to_string());
    assert_eq!(name, "s2026._domainkey.example.org");
    assert!(value.starts_with("v=DKIM1; k=rsa; p=MII"), "{value}");
    let listed = a.json(&["domain", "dkim", "list", "example.org"]);
    assert_eq!(listed[0]["value"], value, "list shows the same record");

    let postfix = Postfix::destination("mx.elsewhere.net", "elsewhere.net");
    let mut zone = Zone::new();
    zone.mx("elsewhere.net", 10, "mx.elsewhere.net").a("mx.elsewhere.net", "127.0.0.1");
    let Some(dns) = zone.start() else { return };

    let (submission, http) =
        (SocketAddr::from(([127, 0, 0, 1], free_port())), SocketAddr::from(([127, 0, 0, 1], free_port())));
    let config = format!(
        "[node]\nname = \"sub.example.org\"\nheartbeat = \"1s\"\n\n\
         [listen]\nsubmission = [\"{submission}\"]\nhttp = [\"{http}\"]\nsmtp = []\nlmtp = []\nsubmissions = []\n\
         imap = []\nimaps = []\npop3 = []\npop3s = []\nmanagesieve = []\n\n\
         {}\n[outbound]\nport = {}\n\n[log]\nlevel = \"info\"\n",
        dns_section(&dns),
        postfix.port
    );
    let node = start_custom(&a, "node", &config, &[submission]);
    let message = "From: Ann <ann@example.org>\r\nTo: friend@elsewhere.net\r\nSubject: signed and sent\r\n\r\nHello from atoll.\r\n";
    let r = common::smtplib_send(
        submission.port(),
        &json!({"from": "ann@example.org", "starttls": true, "auth": ["ann@example.org", "secret ann", "PLAIN"],
                "rcpts": ["friend@elsewhere.net"], "message": message}),
    );
    assert_eq!(r["data"][0], 250, "{r}");

    until(|| !postfix.delivered().is_empty());
    let got = postfix.delivered();
    assert_eq!(got.len(), 1, "Postfix stored it once:\n{}\n{}", postfix.maillog(), node.log());
    let m = &got[0];
    assert!(m.contains("DKIM-Signature: v=1; a=rsa-sha256; s=s2026; d=example.org;"), "{m}");
    // Postfix's Received line: from atoll over TLS (opportunistic STARTTLS).
    assert!(m.contains("by mx.elsewhere.net (Postfix) with ESMTPS id"), "{m}");
    assert!(m.contains("Subject: signed and sent"), "{m}");

    let verify = |text: &str| -> serde_json::Value {
        let file = a.write("received.eml", text);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dkim_verify.py");
        let out = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(&file)
            .arg(&name)
            .arg(&value)
            .output()
            .expect("run dkim_verify.py (python3-dkim from scripts/setup)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "dkim_verify.py: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_str(&stdout).expect("JSON")
    };
    assert_eq!(verify(m), json!({"verified": true, "signatures": 1, "why": ""}), "dkimpy verifies the signature");
    let tampered = m.replace("Hello from atoll.", "Hello from someone else.");
    let refused = verify(&tampered);
    assert_eq!(refused["verified"], false, "a changed body fails: {refused}");
    assert!(refused["why"].as_str().unwrap().contains("body hash mismatch"), "{refused}");
}
