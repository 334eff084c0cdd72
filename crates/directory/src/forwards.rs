//! Forwards: mail for an account goes (also) to other addresses.

use sqlx::Row;

use crate::accounts::account_id;
use crate::address::Address;
use crate::audit::record;
use crate::resolve::check_no_loop;
use crate::sql::{is_unique_violation, now, write_tx};
use crate::{Directory, Error, Forward, Result};

impl Directory {
    /// Forwards mail for `account` to `target`; with `keep_copy` the account
    /// also keeps it.
    pub async fn add_forward(&self, account: &str, target: &str, keep_copy: bool) -> Result<()> {
        let acc = Address::parse(account)?;
        let tgt = Address::parse(target)?;
        if acc == tgt {
            return Err(Error::AliasLoop(format!("{acc} -> {tgt}")));
        }
        write_tx!(self, |conn| {
            let id = account_id(conn, self, &acc).await?;
            let inserted = sqlx::query(
                self.db
                    .dialect
                    .sql("INSERT INTO forwards (account_id, target, keep_copy, created_at) VALUES (?, ?, ?, ?)"),
            )
            .bind(id)
            .bind(tgt.to_string())
            .bind(keep_copy as i64)
            .bind(now())
            .execute(&mut *conn)
            .await;
            match inserted {
                Err(e) if is_unique_violation(&e) => return Err(Error::Duplicate(format!("forward {acc} -> {tgt}"))),
                other => other?,
            };
            check_no_loop(conn, self, &acc).await?;
            let detail = format!("{tgt}{}", if keep_copy { " (keep copy)" } else { "" });
            record(conn, self, "forward.add", &acc.to_string(), &detail).await
        })
    }

    /// Removes one forward, or all of an account's when `target` is None.
    pub async fn remove_forward(&self, account: &str, target: Option<&str>) -> Result<()> {
        let acc = Address::parse(account)?;
        let tgt = target.map(Address::parse).transpose()?;
        write_tx!(self, |conn| {
            let id = account_id(conn, self, &acc).await?;
            let done = match &tgt {
                Some(t) => {
                    sqlx::query(self.db.dialect.sql("DELETE FROM forwards WHERE account_id = ? AND target = ?"))
                        .bind(id)
                        .bind(t.to_string())
                        .execute(&mut *conn)
                        .await?
                }
                None => {
                    sqlx::query(self.db.dialect.sql("DELETE FROM forwards WHERE account_id = ?"))
                        .bind(id)
                        .execute(&mut *conn)
                        .await?
                }
            };
            if done.rows_affected() == 0 {
                return Err(Error::UnknownForward(match &tgt {
                    Some(t) => format!("{acc} to {t}"),
                    None => acc.to_string(),
                }));
            }
            let detail = tgt.as_ref().map(|t| t.to_string()).unwrap_or_else(|| "*".into());
            record(conn, self, "forward.remove", &acc.to_string(), &detail).await
        })
    }

    /// Forwards of one account, or of every account.
    pub async fn list_forwards(&self, account: Option<&str>) -> Result<Vec<Forward>> {
        let base = "SELECT a.localpart, d.name, f.target, f.keep_copy FROM forwards f \
                    JOIN accounts a ON a.id = f.account_id JOIN domains d ON d.id = a.domain_id";
        let acc = account.map(Address::parse).transpose()?;
        let (d, l) = acc.map(|a| (a.domain, a.local)).unwrap_or_default();
        let q =
            format!("{base} WHERE (? = '' OR (d.name = ? AND a.localpart = ?)) ORDER BY d.name, a.localpart, f.target");
        let rows =
            sqlx::query(self.db.dialect.sql_owned(q)).bind(&d).bind(&d).bind(&l).fetch_all(&self.db.pool).await?;
        rows.iter()
            .map(|r| {
                let local: String = r.try_get(0)?;
                let domain: String = r.try_get(1)?;
                let keep: i64 = r.try_get(3)?;
                Ok(Forward { account: format!("{local}@{domain}"), target: r.try_get(2)?, keep_copy: keep != 0 })
            })
            .collect()
    }
}
