//! The little that differs between SQLite, PostgreSQL and MySQL/MariaDB when
//! the same SQL is sent through sqlx's `Any` driver, shared by the directory
//! and the island stores (the only crates that hold SQL). Schema and queries
//! stay in those crates; this is plumbing: connecting with the right session
//! settings, placeholders, and write transactions that survive conflicts.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use sqlx::AssertSqlSafe;

pub mod group_commit;
mod tx;

pub use tx::Tx;

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

    /// `expr` as a 64-bit integer. SUM() over integers is DECIMAL on MySQL
    /// and NUMERIC on PostgreSQL, types the `Any` driver cannot decode.
    pub fn cast_int(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("CAST({expr} AS INTEGER)"),
            Dialect::Postgres => format!("CAST({expr} AS BIGINT)"),
            Dialect::Mysql => format!("CAST({expr} AS SIGNED)"),
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
pub async fn fetch_id<'q>(
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
            // MySQL/MariaDB report their error number apart from the
            // SQLSTATE: 1213 ER_LOCK_DEADLOCK (also a Galera certification
            // failure at COMMIT, SQLSTATE 40001) and 1205 lock wait timeout
            // (SQLSTATE HY000, which a Galera node also gives a transaction
            // that a replicated write aborted while it waited).
            // 1792 (a write outside a read-write transaction) and 1305 (no
            // such savepoint) are how a write transaction finds that Galera
            // aborted it without saying so (see `tx`).
            if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                return matches!(my.number(), 1213 | 1205 | 1792 | 1305);
            }
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            // 40001/40P01 PostgreSQL serialization and deadlock, 5/517/261
            // SQLite BUSY variants.
            matches!(code, "40001" | "40P01" | "5" | "261" | "517") || db.message().contains("database is locked")
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

/// A pool on one engine, and how many write transactions had to be run
/// again after a conflict with another writer.
#[derive(Clone)]
pub struct Db {
    pub pool: sqlx::AnyPool,
    pub dialect: Dialect,
    retries: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// SQLite's writer connection, with group commit (see
    /// [`group_commit`]); None on the engines that take concurrent
    /// writers, which write through the pool.
    writer: Option<std::sync::Arc<group_commit::Writer>>,
    /// The server is a node of a Galera cluster: write transactions check
    /// that their COMMIT really committed (see [`Tx`]).
    galera: bool,
}

impl Db {
    /// Connects with the session settings every engine needs here. A SQLite
    /// file's folder is created; `mariadb://` is read as `mysql://`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, sqlx::Error> {
        use std::str::FromStr;

        use sqlx::ConnectOptions;
        use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url).ok_or_else(|| {
            sqlx::Error::Configuration(
                format!("unsupported database URL {:?} (expected sqlite://, postgres:// or mysql://)", redact(url))
                    .into(),
            )
        })?;
        let url = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => format!("mysql://{rest}"),
            _ => url.to_string(),
        };
        if dialect == Dialect::Sqlite {
            create_sqlite_parent(&url)?;
        }
        let options = AnyConnectOptions::from_str(&url)?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| Box::pin(prepare_connection(conn, dialect)))
            .connect_with(options.clone())
            .await?;
        let writer = (dialect == Dialect::Sqlite)
            .then(|| std::sync::Arc::new(group_commit::Writer::new(options, sqlite_file(&url).map(PathBuf::from))));
        // MariaDB has @@wsrep_on (ON in a Galera cluster); MySQL has no such
        // variable and answers with an error: not Galera either.
        let galera = dialect == Dialect::Mysql
            && sqlx::query_scalar::<_, i64>("SELECT CAST(@@wsrep_on AS SIGNED)")
                .fetch_one(&pool)
                .await
                .is_ok_and(|on| on == 1);
        Ok(Db { pool, dialect, retries: Default::default(), writer, galera })
    }

    /// See [`Dialect::sql`].
    pub fn sql(&self, query: &'static str) -> AssertSqlSafe<Cow<'static, str>> {
        self.dialect.sql(query)
    }

    /// See [`Dialect::sql_owned`].
    pub fn sql_owned(&self, query: String) -> AssertSqlSafe<Cow<'static, str>> {
        self.dialect.sql_owned(query)
    }

    /// Write transactions run again after a conflict, since connecting.
    pub fn conflict_retries(&self) -> u64 {
        self.retries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// SQLite's writer (see [`group_commit`]), which `write_tx!` uses.
    #[doc(hidden)]
    pub fn writer(&self) -> Option<&group_commit::Writer> {
        self.writer.as_deref()
    }

    #[doc(hidden)]
    pub fn note_retry(&self) {
        self.retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The session settings every connection of `dialect` needs.
pub(crate) async fn prepare_connection(conn: &mut sqlx::AnyConnection, dialect: Dialect) -> Result<(), sqlx::Error> {
    use sqlx::Executor;
    match dialect {
        // WAL lets readers run beside the one writer; FULL makes a
        // committed change survive a power cut.
        Dialect::Sqlite => {
            conn.execute("PRAGMA journal_mode = WAL").await?;
            conn.execute("PRAGMA synchronous = FULL").await?;
            conn.execute("PRAGMA foreign_keys = ON").await?;
            conn.execute("PRAGMA busy_timeout = 10000").await?;
            // Read the database file through a memory map rather than
            // read() into SQLite's own cache: under the IMAP benchmark the
            // copying out of the page cache alone took a tenth of the
            // server's CPU. 256 MiB of address space per connection, shared
            // pages, nothing reserved.
            conn.execute("PRAGMA mmap_size = 268435456").await?;
        }
        Dialect::Mysql => {
            conn.execute("SET NAMES utf8mb4 COLLATE utf8mb4_bin").await?;
            // On Galera, reads must see writes made through another node
            // (causal reads); harmless elsewhere.
            let _ = conn.execute("SET SESSION wsrep_sync_wait = 1").await;
        }
        Dialect::Postgres => {}
    }
    Ok(())
}

/// Hides the password in a database URL before it reaches a message.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((creds, host)) = rest.rsplit_once('@')
        && let Some((user, _)) = creds.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

/// The file of a SQLite URL; None for an in-memory database.
fn sqlite_file(url: &str) -> Option<&str> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or("");
    (!path.is_empty() && path != ":memory:").then_some(path)
}

fn create_sqlite_parent(url: &str) -> Result<(), sqlx::Error> {
    let Some(path) = sqlite_file(url) else { return Ok(()) };
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            sqlx::Error::Configuration(format!("cannot create directory {}: {e}", parent.display()).into())
        })?;
    }
    Ok(())
}

/// Errors a write transaction's body returns: they must carry sqlx errors and
/// say whether running the transaction again may succeed.
pub trait TxError: From<sqlx::Error> {
    fn is_retryable(&self) -> bool;
}

/// Runs `$body` in a write transaction on `$db` (a [`Db`]) with
/// `$conn: &mut AnyConnection`, running it again when the engine reports a
/// conflict another writer caused, and committing on success. `$body`
/// returns `Result<T, $err>`; an error rolls back. On SQLite the body runs
/// on the writer connection and its COMMIT may be shared with the writers
/// queued behind it ([`group_commit`]); either way the macro returns only
/// after the COMMIT that holds the body's work.
///
/// `write_tx!(relaxed db, Err, |conn| { ... })` asks for a relaxed commit on
/// SQLite: it does not wait for the log to be synced, so a power cut (not a
/// crash of the process) may lose it. For changes a client can live without after a power cut
/// (flags, expunges); never for a message a client was told is stored.
#[macro_export]
macro_rules! write_tx {
    (@tx $durable:expr, $db:expr, $err:ty, |$conn:ident| $body:block) => {{
        let db: &$crate::Db = &$db;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if let Some(writer) = db.writer() {
                let mut turn = writer.turn().await;
                let result: Result<_, $err> = match turn.begin().await {
                    Ok(c) => {
                        async {
                            let $conn: &mut sqlx::AnyConnection = c;
                            $body
                        }
                        .await
                    }
                    Err(e) => Err(<$err>::from(e)),
                };
                let batch = turn.finish(result.is_ok()).await;
                let result = match (result, batch) {
                    (Ok(value), Ok(Some(batch))) => match writer.commit(batch).await {
                        Ok(()) if !$durable => Ok(value),
                        Ok(()) => match writer.sync(batch).await {
                            Ok(()) => Ok(value),
                            // Committed, but not known to be on disk: the
                            // caller must not say it is stored.
                            Err(e) => Err(<$err>::from(sqlx::Error::Io(e))),
                        },
                        Err(e) if e.retryable && attempt < 10 => {
                            db.note_retry();
                            tokio::time::sleep($crate::backoff(attempt)).await;
                            continue;
                        }
                        Err(e) => Err(<$err>::from(e.error)),
                    },
                    (Ok(_), Ok(None)) => Err(<$err>::from(sqlx::Error::PoolClosed)),
                    (Ok(_), Err(e)) if $crate::retryable(&e) && attempt < 10 => {
                        db.note_retry();
                        tokio::time::sleep($crate::backoff(attempt)).await;
                        continue;
                    }
                    (Ok(_), Err(e)) => Err(<$err>::from(e)),
                    (Err(e), _) if $crate::TxError::is_retryable(&e) && attempt < 10 => {
                        db.note_retry();
                        tokio::time::sleep($crate::backoff(attempt)).await;
                        continue;
                    }
                    (Err(e), _) => Err(e),
                };
                break result;
            }
            let mut tx = match $crate::Tx::begin(db).await {
                Ok(tx) => tx,
                Err(e) if $crate::retryable(&e) && attempt < 10 => {
                    db.note_retry();
                    tokio::time::sleep($crate::backoff(attempt)).await;
                    continue;
                }
                Err(e) => break Err(<$err>::from(e)),
            };
            let result: Result<_, $err> = async {
                let $conn: &mut sqlx::AnyConnection = tx.conn();
                $body
            }
            .await;
            match result {
                Ok(value) => match tx.commit().await {
                    Ok(()) => break Ok(value),
                    Err(e) if e.retryable && attempt < 10 => {
                        db.note_retry();
                        tokio::time::sleep($crate::backoff(attempt)).await;
                    }
                    Err(e) => break Err(<$err>::from(e.error)),
                },
                // Roll back now: a dropped transaction only queues its
                // ROLLBACK until the pooled connection is used again, and
                // until then the server keeps its locks (even a DELETE that
                // matched nothing holds gap locks), stalling other writers.
                Err(e) if $crate::TxError::is_retryable(&e) && attempt < 10 => {
                    db.note_retry();
                    tx.rollback().await;
                    tokio::time::sleep($crate::backoff(attempt)).await;
                }
                Err(e) => {
                    tx.rollback().await;
                    break Err(e);
                }
            }
        }
    }};
    (relaxed $db:expr, $err:ty, |$conn:ident| $body:block) => {
        $crate::write_tx!(@tx false, $db, $err, |$conn| $body)
    };
    ($db:expr, $err:ty, |$conn:ident| $body:block) => {
        $crate::write_tx!(@tx true, $db, $err, |$conn| $body)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://atoll:s3cret@db/atoll"), "postgres://atoll:***@db/atoll");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }

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
    fn integer_casts() {
        assert_eq!(Dialect::Mysql.cast_int("SUM(x)"), "CAST(SUM(x) AS SIGNED)");
        assert_eq!(Dialect::Postgres.cast_int("SUM(x)"), "CAST(SUM(x) AS BIGINT)");
    }

    #[test]
    fn dialect_from_url() {
        assert_eq!(Dialect::of_url("sqlite://x.db"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::of_url("postgresql://h/db"), Some(Dialect::Postgres));
        assert_eq!(Dialect::of_url("mariadb://h/db"), Some(Dialect::Mysql));
        assert_eq!(Dialect::of_url("ldap://h"), None);
    }
}
