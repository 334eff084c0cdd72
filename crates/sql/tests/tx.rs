//! Write transactions on MariaDB when the server rolled the transaction back
//! without telling the client, as a Galera node may after a conflicting
//! write from another node (see `src/tx.rs`). A plain server is made to do
//! the same here with a ROLLBACK sent behind the transaction's back: the
//! writes after it must not commit alone, the COMMIT must not report
//! success, and the transaction runs again. ATOLL_TEST_MYSQL_URL names the
//! server (scripts/test starts it); in CI a missing server fails.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use atoll_sql::{Db, TxError, write_tx};
use atoll_testkit::Engine;
use sqlx::Row;

#[derive(Debug)]
struct Failed(sqlx::Error);

impl From<sqlx::Error> for Failed {
    fn from(e: sqlx::Error) -> Failed {
        Failed(e)
    }
}

impl TxError for Failed {
    fn is_retryable(&self) -> bool {
        atoll_sql::retryable(&self.0)
    }
}

async fn db(max_connections: u32) -> Option<Db> {
    let test = atoll_testkit::database(Engine::Mysql).await?;
    let db = Db::connect(&test.url, max_connections).await.expect("connect");
    sqlx::query("CREATE TABLE t (n BIGINT NOT NULL)").execute(&db.pool).await.expect("create table");
    Some(db)
}

async fn rows(db: &Db) -> Vec<i64> {
    let rows = sqlx::query("SELECT n FROM t ORDER BY n").fetch_all(&db.pool).await.expect("select");
    rows.iter().map(|r| r.get::<i64, _>(0)).collect()
}

/// The silent rollback, as the server would do it.
async fn lose_transaction(conn: &mut sqlx::AnyConnection) -> Result<(), Failed> {
    sqlx::raw_sql("ROLLBACK").execute(conn).await?;
    Ok(())
}

#[tokio::test]
async fn a_write_after_the_transaction_was_lost_fails_and_all_runs_again() {
    let Some(db) = db(2).await else { return };
    let attempts = AtomicU32::new(0);
    let r: Result<(), Failed> = write_tx!(db, Failed, |conn| {
        let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
        sqlx::query("INSERT INTO t (n) VALUES (1)").execute(&mut *conn).await?;
        if attempt == 1 {
            lose_transaction(conn).await?;
            // Without the read-only session this would commit on its own.
            sqlx::query("INSERT INTO t (n) VALUES (2)").execute(&mut *conn).await?;
        }
        Ok(())
    });
    r.expect("the second attempt commits");
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(rows(&db).await, [1], "only the second attempt's work is there");
    assert_eq!(db.conflict_retries(), 1);
}

#[tokio::test]
async fn a_transaction_lost_after_its_last_write_is_not_reported_committed() {
    let Some(db) = db(2).await else { return };
    let attempts = AtomicU32::new(0);
    let r: Result<(), Failed> = write_tx!(db, Failed, |conn| {
        let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
        sqlx::query("INSERT INTO t (n) VALUES (?)").bind(i64::from(attempt)).execute(&mut *conn).await?;
        if attempt == 1 {
            lose_transaction(conn).await?;
        }
        Ok(())
    });
    r.expect("the second attempt commits");
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "the first COMMIT was refused");
    assert_eq!(rows(&db).await, [2]);
}

#[tokio::test]
async fn a_transaction_dropped_half_way_leaves_no_read_only_connection_behind() {
    // One connection: if the dropped transaction's connection went back to
    // the pool read-only, the INSERT below would get it and fail.
    let Some(db) = db(1).await else { return };
    let stuck = async {
        let r: Result<(), Failed> = write_tx!(db, Failed, |conn| {
            sqlx::query("INSERT INTO t (n) VALUES (1)").execute(&mut *conn).await?;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        });
        r
    };
    assert!(tokio::time::timeout(Duration::from_millis(300), stuck).await.is_err(), "cancelled");
    sqlx::query("INSERT INTO t (n) VALUES (7)").execute(&db.pool).await.expect("a read-write connection");
    assert_eq!(rows(&db).await, [7], "the dropped transaction's row is gone");
}

#[tokio::test]
async fn single_statements_after_a_transaction_still_write() {
    let Some(db) = db(1).await else { return };
    let r: Result<(), Failed> = write_tx!(db, Failed, |conn| {
        sqlx::query("INSERT INTO t (n) VALUES (1)").execute(&mut *conn).await?;
        Ok(())
    });
    r.expect("commit");
    // The same (only) connection, after the transaction: read-write again.
    sqlx::query("INSERT INTO t (n) VALUES (2)").execute(&db.pool).await.expect("autocommit write");
    assert_eq!(rows(&db).await, [1, 2]);
}
