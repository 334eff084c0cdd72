//! The audit log: one row per change, written in the change's transaction so
//! the log and the data never disagree.

use std::net::IpAddr;

use sqlx::{AnyConnection, Row};

use crate::sql::now;
use crate::{AuditEntry, Directory, Result};

pub(crate) async fn record(
    conn: &mut AnyConnection,
    dir: &Directory,
    action: &str,
    object: &str,
    detail: &str,
) -> Result<()> {
    sqlx::query(
        dir.db
            .dialect
            .sql("INSERT INTO audit_log (at, actor, client_ip, action, object, detail) VALUES (?, ?, ?, ?, ?, ?)"),
    )
    .bind(now())
    .bind(dir.actor.to_string())
    .bind(None::<Vec<u8>>)
    .bind(action)
    .bind(object)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// IP addresses are kept as 4 or 16 bytes, not as text.
pub fn ip_to_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

pub fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
        _ => None,
    }
}

impl Directory {
    /// The newest `limit` entries, newest first; only those about `object`
    /// when given.
    pub async fn audit_log(&self, object: Option<&str>, limit: i64) -> Result<Vec<AuditEntry>> {
        let q = match object {
            Some(_) => {
                "SELECT id, at, actor, client_ip, action, object, detail FROM audit_log WHERE object = ? ORDER BY id DESC LIMIT ?"
            }
            None => "SELECT id, at, actor, client_ip, action, object, detail FROM audit_log ORDER BY id DESC LIMIT ?",
        };
        let mut query = sqlx::query(self.db.dialect.sql(q));
        if let Some(o) = object {
            query = query.bind(o.to_string());
        }
        let rows = query.bind(limit).fetch_all(&self.db.pool).await?;
        rows.iter()
            .map(|r| {
                let ip: Option<Vec<u8>> = r.try_get(3)?;
                Ok(AuditEntry {
                    id: r.try_get(0)?,
                    at: r.try_get(1)?,
                    actor: r.try_get(2)?,
                    client_ip: ip.as_deref().and_then(ip_from_bytes).map(|ip| ip.to_string()),
                    action: r.try_get(4)?,
                    object: r.try_get(5)?,
                    detail: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// Counts audit rows by action, for consistency checks.
    pub async fn audit_count(&self, action: &str) -> Result<i64> {
        let row = sqlx::query(self.db.dialect.sql("SELECT COUNT(*) FROM audit_log WHERE action = ?"))
            .bind(action)
            .fetch_one(&self.db.pool)
            .await?;
        Ok(row.try_get(0)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_round_trip() {
        for ip in ["192.0.2.7", "2001:db8::1"] {
            let ip: IpAddr = ip.parse().unwrap();
            let b = ip_to_bytes(ip);
            assert!(b.len() == 4 || b.len() == 16);
            assert_eq!(ip_from_bytes(&b), Some(ip));
        }
        assert_eq!(ip_from_bytes(&[1, 2, 3]), None);
    }
}
