//! Test harness: one fresh database per test on each engine. SQLite is a
//! temporary file; PostgreSQL and MariaDB are the real servers that
//! `scripts/db env` starts (scripts/test does), named by
//! ATOLL_TEST_POSTGRES_URL and ATOLL_TEST_MYSQL_URL. In CI
//! (ATOLL_TEST_REQUIRE_ENGINES=1) a missing server fails the test.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use atoll_directory::{Directory, Settings};
use sqlx::{AnyConnection, Connection, Executor};

#[derive(Clone, Copy, Debug)]
pub enum Engine {
    Sqlite,
    Postgres,
    Mysql,
}

pub struct TestDb {
    pub dir: Directory,
    pub url: String,
    _tmp: Option<tempfile::TempDir>,
}

pub fn settings() -> Settings {
    Settings { cache_ttl: Duration::from_secs(60), ..Settings::default() }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn server_url(engine: Engine) -> Option<String> {
    let var = match engine {
        Engine::Sqlite => return None,
        Engine::Postgres => "ATOLL_TEST_POSTGRES_URL",
        Engine::Mysql => "ATOLL_TEST_MYSQL_URL",
    };
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("ATOLL_TEST_REQUIRE_ENGINES").is_ok_and(|v| v == "1")
                || std::env::var("CI").is_ok_and(|v| v == "true")
            {
                panic!("{var} is not set: the {engine:?} server is missing (scripts/test starts it with scripts/db)");
            }
            eprintln!("skipping {engine:?}: {var} is not set (run the suite with scripts/test)");
            None
        }
    }
}

/// A new, empty, migrated directory on `engine`, or None when the engine is
/// not available outside CI.
pub async fn open(engine: Engine) -> Option<TestDb> {
    open_with(engine, settings()).await
}

pub async fn open_with(engine: Engine, settings: Settings) -> Option<TestDb> {
    let (url, tmp) = match engine {
        Engine::Sqlite => {
            let tmp = tempfile::tempdir().expect("temp dir");
            (format!("sqlite://{}?mode=rwc", tmp.path().join("directory.db").display()), Some(tmp))
        }
        _ => (fresh_database(&server_url(engine)?).await, None),
    };
    let dir = Directory::open(&url, settings).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    dir.ensure_island("default", "/tmp/island-default").await.expect("default island");
    Some(TestDb { dir: dir.as_actor("test"), url, _tmp: tmp })
}

/// Creates a uniquely named database on the server behind `base`.
async fn fresh_database(base: &str) -> String {
    sqlx::any::install_default_drivers();
    let name = format!(
        "atoll_t{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_micros()).unwrap_or(0)
    );
    let mut admin = AnyConnection::connect(base).await.unwrap_or_else(|e| panic!("connect {base}: {e}"));
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    let _ = admin.close().await;
    let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
    format!("{prefix}/{name}")
}

/// Declares `#[tokio::test]` functions per engine calling `$name(engine)`.
#[macro_export]
macro_rules! engine_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::common::Engine::Sqlite).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::common::Engine::Postgres).await } )* }
        mod mysql { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::common::Engine::Mysql).await } )* }
    };
}
