//! The directory: the one source of truth for domains, accounts, aliases,
//! forwards, mailing lists, greylisting state, preferences, islands, nodes and
//! the audit log, on SQLite, PostgreSQL or MySQL/MariaDB (Galera).
//!
//! Every other part asks it questions: the MX for every recipient
//! ([`Directory::resolve`]), the proxy for every login
//! ([`Directory::authenticate`]), the admin tools for every change. Every
//! change runs in one transaction together with its audit-log row.

mod accounts;
mod address;
mod aliases;
mod audit;
mod domains;
mod error;
mod forwards;
mod greylist;
mod import;
mod islands;
mod lists;
mod model;
mod nodes;
mod preferences;
mod resolve;
mod sql;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

pub use accounts::{AuthOutcome, NewAccount, PasswordInput};
pub use address::Address;
pub use audit::{ip_from_bytes, ip_to_bytes};
pub use error::{Error, Result};
pub use greylist::Triplet;
pub use import::ImportReport;
pub use model::*;
pub use resolve::{Destination, Resolution};
pub use sql::Dialect;

/// How the directory behaves; built from the `[directory]`, `[addressing]`
/// and `[passwords]` sections of the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub max_connections: u32,
    pub cache_ttl: Duration,
    pub cache_capacity: u64,
    pub subaddress_separators: String,
    pub max_alias_depth: u32,
    pub allow_plain_passwords: bool,
    pub rehash_on_login: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_connections: 8,
            cache_ttl: Duration::from_secs(30),
            cache_capacity: 100_000,
            subaddress_separators: "+".into(),
            max_alias_depth: 10,
            allow_plain_passwords: false,
            rehash_on_login: true,
        }
    }
}

/// A handle on the directory. Cheap to clone; clones share the pool and the
/// resolution cache.
#[derive(Clone)]
pub struct Directory {
    pub(crate) pool: AnyPool,
    pub(crate) dialect: Dialect,
    pub(crate) settings: Arc<Settings>,
    pub(crate) cache: resolve::Cache,
    /// Who is making changes, for the audit log ("cli:root", "web:alice@…").
    pub(crate) actor: Arc<str>,
    /// Transactions run again after a conflict with another writer.
    pub(crate) retries: Arc<std::sync::atomic::AtomicU64>,
}

impl Directory {
    /// Connects to the directory at `url` and brings its schema up to date.
    pub async fn open(url: &str, settings: Settings) -> Result<Directory> {
        let dir = Directory::connect(url, settings).await?;
        dir.migrate().await?;
        Ok(dir)
    }

    /// Connects without touching the schema.
    pub async fn connect(url: &str, settings: Settings) -> Result<Directory> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url).ok_or_else(|| {
            Error::Invalid(format!(
                "unsupported directory URL {:?} (expected sqlite://, postgres:// or mysql://)",
                redact(url)
            ))
        })?;
        let url = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => {
                format!("mysql://{rest}")
            }
            _ => url.to_string(),
        };
        if dialect == Dialect::Sqlite {
            create_sqlite_parent(&url)?;
        }
        let options = AnyConnectOptions::from_str(&url)?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    match dialect {
                        // WAL lets readers run beside the one writer; FULL
                        // makes a committed change survive a power cut.
                        Dialect::Sqlite => {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = FULL").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                        }
                        Dialect::Mysql => {
                            conn.execute("SET NAMES utf8mb4 COLLATE utf8mb4_bin").await?;
                            // On Galera, reads must see writes made through
                            // another node (causal reads); harmless elsewhere.
                            let _ = conn.execute("SET SESSION wsrep_sync_wait = 1").await;
                        }
                        Dialect::Postgres => {}
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let cache = resolve::Cache::new(&settings);
        Ok(Directory {
            pool,
            dialect,
            settings: Arc::new(settings),
            cache,
            actor: Arc::from("system"),
            retries: Arc::default(),
        })
    }

    /// Applies the migrations this binary carries that the database lacks.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.dialect {
            Dialect::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Dialect::Postgres => sqlx::migrate!("migrations/postgres"),
            Dialect::Mysql => sqlx::migrate!("migrations/mysql"),
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// The same directory, with changes recorded in the audit log as made by
    /// `actor`.
    pub fn as_actor(&self, actor: &str) -> Directory {
        Directory { actor: Arc::from(actor), ..self.clone() }
    }

    /// How many write transactions had to run again because another writer
    /// conflicted (on Galera: certification failures), since this handle
    /// was opened.
    pub fn conflict_retries(&self) -> u64 {
        self.retries.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Called after every committed change: this process's cached answers may
    /// be stale now. Other processes see the change when their entries expire.
    pub(crate) fn changed(&self) {
        self.cache.clear();
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
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

fn create_sqlite_parent(url: &str) -> Result<()> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::Invalid(format!("cannot create directory {}: {e}", parent.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(super::redact("postgres://atoll:s3cret@db/atoll"), "postgres://atoll:***@db/atoll");
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }
}
