//! The directory's test set-up on top of atoll-testkit.

#![allow(dead_code)]

use std::time::Duration;

use atoll_directory::{Directory, Settings};
pub use atoll_testkit::Engine;

pub struct TestDb {
    pub dir: Directory,
    pub url: String,
    _db: atoll_testkit::TestDatabase,
}

pub fn settings() -> Settings {
    Settings { cache_ttl: Duration::from_secs(60), ..Settings::default() }
}

/// A new, empty, migrated directory on `engine`, or None when the engine is
/// not available outside CI.
pub async fn open(engine: Engine) -> Option<TestDb> {
    open_with(engine, settings()).await
}

pub async fn open_with(engine: Engine, settings: Settings) -> Option<TestDb> {
    let db = atoll_testkit::database(engine).await?;
    let url = db.url.clone();
    let dir = Directory::open(&url, settings).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    dir.ensure_island("default", "/tmp/island-default").await.expect("default island");
    Some(TestDb { dir: dir.as_actor("test"), url, _db: db })
}
