//! An island's metadata on a 3-node Galera cluster, as several store nodes
//! of one island would use it: appends through different nodes to one
//! mailbox collide on the mailbox row (certification failures) and are
//! retried, and every UID is still handed out exactly once.

use atoll_store::{Flags, Island, NewMessage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_through_every_node_get_distinct_uids() {
    let Some(urls) = atoll_testkit::galera_database().await else { return };
    let blobs = tempfile::tempdir().unwrap();
    let mut nodes = Vec::new();
    for url in &urls {
        nodes.push(Island::open("g", url, blobs.path(), 4).await.unwrap_or_else(|e| panic!("{url}: {e}")));
    }
    nodes[0].ensure_defaults(1).await.unwrap();
    let mut tasks = Vec::new();
    for n in 0..9 {
        let island = nodes[n % nodes.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut uids = Vec::new();
            for k in 0..8 {
                let raw = format!("Subject: n{n} k{k}\r\n\r\nbody\r\n").into_bytes();
                let m = NewMessage { raw, flags: Flags::default(), internal_date: None };
                uids.push(island.append(1, "INBOX", m).await.unwrap().uid);
            }
            uids
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    assert_eq!(all, (1..=72).collect::<Vec<i64>>());
    let retries: u64 = nodes.iter().map(|n| n.conflict_retries()).sum();
    eprintln!("conflict retries: {retries}");
    for (i, node) in nodes.iter().enumerate() {
        let inbox = node.mailbox(1, "INBOX").await.unwrap();
        assert_eq!(inbox.uidnext, 73, "node {}", i + 1);
        assert_eq!(node.messages(&inbox).await.unwrap().len(), 72, "node {}", i + 1);
        assert_eq!(node.quota_usage(1).await.unwrap().1, 72, "node {}", i + 1);
    }
}
