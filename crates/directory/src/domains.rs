//! Domains the platform receives mail for.

use sqlx::{AnyConnection, Row};

use crate::address::normalise_domain;
use crate::audit::record;
use crate::sql::{fetch_id, is_unique_violation, now, write_tx};
use crate::{Directory, DomainInfo, Error, Result};

/// The id of a domain, inside a transaction.
pub(crate) async fn domain_id(conn: &mut AnyConnection, dir: &Directory, name: &str) -> Result<i64> {
    let q = sqlx::query(dir.db.dialect.sql("SELECT id FROM domains WHERE name = ?")).bind(name);
    fetch_id(q, conn).await?.ok_or_else(|| Error::UnknownDomain(name.to_string()))
}

/// What already uses `local@domain`, if anything: accounts, aliases and
/// lists share one address space.
pub(crate) async fn address_user(
    conn: &mut AnyConnection,
    dir: &Directory,
    domain_id: i64,
    local: &str,
) -> Result<Option<&'static str>> {
    let row = sqlx::query(dir.db.dialect.sql(
        "SELECT 'account' FROM accounts WHERE domain_id = ? AND localpart = ? \
         UNION ALL SELECT 'alias' FROM aliases WHERE domain_id = ? AND localpart = ? \
         UNION ALL SELECT 'mailing list' FROM lists WHERE domain_id = ? AND localpart = ?",
    ))
    .bind(domain_id)
    .bind(local)
    .bind(domain_id)
    .bind(local)
    .bind(domain_id)
    .bind(local)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        None => None,
        Some(r) => match r.try_get::<String, _>(0)?.as_str() {
            "account" => Some("an account"),
            "alias" => Some("an alias"),
            _ => Some("a mailing list"),
        },
    })
}

impl Directory {
    pub async fn add_domain(&self, name: &str) -> Result<()> {
        let name = normalise_domain(name).map_err(|why| Error::InvalidName(name.to_string(), why))?;
        write_tx!(self, |conn| {
            let inserted = sqlx::query(self.db.dialect.sql("INSERT INTO domains (name, created_at) VALUES (?, ?)"))
                .bind(&name)
                .bind(now())
                .execute(&mut *conn)
                .await;
            match inserted {
                Err(e) if is_unique_violation(&e) => return Err(Error::DomainExists(name.clone())),
                other => other?,
            };
            record(conn, self, "domain.add", &name, "").await
        })
    }

    pub async fn list_domains(&self) -> Result<Vec<DomainInfo>> {
        let rows = sqlx::query(self.db.dialect.sql(
            "SELECT d.name, d.created_at, \
               (SELECT COUNT(*) FROM accounts a WHERE a.domain_id = d.id), \
               (SELECT COUNT(DISTINCT localpart) FROM aliases al WHERE al.domain_id = d.id), \
               (SELECT COUNT(*) FROM lists l WHERE l.domain_id = d.id) \
             FROM domains d ORDER BY d.name",
        ))
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DomainInfo {
                    name: r.try_get(0)?,
                    created_at: r.try_get(1)?,
                    accounts: r.try_get(2)?,
                    aliases: r.try_get(3)?,
                    lists: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Removes an empty domain. A domain that still has accounts, aliases or
    /// lists is refused: removing mail addresses by accident is not undoable.
    pub async fn remove_domain(&self, name: &str) -> Result<()> {
        let name = normalise_domain(name).map_err(|why| Error::InvalidName(name.to_string(), why))?;
        write_tx!(self, |conn| {
            let id = domain_id(conn, self, &name).await?;
            let r = sqlx::query(self.db.dialect.sql(
                "SELECT (SELECT COUNT(*) FROM accounts WHERE domain_id = ?), \
                        (SELECT COUNT(*) FROM aliases WHERE domain_id = ?), \
                        (SELECT COUNT(*) FROM lists WHERE domain_id = ?)",
            ))
            .bind(id)
            .bind(id)
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
            let (accounts, aliases, lists): (i64, i64, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            if accounts + aliases + lists > 0 {
                return Err(Error::DomainNotEmpty { name: name.clone(), accounts, aliases, lists });
            }
            sqlx::query(self.db.dialect.sql("DELETE FROM domains WHERE id = ?")).bind(id).execute(&mut *conn).await?;
            record(conn, self, "domain.remove", &name, "").await
        })
    }
}
