//! End-to-end moderation: `atoll list moderator`, and posts to a
//! moderated list sent by swaks and Python's smtplib to the real
//! `atoll serve`, held, shown by `atoll list held`, decided by `atoll list
//! approve|reject` with the node up and with it down, and checked in the
//! members' inboxes with `atoll mailbox show`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Atoll, Started, inbox_subjects, mail_installation, smtplib_send, start_server, wait_for_inbox};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);
const LIST: &str = "rust@example.org";

/// example.org with ann and bob subscribed to the moderated rust@, mod
/// moderating it (not a member), and carol, neither.
fn installation() -> Atoll {
    let a = mail_installation(&["mod@example.org", "carol@example.org"]);
    a.ok(&["list", "create", LIST, "--posting", "moderated"]);
    a.ok(&["list", "subscribe", LIST, "ann@example.org"]);
    a.ok(&["list", "subscribe", LIST, "bob@example.org"]);
    a.ok(&["list", "moderator", "add", LIST, "mod@example.org"]);
    a
}

fn post(s: &Started, from: &str, subject: &str) -> Value {
    let message = format!("From: {from}\r\nTo: {LIST}\r\nSubject: {subject}\r\n\r\nAbout {subject}.\r\n");
    let r = smtplib_send(s.smtp.port(), &json!({"from": from, "rcpts": [LIST], "message": message}));
    assert_eq!(r["rcpt"][0][0], 250, "accepted at RCPT: {r}");
    assert_eq!(r["data"][0], 250, "{r}");
    r
}

/// `atoll list held` as JSON once it holds `n` posts.
fn wait_held(a: &Atoll, s: &Started, n: usize) -> Vec<Value> {
    let cfg = s.config.to_str().expect("config path");
    let deadline = Instant::now() + WAIT;
    loop {
        let held = a.json(&["--config", cfg, "list", "held"]).as_array().expect("array").clone();
        if held.len() == n || Instant::now() > deadline {
            return held;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The held post with this subject.
fn held_id(held: &[Value], subject: &str) -> String {
    let h = held.iter().find(|h| h["subject"] == subject).unwrap_or_else(|| panic!("{subject} not held: {held:?}"));
    h["id"].as_str().expect("id").to_string()
}

fn notice_subject(from: &str) -> String {
    format!("Post to {LIST} from {from} requires approval")
}

#[test]
fn moderator_commands_and_their_refusals() {
    let a = mail_installation(&[]);
    a.ok(&["list", "create", LIST, "--posting", "moderated"]);
    let out = a.ok(&["list", "moderator", "add", LIST, "Mod@Example.ORG"]);
    assert_eq!(out.trim(), "mod@example.org moderates rust@example.org");
    a.ok(&["list", "moderator", "add", LIST, "helper@elsewhere.net"]);
    assert_eq!(a.json(&["list", "moderator", "list", LIST]), json!(["helper@elsewhere.net", "mod@example.org"]));
    let table = a.ok(&["list", "moderator", "list", LIST]);
    assert!(table.trim_start().starts_with("MODERATOR") && table.contains("mod@example.org"), "{table}");

    let err = a.fail(&["list", "moderator", "add", LIST, "mod@example.org"]);
    assert_eq!(err.one_error_line(), "mod@example.org is already a moderator of rust@example.org");
    let err = a.fail(&["list", "moderator", "add", "nolist@example.org", "mod@example.org"]);
    assert_eq!(err.one_error_line(), "no mailing list nolist@example.org");
    a.ok(&["list", "moderator", "remove", LIST, "helper@elsewhere.net"]);
    let err = a.fail(&["list", "moderator", "remove", LIST, "helper@elsewhere.net"]);
    assert_eq!(err.one_error_line(), "helper@elsewhere.net is not a moderator of rust@example.org");
    assert_eq!(a.json(&["list", "moderator", "list", LIST]), json!(["mod@example.org"]));

    let audit = a.audit();
    let moderation: Vec<&Value> =
        audit.iter().filter(|e| e["action"].as_str().unwrap_or("").starts_with("list.moderator")).collect();
    let actions: Vec<(&str, &str)> =
        moderation.iter().map(|e| (e["action"].as_str().unwrap(), e["detail"].as_str().unwrap())).collect();
    assert_eq!(
        actions,
        [
            ("list.moderator.remove", "helper@elsewhere.net"),
            ("list.moderator.add", "helper@elsewhere.net"),
            ("list.moderator.add", "mod@example.org")
        ]
    );
    let actor = format!("cli:{}", common::TEST_USER);
    assert!(moderation.iter().all(|e| e["actor"] == actor.as_str() && e["object"] == LIST), "{moderation:?}");

    // Nothing held on a new installation; bad ids are clear errors.
    assert_eq!(a.json(&["list", "held"]), json!([]));
    let err = a.fail(&["list", "approve", "0000000000000001"]);
    assert!(err.one_error_line().contains("no held post 0000000000000001"), "{:?}", err.stderr_lines());
    let err = a.fail(&["list", "reject", "nonsense"]);
    assert!(err.one_error_line().contains("is not a queue id"), "{:?}", err.stderr_lines());
    let err = a.fail(&["list", "reject", "0000000000000001", "--reason", "x", "--discard"]);
    assert!(err.stderr.contains("cannot be used with"), "{}", err.stderr);
}

#[test]
fn held_posts_are_approved_and_rejected_with_the_cli() {
    let a = installation();
    let s = start_server(&a, "");
    let cfg = s.config.to_str().unwrap();

    // swaks, from someone who is no member: held after its 250.
    let out = Command::new("swaks")
        .args(["--server", &s.smtp.to_string(), "--from", "carol@example.org", "--to", LIST])
        .args(["--helo", "swaks.example.net", "--header", "Subject: from swaks", "--body", "hello list"])
        .args(["--timeout", "30"])
        .output()
        .expect("run swaks (installed by scripts/setup)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("<-  250 2.0.0 OK queued as"), "{text}");
    // smtplib: a member's post is held too; the moderator's goes through.
    post(&s, "ann@example.org", "from a member");
    post(&s, "mod@example.org", "from the moderator");

    let notices = wait_for_inbox(&a, &s, "mod@example.org", 2, WAIT);
    assert_eq!(notices.get(&notice_subject("carol@example.org")), Some(&1), "{notices:?}");
    assert_eq!(notices.get(&notice_subject("ann@example.org")), Some(&1), "{notices:?}");
    let held = wait_held(&a, &s, 2);
    assert_eq!(held.len(), 2, "{held:?}");
    assert!(held.iter().all(|h| h["lists"] == json!([LIST])), "{held:?}");
    let swaks_id = held_id(&held, "from swaks");
    let member_id = held_id(&held, "from a member");
    let table = a.ok(&["--config", cfg, "list", "held", LIST]);
    assert!(
        table.contains(&swaks_id) && table.contains("carol@example.org") && table.contains("from swaks"),
        "{table}"
    );
    assert_eq!(a.json(&["--config", cfg, "list", "held", "other@example.org"]), json!([]));
    let queued = a.ok(&["--config", cfg, "queue", "list"]);
    assert!(queued.contains(&member_id) && queued.contains("held"), "{queued}");

    // Only the moderator's own post reached the members so far.
    for member in ["ann@example.org", "bob@example.org"] {
        let got = wait_for_inbox(&a, &s, member, 1, WAIT);
        assert_eq!(got.get("from the moderator"), Some(&1), "{member}: {got:?}");
        assert_eq!(got.values().sum::<usize>(), 1, "{member}: {got:?}");
    }

    let out = a.ok(&["--config", cfg, "list", "approve", &swaks_id]);
    assert!(out.contains("approval of"), "{out}");
    a.ok(&["--config", cfg, "list", "reject", &member_id, "--reason", "please ask on the forum"]);
    let bob = wait_for_inbox(&a, &s, "bob@example.org", 2, WAIT);
    assert_eq!(bob.get("from swaks"), Some(&1), "{bob:?}");
    let ann = wait_for_inbox(&a, &s, "ann@example.org", 3, WAIT);
    assert_eq!(ann.get("from swaks"), Some(&1), "{ann:?}");
    assert_eq!(ann.get("Undelivered Mail Returned to Sender"), Some(&1), "the rejection notice: {ann:?}");
    assert_eq!(wait_held(&a, &s, 0), Vec::<Value>::new());
    let log = s.server.log();
    assert!(log.contains("queue: held post approved") && log.contains("queue: held post rejected"), "{log}");

    // Nothing more arrives: each member got each post once.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(inbox_subjects(&a, &s, "bob@example.org").values().sum::<usize>(), 2);
    assert_eq!(inbox_subjects(&a, &s, "ann@example.org").values().sum::<usize>(), 3);
    assert_eq!(inbox_subjects(&a, &s, "mod@example.org").values().sum::<usize>(), 2, "one notice per post");
}

#[test]
fn a_decision_made_while_the_node_is_down_is_carried_out_at_start() {
    let a = installation();
    let s = start_server(&a, "");
    post(&s, "carol@example.org", "while down");
    let notices = wait_for_inbox(&a, &s, "mod@example.org", 1, WAIT);
    assert_eq!(notices.get(&notice_subject("carol@example.org")), Some(&1), "{notices:?}");
    let id = held_id(&wait_held(&a, &s, 1), "while down");
    let mut server = s.server;
    assert!(server.terminate(WAIT).is_some_and(|st| st.success()), "clean stop:\n{}", server.log());
    drop(server);

    // The node is down: the spool is read directly, the decision waits.
    let held = a.json(&["list", "held"]);
    assert_eq!(held.as_array().map(Vec::len), Some(1), "{held}");
    a.ok(&["list", "approve", &id]);

    let s = start_server(&a, "");
    for member in ["ann@example.org", "bob@example.org"] {
        assert_eq!(wait_for_inbox(&a, &s, member, 1, WAIT).get("while down"), Some(&1), "{member}");
    }
    assert_eq!(wait_held(&a, &s, 0), Vec::<Value>::new());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(inbox_subjects(&a, &s, "mod@example.org").values().sum::<usize>(), 1, "no second notice");
    assert_eq!(inbox_subjects(&a, &s, "ann@example.org").values().sum::<usize>(), 1);
}
