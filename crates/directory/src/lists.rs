//! Mailing lists and their members.

use sqlx::{AnyConnection, Row};

use crate::address::{Address, domain_filter};
use crate::audit::record;
use crate::domains::{address_user, domain_id};
use crate::model::policy;
use crate::sql::{fetch_id, is_unique_violation, now, write_tx};
use crate::{Directory, Error, MailingList, Member, Result};

pub(crate) async fn list_id(conn: &mut AnyConnection, dir: &Directory, addr: &Address) -> Result<i64> {
    let q = sqlx::query(
        dir.db
            .dialect
            .sql("SELECT l.id FROM lists l JOIN domains d ON d.id = l.domain_id WHERE d.name = ? AND l.localpart = ?"),
    )
    .bind(&addr.domain)
    .bind(&addr.local);
    fetch_id(q, conn).await?.ok_or_else(|| Error::UnknownList(addr.to_string()))
}

impl Directory {
    /// Creates a list. `posting` is who may post: members, anyone or moderated.
    pub async fn create_list(&self, address: &str, posting: &str, description: &str) -> Result<()> {
        let addr = Address::parse(address)?;
        if !policy::ALL.contains(&posting) {
            return Err(Error::Invalid(format!("posting policy must be one of {}", policy::ALL.join(", "))));
        }
        write_tx!(self, |conn| {
            let did = domain_id(conn, self, &addr.domain).await?;
            if let Some(what) = address_user(conn, self, did, &addr.local).await? {
                return Err(Error::AddressTaken(addr.to_string(), what));
            }
            let inserted = sqlx::query(self.db.dialect.sql(
                "INSERT INTO lists (domain_id, localpart, policy, description, created_at) VALUES (?, ?, ?, ?, ?)",
            ))
            .bind(did)
            .bind(&addr.local)
            .bind(posting)
            .bind(description)
            .bind(now())
            .execute(&mut *conn)
            .await;
            match inserted {
                Err(e) if is_unique_violation(&e) => {
                    return Err(Error::AddressTaken(addr.to_string(), "a mailing list"));
                }
                other => other?,
            };
            record(conn, self, "list.create", &addr.to_string(), posting).await
        })
    }

    pub async fn remove_list(&self, address: &str) -> Result<()> {
        let addr = Address::parse(address)?;
        write_tx!(self, |conn| {
            let id = list_id(conn, self, &addr).await?;
            for child in ["DELETE FROM list_members WHERE list_id = ?", "DELETE FROM list_moderators WHERE list_id = ?"]
            {
                sqlx::query(self.db.dialect.sql(child)).bind(id).execute(&mut *conn).await?;
            }
            sqlx::query(self.db.dialect.sql("DELETE FROM lists WHERE id = ?")).bind(id).execute(&mut *conn).await?;
            record(conn, self, "list.remove", &addr.to_string(), "").await
        })
    }

    pub async fn subscribe(&self, list: &str, member: &str, digest: bool) -> Result<()> {
        let l = Address::parse(list)?;
        let m = Address::parse(member)?;
        write_tx!(self, |conn| {
            let id = list_id(conn, self, &l).await?;
            let inserted = sqlx::query(
                self.db
                    .dialect
                    .sql("INSERT INTO list_members (list_id, address, digest, created_at) VALUES (?, ?, ?, ?)"),
            )
            .bind(id)
            .bind(m.to_string())
            .bind(digest as i64)
            .bind(now())
            .execute(&mut *conn)
            .await;
            match inserted {
                Err(e) if is_unique_violation(&e) => return Err(Error::AlreadyMember(m.to_string(), l.to_string())),
                other => other?,
            };
            record(conn, self, "list.subscribe", &l.to_string(), &m.to_string()).await
        })
    }

    pub async fn unsubscribe(&self, list: &str, member: &str) -> Result<()> {
        let l = Address::parse(list)?;
        let m = Address::parse(member)?;
        write_tx!(self, |conn| {
            let id = list_id(conn, self, &l).await?;
            let done = sqlx::query(self.db.dialect.sql("DELETE FROM list_members WHERE list_id = ? AND address = ?"))
                .bind(id)
                .bind(m.to_string())
                .execute(&mut *conn)
                .await?;
            if done.rows_affected() == 0 {
                return Err(Error::NotAMember(m.to_string(), l.to_string()));
            }
            record(conn, self, "list.unsubscribe", &l.to_string(), &m.to_string()).await
        })
    }

    /// Whether `address` is a member of `list` (the MX's check for lists
    /// that take posts from members only). An address that does not parse
    /// is nobody's member.
    pub async fn is_list_member(&self, list_id: i64, address: &str) -> Result<bool> {
        let Ok(m) = Address::parse(address) else { return Ok(false) };
        let row = sqlx::query(self.db.dialect.sql("SELECT 1 FROM list_members WHERE list_id = ? AND address = ?"))
            .bind(list_id)
            .bind(m.to_string())
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.is_some())
    }

    pub async fn list_members(&self, list: &str) -> Result<Vec<Member>> {
        let l = Address::parse(list)?;
        let mut conn = self.db.pool.acquire().await?;
        let id = list_id(&mut conn, self, &l).await?;
        let rows = sqlx::query(
            self.db.dialect.sql("SELECT address, digest FROM list_members WHERE list_id = ? ORDER BY address"),
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                let digest: i64 = r.try_get(1)?;
                Ok(Member { address: r.try_get(0)?, digest: digest != 0 })
            })
            .collect()
    }

    pub async fn list_lists(&self, domain: Option<&str>) -> Result<Vec<MailingList>> {
        let base = "SELECT l.id, l.localpart, d.name, l.policy, l.description, \
                    (SELECT COUNT(*) FROM list_members m WHERE m.list_id = l.id) \
                    FROM lists l JOIN domains d ON d.id = l.domain_id";
        let d = domain_filter(domain)?;
        let q = format!("{base} WHERE (? = '' OR d.name = ?) ORDER BY d.name, l.localpart");
        let rows = sqlx::query(self.db.dialect.sql_owned(q)).bind(&d).bind(&d).fetch_all(&self.db.pool).await?;
        rows.iter()
            .map(|r| {
                let local: String = r.try_get(1)?;
                let domain: String = r.try_get(2)?;
                Ok(MailingList {
                    id: r.try_get(0)?,
                    address: format!("{local}@{domain}"),
                    policy: r.try_get(3)?,
                    description: r.try_get(4)?,
                    members: r.try_get(5)?,
                })
            })
            .collect()
    }
}
