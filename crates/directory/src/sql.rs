//! The little that differs between SQLite, PostgreSQL and MySQL/MariaDB when
//! the same SQL is sent through sqlx's `Any` driver.

use std::borrow::Cow;
use std::time::Duration;

use sqlx::AssertSqlSafe;

/// Which engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Sqlite,
    Postgres,
    Mysql,
}

impl Dialect {
    pub fn of_url(url: &str) -> Option<Dialect> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Dialect::Sqlite),
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::Mysql),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }

    /// Queries are written once with `?` placeholders; PostgreSQL wants
    /// `$1, $2, …` and the `Any` driver passes SQL through unchanged.
    pub fn sql(self, query: &'static str) -> AssertSqlSafe<Cow<'static, str>> {
        match self {
            Dialect::Postgres => AssertSqlSafe(Cow::Owned(numbered_placeholders(query))),
            _ => AssertSqlSafe(Cow::Borrowed(query)),
        }
    }

    /// Same as [`Dialect::sql`] for a query assembled at run time (a
    /// multi-row INSERT). Only ever called with text built from constants.
    pub fn sql_owned(self, query: String) -> AssertSqlSafe<Cow<'static, str>> {
        match self {
            Dialect::Postgres => AssertSqlSafe(Cow::Owned(numbered_placeholders(&query))),
            _ => AssertSqlSafe(Cow::Owned(query)),
        }
    }

    /// How a write transaction starts. SQLite must take the write lock at
    /// BEGIN: a deferred transaction that reads and then writes can fail
    /// with SQLITE_BUSY without waiting when another writer got there first.
    pub fn begin_write(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            _ => "BEGIN",
        }
    }
}

/// Rewrites `?` to `$n`, leaving string literals and quoted names alone.
fn numbered_placeholders(query: &str) -> String {
    let mut out = String::with_capacity(query.len() + 16);
    let mut n = 0;
    let mut quote: Option<char> = None;
    for c in query.chars() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    out.push(c);
                }
                '?' => {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                }
                _ => out.push(c),
            },
        }
    }
    out
}

/// Runs a query whose first column is an id; None when no row matched.
pub(crate) async fn fetch_id<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    conn: &mut sqlx::AnyConnection,
) -> Result<Option<i64>, sqlx::Error> {
    use sqlx::Row;
    match query.fetch_optional(conn).await? {
        Some(row) => Ok(Some(row.try_get(0)?)),
        None => Ok(None),
    }
}

/// Errors after which the same transaction may succeed if run again.
pub fn retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            // 1213 ER_LOCK_DEADLOCK (Galera certification failure at COMMIT),
            // 1205 lock wait timeout, 40001/40P01 PostgreSQL serialization and
            // deadlock, 5/517/261 SQLite BUSY variants.
            matches!(code, "1213" | "1205" | "40001" | "40P01" | "5" | "261" | "517")
                || db.message().contains("database is locked")
                || db.message().contains("Deadlock found")
        }
        sqlx::Error::PoolTimedOut => true,
        _ => false,
    }
}

/// A unique constraint refused the row.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() || matches!(db.code().as_deref(), Some("23505" | "1062" | "2067" | "1555"))
        }
        _ => false,
    }
}

/// Wait before retrying attempt `n` (1-based); short and jittered so that two
/// writers that collided do not collide again in lockstep.
pub fn backoff(n: u32) -> Duration {
    let base = 5u64 << n.min(6);
    let jitter = (std::process::id() as u64 ^ nanos()) % base.max(1);
    Duration::from_millis(base + jitter)
}

fn nanos() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos() as u64).unwrap_or(0)
}

/// Seconds since the epoch: the only time format the schema uses.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Runs `$body` in a write transaction with `$conn: &mut AnyConnection`,
/// running it again when the engine reports a conflict, and committing on
/// success. `$body` returns `Result<T>`; an error rolls back.
macro_rules! write_tx {
    ($dir:expr, |$conn:ident| $body:block) => {{
        let dir = &$dir;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut tx = dir.pool.begin_with(dir.dialect.begin_write()).await?;
            let result: $crate::Result<_> = async {
                let $conn: &mut sqlx::AnyConnection = &mut *tx;
                $body
            }
            .await;
            match result {
                Ok(value) => match tx.commit().await {
                    Ok(()) => {
                        dir.changed();
                        break Ok(value);
                    }
                    Err(e) if $crate::sql::retryable(&e) && attempt < 10 => {
                        dir.retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tokio::time::sleep($crate::sql::backoff(attempt)).await;
                    }
                    Err(e) => break Err($crate::Error::from(e)),
                },
                Err(e) if e.is_retryable() && attempt < 10 => {
                    dir.retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    drop(tx);
                    tokio::time::sleep($crate::sql::backoff(attempt)).await;
                }
                Err(e) => break Err(e),
            }
        }
    }};
}
pub(crate) use write_tx;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(
            numbered_placeholders("SELECT '?' , a FROM t WHERE b = ? AND c IN (?, ?, '')"),
            "SELECT '?' , a FROM t WHERE b = $1 AND c IN ($2, $3, '')"
        );
        assert_eq!(Dialect::Sqlite.sql("a = ?").0, "a = ?");
        assert_eq!(Dialect::Postgres.sql("a = ? and b = ?").0, "a = $1 and b = $2");
    }

    #[test]
    fn dialect_from_url() {
        assert_eq!(Dialect::of_url("sqlite://x.db"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::of_url("postgresql://h/db"), Some(Dialect::Postgres));
        assert_eq!(Dialect::of_url("mariadb://h/db"), Some(Dialect::Mysql));
        assert_eq!(Dialect::of_url("ldap://h"), None);
    }
}
