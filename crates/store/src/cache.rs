//! In-memory caches of what is derived from bodies. A blob never changes
//! (it is named by its hash), so nothing here is ever stale: an entry is
//! only dropped for room. Shared by every session of the island, so a
//! mailbox searched by one session is warm for the next, as Dovecot's
//! index cache is.

use std::sync::Arc;

use atoll_message::{Analysis, SearchHeader};
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::blob::BlobId;

/// Bytes each cache may hold (approximately: entries are weighed by their
/// main buffers).
const ANALYSES_BYTES: u64 = 64 << 20;
const HEADERS_BYTES: u64 = 64 << 20;

/// A mailbox's messages as of a mod-sequence.
pub(crate) struct Snapshot {
    pub highestmodseq: i64,
    pub messages: Vec<crate::Message>,
}

const MAILBOXES_BYTES: u64 = 64 << 20;
const COLUMNS_BYTES: u64 = 64 << 20;

/// quick_cache rather than moka: SEARCH and FETCH look up one entry per
/// message, tens of thousands per second, and moka's bookkeeping on every
/// hit (its read log, frequency sketch and deque moves) cost more than a
/// third of the server's CPU under the IMAP benchmark; quick_cache's hit is
/// a hash lookup and one atomic.
pub(crate) struct Caches {
    /// Message lists by mailbox id and UIDVALIDITY (SQLite may give a
    /// deleted mailbox's id to a new one; never its UIDVALIDITY), brought
    /// up to date on use.
    pub mailboxes: Cache<(i64, i64), Arc<Snapshot>, Weigh>,
    pub analyses: Cache<BlobId, Arc<Analysis>, Weigh>,
    /// The header block of each body (up to and including the blank line),
    /// for FETCH BODY[HEADER] and the like.
    pub headers: Cache<BlobId, Arc<[u8]>, Weigh>,
    /// The same headers split, decoded and lowercased for SEARCH.
    pub fields: Cache<BlobId, Arc<SearchHeader>, Weigh>,
    /// Header columns by mailbox id, UIDVALIDITY and field name.
    pub columns: Cache<(i64, i64, String), Arc<crate::columns::Column>, Weigh>,
}

/// Weighs entries by their main buffers, in bytes.
#[derive(Clone, Copy)]
pub(crate) struct Weigh;

impl Weighter<(i64, i64), Arc<Snapshot>> for Weigh {
    fn weight(&self, _: &(i64, i64), s: &Arc<Snapshot>) -> u64 {
        (s.messages.len() * 96 + 64) as u64
    }
}

impl Weighter<BlobId, Arc<Analysis>> for Weigh {
    fn weight(&self, _: &BlobId, a: &Arc<Analysis>) -> u64 {
        let bytes = a.envelope.as_bytes().len() + a.body.as_bytes().len() + a.bodystructure.as_bytes().len() + 256;
        (bytes * 2) as u64
    }
}

impl Weighter<BlobId, Arc<[u8]>> for Weigh {
    fn weight(&self, _: &BlobId, h: &Arc<[u8]>) -> u64 {
        (h.len() + 64) as u64
    }
}

impl Weighter<BlobId, Arc<SearchHeader>> for Weigh {
    fn weight(&self, _: &BlobId, f: &Arc<SearchHeader>) -> u64 {
        f.weight() as u64
    }
}

/// Entries each cache is sized for up front (it grows past this as needed).
const ESTIMATED_ITEMS: usize = 16 * 1024;

impl Default for Caches {
    fn default() -> Self {
        Caches {
            mailboxes: Cache::with_weighter(1024, MAILBOXES_BYTES, Weigh),
            analyses: Cache::with_weighter(ESTIMATED_ITEMS, ANALYSES_BYTES, Weigh),
            headers: Cache::with_weighter(ESTIMATED_ITEMS, HEADERS_BYTES, Weigh),
            fields: Cache::with_weighter(ESTIMATED_ITEMS, HEADERS_BYTES, Weigh),
            columns: Cache::with_weighter(256, COLUMNS_BYTES, Weigh),
        }
    }
}
