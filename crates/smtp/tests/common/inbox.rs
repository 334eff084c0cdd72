//! Reading what landed in a mailbox, for the tests that run an MX, a
//! queue and an island in-process.

use std::time::Duration;

use atoll_directory::Directory;
use atoll_store::Island;

/// The messages in `addr`'s INBOX, oldest first.
pub async fn inbox(dir: &Directory, island: &Island, addr: &str) -> Vec<String> {
    let account = dir.account(addr).await.unwrap().id;
    let Ok(mbox) = island.mailbox(account, "INBOX").await else { return Vec::new() };
    let mut out = Vec::new();
    for m in island.messages(&mbox).await.unwrap() {
        out.push(String::from_utf8(island.read(m.blob).await.unwrap()).unwrap());
    }
    out
}

/// Waits (up to 20 s) until `addr`'s INBOX holds `n` messages.
pub async fn wait_inbox(dir: &Directory, island: &Island, addr: &str, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let got = inbox(dir, island, addr).await;
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    inbox(dir, island, addr).await
}
