//! The transaction a write runs in, on PostgreSQL and MySQL/MariaDB (SQLite
//! writes go through [`crate::group_commit`]).
//!
//! On a Galera cluster a transaction may be aborted by a conflicting write
//! replicated from another node (a "brute-force abort") at any moment.
//! MariaDB is meant to report that as error 1213 on the client's next
//! command, but when the abort lands while a command is running, that
//! command may succeed and the report be lost: the server is then no
//! longer in a transaction, every later statement of the body runs in
//! autocommit, and COMMIT "succeeds" with nothing to commit. Seen under
//! colliding writers: an audit row whose alias row was never written, and
//! an alias the client was told was added that no node had. So on MySQL:
//!
//! - the session is read-only while the transaction is open, and only the
//!   transaction itself is read-write (`START TRANSACTION READ WRITE`): a
//!   write that finds its transaction gone fails with 1792 instead of
//!   committing alone;
//! - a savepoint taken at the start must still exist just before COMMIT,
//!   or the transaction fails with 1305;
//! - on Galera, every write transaction also inserts a row of its own into
//!   `write_marks`; after COMMIT, deleting that row must find it, or
//!   nothing was committed;
//! - all three mean "run it again", which is safe: nothing of it stayed;
//! - a transaction dropped half-way (its future cancelled) closes its
//!   connection rather than return it to the pool read-only.

use sqlx::any::Any;
use sqlx::pool::PoolConnection;
use sqlx::{AnyConnection, AssertSqlSafe, Transaction};

use crate::group_commit::CommitError;
use crate::{Db, Dialect, retryable};

const MYSQL_BEGIN: &str = "SET SESSION TRANSACTION READ ONLY; START TRANSACTION READ WRITE; SAVEPOINT atoll_write";
/// Sent before the COMMIT, which goes alone: a command may swallow an
/// abort that lands while it runs, and COMMIT must be the first command
/// after the savepoint check.
const MYSQL_BEFORE_COMMIT: &str = "SET SESSION TRANSACTION READ WRITE; RELEASE SAVEPOINT atoll_write";
const MYSQL_ROLLBACK: &str = "ROLLBACK; SET SESSION TRANSACTION READ WRITE";

/// An open write transaction; [`Tx::commit`] or [`Tx::rollback`] ends it.
pub enum Tx {
    Plain(Transaction<'static, Any>),
    Mysql(MysqlTx),
}

/// See the module documentation.
pub struct MysqlTx {
    conn: PoolConnection<Any>,
    /// Still in the transaction or the read-only session: the connection
    /// must not go back to the pool like this.
    open: bool,
    /// On Galera: the key of this transaction's row in `write_marks`.
    mark: Option<i64>,
}

impl Drop for MysqlTx {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_on_drop();
        }
    }
}

impl Tx {
    pub async fn begin(db: &Db) -> Result<Tx, sqlx::Error> {
        if db.dialect != Dialect::Mysql {
            return Ok(Tx::Plain(db.pool.begin_with(db.dialect.begin_write()).await?));
        }
        let conn = db.pool.acquire().await?;
        let mut tx = MysqlTx { conn, open: true, mark: None };
        match tx.begin(db.galera).await {
            Ok(()) => Ok(Tx::Mysql(tx)),
            Err(e) => {
                tx.end(MYSQL_ROLLBACK).await;
                Err(e)
            }
        }
    }

    /// The connection the transaction's statements run on.
    pub fn conn(&mut self) -> &mut AnyConnection {
        match self {
            Tx::Plain(tx) => tx,
            Tx::Mysql(tx) => &mut tx.conn,
        }
    }

    pub async fn commit(self) -> Result<(), CommitError> {
        let fail = |error: sqlx::Error| CommitError { retryable: retryable(&error), error };
        match self {
            Tx::Plain(tx) => tx.commit().await.map_err(fail),
            Tx::Mysql(mut tx) => {
                if let Err(e) = sqlx::raw_sql(MYSQL_BEFORE_COMMIT).execute(&mut *tx.conn).await {
                    tx.end(MYSQL_ROLLBACK).await;
                    return Err(fail(e));
                }
                // The session is read-write again; only the transaction is
                // left to end.
                if let Err(e) = sqlx::raw_sql("COMMIT").execute(&mut *tx.conn).await {
                    tx.end("ROLLBACK").await;
                    return Err(fail(e));
                }
                tx.open = false;
                let Some(mark) = tx.mark else { return Ok(()) };
                // Deleting the mark says whether it was committed: one row.
                let delete = format!("DELETE FROM write_marks WHERE id = {mark}");
                let found = match sqlx::raw_sql(AssertSqlSafe(delete)).execute(&mut *tx.conn).await {
                    Ok(done) => done.rows_affected(),
                    Err(e) => {
                        tracing::warn!(mark, "could not delete a write mark: {e}");
                        let count = format!("SELECT COUNT(*) FROM write_marks WHERE id = {mark}");
                        sqlx::query_scalar::<_, i64>(AssertSqlSafe(count))
                            .fetch_one(&mut *tx.conn)
                            .await
                            // Not known whether it committed: not safe to run again.
                            .map_err(|error| CommitError { retryable: false, error })? as u64
                    }
                };
                if found == 0 {
                    return Err(CommitError {
                        retryable: true,
                        error: sqlx::Error::Protocol(
                            "the Galera cluster aborted the transaction without reporting it".into(),
                        ),
                    });
                }
                Ok(())
            }
        }
    }

    pub async fn rollback(self) {
        match self {
            Tx::Plain(tx) => {
                let _ = tx.rollback().await;
            }
            Tx::Mysql(mut tx) => tx.end(MYSQL_ROLLBACK).await,
        }
    }
}

impl MysqlTx {
    async fn begin(&mut self, galera: bool) -> Result<(), sqlx::Error> {
        if !galera {
            sqlx::raw_sql(MYSQL_BEGIN).execute(&mut *self.conn).await?;
            return Ok(());
        }
        // A random key: marks of concurrent transactions never collide, so
        // they add no certification conflicts of their own.
        let id = (getrandom::u64().map_err(|e| sqlx::Error::Protocol(format!("no random numbers: {e}")))? >> 1) as i64;
        let begin = format!("{MYSQL_BEGIN}; INSERT INTO write_marks (id) VALUES ({id})");
        sqlx::raw_sql(AssertSqlSafe(begin)).execute(&mut *self.conn).await?;
        self.mark = Some(id);
        Ok(())
    }

    /// Ends the transaction and the read-only session with `sql`; when that
    /// fails too, the connection is closed instead of reused.
    async fn end(&mut self, sql: &'static str) {
        if sqlx::raw_sql(sql).execute(&mut *self.conn).await.is_ok() {
            self.open = false;
        }
    }
}
