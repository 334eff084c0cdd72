//! One POP3 session per maildrop (RFC 1939 §8: the server locks the
//! maildrop for the session; RFC 2449 §8.1.2: a second login is refused
//! with `[IN-USE]`). IMAP sessions are not locked out.
//!
//! The lock lives in this process: in a cluster the proxy sends all of
//! one user's sessions to one store node, so the node that holds the lock
//! is the only one a second session can reach. The lock is a guard: it
//! is released when the session ends however it ends (QUIT, a dropped
//! connection, a timeout, the task being aborted at shutdown).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// A maildrop: the island and the account.
type Key = (String, i64);

#[derive(Default, Clone)]
pub(crate) struct Locks {
    held: Arc<Mutex<HashSet<Key>>>,
}

/// Holds a maildrop until dropped.
pub(crate) struct Guard {
    held: Arc<Mutex<HashSet<Key>>>,
    key: Key,
}

impl Locks {
    /// Takes the maildrop, or None when another session has it.
    pub(crate) fn try_lock(&self, island: &str, account: i64) -> Option<Guard> {
        let key = (island.to_string(), account);
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.insert(key.clone()).then(|| Guard { held: self.held.clone(), key })
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_per_maildrop_until_dropped() {
        let locks = Locks::default();
        let a = locks.try_lock("north", 1).expect("free");
        assert!(locks.try_lock("north", 1).is_none(), "held");
        let b = locks.try_lock("north", 2).expect("another account");
        let c = locks.try_lock("south", 1).expect("the same id on another island");
        drop(a);
        let again = locks.try_lock("north", 1).expect("released");
        drop((again, b, c));
        assert_eq!(locks.len(), 0);
    }

    #[tokio::test]
    async fn an_aborted_task_releases_its_lock() {
        let locks = Locks::default();
        let guard = locks.try_lock("north", 1).expect("free");
        let task = tokio::spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        task.abort();
        let _ = task.await;
        assert!(locks.try_lock("north", 1).is_some(), "released by the abort");
    }
}
