//! End-to-end IMAP: the real `atoll serve` with the store role, driven by
//! clients atoll did not write: Python's imaplib (tests/imap_client.py),
//! curl, and mbsync from isync syncing a mailbox of 1,000 messages both
//! ways.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Atoll, Started, start_server};

const PASSWORD: &str = "correct horse";

/// example.org with ann, who has a password.
fn installation() -> Atoll {
    let a = Atoll::new();
    a.ok(&["domain", "add", "example.org"]);
    a.ok_with_stdin(&["user", "add", "ann@example.org"], &format!("{PASSWORD}\n"));
    a
}

/// Runs one scenario of tests/imap_client.py; panics with its output when a
/// check fails.
fn imaplib(s: &Started, scenario: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/imap_client.py");
    let out = Command::new("python3")
        .arg(&script)
        .args([scenario, &s.imap.port().to_string(), &s.imaps.port().to_string(), "ann@example.org", PASSWORD])
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("all passed"),
        "imap_client.py {scenario} failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        s.server.log()
    );
    stdout
}

#[test]
fn imaplib_commands() {
    let a = installation();
    let s = start_server(&a, "");
    let out = imaplib(&s, "basics");
    assert!(out.lines().filter(|l| l.starts_with("ok: ")).count() > 50, "{out}");
}

#[test]
fn imaplib_sessions_see_each_other() {
    let a = installation();
    let s = start_server(&a, "");
    imaplib(&s, "concurrency");
}

#[test]
fn imaplib_limits_and_bad_input() {
    let a = installation();
    let s = start_server(&a, "[imap]\nmax_message_size = \"1M\"\nauth_failure_delay = \"0s\"\n");
    imaplib(&s, "limits");
}

/// Delivers `n` small messages to ann over one LMTP session.
fn deliver(lmtp: SocketAddr, n: usize) {
    let stream = TcpStream::connect(lmtp).expect("connect to LMTP");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut w = stream.try_clone().expect("clone");
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    let mut reply = |r: &mut BufReader<TcpStream>| loop {
        line.clear();
        r.read_line(&mut line).expect("read LMTP reply");
        assert!(!line.is_empty(), "LMTP closed");
        if line.as_bytes().get(3) != Some(&b'-') {
            return line.clone();
        }
    };
    reply(&mut r);
    w.write_all(b"LHLO client.test\r\n").expect("write");
    reply(&mut r);
    for i in 0..n {
        w.write_all(b"MAIL FROM:<list@example.net>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n").expect("write");
        for _ in 0..3 {
            reply(&mut r);
        }
        let body = format!(
            "From: List <list@example.net>\r\nTo: ann@example.org\r\nSubject: message {i}\r\n\
             Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m{i}@example.net>\r\n\r\nBody of message {i}.\r\n.\r\n"
        );
        w.write_all(body.as_bytes()).expect("write");
        let done = reply(&mut r);
        assert!(done.starts_with("250"), "message {i}: {done}");
    }
    w.write_all(b"QUIT\r\n").expect("write");
}

#[test]
fn curl_lists_fetches_and_appends() {
    let a = installation();
    let s = start_server(&a, "");
    deliver(s.lmtp, 2);
    let base = format!("imaps://127.0.0.1:{}", s.imaps.port());
    let user = format!("ann@example.org:{PASSWORD}");
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["--silent", "--show-error", "--insecure", "--max-time", "30", "--user", &user])
            .args(args)
            .output()
            .expect("run curl");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "curl {args:?} failed: {}\n{stdout}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            s.server.log()
        );
        stdout
    };
    let list = curl(&[&format!("{base}/")]);
    for name in ["INBOX", "Sent", "Trash"] {
        assert!(list.lines().any(|l| l.starts_with("* LIST") && l.contains(name)), "{list}");
    }
    let msg = curl(&[&format!("{base}/INBOX;UID=2")]);
    assert!(msg.contains("Subject: message 1\r\n") && msg.contains("Body of message 1."), "{msg}");
    let search = curl(&[&format!("{base}/INBOX?SUBJECT%20%22message%200%22")]);
    assert!(search.contains("* SEARCH 1"), "{search}");

    let upload = a.write("upload.eml", "From: ann@example.org\r\nSubject: uploaded\r\n\r\nUp.\r\n");
    curl(&["--upload-file", upload.to_str().unwrap(), &format!("{base}/Drafts")]);
    let draft = curl(&[&format!("{base}/Drafts;UID=1")]);
    assert!(draft.contains("Subject: uploaded"), "{draft}");
    // STARTTLS on the cleartext port, required by --ssl-reqd.
    let list = curl(&["--ssl-reqd", &format!("imap://127.0.0.1:{}/", s.imap.port())]);
    assert!(list.contains("INBOX"), "{list}");
}

/// A maildir's messages by UID (from mbsync's `,U=` file names) with their
/// flags as maildir letters, sorted.
fn maildir_state(dir: &Path) -> BTreeMap<u32, String> {
    let mut out = BTreeMap::new();
    for sub in ["cur", "new"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let Some(uid) =
                name.split(",U=").nth(1).and_then(|r| r.split([',', ':']).next()).and_then(|u| u.parse().ok())
            else {
                panic!("maildir file without a UID: {name}");
            };
            let flags = name.rsplit_once(":2,").map(|(_, f)| f.to_string()).unwrap_or_default();
            let mut f: Vec<char> = flags.chars().filter(|c| "DFRST".contains(*c)).collect();
            f.sort();
            out.insert(uid, f.into_iter().collect());
        }
    }
    out
}

/// The server side as `uid -> maildir letters`, read with imaplib.
fn server_state(s: &Started) -> BTreeMap<u32, String> {
    let out = imaplib(s, "dump");
    out.lines()
        .filter_map(|l| l.strip_prefix("uid "))
        .map(|l| {
            let (uid, flags) = l.split_once(' ').unwrap_or((l, ""));
            (uid.parse().expect("uid"), flags.to_string())
        })
        .collect()
}

fn mbsync(config: &Path, s: &Started) {
    let out =
        Command::new("mbsync").args(["--config", config.to_str().unwrap(), "--all"]).output().expect("run mbsync");
    assert!(
        out.status.success(),
        "mbsync failed:\n{}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        s.server.log()
    );
}

#[test]
fn mbsync_syncs_a_thousand_messages_both_ways() {
    let a = installation();
    let s = start_server(&a, "");
    deliver(s.lmtp, 1000);

    let local = a.cwd().join("maildir");
    std::fs::create_dir_all(&local).unwrap();
    let cert: PathBuf = a.data_dir().join("tls/self-signed.crt");
    let config = a.write(
        "mbsyncrc",
        &format!(
            "IMAPAccount atoll\nHost 127.0.0.1\nPort {port}\nUser ann@example.org\nPass \"{PASSWORD}\"\n\
             SSLType IMAPS\nCertificateFile {cert}\n\n\
             IMAPStore remote\nAccount atoll\n\n\
             MaildirStore local\nPath {local}/\nInbox {local}/INBOX\n\n\
             Channel inbox\nFar :remote:INBOX\nNear :local:INBOX\nSync All\nCreate Both\nExpunge Both\nSyncState *\n",
            port = s.imaps.port(),
            cert = cert.display(),
            local = local.display(),
        ),
    );
    mbsync(&config, &s);
    let inbox = local.join("INBOX");
    let first = maildir_state(&inbox);
    assert_eq!(first.len(), 1000, "all 1,000 messages synced down");
    assert_eq!(first, server_state(&s), "both sides agree after the first sync");

    // Local changes: flag 1-100 seen, flag 101-110 flagged, delete 111-130.
    for sub in ["cur", "new"] {
        for e in std::fs::read_dir(inbox.join(sub)).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let uid: u32 = name.split(",U=").nth(1).and_then(|r| r.split([',', ':']).next()).unwrap().parse().unwrap();
            let base = name.split(":2,").next().unwrap().to_string();
            let path = e.path();
            match uid {
                1..=100 => std::fs::rename(&path, inbox.join("cur").join(format!("{base}:2,S"))).unwrap(),
                101..=110 => std::fs::rename(&path, inbox.join("cur").join(format!("{base}:2,F"))).unwrap(),
                111..=130 => std::fs::remove_file(&path).unwrap(),
                _ => {}
            }
        }
    }
    // Server changes through imaplib: \Answered on 201-210, expunge 301-320,
    // and one new message.
    imaplib(&s, "mutate");
    deliver(s.lmtp, 1);

    mbsync(&config, &s);
    let local_state = maildir_state(&inbox);
    let remote_state = server_state(&s);
    assert_eq!(local_state, remote_state, "both sides agree after changes on both");
    assert_eq!(remote_state.len(), 1000 - 20 - 20 + 1);
    assert!((1..=100).all(|u| remote_state[&u] == "S"), "local \\Seen reached the server");
    assert!((101..=110).all(|u| remote_state[&u] == "F"), "local \\Flagged reached the server");
    assert!((111..=130).all(|u| !remote_state.contains_key(&u)), "local deletions reached the server");
    assert!((201..=210).all(|u| local_state[&u] == "R"), "server \\Answered reached the maildir");
    assert!((301..=320).all(|u| !local_state.contains_key(&u)), "server expunges reached the maildir");
    assert!(local_state.contains_key(&1001), "the new message was synced");
}

/// Files in an island's blob store, temporary ones aside.
fn blob_files(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("read blob dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        if path.is_dir() {
            if entry.file_name() != "tmp" {
                n += blob_files(&path);
            }
        } else {
            n += 1;
        }
    }
    n
}

/// Bodies of expunged messages leave the disk when `atoll island gc` (or
/// the server's periodic collection) runs; the rest stay readable.
#[test]
fn expunged_bodies_are_removed_by_island_gc() {
    let a = installation();
    let s = start_server(&a, "[imap]\nallow_plaintext_auth = true\n");
    deliver(s.lmtp, 3);
    let blobs = a.data_dir().join("islands/default/blobs");
    assert_eq!(blob_files(&blobs), 3);

    let stream = TcpStream::connect(s.imap).expect("connect to IMAP");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut w = stream.try_clone().expect("clone");
    let mut r = BufReader::new(stream);
    let mut command = |tag: &str, text: &str| {
        if !text.is_empty() {
            w.write_all(format!("{tag} {text}\r\n").as_bytes()).expect("write");
        }
        let mut all = String::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).expect("read");
            assert!(!line.is_empty(), "IMAP closed after {all}");
            all.push_str(&line);
            if line.starts_with(&format!("{tag} ")) {
                assert!(line.starts_with(&format!("{tag} OK")), "{text}: {all}");
                return all;
            }
        }
    };
    command("*", "");
    command("a", &format!("LOGIN ann@example.org \"{PASSWORD}\""));
    command("b", "SELECT INBOX");
    command("c", "STORE 1:2 +FLAGS.SILENT (\\Deleted)");
    let out = command("d", "EXPUNGE");
    assert_eq!(out.matches(" EXPUNGE\r\n").count(), 2, "{out}");

    let config = s.config.to_str().unwrap();
    // Within the grace period (store.gc_grace, 1 h by default) nothing goes.
    let out = a.ok(&["--config", config, "island", "gc", "default"]);
    assert!(out.contains("0 unused bodies removed"), "{out}");
    assert_eq!(blob_files(&blobs), 3);
    let out = a.ok(&["--config", config, "island", "gc", "default", "--grace", "0s"]);
    assert!(out.contains("2 unused bodies removed"), "{out}");
    assert_eq!(blob_files(&blobs), 1);
    let out = command("e", "FETCH 1 BODY[TEXT]");
    assert!(out.contains("Body of message 2."), "{out}");
    command("f", "LOGOUT");
}
