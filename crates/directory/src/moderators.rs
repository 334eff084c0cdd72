//! Moderators of mailing lists: the addresses that decide on the posts a
//! `moderated` list holds, and whose own posts are distributed at once.
//! A moderator need not be a member (Mailman's moderators are not either).

use sqlx::Row;

use crate::address::Address;
use crate::audit::record;
use crate::lists::list_id;
use crate::sql::{is_unique_violation, now, write_tx};
use crate::{Directory, Error, Result};

impl Directory {
    pub async fn add_moderator(&self, list: &str, moderator: &str) -> Result<()> {
        let l = Address::parse(list)?;
        let m = Address::parse(moderator)?;
        write_tx!(self, |conn| {
            let id = list_id(conn, self, &l).await?;
            let inserted = sqlx::query(
                self.db.dialect.sql("INSERT INTO list_moderators (list_id, address, created_at) VALUES (?, ?, ?)"),
            )
            .bind(id)
            .bind(m.to_string())
            .bind(now())
            .execute(&mut *conn)
            .await;
            match inserted {
                Err(e) if is_unique_violation(&e) => {
                    return Err(Error::AlreadyModerator(m.to_string(), l.to_string()));
                }
                other => other?,
            };
            record(conn, self, "list.moderator.add", &l.to_string(), &m.to_string()).await
        })
    }

    pub async fn remove_moderator(&self, list: &str, moderator: &str) -> Result<()> {
        let l = Address::parse(list)?;
        let m = Address::parse(moderator)?;
        write_tx!(self, |conn| {
            let id = list_id(conn, self, &l).await?;
            let done =
                sqlx::query(self.db.dialect.sql("DELETE FROM list_moderators WHERE list_id = ? AND address = ?"))
                    .bind(id)
                    .bind(m.to_string())
                    .execute(&mut *conn)
                    .await?;
            if done.rows_affected() == 0 {
                return Err(Error::NotAModerator(m.to_string(), l.to_string()));
            }
            record(conn, self, "list.moderator.remove", &l.to_string(), &m.to_string()).await
        })
    }

    /// A list's moderators, sorted.
    pub async fn list_moderators(&self, list: &str) -> Result<Vec<String>> {
        let l = Address::parse(list)?;
        let mut conn = self.db.pool.acquire().await?;
        let id = list_id(&mut conn, self, &l).await?;
        let rows =
            sqlx::query(self.db.dialect.sql("SELECT address FROM list_moderators WHERE list_id = ? ORDER BY address"))
                .bind(id)
                .fetch_all(&mut *conn)
                .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Whether `address` moderates the list `list_id` (the MX's check for a
    /// post to a moderated list: a moderator's own post is not held). An
    /// address that does not parse moderates nothing.
    pub async fn is_list_moderator(&self, list_id: i64, address: &str) -> Result<bool> {
        let Ok(m) = Address::parse(address) else { return Ok(false) };
        let row = sqlx::query(self.db.dialect.sql("SELECT 1 FROM list_moderators WHERE list_id = ? AND address = ?"))
            .bind(list_id)
            .bind(m.to_string())
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.is_some())
    }
}
