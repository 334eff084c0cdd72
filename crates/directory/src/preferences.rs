//! Per-account preferences: small key/value settings (language, spam
//! threshold, vacation flag…) that the web app and filters read.

use sqlx::Row;

use crate::accounts::account_id;
use crate::address::Address;
use crate::audit::record;
use crate::sql::write_tx;
use crate::{Directory, Error, Result};

impl Directory {
    pub async fn set_preference(&self, account: &str, name: &str, value: &str) -> Result<()> {
        let acc = Address::parse(account)?;
        if name.is_empty() || name.len() > 64 {
            return Err(Error::Invalid("preference names are 1 to 64 characters".into()));
        }
        write_tx!(self, |conn| {
            let id = account_id(conn, self, &acc).await?;
            sqlx::query(self.db.dialect.sql("DELETE FROM preferences WHERE account_id = ? AND name = ?"))
                .bind(id)
                .bind(name)
                .execute(&mut *conn)
                .await?;
            sqlx::query(self.db.dialect.sql("INSERT INTO preferences (account_id, name, value) VALUES (?, ?, ?)"))
                .bind(id)
                .bind(name)
                .bind(value)
                .execute(&mut *conn)
                .await?;
            record(conn, self, "preference.set", &acc.to_string(), name).await
        })
    }

    pub async fn preferences(&self, account: &str) -> Result<Vec<(String, String)>> {
        let acc = Address::parse(account)?;
        let rows = sqlx::query(self.db.dialect.sql(
            "SELECT p.name, p.value FROM preferences p JOIN accounts a ON a.id = p.account_id \
             JOIN domains d ON d.id = a.domain_id WHERE d.name = ? AND a.localpart = ? ORDER BY p.name",
        ))
        .bind(&acc.domain)
        .bind(&acc.local)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }
}
