//! In-memory caches of what is derived from bodies. A blob never changes
//! (it is named by its hash), so nothing here is ever stale: an entry is
//! only dropped for room. Shared by every session of the island, so a
//! mailbox searched by one session is warm for the next, as Dovecot's
//! index cache is.

use std::sync::Arc;

use atoll_message::{Analysis, SearchHeader};
use moka::sync::Cache;

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

pub(crate) struct Caches {
    /// Message lists by mailbox id and UIDVALIDITY (SQLite may give a
    /// deleted mailbox's id to a new one; never its UIDVALIDITY), brought
    /// up to date on use.
    pub mailboxes: Cache<(i64, i64), Arc<Snapshot>>,
    pub analyses: Cache<BlobId, Arc<Analysis>>,
    /// The header block of each body (up to and including the blank line),
    /// for SEARCH on header fields.
    pub headers: Cache<BlobId, Arc<[u8]>>,
    /// The same headers split, decoded and lowercased for SEARCH.
    pub fields: Cache<BlobId, Arc<SearchHeader>>,
}

impl Default for Caches {
    fn default() -> Self {
        Caches {
            mailboxes: Cache::builder()
                .max_capacity(MAILBOXES_BYTES)
                .weigher(|_: &(i64, i64), s: &Arc<Snapshot>| {
                    u32::try_from(s.messages.len() * 96 + 64).unwrap_or(u32::MAX)
                })
                .build(),
            analyses: Cache::builder().max_capacity(ANALYSES_BYTES).weigher(|_, a: &Arc<Analysis>| weight(a)).build(),
            headers: Cache::builder()
                .max_capacity(HEADERS_BYTES)
                .weigher(|_, h: &Arc<[u8]>| u32::try_from(h.len() + 64).unwrap_or(u32::MAX))
                .build(),
            fields: Cache::builder()
                .max_capacity(HEADERS_BYTES)
                .weigher(|_, f: &Arc<SearchHeader>| u32::try_from(f.weight()).unwrap_or(u32::MAX))
                .build(),
        }
    }
}

fn weight(a: &Analysis) -> u32 {
    let bytes = a.envelope.as_bytes().len() + a.body.as_bytes().len() + a.bodystructure.as_bytes().len() + 256;
    u32::try_from(bytes * 2).unwrap_or(u32::MAX)
}
