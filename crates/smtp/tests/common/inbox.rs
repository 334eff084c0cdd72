//! Reading what landed in a mailbox, for the tests that run an MX, a
//! queue and an island in-process.

use atoll_directory::Directory;
use atoll_store::Island;
use atoll_testkit::wait::until_async;

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

/// Waits until `addr`'s INBOX holds `n` messages, and returns them.
pub async fn wait_inbox(dir: &Directory, island: &Island, addr: &str, n: usize) -> Vec<String> {
    until_async(|| async { inbox(dir, island, addr).await.len() >= n }).await;
    inbox(dir, island, addr).await
}
