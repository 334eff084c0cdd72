//! Test harness shared by the crates and the end-to-end tests: one fresh
//! database per test on each engine, a test DNS server ([`dnsmasq`]), and
//! polling for what happens in the background ([`wait`]).
//!
//! SQLite is a temporary file; PostgreSQL, MariaDB and the Galera cluster
//! are the real servers that `scripts/db env` starts (scripts/test does),
//! named by ATOLL_TEST_POSTGRES_URL, ATOLL_TEST_MYSQL_URL and
//! ATOLL_TEST_GALERA_URLS. In CI (ATOLL_TEST_REQUIRE_ENGINES=1 or CI=true)
//! a missing server or program fails the test; elsewhere the test says so
//! and passes.

pub mod dnsmasq;
pub mod rng;
pub mod wait;

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{AnyConnection, Connection, Executor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    Mysql,
}

/// A database made for one test; SQLite's file lives as long as this.
pub struct TestDatabase {
    pub url: String,
    _tmp: Option<tempfile::TempDir>,
}

fn required() -> bool {
    std::env::var("ATOLL_TEST_REQUIRE_ENGINES").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| v == "true")
}

fn missing<T>(what: &str) -> Option<T> {
    if required() {
        panic!("{what} is not set: the server is missing (scripts/test starts it with scripts/db)");
    }
    eprintln!("skipping: {what} is not set (run the suite with scripts/test)");
    None
}

/// An outside program the test needs is not installed: a failure in CI,
/// a note and a pass elsewhere.
pub(crate) fn program_missing<T>(what: &str) -> Option<T> {
    if required() {
        panic!("{what} is not installed (scripts/setup installs it)");
    }
    eprintln!("skipping: {what} is not installed (scripts/setup installs it)");
    None
}

fn server_url(engine: Engine) -> Option<String> {
    let var = match engine {
        Engine::Sqlite => return None,
        Engine::Postgres => "ATOLL_TEST_POSTGRES_URL",
        Engine::Mysql => "ATOLL_TEST_MYSQL_URL",
    };
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => missing(var),
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name(prefix: &str) -> String {
    let micros =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_micros()).unwrap_or(0);
    format!("{prefix}{}_{}_{micros}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A new, empty database on `engine`, or None when the engine is not
/// available outside CI.
pub async fn database(engine: Engine) -> Option<TestDatabase> {
    match engine {
        Engine::Sqlite => {
            let tmp = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", tmp.path().join("test.db").display());
            Some(TestDatabase { url, _tmp: Some(tmp) })
        }
        _ => {
            let base = server_url(engine)?;
            Some(TestDatabase { url: create_database(&base).await, _tmp: None })
        }
    }
}

/// A new database on the Galera cluster: one URL per node.
pub async fn galera_database() -> Option<Vec<String>> {
    let nodes: Vec<String> =
        std::env::var("ATOLL_TEST_GALERA_URLS").unwrap_or_default().split_whitespace().map(str::to_string).collect();
    if nodes.len() < 2 {
        return missing("ATOLL_TEST_GALERA_URLS");
    }
    let first = create_database(&nodes[0]).await;
    let name = first.rsplit_once('/').map(|(_, n)| n.to_string()).expect("URL has a database");
    Some(nodes.iter().map(|n| format!("{}/{name}", n.rsplit_once('/').expect("URL has a database").0)).collect())
}

/// Creates a uniquely named database on the server behind `base` (a URL of
/// an existing database) and returns its URL.
async fn create_database(base: &str) -> String {
    sqlx::any::install_default_drivers();
    let name = unique_name("atoll_t");
    let mut admin = AnyConnection::connect(base).await.unwrap_or_else(|e| panic!("connect {base}: {e}"));
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    let _ = admin.close().await;
    let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
    format!("{prefix}/{name}")
}

/// Declares one `#[tokio::test]` per engine for each `async fn $name(Engine)`
/// of the calling module.
#[macro_export]
macro_rules! engine_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::Engine::Sqlite).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::Engine::Postgres).await } )* }
        mod mysql { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::Engine::Mysql).await } )* }
    };
}

/// Where scripts/setup installs 2,403 real messages (the SpamAssassin
/// easy_ham set, shipped by Debian's golang-github-gatherstars-com-jwz-dev).
pub const CORPUS_DIR: &str = "/usr/share/gocode/src/github.com/gatherstars-com/jwz/test/testdata/ham";

/// The corpus messages' paths, sorted; in CI a missing corpus fails.
pub fn corpus() -> Option<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = match std::fs::read_dir(CORPUS_DIR) {
        Ok(dir) => {
            dir.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect()
        }
        Err(_) => return missing("the message corpus (scripts/setup installs golang-github-gatherstars-com-jwz-dev)"),
    };
    files.sort();
    Some(files)
}
