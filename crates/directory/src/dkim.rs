//! DKIM signing keys per domain (RFC 6376 §3.6): kept in the directory so
//! that every node that signs finds them without key files to copy around.
//! A domain may hold several selectors (a key rollover publishes the new
//! one in DNS before it signs); the newest key signs.

use sqlx::Row;

use crate::address::normalise_domain;
use crate::audit::record;
use crate::domains::domain_id;
use crate::sql::{is_unique_violation, now, write_tx};
use crate::{Directory, Error, Result};

/// A domain's signing key.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct DkimKey {
    pub domain: String,
    pub selector: String,
    /// `rsa-sha256` or `ed25519-sha256` (RFC 6376 §3.3, RFC 8463).
    pub algorithm: String,
    /// PKCS#8 DER, base64.
    #[serde(skip)]
    pub private_key: String,
    pub created_at: i64,
}

impl std::fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself, not even in a log line or a test failure.
        f.debug_struct("DkimKey")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

/// RFC 6376 §3.1: a selector is dot-separated sub-domain labels.
fn valid_selector(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !l.starts_with('-'))
}

impl Directory {
    /// Stores a new key for `domain` under `selector`; it signs from now on.
    pub async fn add_dkim_key(&self, domain: &str, selector: &str, algorithm: &str, private_key: &str) -> Result<()> {
        let domain = normalise_domain(domain).map_err(|why| Error::InvalidName(domain.to_string(), why))?;
        let selector = selector.to_ascii_lowercase();
        if !valid_selector(&selector) {
            return Err(Error::InvalidName(selector, "a selector is letters, digits, '-' and dots"));
        }
        if !["rsa-sha256", "ed25519-sha256"].contains(&algorithm) {
            return Err(Error::Invalid(format!("unknown DKIM algorithm {algorithm}")));
        }
        write_tx!(self, |conn| {
            let id = domain_id(conn, self, &domain).await?;
            let inserted = sqlx::query(self.db.dialect.sql(
                "INSERT INTO dkim_keys (domain_id, selector, algorithm, private_key, created_at) VALUES (?, ?, ?, ?, ?)",
            ))
            .bind(id)
            .bind(&selector)
            .bind(algorithm)
            .bind(private_key)
            .bind(now())
            .execute(&mut *conn)
            .await;
            match inserted {
                Err(e) if is_unique_violation(&e) => {
                    return Err(Error::Duplicate(format!("DKIM selector {selector} of {domain}")));
                }
                other => other?,
            };
            record(conn, self, "dkim.add", &domain, &format!("selector={selector} algorithm={algorithm}")).await
        })
    }

    /// Removes a key; mail is signed with the next newest, if any.
    pub async fn remove_dkim_key(&self, domain: &str, selector: &str) -> Result<()> {
        let domain = normalise_domain(domain).map_err(|why| Error::InvalidName(domain.to_string(), why))?;
        let selector = selector.to_ascii_lowercase();
        write_tx!(self, |conn| {
            let id = domain_id(conn, self, &domain).await?;
            let gone = sqlx::query(self.db.dialect.sql("DELETE FROM dkim_keys WHERE domain_id = ? AND selector = ?"))
                .bind(id)
                .bind(&selector)
                .execute(&mut *conn)
                .await?;
            if gone.rows_affected() == 0 {
                return Err(Error::Invalid(format!("{domain} has no DKIM selector {selector}")));
            }
            record(conn, self, "dkim.remove", &domain, &format!("selector={selector}")).await
        })
    }

    /// A domain's keys, newest first; all domains' when `domain` is None.
    pub async fn dkim_keys(&self, domain: Option<&str>) -> Result<Vec<DkimKey>> {
        let domain = match domain {
            Some(d) => Some(normalise_domain(d).map_err(|why| Error::InvalidName(d.to_string(), why))?),
            None => None,
        };
        let sql = "SELECT d.name, k.selector, k.algorithm, k.private_key, k.created_at \
                   FROM dkim_keys k JOIN domains d ON d.id = k.domain_id \
                   WHERE (? = '' OR d.name = ?) ORDER BY d.name, k.created_at DESC, k.id DESC";
        let wanted = domain.unwrap_or_default();
        let rows = sqlx::query(self.db.dialect.sql(sql)).bind(&wanted).bind(&wanted).fetch_all(&self.db.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(DkimKey {
                    domain: r.try_get(0)?,
                    selector: r.try_get(1)?,
                    algorithm: r.try_get(2)?,
                    private_key: r.try_get(3)?,
                    created_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// The key that signs `domain`'s mail: its newest.
    pub async fn signing_key(&self, domain: &str) -> Result<Option<DkimKey>> {
        Ok(self.dkim_keys(Some(domain)).await?.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::valid_selector;

    #[test]
    fn selectors() {
        assert!(valid_selector("atoll2026"));
        assert!(valid_selector("mail.eu-1"));
        assert!(!valid_selector(""));
        assert!(!valid_selector("a..b"));
        assert!(!valid_selector("bad selector"));
        assert!(!valid_selector("-x"));
    }
}
