//! End-to-end POP3: the real `atoll serve` with the store role, driven by
//! clients atoll did not write: Python's poplib and imaplib
//! (tests/pop3_client.py) and fetchmail from the OS packages downloading a
//! mailbox of 200 messages. Mail arrives over LMTP.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Atoll, Started, inbox_subjects, start_server};

const PASSWORD: &str = "correct horse";
const USER: &str = "ann@example.org";

/// example.org with ann, who has a password.
fn installation() -> Atoll {
    let a = Atoll::new();
    a.ok(&["domain", "add", "example.org"]);
    a.ok_with_stdin(&["user", "add", USER], &format!("{PASSWORD}\n"));
    a
}

/// Message `i` as it is stored: a line that starts with a dot, which
/// POP3 must stuff and LMTP did.
fn message(i: usize) -> String {
    format!(
        "From: List <list@example.net>\r\nTo: {USER}\r\nSubject: message {i}\r\n\
         Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m{i}@example.net>\r\n\r\n\
         Body of message {i}.\r\n.leading dot {i}\r\nlast line\r\n"
    )
}

/// Delivers messages 0..n to ann over one LMTP session.
fn deliver(lmtp: SocketAddr, n: usize) {
    let stream = TcpStream::connect(lmtp).expect("connect to LMTP");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut w = stream.try_clone().expect("clone");
    let mut r = BufReader::new(stream);
    let mut reply = || {
        let mut line = String::new();
        loop {
            line.clear();
            r.read_line(&mut line).expect("read LMTP reply");
            assert!(!line.is_empty(), "LMTP closed");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line;
            }
        }
    };
    reply();
    w.write_all(b"LHLO client.test\r\n").expect("write");
    reply();
    for i in 0..n {
        w.write_all(format!("MAIL FROM:<list@example.net>\r\nRCPT TO:<{USER}>\r\nDATA\r\n").as_bytes()).expect("write");
        for _ in 0..3 {
            reply();
        }
        // RFC 5321 §4.5.2: the client stuffs the dot.
        let data = message(i).replace("\r\n.", "\r\n..");
        w.write_all(format!("{data}.\r\n").as_bytes()).expect("write");
        let done = reply();
        assert!(done.starts_with("250"), "message {i}: {done}");
    }
    w.write_all(b"QUIT\r\n").expect("write");
}

/// Runs one scenario of tests/pop3_client.py; panics with its output when
/// a check fails.
fn poplib(s: &Started, scenario: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pop3_client.py");
    let ports = [s.pop3.port(), s.pop3s.port(), s.imaps.port()].map(|p| p.to_string());
    let out = Command::new("python3")
        .arg(&script)
        .arg(scenario)
        .args(&ports)
        .args([USER, PASSWORD])
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("all passed"),
        "pop3_client.py {scenario} failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        s.server.log()
    );
    stdout
}

/// A server with ann's three messages.
fn three_messages(extra: &str) -> (Atoll, Started) {
    let a = installation();
    let s = start_server(&a, extra);
    deliver(s.lmtp, 3);
    (a, s)
}

const QUICK_FAILURES: &str = "[pop3]\nauth_failure_delay = \"0s\"\n";

#[test]
fn poplib_every_command_in_cleartext_when_allowed() {
    let (_a, s) = three_messages("[pop3]\nallow_plaintext_auth = true\nauth_failure_delay = \"0s\"\n");
    let out = poplib(&s, "cleartext");
    assert!(out.lines().filter(|l| l.starts_with("ok: ")).count() > 30, "{out}");
}

#[test]
fn poplib_stls_and_pop3s() {
    let (_a, s) = three_messages(QUICK_FAILURES);
    poplib(&s, "starttls");
    poplib(&s, "ssl");
    // curl, as the README shows it: CAPA, SASL PLAIN over POP3S, RETR.
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--insecure", "--max-time", "30", "--user", &format!("{USER}:{PASSWORD}")])
        .arg(format!("pop3s://127.0.0.1:{}/2", s.pop3s.port()))
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Subject: message 1\r\n") && text.contains("\r\n.leading dot 1\r\n"), "{text}");
}

#[test]
fn uidl_is_stable_across_sessions() {
    let (_a, s) = three_messages(QUICK_FAILURES);
    poplib(&s, "uidl_stable");
}

#[test]
fn dele_then_rset_removes_nothing() {
    let (_a, s) = three_messages(QUICK_FAILURES);
    poplib(&s, "dele_rset");
}

#[test]
fn dele_then_quit_removes_and_imap_sees_it() {
    let (a, s) = three_messages(QUICK_FAILURES);
    poplib(&s, "dele_quit");
    let left = inbox_subjects(&a, &s, USER);
    assert_eq!(left.into_keys().collect::<Vec<_>>(), ["message 1"]);
}

#[test]
fn a_dropped_connection_removes_nothing() {
    let (a, s) = three_messages(QUICK_FAILURES);
    poplib(&s, "dropped");
    assert_eq!(inbox_subjects(&a, &s, USER).values().sum::<usize>(), 3);
}

#[test]
fn a_second_session_is_in_use() {
    let (_a, s) = three_messages(QUICK_FAILURES);
    poplib(&s, "in_use");
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// fetchmail (a real POP3 client with its own idea of the protocol: CAPA,
/// UIDL, TOP, RETR, DELE, pipelining) downloads 200 messages over POP3S
/// into an MDA that writes one file per message; then the maildrop is
/// empty, as fetchmail deletes what it downloaded.
#[test]
fn fetchmail_downloads_two_hundred_messages() {
    if Command::new("fetchmail").arg("--version").output().is_err() {
        assert!(!in_ci(), "fetchmail is missing (scripts/setup installs it)");
        eprintln!("skipping: fetchmail is not installed (scripts/setup installs it)");
        return;
    }
    const N: usize = 200;
    let a = installation();
    let s = start_server(&a, "");
    deliver(s.lmtp, N);

    let out_dir = a.cwd().join("fetched");
    std::fs::create_dir_all(&out_dir).expect("mkdir");
    let home = a.cwd().join("home");
    std::fs::create_dir_all(&home).expect("mkdir");
    let rc = home.join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "set no bouncemail\nset invisible\n\
             poll 127.0.0.1 service {port} protocol POP3 timeout 60\n\
             \tuser \"{USER}\" password \"{PASSWORD}\" is \"nobody\" here\n\
             \tssl no sslcertck fetchall\n\
             \tmda \"cat > {dir}/msg.$$\"\n",
            port = s.pop3s.port(),
            dir = out_dir.display()
        ),
    )
    .expect("write fetchmailrc");
    // fetchmail refuses a run control file others can read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let me = Command::new("id").arg("-un").output().expect("id -un");
    let me = String::from_utf8_lossy(&me.stdout).trim().to_string();
    let out = Command::new("fetchmail")
        .args(["--fetchmailrc", rc.to_str().expect("path"), "--nosyslog", "--verbose"])
        .env("HOME", &home)
        // Run as root, fetchmail runs the MDA as this user.
        .env("FETCHMAILUSER", &me)
        .output()
        .expect("run fetchmail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "fetchmail failed:\n{stdout}\n{stderr}\nserver log:\n{}", s.server.log());

    let mut subjects = BTreeSet::new();
    let files: Vec<_> = std::fs::read_dir(&out_dir).expect("read fetched").flatten().collect();
    assert_eq!(files.len(), N, "one file per message:\n{stderr}");
    for f in files {
        let text = std::fs::read_to_string(f.path()).expect("read message").replace("\r\n", "\n");
        let subject = text.lines().find_map(|l| l.strip_prefix("Subject: ")).expect("a subject").to_string();
        let i: usize = subject.strip_prefix("message ").and_then(|n| n.parse().ok()).expect("message number");
        // The stored message is LMTP's trace lines and then what was sent;
        // fetchmail adds nothing (set invisible) and drops the CRs.
        let sent = message(i).replace("\r\n", "\n");
        assert!(text.ends_with(&sent), "message {i} arrived changed:\n{text}");
        assert!(text.starts_with("Return-Path: <list@example.net>\n"), "{text}");
        subjects.insert(i);
    }
    assert_eq!(subjects, (0..N).collect(), "every message exactly once");
    assert!(inbox_subjects(&a, &s, USER).is_empty(), "fetchmail deleted what it downloaded");
}
