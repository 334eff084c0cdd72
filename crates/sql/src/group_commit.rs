//! Group commit for SQLite: the write transactions of one process share one
//! connection, and those that queue up while one runs share its COMMIT
//! (and so its fsync).
//!
//! SQLite takes one writer at a time. Each write transaction on its own
//! pays for taking the write lock, a pooled connection and a synchronous
//! COMMIT, and under load the writers of many IMAP sessions spent most of
//! their time waiting in line for those. Here a writer:
//!
//! 1. takes its turn on the writer connection (a FIFO queue) and runs its
//!    body inside a SAVEPOINT of the open batch transaction, opening one
//!    (BEGIN IMMEDIATE) if there is none; an error rolls back to the
//!    savepoint and leaves the others' work alone;
//! 2. gives up its turn, then takes another: if its batch is still open,
//!    it commits it, for itself and for every body that ran after it
//!    meanwhile; else the batch was committed (or failed) by a member that
//!    got there first.
//!
//! Nobody returns before the COMMIT that holds its work has returned. With
//! no contention a writer simply commits right after its body; under load
//! the batches grow with the queue. Readers use the pool and see only
//! committed data.
//!
//! The writer connection commits with `synchronous = NORMAL`: a COMMIT
//! appends to the write-ahead log without waiting for the disk, so the
//! next batch is not held up by a sync. A durable write (a new message:
//! the client is told it is stored) then waits for [`Writer::sync`], which
//! fdatasyncs the log file outside the writer's lock: one sync covers every
//! batch committed before it started, and while it runs the next durable
//! writers queue for the following one (group commit of the syncs too). A
//! relaxed write (flags, expunges, the \Recent mark: what Dovecot keeps in
//! index files it does not fsync) skips the sync: it survives the process
//! dying at any moment, and a power cut may lose the last of them, never
//! half of one. A checkpoint syncs the log before it copies pages into the
//! database (NORMAL keeps that), so a synced frame stays durable whether it
//! is still in the log or already in the database file.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Executor};
use tokio::sync::{Mutex, MutexGuard};

/// Batches that failed at COMMIT, remembered for the members still to ask.
const FAILED_KEPT: usize = 1024;

pub struct Writer {
    options: AnyConnectOptions,
    state: Mutex<State>,
    /// The database's write-ahead log (None for an in-memory database).
    wal: Option<PathBuf>,
    /// The last batch committed, and the last batch known to be on disk.
    committed: AtomicU64,
    synced: AtomicU64,
    /// Held while a sync of the log runs.
    syncing: Mutex<()>,
}

#[derive(Default)]
struct State {
    conn: Option<AnyConnection>,
    /// The batch whose transaction is open, and how many bodies it holds.
    open: Option<(u64, usize)>,
    /// The last batch number given out.
    last: u64,
    /// (batch, retryable, error) of batches whose COMMIT failed.
    failed: VecDeque<(u64, bool, String)>,
}

/// One writer's turn on the connection.
pub struct Turn<'a> {
    state: MutexGuard<'a, State>,
    options: &'a AnyConnectOptions,
}

/// Why a batch did not commit.
#[derive(Debug)]
pub struct CommitError {
    /// Another writer (another process) held the database; running the
    /// body again may succeed.
    pub retryable: bool,
    pub error: sqlx::Error,
}

impl Writer {
    pub(crate) fn new(options: AnyConnectOptions, database: Option<PathBuf>) -> Writer {
        let wal = database.map(|db| {
            let mut name = db.into_os_string();
            name.push("-wal");
            PathBuf::from(name)
        });
        Writer {
            options,
            state: Mutex::new(State::default()),
            wal,
            committed: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            syncing: Mutex::new(()),
        }
    }

    /// Returns once `batch` (committed) is on stable storage: the write-ahead
    /// log is fdatasync'ed unless a sync that started after the batch's
    /// COMMIT has finished already.
    pub async fn sync(&self, batch: u64) -> std::io::Result<()> {
        if self.synced.load(Ordering::Acquire) >= batch {
            return Ok(());
        }
        let _turn = self.syncing.lock().await;
        if self.synced.load(Ordering::Acquire) >= batch {
            return Ok(());
        }
        // Everything committed up to now is in the log file: one sync
        // covers it all.
        let upto = self.committed.load(Ordering::Acquire);
        if let Some(wal) = self.wal.clone() {
            tokio::task::spawn_blocking(move || match std::fs::File::open(&wal) {
                Ok(f) => f.sync_data(),
                // No log: everything is in the database file, which the
                // checkpoint that removed the log synced.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            })
            .await
            .map_err(std::io::Error::other)??;
        }
        self.synced.fetch_max(upto, Ordering::AcqRel);
        Ok(())
    }

    /// Waits for the writer connection.
    pub async fn turn(&self) -> Turn<'_> {
        Turn { state: self.state.lock().await, options: &self.options }
    }

    /// Returns once `batch` is committed, committing it if it is still
    /// open; an error when its COMMIT failed.
    pub async fn commit(&self, batch: u64) -> Result<(), CommitError> {
        let mut st = self.state.lock().await;
        if st.open.is_some_and(|(b, _)| b == batch) {
            let result = match st.conn.as_mut() {
                Some(conn) => conn.execute("COMMIT").await.map(|_| ()),
                None => Err(sqlx::Error::PoolClosed),
            };
            st.open = None;
            return match result {
                Ok(()) => {
                    self.committed.fetch_max(batch, Ordering::AcqRel);
                    Ok(())
                }
                Err(e) => {
                    let retryable = crate::retryable(&e);
                    tracing::warn!(error = %e, batch, "sql: group commit failed; its writers run again or fail");
                    // A failed COMMIT can leave the transaction open; close
                    // it, or drop the connection if even that fails.
                    if let Some(conn) = st.conn.as_mut()
                        && conn.execute("ROLLBACK").await.is_err()
                    {
                        st.conn = None;
                    }
                    st.remember_failure(batch, retryable, e.to_string());
                    Err(CommitError { retryable, error: e })
                }
            };
        }
        match st.failed.iter().find(|f| f.0 == batch) {
            Some((_, retryable, msg)) => Err(CommitError {
                retryable: *retryable,
                error: sqlx::Error::Io(std::io::Error::other(format!("the group commit of this write failed: {msg}"))),
            }),
            None => Ok(()),
        }
    }
}

impl State {
    fn remember_failure(&mut self, batch: u64, retryable: bool, error: String) {
        if self.failed.len() == FAILED_KEPT {
            self.failed.pop_front();
        }
        self.failed.push_back((batch, retryable, error));
    }

    /// The connection broke in the middle of a batch: SQLite rolls the
    /// transaction back when the connection closes, so every member of the
    /// batch must run again.
    fn abandon(&mut self, error: &sqlx::Error) {
        if let Some((batch, _)) = self.open.take() {
            self.remember_failure(batch, true, error.to_string());
        }
        self.conn = None;
    }
}

impl Turn<'_> {
    /// The connection, inside the open batch transaction and a savepoint
    /// for this writer's body.
    pub async fn begin(&mut self) -> Result<&mut AnyConnection, sqlx::Error> {
        let st = &mut *self.state;
        if st.conn.is_none() {
            let mut conn = self.options.connect().await?;
            crate::prepare_connection(&mut conn, crate::Dialect::Sqlite).await?;
            // Durable writers sync the log themselves (`Writer::sync`).
            conn.execute("PRAGMA synchronous = NORMAL").await?;
            st.conn = Some(conn);
        }
        let Some(conn) = st.conn.as_mut() else { return Err(sqlx::Error::PoolClosed) };
        if st.open.is_none() {
            // BEGIN IMMEDIATE: take the write lock now, or a deferred
            // transaction that reads first could fail with SQLITE_BUSY
            // when another process writes.
            conn.execute("BEGIN IMMEDIATE").await?;
            st.last += 1;
            st.open = Some((st.last, 0));
        }
        if let Err(e) = conn.execute("SAVEPOINT atoll_write").await {
            st.abandon(&e);
            return Err(e);
        }
        match st.conn.as_mut() {
            Some(conn) => Ok(conn),
            None => Err(sqlx::Error::PoolClosed),
        }
    }

    /// Ends this writer's body: keeps its work in the batch, or undoes it.
    /// Returns the batch to wait for with [`Writer::commit`] (None when
    /// the body failed).
    pub async fn finish(mut self, ok: bool) -> Result<Option<u64>, sqlx::Error> {
        let st = &mut *self.state;
        let (Some(conn), Some((batch, members))) = (st.conn.as_mut(), st.open) else {
            return Err(sqlx::Error::PoolClosed);
        };
        let result = if ok {
            conn.execute("RELEASE atoll_write").await.map(|_| ())
        } else {
            match conn.execute("ROLLBACK TO atoll_write").await {
                Ok(_) => conn.execute("RELEASE atoll_write").await.map(|_| ()),
                Err(e) => Err(e),
            }
        };
        if let Err(e) = result {
            st.abandon(&e);
            return Err(e);
        }
        if ok {
            st.open = Some((batch, members + 1));
            return Ok(Some(batch));
        }
        if members == 0 {
            // Nobody else's work in it: end the transaction rather than
            // hold the write lock until the next writer.
            st.open = None;
            if let Err(e) = conn.execute("ROLLBACK").await {
                st.conn = None;
                return Err(e);
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use sqlx::Row;

    use crate::Db;

    #[derive(Debug)]
    struct E(sqlx::Error);
    impl From<sqlx::Error> for E {
        fn from(e: sqlx::Error) -> E {
            E(e)
        }
    }
    impl crate::TxError for E {
        fn is_retryable(&self) -> bool {
            crate::retryable(&self.0)
        }
    }

    async fn db(dir: &std::path::Path) -> Db {
        let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
        let db = Db::connect(&url, 4).await.expect("connect");
        sqlx::query("CREATE TABLE t (n INTEGER PRIMARY KEY)").execute(&db.pool).await.expect("create");
        db
    }

    async fn count(db: &Db) -> i64 {
        sqlx::query("SELECT COUNT(*) FROM t").fetch_one(&db.pool).await.expect("count").get(0)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_all_commit_and_failures_undo_only_their_own_work() {
        let dir = tempdir();
        let db = Arc::new(db(dir.path()).await);
        let mut tasks = Vec::new();
        for i in 0..200i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                crate::write_tx!(db, E, |conn| {
                    sqlx::query("INSERT INTO t (n) VALUES (?)").bind(i).execute(&mut *conn).await?;
                    if i % 10 == 3 {
                        // A failing body: its insert must be undone, the
                        // others' kept.
                        sqlx::query("INSERT INTO t (n) VALUES (?)").bind(i).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            }));
        }
        let mut failed = 0;
        for t in tasks {
            if t.await.expect("task").is_err() {
                failed += 1;
            }
        }
        assert_eq!(failed, 20, "every duplicate insert fails");
        assert_eq!(count(&db).await, 180, "the other 180 rows are committed and visible to the pool");
        // No transaction is left open: another connection can write.
        let other = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()), 1).await.expect("other");
        sqlx::query("INSERT INTO t (n) VALUES (1000)").execute(&other.pool).await.expect("no lock left behind");
    }

    /// Durable and relaxed writers mixed: all commit; after a durable one
    /// returns, the log is synced up to the last batch committed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn durable_writers_wait_for_the_log_sync() {
        let dir = tempdir();
        let db = Arc::new(db(dir.path()).await);
        let mut tasks = Vec::new();
        for i in 0..200i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                if i % 3 == 0 {
                    crate::write_tx!(db, E, |conn| {
                        sqlx::query("INSERT INTO t (n) VALUES (?)").bind(i).execute(&mut *conn).await?;
                        Ok(())
                    })
                } else {
                    crate::write_tx!(relaxed db, E, |conn| {
                        sqlx::query("INSERT INTO t (n) VALUES (?)").bind(i).execute(&mut *conn).await?;
                        Ok(())
                    })
                }
            }));
        }
        for t in tasks {
            t.await.expect("task").expect("write");
        }
        assert_eq!(count(&db).await, 200);
        let Some(writer) = db.writer() else { panic!("SQLite has a writer") };
        assert_eq!(writer.wal.as_deref(), Some(dir.path().join("t.db-wal").as_path()));
        crate::write_tx!(db, E, |conn| {
            sqlx::query("INSERT INTO t (n) VALUES (1000)").execute(&mut *conn).await?;
            Ok(())
        })
        .expect("durable write");
        let committed = writer.committed.load(Ordering::Acquire);
        assert!(committed > 0);
        assert_eq!(writer.synced.load(Ordering::Acquire), committed, "synced up to the last commit");
        // A relaxed write commits without a sync.
        crate::write_tx!(relaxed db, E, |conn| {
            sqlx::query("INSERT INTO t (n) VALUES (1001)").execute(&mut *conn).await?;
            Ok(())
        })
        .expect("relaxed write");
        assert_eq!(writer.committed.load(Ordering::Acquire), committed + 1);
        assert_eq!(writer.synced.load(Ordering::Acquire), committed);
    }

    #[tokio::test]
    async fn a_lone_failure_leaves_no_transaction_open() {
        let dir = tempdir();
        let db = db(dir.path()).await;
        let r: Result<(), E> = crate::write_tx!(db, E, |conn| {
            sqlx::query("INSERT INTO t (n) VALUES (1)").execute(&mut *conn).await?;
            Err(E(sqlx::Error::RowNotFound))
        });
        assert!(r.is_err());
        let other = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()), 1).await.expect("other");
        sqlx::query("INSERT INTO t (n) VALUES (2)").execute(&other.pool).await.expect("the write lock was released");
        assert_eq!(count(&db).await, 1, "only the other connection's row");
        let v: Result<i64, E> = crate::write_tx!(db, E, |conn| {
            sqlx::query("INSERT INTO t (n) VALUES (3)").execute(&mut *conn).await?;
            Ok(3)
        });
        assert_eq!(v.expect("the writer connection still works"), 3);
        assert_eq!(count(&db).await, 2);
    }

    fn tempdir() -> tempfile::TempDir {
        tempfile::tempdir().expect("temp dir")
    }
}
