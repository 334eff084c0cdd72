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
mod dkim;
mod domains;
mod error;
mod forwards;
mod greylist;
mod import;
mod islands;
mod lists;
mod model;
mod moderators;
mod nodes;
mod preferences;
mod resolve;
mod sql;

use std::sync::Arc;
use std::time::Duration;

pub use accounts::{AuthOutcome, NewAccount, PasswordInput};
pub use address::Address;
pub use atoll_sql::{Dialect, redact};
pub use audit::{ip_from_bytes, ip_to_bytes};
pub use dkim::DkimKey;
pub use error::{Error, Result};
pub use greylist::{GreylistCleanup, GreylistClient, Triplet};
pub use import::ImportReport;
pub use model::*;
pub use resolve::{Destination, Resolution};

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
    pub(crate) db: atoll_sql::Db,
    pub(crate) settings: Arc<Settings>,
    pub(crate) cache: resolve::Cache,
    /// Who is making changes, for the audit log ("cli:root", "web:alice@…").
    pub(crate) actor: Arc<str>,
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
        let db = atoll_sql::Db::connect(url, settings.max_connections).await.map_err(|e| match e {
            sqlx::Error::Configuration(msg) => Error::Invalid(msg.to_string()),
            other => Error::Db(other),
        })?;
        let cache = resolve::Cache::new(&settings);
        Ok(Directory { db, settings: Arc::new(settings), cache, actor: Arc::from("system") })
    }

    /// Applies the migrations this binary carries that the database lacks.
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.db.dialect {
            Dialect::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Dialect::Postgres => sqlx::migrate!("migrations/postgres"),
            Dialect::Mysql => sqlx::migrate!("migrations/mysql"),
        };
        migrator.run(&self.db.pool).await?;
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
        self.db.conflict_retries()
    }

    pub fn dialect(&self) -> Dialect {
        self.db.dialect
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
        self.db.pool.close().await;
    }
}
