//! Submission (RFC 6409) end to end: the real `atoll serve` with swaks and
//! Python's smtplib; AUTH only after TLS, the user's own sender and From,
//! Date and Message-ID added, local recipients delivered, outside ones
//! queued for the outbound path, the rate limit; and that no port lets a
//! client that has not authenticated get mail to an outside domain
//! (source routes, the percent hack and quoted local parts included).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Atoll, Server, free_port, smtplib_send, start_custom};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

struct Node {
    a: Atoll,
    _server: Server,
    smtp: SocketAddr,
    lmtp: SocketAddr,
    submission: SocketAddr,
    submissions: SocketAddr,
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// example.org with ann (alias sales@) and bob, both with a password, and a
/// node with every role; `submission` adds lines to its `[submission]`.
fn node(submission: &str) -> Node {
    let a = Atoll::new();
    a.ok(&["domain", "add", "example.org"]);
    let pw = a.write("pw", PASSWORD);
    for user in ["ann@example.org", "bob@example.org"] {
        a.ok(&["user", "add", user, "--password-file", pw.to_str().unwrap()]);
    }
    a.ok(&["alias", "add", "sales@example.org", "ann@example.org"]);
    let (smtp, lmtp, submission_addr, submissions, http) = (loopback(), loopback(), loopback(), loopback(), loopback());
    let config = format!(
        "[node]\nname = \"sub.example.org\"\nheartbeat = \"1s\"\n\n\
         [listen]\nsmtp = [\"{smtp}\"]\nlmtp = [\"{lmtp}\"]\nsubmission = [\"{submission_addr}\"]\n\
         submissions = [\"{submissions}\"]\nhttp = [\"{http}\"]\nimap = []\nimaps = []\npop3 = []\npop3s = []\n\
         managesieve = []\n\n\
         [submission]\nauth_failure_delay = \"100ms\"\n{extra}\n\n\
         [outbound]\nrelay = \"127.0.0.1:{closed}\"\n\n[log]\nlevel = \"info\"\n",
        closed = free_port(),
        extra = submission,
    );
    let server = start_custom(&a, "node", &config, &[smtp, lmtp, submission_addr, submissions]);
    Node { a, _server: server, smtp, lmtp, submission: submission_addr, submissions }
}

fn message(from: &str, subject: &str) -> String {
    format!("From: {from}\r\nTo: bob@example.org\r\nSubject: {subject}\r\n\r\nHello from submission.\r\n")
}

fn auth(user: &str, mechanism: &str) -> Value {
    json!([user, PASSWORD, mechanism])
}

/// The raw messages in `address`'s INBOX (through `atoll mailbox`), waiting
/// up to 20 s for `n`.
fn inbox(a: &Atoll, address: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = a.json(&["mailbox", "show", address, "INBOX"]);
        let got = got.as_array().unwrap().clone();
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn smtplib_submits_over_starttls_and_implicit_tls() {
    let n = node("");
    // STARTTLS on 587, AUTH PLAIN; a local and an outside recipient.
    let r = smtplib_send(
        n.submission.port(),
        &json!({"from": "ann@example.org", "starttls": true, "auth": auth("ann@example.org", "PLAIN"),
                "rcpts": ["bob@example.org", "friend@elsewhere.net"], "message": message("Ann <ann@example.org>", "plain")}),
    );
    assert_eq!(r["auth"][0], 235, "{r}");
    assert_eq!(r["mail"][0], 250, "{r}");
    assert_eq!(r["rcpt"], json!([[250, "2.1.5 recipient OK"], [250, "2.1.5 recipient OK"]]), "{r}");
    assert_eq!(r["data"][0], 250, "{r}");
    // Implicit TLS on 465, AUTH LOGIN, sending as her alias.
    let r = smtplib_send(
        n.submissions.port(),
        &json!({"from": "sales@example.org", "ssl": true, "auth": auth("ann@example.org", "LOGIN"),
                "rcpts": ["bob@example.org"], "message": message("sales@example.org", "login")}),
    );
    assert!(r["tls"].as_bool().unwrap(), "{r}");
    assert_eq!(r["auth"][0], 235, "{r}");
    assert_eq!(r["data"][0], 250, "{r}");

    let got = inbox(&n.a, "bob@example.org", 2);
    let subjects: Vec<&str> = got.iter().map(|m| m["subject"].as_str().unwrap()).collect();
    assert!(subjects.contains(&"plain") && subjects.contains(&"login"), "{got:?}");
    // The outside recipient waits for the outbound path (its relay is down).
    let queued = n.a.json(&["queue", "list"]);
    let queued = queued.as_array().unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0]["pending"], json!(["friend@elsewhere.net"]));
    assert_eq!(queued[0]["via"], "outbound");
    let shown = n.a.json(&["queue", "show", queued[0]["id"].as_str().unwrap()]);
    let header = shown["header"].as_str().unwrap();
    // RFC 6409 §8: Date and Message-ID were missing; RFC 3848: ESMTPSA.
    assert!(header.contains("\nDate: ") || header.starts_with("Date: "), "{header}");
    assert!(header.contains("Message-ID: <") && header.contains("@sub.example.org>"), "{header}");
    assert!(header.contains("with ESMTPSA id"), "{header}");
}

#[test]
fn swaks_authenticates_and_the_rules_hold() {
    let n = node("rate_limit = 4");
    let server = n.submission.to_string();
    let swaks = |args: &[&str]| {
        let mut cmd = Command::new("swaks");
        cmd.args(["--server", &server, "--tls", "--auth-user", "ann@example.org", "--auth-password", PASSWORD]);
        cmd.args(["--helo", "client.example.net", "--timeout", "30"]);
        cmd.args(args);
        let out = cmd.output().expect("run swaks (install it with scripts/setup)");
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    let ok = swaks(&[
        "--auth",
        "PLAIN",
        "--from",
        "ann@example.org",
        "--to",
        "bob@example.org",
        "--header",
        "Subject: swaks plain",
    ]);
    assert!(ok.contains("<~  235 2.7.0") && ok.contains("<~  250 2.0.0 OK queued as"), "{ok}");
    let ok = swaks(&[
        "--auth",
        "LOGIN",
        "--from",
        "ann@example.org",
        "--to",
        "bob@example.org",
        "--header",
        "Subject: swaks login",
    ]);
    assert!(ok.contains("<~  334 VXNlcm5hbWU6") && ok.contains("<~  250 2.0.0 OK queued as"), "{ok}");

    // Someone else's address as sender, and as From.
    let other = swaks(&["--auth", "PLAIN", "--from", "bob@example.org", "--to", "bob@example.org"]);
    assert!(other.contains("<~* 553 5.7.1 sender address rejected"), "{other}");
    let forged = swaks(&[
        "--auth",
        "PLAIN",
        "--from",
        "ann@example.org",
        "--to",
        "bob@example.org",
        "--header",
        "From: boss@example.org",
    ]);
    assert!(forged.contains("<~* 550 5.7.1 From address not owned by user"), "{forged}");
    // The account may send as bob once the directory says so.
    n.a.ok(&["user", "pref", "set", "ann@example.org", "send_as", "bob@example.org"]);
    let allowed = swaks(&[
        "--auth",
        "PLAIN",
        "--from",
        "bob@example.org",
        "--to",
        "bob@example.org",
        "--header",
        "From: bob@example.org",
    ]);
    assert!(allowed.contains("<~  250 2.0.0 OK queued as"), "{allowed}");

    // Three recipients so far; the limit is four an hour.
    let limited = swaks(&["--auth", "PLAIN", "--from", "ann@example.org", "--to", "bob@example.org,ann@example.org"]);
    assert!(limited.contains("<~* 450 4.7.1"), "{limited}");
    assert_eq!(inbox(&n.a, "bob@example.org", 3).len(), 3);

    // A wrong password.
    let mut cmd = Command::new("swaks");
    cmd.args(["--server", &server, "--tls", "--auth", "PLAIN", "--auth-user", "ann@example.org"]);
    cmd.args(["--auth-password", "wrong", "--from", "ann@example.org", "--to", "bob@example.org"]);
    let out = cmd.output().expect("run swaks");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("<~* 535 5.7.8"), "{text}");
}

#[test]
fn save_sent_puts_a_seen_copy_in_the_senders_sent_mailbox() {
    let n = node("save_sent = true");
    let r = smtplib_send(
        n.submissions.port(),
        &json!({"from": "ann@example.org", "ssl": true, "auth": auth("ann@example.org", "PLAIN"),
                "rcpts": ["bob@example.org"], "message": message("ann@example.org", "kept")}),
    );
    assert_eq!(r["data"][0], 250, "{r}");
    let sent = n.a.json(&["mailbox", "show", "ann@example.org", "Sent"]);
    let sent = sent.as_array().unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["subject"], "kept");
    assert!(sent[0]["flags"].to_string().contains("Seen"), "{sent:?}");
    assert_eq!(inbox(&n.a, "bob@example.org", 1).len(), 1);
}

/// A raw SMTP-like session: each command and its reply (first line).
fn dialog(addr: SocketAddr, commands: &[&str]) -> Vec<String> {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let read = |r: &mut BufReader<TcpStream>| {
        let mut last = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return last;
            }
            let done = line.as_bytes().get(3) != Some(&b'-');
            last = line.trim_end().to_string();
            if done {
                return last;
            }
        }
    };
    let mut out = vec![read(&mut r)];
    for c in commands {
        w.write_all(format!("{c}\r\n").as_bytes()).unwrap();
        out.push(read(&mut r));
    }
    out
}

#[test]
fn no_port_relays_for_a_client_that_has_not_authenticated() {
    let n = node("");
    let outside = [
        "<friend@elsewhere.net>",
        // RFC 5321 §4.1.1.3, appendix C: the route is ignored, the mailbox counts.
        "<@example.org:friend@elsewhere.net>",
        "<@example.org,@sub.example.org:friend@elsewhere.net>",
        // The percent hack and quoted local parts are local parts here.
        "<friend%elsewhere.net@example.org>",
        "<\"friend@elsewhere.net\"@example.org>",
        "<friend@elsewhere.net@example.org>",
        "<friend!elsewhere.net@example.org>",
    ];
    for rcpt in outside {
        let mx = dialog(n.smtp, &["EHLO relay.test", "MAIL FROM:<spammer@elsewhere.net>", &format!("RCPT TO:{rcpt}")]);
        let code = &mx[3][..3];
        assert!(code.starts_with('5'), "MX took {rcpt}: {mx:?}");
        let lmtp =
            dialog(n.lmtp, &["LHLO relay.test", "MAIL FROM:<spammer@elsewhere.net>", &format!("RCPT TO:{rcpt}")]);
        assert!(lmtp[3].starts_with('5'), "LMTP took {rcpt}: {lmtp:?}");
        let sub =
            dialog(n.submission, &["EHLO relay.test", "MAIL FROM:<spammer@elsewhere.net>", &format!("RCPT TO:{rcpt}")]);
        assert!(sub[2].starts_with("530 5.7.0"), "submission without AUTH: {sub:?}");
        assert!(sub[3].starts_with('5'), "submission without AUTH: {sub:?}");
    }
    // AUTH is not offered, and refused, before TLS.
    let sub =
        dialog(n.submission, &["EHLO relay.test", "AUTH PLAIN AGFubkBleGFtcGxlLm9yZwBjb3JyZWN0IGhvcnNlIGJhdHRlcnk="]);
    assert!(sub[2].starts_with("538 5.7.11"), "{sub:?}");
    // Nothing was queued for anyone outside.
    std::thread::sleep(Duration::from_millis(500));
    let queued = n.a.json(&["queue", "list"]);
    assert!(queued.as_array().unwrap().is_empty(), "{queued}");
    // The local recipient behind the percent hack does not exist either.
    let mx =
        dialog(n.smtp, &["EHLO relay.test", "MAIL FROM:<x@elsewhere.net>", "RCPT TO:<ann%elsewhere.net@example.org>"]);
    assert!(mx[3].starts_with("550 5.1.1"), "{mx:?}");
}

/// A member's post to a moderated list is held for its moderators (the
/// 250 came, the members have nothing); a moderator's goes to the members.
#[test]
fn a_post_to_a_moderated_list_waits_unless_a_moderator_sends_it() {
    let n = node("");
    n.a.ok(&["list", "create", "rust@example.org", "--posting", "moderated"]);
    n.a.ok(&["list", "subscribe", "rust@example.org", "ann@example.org"]);
    n.a.ok(&["list", "subscribe", "rust@example.org", "bob@example.org"]);
    n.a.ok(&["list", "moderator", "add", "rust@example.org", "bob@example.org"]);
    for (user, subject) in [("ann@example.org", "from ann"), ("bob@example.org", "from bob")] {
        let r = smtplib_send(
            n.submission.port(),
            &json!({"from": user, "starttls": true, "auth": auth(user, "PLAIN"),
                    "rcpts": ["rust@example.org"], "message": message(user, subject)}),
        );
        assert_eq!(r["rcpt"][0][0], 250, "{r}");
        assert_eq!(r["data"][0], 250, "{r}");
    }
    let held = n.a.json(&["list", "held"]);
    let held = held.as_array().unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["subject"], "from ann");
    assert_eq!(held[0]["sender"], "ann@example.org");
    // ann has bob's post; bob has his own and the notice about ann's.
    let ann = inbox(&n.a, "ann@example.org", 1);
    assert_eq!(ann.iter().map(|m| m["subject"].as_str().unwrap()).collect::<Vec<_>>(), ["from bob"], "{ann:?}");
    let bob = inbox(&n.a, "bob@example.org", 2);
    let subjects: Vec<&str> = bob.iter().map(|m| m["subject"].as_str().unwrap()).collect();
    assert!(subjects.contains(&"from bob"), "{bob:?}");
    assert!(subjects.contains(&"Post to rust@example.org from ann@example.org requires approval"), "{bob:?}");
}
