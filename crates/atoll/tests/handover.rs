//! Two nodes, one directory: a front node with only the `mx` role, and a
//! store node of island "south". Mail for a mailbox on south goes from the
//! front node's queue over LMTP to the store node, found in the node
//! registry; while the store node is down it waits in the queue, and after
//! the restart it arrives once.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use atoll_testkit::wait::until;
use common::{Atoll, free_port, smtplib_send, start_custom};
use serde_json::json;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

fn store_config(a: &Atoll, lmtp: SocketAddr, http: SocketAddr) -> String {
    format!(
        "[node]\nname = \"store-south\"\nroles = [\"store\"]\nislands = [\"south\"]\nheartbeat = \"1s\"\n\
         \n\
         [directory]\nurl = \"sqlite://{dir}?mode=rwc\"\n\n\
         [listen]\nlmtp = [\"{lmtp}\"]\nhttp = [\"{http}\"]\nsmtp = []\nsubmission = []\nsubmissions = []\n\
         imap = []\nimaps = []\npop3 = []\npop3s = []\nmanagesieve = []\n\n[log]\nlevel = \"info\"\n",
        dir = a.data_dir().join("directory.db").display(),
    )
}

#[test]
fn mail_for_another_nodes_island_goes_there_over_lmtp_once() {
    let a = Atoll::new();
    a.ok(&["domain", "add", "example.org"]);
    let south = a.data_dir().join("south-node/islands/south");
    a.ok(&["island", "add", "south", "--store", south.to_str().unwrap()]);
    a.ok(&["user", "add", "carol@example.org", "--island", "south", "--no-password"]);

    let (lmtp, store_http) = (loopback(), loopback());
    // Both processes run with the installation's data directory; the
    // island's blobs and database are where the directory says.
    let mut store = start_custom(&a, "store", &store_config(&a, lmtp, store_http), &[lmtp]);

    let (smtp, front_http) = (loopback(), loopback());
    let front = format!(
        "[node]\nname = \"front\"\nroles = [\"mx\"]\nislands = []\nheartbeat = \"1s\"\n\n\
         [queue]\nretry_initial = \"1s\"\nretry_max = \"1s\"\n\n\
         [listen]\nsmtp = [\"{smtp}\"]\nhttp = [\"{front_http}\"]\nlmtp = []\nsubmission = []\nsubmissions = []\n\
         imap = []\nimaps = []\npop3 = []\npop3s = []\nmanagesieve = []\n\n[log]\nlevel = \"info\"\n"
    );
    let front = start_custom(&a, "front", &front, &[smtp]);

    let send = |subject: &str| {
        let message = format!("From: ann@example.net\r\nTo: carol@example.org\r\nSubject: {subject}\r\n\r\nHi.\r\n");
        let r = smtplib_send(
            smtp.port(),
            &json!({"from": "ann@example.net", "rcpts": ["carol@example.org"], "message": message}),
        );
        assert_eq!(r["data"][0], 250, "{r}");
    };
    let subjects = || inbox_subjects_of(&a, "carol@example.org");
    let wait_for = |n: usize| {
        until(|| subjects().values().sum::<usize>() >= n);
        subjects()
    };

    send("first");
    let got = wait_for(1);
    assert_eq!(got.get("first"), Some(&1), "{got:?}\n{}\n{}", front.log(), store.log());
    assert!(front.log().contains("handed over to a store node"), "{}", front.log());

    // The store node goes away: the front node keeps the message.
    assert!(store.terminate(Duration::from_secs(20)).is_some(), "the store node stops");
    send("second");
    std::thread::sleep(Duration::from_secs(3));
    let queued = a.json(&["queue", "list"]);
    let queued = queued.as_array().unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0]["pending"], json!(["carol@example.org"]));
    assert_eq!(subjects().get("second"), None);

    // Back again: delivered, once.
    let store = start_custom(&a, "store-again", &store_config(&a, lmtp, store_http), &[lmtp]);
    let got = wait_for(2);
    assert_eq!(got.get("second"), Some(&1), "{got:?}\n{}\n{}", front.log(), store.log());
    std::thread::sleep(Duration::from_secs(2));
    let got = subjects();
    assert_eq!(got.values().sum::<usize>(), 2, "nothing twice: {got:?}");
    assert!(a.json(&["queue", "list"]).as_array().unwrap().is_empty());
}

/// INBOX subjects read with the front node's installation (the island's
/// store path comes from the shared directory).
fn inbox_subjects_of(a: &Atoll, address: &str) -> std::collections::HashMap<String, usize> {
    let mut out = std::collections::HashMap::new();
    for m in a.json(&["mailbox", "show", address, "INBOX"]).as_array().expect("array") {
        *out.entry(m["subject"].as_str().unwrap_or_default().to_string()).or_default() += 1;
    }
    out
}
