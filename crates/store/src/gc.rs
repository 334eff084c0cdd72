//! Garbage collection of message bodies.
//!
//! A blob is shared by every message with the same body, so it can go only
//! when the last of them has gone. EXPUNGE, MOVE and DELETE mark a blob
//! nobody uses any more (`blobs.orphaned_at`); the collector removes the
//! blobs marked longer ago than a grace period that are still unused.
//!
//! The race to avoid is a delivery of the same body meanwhile: it finds
//! the file, skips writing it, and commits a message that points at a file
//! the collector is removing. So, per blob, in one transaction:
//!
//! 1. `DELETE` the row if it is still marked, old enough and unused; the
//!    row is now locked, and a delivery's upsert of it waits;
//! 2. park the file (rename into `tmp/`), still inside the transaction;
//! 3. commit; then remove the parked file. If the commit fails, the file
//!    goes back.
//!
//! A delivery's upsert that waited on step 1 then re-checks the file before
//! its own commit and writes it again when it is gone (messages.rs
//! `ensure_body`). Several store nodes may collect the same island at once:
//! the row delete decides which one removes the file.

use std::time::Duration;

use sqlx::Row;

use crate::blob::BlobId;
use crate::{Error, Island, Result};
use atoll_sql::{now, write_tx};

/// What one collection did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs removed, with their rows.
    pub removed: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Marked blobs found in use again (a COPY that raced the EXPUNGE),
    /// now unmarked.
    pub kept: u64,
}

/// Blobs looked at per query.
const BATCH: i64 = 500;

/// How long an island remembers a queue's delivery keys
/// (`Island::deliver_keyed`): longer than any queue keeps retrying.
const DELIVERY_KEYS_KEPT: i64 = 14 * 86_400;

impl Island {
    /// Removes the bodies no message has used for longer than `grace`.
    pub async fn collect_garbage(&self, grace: Duration) -> Result<GcReport> {
        self.settle_parked().await?;
        sqlx::query(self.db.sql("DELETE FROM deliveries WHERE delivered_at < ?"))
            .bind(now() - DELIVERY_KEYS_KEPT)
            .execute(&self.db.pool)
            .await?;
        let cutoff = now() - i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
        let mut report = GcReport::default();
        loop {
            let rows = sqlx::query(self.db.sql(
                "SELECT hash, size FROM blobs WHERE orphaned_at IS NOT NULL AND orphaned_at <= ? \
                 ORDER BY orphaned_at LIMIT ?",
            ))
            .bind(cutoff)
            .bind(BATCH)
            .fetch_all(&self.db.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            let n = rows.len();
            for r in rows {
                let hash: Vec<u8> = r.try_get(0)?;
                let size: i64 = r.try_get(1)?;
                let id = BlobId::from_bytes(&hash).ok_or_else(|| Error::Corrupt("blob id is not 32 bytes".into()))?;
                if self.collect_one(id, cutoff).await? {
                    report.removed += 1;
                    report.bytes += size.max(0) as u64;
                } else {
                    report.kept += 1;
                }
            }
            if (n as i64) < BATCH {
                break;
            }
        }
        if report.removed > 0 {
            tracing::info!(island = %self.name(), removed = report.removed, bytes = report.bytes, "unused bodies removed");
        }
        Ok(report)
    }

    /// One blob, in its own transaction; true when it was removed.
    async fn collect_one(&self, id: BlobId, cutoff: i64) -> Result<bool> {
        let outcome = write_tx!(self.db, Error, |conn| {
            let done = sqlx::query(self.db.sql(
                "DELETE FROM blobs WHERE hash = ? AND orphaned_at IS NOT NULL AND orphaned_at <= ? \
                 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.body = ?)",
            ))
            .bind(id.as_bytes().to_vec())
            .bind(cutoff)
            .bind(id.as_bytes().to_vec())
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                // In use again, or delivered again (which cleared the mark).
                sqlx::query(self.db.sql("UPDATE blobs SET orphaned_at = NULL WHERE hash = ?"))
                    .bind(id.as_bytes().to_vec())
                    .execute(&mut *conn)
                    .await?;
                return Ok(false);
            }
            self.blobs.park(id).await?;
            Ok(true)
        });
        match outcome {
            Ok(true) => {
                self.blobs.drop_parked(id).await?;
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(e) => {
                self.blobs.unpark(id).await?;
                Err(e)
            }
        }
    }

    /// A collection interrupted between parking a file and removing it
    /// leaves the file in `tmp/`: it goes back if its row survived (the
    /// transaction did not commit), away if not.
    async fn settle_parked(&self) -> Result<()> {
        for id in self.blobs.parked().await? {
            let row = sqlx::query(self.db.sql("SELECT 1 FROM blobs WHERE hash = ?"))
                .bind(id.as_bytes().to_vec())
                .fetch_optional(&self.db.pool)
                .await?;
            if row.is_some() {
                self.blobs.unpark(id).await?;
            } else {
                self.blobs.drop_parked(id).await?;
            }
        }
        Ok(())
    }
}
