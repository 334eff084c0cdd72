//! Change notification inside one process: a session in IDLE, or between
//! two commands, learns that another session or a delivery changed one of
//! its account's mailboxes without polling the database.
//!
//! One `watch` channel per account with a live watcher, not one broadcast
//! for the island: with thousands of idle sessions a delivery wakes only
//! the sessions of its recipient. The value is a change counter; a woken
//! session asks the database what changed (the database stays the truth,
//! so several store nodes serving one island stay correct; a node learns
//! of another node's changes when it next reads, and IDLE also re-reads on
//! a timer).

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

#[derive(Default)]
pub(crate) struct Notifier {
    accounts: Mutex<HashMap<i64, watch::Sender<u64>>>,
}

impl Notifier {
    pub(crate) fn watch(&self, account: i64) -> watch::Receiver<u64> {
        let mut map = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        // Drop channels nobody watches any more, so the map stays as large
        // as the number of accounts with open sessions.
        if map.len() > 64 && map.len().is_power_of_two() {
            map.retain(|_, s| s.receiver_count() > 0);
        }
        map.entry(account).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    pub(crate) fn changed(&self, account: i64) {
        let map = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = map.get(&account) {
            s.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_changed_account_wakes() {
        let n = Notifier::default();
        let mut a = n.watch(1);
        let mut b = n.watch(2);
        n.changed(1);
        assert!(a.has_changed().expect("open"), "account 1 changed");
        assert!(!b.has_changed().expect("open"), "account 2 did not");
        a.borrow_and_update();
        n.changed(3); // nobody watches: nothing to do, no entry made
        assert!(!a.has_changed().expect("open"));
        n.changed(2);
        tokio::time::timeout(std::time::Duration::from_secs(1), b.changed()).await.expect("woken").expect("open");
    }
}
