//! Greylisting state (the Postgrey algorithm's triplets and the client
//! auto-whitelist), shared by every MX node through the directory. The
//! decisions are the MX's (`atoll_smtp::greylist`); this is only their
//! storage. Not audited: it changes with every delivery attempt and no
//! operator made it.
//!
//! Several MX nodes write the same rows at the same moment (a client that
//! retries through another MX, two nodes seeing the first attempt of the
//! same triplet). Every write here is one statement that is atomic on its
//! own, and an INSERT that loses the race to another node's INSERT of the
//! same key is turned into the UPDATE it should have been, never into an
//! error. The client counter is written compare-and-set, so that two nodes
//! counting the same client in the same hour count it once.

use sqlx::Row;

use crate::sql::{is_unique_violation, now};
use crate::{Directory, Result};

/// What is known about one (client network, sender, recipient).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triplet {
    pub first_seen: i64,
    pub last_seen: i64,
    /// How many times mail for it was let through.
    pub passed: i64,
}

/// What is known about one client for the auto-whitelist: how many of its
/// triplets passed greylisting (at most one counted per hour) and when it
/// was last counted or seen whitelisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreylistClient {
    pub passed: i64,
    pub last_seen: i64,
}

/// How many rows a cleanup deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GreylistCleanup {
    pub triplets: u64,
    pub clients: u64,
}

/// Expired rows are deleted one hour of `last_seen` at a time, so that no
/// single DELETE grows into a write set that stalls a Galera cluster (a big
/// site makes tens of thousands of triplets an hour).
const CLEANUP_SLICE: i64 = 3600;

impl Directory {
    pub async fn greylist_get(&self, net: &[u8], sender: &str, recipient: &str) -> Result<Option<Triplet>> {
        let row =
            sqlx::query(self.db.dialect.sql(
                "SELECT first_seen, last_seen, passed FROM greylist WHERE net = ? AND sender = ? AND recipient = ?",
            ))
            .bind(net.to_vec())
            .bind(sender)
            .bind(recipient)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(Triplet { first_seen: r.try_get(0)?, last_seen: r.try_get(1)?, passed: r.try_get(2)? }),
            None => None,
        })
    }

    /// Records an attempt at `at` on a triplet, keeping its first_seen;
    /// `passed` says whether it was let through. A triplet not stored yet
    /// (another node's cleanup removed it a moment ago) is stored as first
    /// seen now.
    pub async fn greylist_record(
        &self,
        net: &[u8],
        sender: &str,
        recipient: &str,
        at: i64,
        passed: bool,
    ) -> Result<()> {
        let update = || {
            sqlx::query(self.db.dialect.sql(
                "UPDATE greylist SET last_seen = ?, passed = passed + ? WHERE net = ? AND sender = ? AND recipient = ?",
            ))
            .bind(at)
            .bind(passed as i64)
            .bind(net.to_vec())
            .bind(sender)
            .bind(recipient)
        };
        if update().execute(&self.db.pool).await?.rows_affected() > 0 {
            return Ok(());
        }
        if !self.greylist_insert(net, sender, recipient, at, passed).await? {
            // Another MX node inserted the same triplet meanwhile: record
            // this attempt on top of theirs.
            update().execute(&self.db.pool).await?;
        }
        Ok(())
    }

    /// Starts a triplet afresh at `at` (first and last seen now, never
    /// passed): its first attempt, or a retry that came too late (after the
    /// retry window, or after max-age). Two nodes doing this at once for
    /// the same triplet both succeed; the later write stands.
    pub async fn greylist_restart(&self, net: &[u8], sender: &str, recipient: &str, at: i64) -> Result<()> {
        let update = || {
            sqlx::query(self.db.dialect.sql(
                "UPDATE greylist SET first_seen = ?, last_seen = ?, passed = 0 WHERE net = ? AND sender = ? AND recipient = ?",
            ))
            .bind(at)
            .bind(at)
            .bind(net.to_vec())
            .bind(sender)
            .bind(recipient)
        };
        if update().execute(&self.db.pool).await?.rows_affected() > 0 {
            return Ok(());
        }
        if !self.greylist_insert(net, sender, recipient, at, false).await? {
            update().execute(&self.db.pool).await?;
        }
        Ok(())
    }

    /// Inserts a triplet first seen at `at`; false when it exists already
    /// (a unique violation: another node inserted it first).
    async fn greylist_insert(&self, net: &[u8], sender: &str, recipient: &str, at: i64, passed: bool) -> Result<bool> {
        let inserted = sqlx::query(self.db.dialect.sql(
            "INSERT INTO greylist (net, sender, recipient, first_seen, last_seen, passed) VALUES (?, ?, ?, ?, ?, ?)",
        ))
        .bind(net.to_vec())
        .bind(sender)
        .bind(recipient)
        .bind(at)
        .bind(at)
        .bind(passed as i64)
        .execute(&self.db.pool)
        .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Counts one more passed triplet for a client, unconditionally;
    /// returns the count.
    pub async fn greylist_client_passed(&self, client: &[u8], at: i64) -> Result<i64> {
        let updated = sqlx::query(
            self.db.dialect.sql("UPDATE greylist_clients SET passed = passed + 1, last_seen = ? WHERE net = ?"),
        )
        .bind(at)
        .bind(client.to_vec())
        .execute(&self.db.pool)
        .await?;
        if updated.rows_affected() == 0 && !self.greylist_client_set(client, 1, at, None).await? {
            // Another node counted this client first; count on top.
            sqlx::query(
                self.db.dialect.sql("UPDATE greylist_clients SET passed = passed + 1, last_seen = ? WHERE net = ?"),
            )
            .bind(at)
            .bind(client.to_vec())
            .execute(&self.db.pool)
            .await?;
        }
        Ok(self.greylist_client(client).await?.map_or(0, |c| c.passed))
    }

    /// The auto-whitelist entry of a client (its address, 4 or 16 bytes;
    /// the column is named `net` for history).
    pub async fn greylist_client(&self, client: &[u8]) -> Result<Option<GreylistClient>> {
        let row = sqlx::query(self.db.dialect.sql("SELECT passed, last_seen FROM greylist_clients WHERE net = ?"))
            .bind(client.to_vec())
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(GreylistClient { passed: r.try_get(0)?, last_seen: r.try_get(1)? }),
            None => None,
        })
    }

    /// Compare-and-set of a client's entry: sets it to (`passed`, `at`) if
    /// its last_seen is still `expected_last_seen`, or, with None, if the
    /// client has no entry yet. Returns whether it was set; false means
    /// another node changed the entry since it was read.
    pub async fn greylist_client_set(
        &self,
        client: &[u8],
        passed: i64,
        at: i64,
        expected_last_seen: Option<i64>,
    ) -> Result<bool> {
        match expected_last_seen {
            Some(expected) => {
                let updated = sqlx::query(
                    self.db
                        .dialect
                        .sql("UPDATE greylist_clients SET passed = ?, last_seen = ? WHERE net = ? AND last_seen = ?"),
                )
                .bind(passed)
                .bind(at)
                .bind(client.to_vec())
                .bind(expected)
                .execute(&self.db.pool)
                .await?;
                Ok(updated.rows_affected() > 0)
            }
            None => {
                let inserted = sqlx::query(
                    self.db.dialect.sql("INSERT INTO greylist_clients (net, passed, last_seen) VALUES (?, ?, ?)"),
                )
                .bind(client.to_vec())
                .bind(passed)
                .bind(at)
                .execute(&self.db.pool)
                .await;
                match inserted {
                    Ok(_) => Ok(true),
                    Err(e) if is_unique_violation(&e) => Ok(false),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Deletes triplets and clients not seen since `before`; returns how many.
    pub async fn greylist_expire(&self, before: i64) -> Result<u64> {
        let done = self.greylist_cleanup(before, i64::MIN).await?;
        Ok(done.triplets + done.clients)
    }

    /// Postgrey's maintenance: deletes the triplets and clients last seen
    /// before `seen_before` (max-age), and the triplets that never passed
    /// and were last seen before `unpassed_seen_before` (the retry window:
    /// their next attempt would start afresh anyway).
    pub async fn greylist_cleanup(&self, seen_before: i64, unpassed_seen_before: i64) -> Result<GreylistCleanup> {
        let mut triplets = self
            .delete_in_slices(
                "SELECT MIN(last_seen) FROM greylist WHERE last_seen < ?",
                "DELETE FROM greylist WHERE last_seen < ?",
                seen_before,
            )
            .await?;
        triplets += self
            .delete_in_slices(
                "SELECT MIN(last_seen) FROM greylist WHERE passed = 0 AND last_seen < ?",
                "DELETE FROM greylist WHERE passed = 0 AND last_seen < ?",
                unpassed_seen_before,
            )
            .await?;
        // Clients are few (those that passed greylisting), and the table
        // has no index on last_seen to slice by: one statement.
        let clients = sqlx::query(self.db.dialect.sql("DELETE FROM greylist_clients WHERE last_seen < ?"))
            .bind(seen_before)
            .execute(&self.db.pool)
            .await?
            .rows_affected();
        Ok(GreylistCleanup { triplets, clients })
    }

    /// Runs `delete` (one `last_seen < ?` bound) for every row `oldest`
    /// finds before `before`, a slice of [`CLEANUP_SLICE`] seconds at a
    /// time starting from the oldest row, so time without rows costs no
    /// statement.
    async fn delete_in_slices(&self, oldest: &'static str, delete: &'static str, before: i64) -> Result<u64> {
        let mut deleted = 0;
        loop {
            let min: Option<i64> =
                sqlx::query(self.db.dialect.sql(oldest)).bind(before).fetch_one(&self.db.pool).await?.try_get(0)?;
            let Some(min) = min else { break };
            // min < before, so every pass deletes at least the oldest row.
            let upto = min.saturating_add(CLEANUP_SLICE).min(before);
            deleted +=
                sqlx::query(self.db.dialect.sql(delete)).bind(upto).execute(&self.db.pool).await?.rows_affected();
            if upto == before {
                break;
            }
        }
        Ok(deleted)
    }

    /// The current time as the schema stores it.
    pub fn now(&self) -> i64 {
        now()
    }
}
