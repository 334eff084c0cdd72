//! Greylisting state (the Postgrey algorithm's triplets and the client
//! auto-whitelist), shared by every MX node through the directory. The
//! decisions are the MX's; this is only their storage. Not audited: it
//! changes with every delivery attempt and no operator made it.

use sqlx::Row;

use crate::sql::now;
use crate::{Directory, Result};

/// What is known about one (client network, sender, recipient).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triplet {
    pub first_seen: i64,
    pub last_seen: i64,
    /// How many times mail for it was let through.
    pub passed: i64,
}

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

    /// Records an attempt at `at`; `passed` says whether it was let through.
    pub async fn greylist_record(
        &self,
        net: &[u8],
        sender: &str,
        recipient: &str,
        at: i64,
        passed: bool,
    ) -> Result<()> {
        let updated = sqlx::query(self.db.dialect.sql(
            "UPDATE greylist SET last_seen = ?, passed = passed + ? WHERE net = ? AND sender = ? AND recipient = ?",
        ))
        .bind(at)
        .bind(passed as i64)
        .bind(net.to_vec())
        .bind(sender)
        .bind(recipient)
        .execute(&self.db.pool)
        .await?;
        if updated.rows_affected() == 0 {
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
            // Another MX node inserted the same triplet a moment ago: theirs stands.
            if let Err(e) = inserted
                && !crate::sql::is_unique_violation(&e)
            {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Counts one more passed triplet for a client network; returns the count.
    pub async fn greylist_client_passed(&self, net: &[u8], at: i64) -> Result<i64> {
        let updated = sqlx::query(
            self.db.dialect.sql("UPDATE greylist_clients SET passed = passed + 1, last_seen = ? WHERE net = ?"),
        )
        .bind(at)
        .bind(net.to_vec())
        .execute(&self.db.pool)
        .await?;
        if updated.rows_affected() == 0 {
            let inserted = sqlx::query(
                self.db.dialect.sql("INSERT INTO greylist_clients (net, passed, last_seen) VALUES (?, 1, ?)"),
            )
            .bind(net.to_vec())
            .bind(at)
            .execute(&self.db.pool)
            .await;
            if let Err(e) = inserted
                && !crate::sql::is_unique_violation(&e)
            {
                return Err(e.into());
            }
        }
        Ok(self.greylist_client(net).await?.unwrap_or(0))
    }

    pub async fn greylist_client(&self, net: &[u8]) -> Result<Option<i64>> {
        let row = sqlx::query(self.db.dialect.sql("SELECT passed FROM greylist_clients WHERE net = ?"))
            .bind(net.to_vec())
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    /// Deletes triplets and clients not seen since `before`; returns how many.
    pub async fn greylist_expire(&self, before: i64) -> Result<u64> {
        let a = sqlx::query(self.db.dialect.sql("DELETE FROM greylist WHERE last_seen < ?"))
            .bind(before)
            .execute(&self.db.pool)
            .await?;
        let b = sqlx::query(self.db.dialect.sql("DELETE FROM greylist_clients WHERE last_seen < ?"))
            .bind(before)
            .execute(&self.db.pool)
            .await?;
        Ok(a.rows_affected() + b.rows_affected())
    }

    /// The current time as the schema stores it.
    pub fn now(&self) -> i64 {
        now()
    }
}
