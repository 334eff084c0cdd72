//! The maildrop as one session sees it (RFC 1939 §5): the INBOX's
//! messages when the session logged in, numbered from 1 in UID order, with
//! their sizes. Numbers never change during the session; messages that
//! arrive later wait for the next one. DELE only marks; the marks are
//! carried out in the UPDATE state (§6).

use atoll_store::{BlobId, Island, Mailbox};

use crate::lock::Guard;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub uid: i64,
    pub blob: BlobId,
    /// The octets RETR sends before dot-stuffing (RFC 1939 §5).
    pub size: u64,
    pub deleted: bool,
    /// Downloaded whole with RETR (marked \Seen at QUIT when configured).
    pub retrieved: bool,
}

pub(crate) struct Maildrop {
    pub(crate) island: Island,
    pub(crate) mailbox: Mailbox,
    pub(crate) entries: Vec<Entry>,
    /// Held for as long as the session has the maildrop.
    pub(crate) _lock: Guard,
}

/// Why a message number does not name a message (RFC 1939 §5: a deleted
/// message may not be referred to).
#[derive(Debug, PartialEq, Eq)]
pub enum Missing {
    NoSuchMessage,
    Deleted,
}

impl Maildrop {
    /// The message numbered `n`.
    pub(crate) fn get(&self, n: u32) -> Result<&Entry, Missing> {
        lookup(&self.entries, n)
    }

    pub(crate) fn get_mut(&mut self, n: u32) -> Result<&mut Entry, Missing> {
        lookup(&self.entries, n)?;
        Ok(&mut self.entries[n as usize - 1])
    }

    /// Messages not marked deleted and their total size (STAT).
    pub(crate) fn stat(&self) -> (usize, u64) {
        live(&self.entries).fold((0, 0), |(n, size), (_, e)| (n + 1, size + e.size))
    }

    /// The unique-id of a message (RFC 1939 §7): its UID and the
    /// mailbox's UIDVALIDITY in hex, as Dovecot's default
    /// `%08Xu%08Xv`, so that a client switching between the two sees the
    /// same ids. Both survive sessions and a move of the user between
    /// islands (docs/store.md), so the id does too.
    pub(crate) fn unique_id(&self, e: &Entry) -> String {
        unique_id(e.uid, self.mailbox.uidvalidity)
    }
}

pub fn unique_id(uid: i64, uidvalidity: i64) -> String {
    format!("{uid:08X}{uidvalidity:08X}")
}

fn lookup(entries: &[Entry], n: u32) -> Result<&Entry, Missing> {
    let e = (n as usize).checked_sub(1).and_then(|i| entries.get(i)).ok_or(Missing::NoSuchMessage)?;
    if e.deleted { Err(Missing::Deleted) } else { Ok(e) }
}

/// Message numbers and entries not marked deleted.
pub(crate) fn live(entries: &[Entry]) -> impl Iterator<Item = (usize, &Entry)> {
    entries.iter().enumerate().filter(|(_, e)| !e.deleted).map(|(i, e)| (i + 1, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<Entry> {
        (1..=3)
            .map(|uid| Entry {
                uid,
                blob: BlobId([uid as u8; 32]),
                size: 100 * uid as u64,
                deleted: false,
                retrieved: false,
            })
            .collect()
    }

    #[test]
    fn numbers_and_deleted_marks() {
        let mut v = entries();
        assert_eq!(lookup(&v, 0), Err(Missing::NoSuchMessage));
        assert_eq!(lookup(&v, 4), Err(Missing::NoSuchMessage));
        assert_eq!(lookup(&v, 2).map(|e| e.uid), Ok(2));
        v[1].deleted = true;
        assert_eq!(lookup(&v, 2), Err(Missing::Deleted));
        let numbers: Vec<usize> = live(&v).map(|(n, _)| n).collect();
        assert_eq!(numbers, [1, 3], "numbers do not shift when a message is deleted");
    }

    #[test]
    fn unique_ids_as_dovecot_default() {
        assert_eq!(unique_id(1, 1_700_000_000), "000000016553F100");
        assert_eq!(unique_id(0x1234_5678, 5), "1234567800000005");
        // RFC 1939 §7: 1 to 70 characters in 0x21..0x7E.
        let id = unique_id(i64::from(u32::MAX), i64::from(u32::MAX));
        assert!(id.len() <= 70 && id.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{id}");
    }
}
