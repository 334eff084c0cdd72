//! Islands: mail storage for the accounts that live on them.
//!
//! An island is a metadata database (SQLite, PostgreSQL or MySQL/MariaDB,
//! like the directory) and a content-addressed blob store on disk. Several
//! store nodes may serve one island at once, so UIDs, UIDNEXT and
//! mod-sequences are allocated in the database inside the transaction that
//! stores the change, never from one process's memory.

mod analysis;
pub mod blob;
mod cache;
mod columns;
mod crlf;
mod error;
mod flags;
mod gc;
mod mailboxes;
mod messages;
mod notify;

use std::path::PathBuf;
use std::sync::Arc;

use atoll_sql::Db;

pub use atoll_message::Analysis;
pub use atoll_sql::Dialect;
pub use blob::{BlobId, BlobStore};
pub use columns::Column;
pub use crlf::crlf_size;
pub use error::{Error, Result};
pub use flags::{Flags, system};
pub use gc::GcReport;
pub use mailboxes::{DEFAULT_MAILBOXES, Mailbox, Status};
pub use messages::{Changes, Delivery, Message, NewMessage, StoreOp, Stored};

/// A handle on one island. Cheap to clone.
#[derive(Clone)]
pub struct Island {
    pub(crate) db: Db,
    pub(crate) blobs: BlobStore,
    pub(crate) notify: Arc<notify::Notifier>,
    pub(crate) cache: Arc<cache::Caches>,
    name: Arc<str>,
}

impl Island {
    /// Opens island `name` with its metadata at `meta_url` and its blobs
    /// under `blob_dir`, bringing the schema up to date.
    pub async fn open(
        name: &str,
        meta_url: &str,
        blob_dir: impl Into<PathBuf>,
        max_connections: u32,
    ) -> Result<Island> {
        let db = Db::connect(meta_url, max_connections).await?;
        let migrator = match db.dialect {
            Dialect::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Dialect::Postgres => sqlx::migrate!("migrations/postgres"),
            Dialect::Mysql => sqlx::migrate!("migrations/mysql"),
        };
        migrator.run(&db.pool).await?;
        let blobs = BlobStore::open(blob_dir)?;
        Ok(Island { db, blobs, notify: Arc::default(), cache: Arc::default(), name: Arc::from(name) })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// Write transactions run again after a conflict with another node.
    pub fn conflict_retries(&self) -> u64 {
        self.db.conflict_retries()
    }

    /// A receiver that changes whenever a mailbox of `account` changes
    /// through this process (delivery, APPEND, flags, expunge, copy, move,
    /// create, delete, rename). Changes made by other store nodes are seen
    /// by reading the database.
    pub fn watch(&self, account: i64) -> tokio::sync::watch::Receiver<u64> {
        self.notify.watch(account)
    }

    pub async fn close(&self) {
        self.db.pool.close().await;
    }
}
