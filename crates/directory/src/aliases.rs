//! Aliases: an address that delivers to one or more other addresses, local
//! or external. `@domain` is the domain's catch-all.

use sqlx::Row;

use crate::address::{Address, domain_filter};
use crate::audit::record;
use crate::domains::{address_user, domain_id};
use crate::resolve::check_no_loop;
use crate::sql::{is_unique_violation, now, write_tx};
use crate::{Alias, Directory, Error, Result};

fn show(addr: &Address) -> String {
    if addr.is_catch_all() { format!("@{}", addr.domain) } else { addr.to_string() }
}

impl Directory {
    /// Adds `target` to the alias `source` (creating it). Refused when the
    /// address belongs to an account or list, or when it would make a loop.
    pub async fn add_alias(&self, source: &str, target: &str) -> Result<()> {
        let src = Address::parse_alias_source(source)?;
        let tgt = Address::parse(target)?;
        let name = show(&src);
        write_tx!(self, |conn| {
            let did = domain_id(conn, self, &src.domain).await?;
            if !src.is_catch_all()
                && let Some(what) = address_user(conn, self, did, &src.local).await?
                && what != "an alias"
            {
                return Err(Error::AddressTaken(name.clone(), what));
            }
            let inserted = sqlx::query(
                self.db
                    .dialect
                    .sql("INSERT INTO aliases (domain_id, localpart, target, created_at) VALUES (?, ?, ?, ?)"),
            )
            .bind(did)
            .bind(&src.local)
            .bind(tgt.to_string())
            .bind(now())
            .execute(&mut *conn)
            .await;
            match inserted {
                Err(e) if is_unique_violation(&e) => return Err(Error::Duplicate(format!("alias {name} -> {tgt}"))),
                other => other?,
            };
            if !src.is_catch_all() {
                check_no_loop(conn, self, &src).await?;
            }
            record(conn, self, "alias.add", &name, &tgt.to_string()).await
        })
    }

    /// Removes one target of an alias, or the whole alias when `target` is None.
    pub async fn remove_alias(&self, source: &str, target: Option<&str>) -> Result<()> {
        let src = Address::parse_alias_source(source)?;
        let tgt = target.map(Address::parse).transpose()?;
        let name = show(&src);
        write_tx!(self, |conn| {
            let did = domain_id(conn, self, &src.domain).await?;
            let done = match &tgt {
                Some(t) => {
                    sqlx::query(
                        self.db.dialect.sql("DELETE FROM aliases WHERE domain_id = ? AND localpart = ? AND target = ?"),
                    )
                    .bind(did)
                    .bind(&src.local)
                    .bind(t.to_string())
                    .execute(&mut *conn)
                    .await?
                }
                None => {
                    sqlx::query(self.db.dialect.sql("DELETE FROM aliases WHERE domain_id = ? AND localpart = ?"))
                        .bind(did)
                        .bind(&src.local)
                        .execute(&mut *conn)
                        .await?
                }
            };
            if done.rows_affected() == 0 {
                return Err(Error::UnknownAlias(match &tgt {
                    Some(t) => format!("{name} -> {t}"),
                    None => name.clone(),
                }));
            }
            let detail = tgt.as_ref().map(|t| t.to_string()).unwrap_or_else(|| "*".into());
            record(conn, self, "alias.remove", &name, &detail).await
        })
    }

    /// Aliases with their targets, one row per target, of one domain or all.
    pub async fn list_aliases(&self, domain: Option<&str>) -> Result<Vec<Alias>> {
        let base = "SELECT al.localpart, d.name, al.target FROM aliases al JOIN domains d ON d.id = al.domain_id";
        let d = domain_filter(domain)?;
        let q = format!("{base} WHERE (? = '' OR d.name = ?) ORDER BY d.name, al.localpart, al.target");
        let rows = sqlx::query(self.db.dialect.sql_owned(q)).bind(&d).bind(&d).fetch_all(&self.db.pool).await?;
        rows.iter()
            .map(|r| {
                let local: String = r.try_get(0)?;
                let domain: String = r.try_get(1)?;
                let address = if local.is_empty() { format!("@{domain}") } else { format!("{local}@{domain}") };
                Ok(Alias { address, target: r.try_get(2)? })
            })
            .collect()
    }
}
