//! Bulk loading of accounts: checked imports for operators, and an unchecked
//! fast path for loading very large sets known to be new.

use crate::accounts::{NewAccount, insert_account};
use crate::audit::record;
use crate::domains::domain_id;
use crate::islands::{Placement, island_by_name};
use crate::sql::{now, write_tx};
use crate::{Directory, Error, Result};

/// The outcome of importing one batch.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportReport {
    pub imported: usize,
    /// (line number, reason) of every row that failed; when not empty, the
    /// batch was rolled back and nothing of it was imported.
    pub bad_lines: Vec<(usize, String)>,
}

impl Directory {
    /// Imports a batch of accounts in one transaction: either every row goes
    /// in, or none does and every bad row is reported with its line number.
    pub async fn import_accounts(&self, rows: &[(usize, NewAccount)]) -> Result<ImportReport> {
        // Hash and check passwords before the transaction: hashing is slow on
        // purpose and must not hold the directory's write lock.
        let mut bad = Vec::new();
        let mut prepared = Vec::with_capacity(rows.len());
        for (line, acc) in rows {
            match acc.password.to_stored(self) {
                Ok(stored) => prepared.push((*line, acc, stored)),
                Err(e) => bad.push((*line, format!("{}: {e}", acc.address))),
            }
        }
        if !bad.is_empty() {
            return Ok(ImportReport { imported: 0, bad_lines: bad });
        }
        let outcome = write_tx!(self, |conn| {
            let mut bad = Vec::new();
            let mut placement = Placement::default();
            for (line, acc, stored) in &prepared {
                match insert_account(conn, self, &mut placement, acc, stored).await {
                    Ok(address) => record(conn, self, "account.add", &address, "import").await?,
                    // A database error leaves PostgreSQL's transaction unusable:
                    // report it and stop checking this batch.
                    Err(Error::Db(e)) => {
                        bad.push((*line, format!("{}: {e}", acc.address)));
                        break;
                    }
                    Err(e) => bad.push((*line, format!("{}: {e}", acc.address))),
                }
            }
            // Returning an error rolls the whole batch back.
            if bad.is_empty() { Ok(prepared.len()) } else { Err(Error::BatchRejected(bad)) }
        });
        match outcome {
            Ok(n) => Ok(ImportReport { imported: n, bad_lines: Vec::new() }),
            Err(Error::BatchRejected(bad)) => Ok(ImportReport { imported: 0, bad_lines: bad }),
            Err(e) => Err(e),
        }
    }

    /// Inserts accounts of one domain on one island with multi-row INSERTs,
    /// without the per-row checks of [`Directory::import_accounts`]: only the
    /// schema's unique keys guard it. For loading millions of accounts that
    /// are known to be new; one audit row per call. `accounts` holds
    /// (local part, stored password hash) pairs, already lowercased.
    pub async fn bulk_insert_accounts(&self, domain: &str, island: &str, accounts: &[(String, String)]) -> Result<()> {
        const PER_STATEMENT: usize = 500;
        write_tx!(self, |conn| {
            let did = domain_id(conn, self, domain).await?;
            let (iid, _) = island_by_name(conn, self, island).await?;
            let t = now();
            for chunk in accounts.chunks(PER_STATEMENT) {
                let mut q = String::from(
                    "INSERT INTO accounts (domain_id, localpart, state, password, island_id, quota_bytes, display_name, created_at, updated_at) VALUES ",
                );
                for i in 0..chunk.len() {
                    q.push_str(if i == 0 {
                        "(?, ?, 'active', ?, ?, 0, '', ?, ?)"
                    } else {
                        ", (?, ?, 'active', ?, ?, 0, '', ?, ?)"
                    });
                }
                let mut query = sqlx::query(self.db.dialect.sql_owned(q));
                for (local, hash) in chunk {
                    query = query.bind(did).bind(local.as_str()).bind(hash.as_str()).bind(iid).bind(t).bind(t);
                }
                query.execute(&mut *conn).await?;
            }
            record(conn, self, "account.bulk_add", domain, &format!("{} accounts on {island}", accounts.len())).await
        })
    }

    /// Inserts alias rows of one domain with multi-row INSERTs and no loop
    /// check; (local part, target) pairs. See [`Directory::bulk_insert_accounts`].
    pub async fn bulk_insert_aliases(&self, domain: &str, aliases: &[(String, String)]) -> Result<()> {
        const PER_STATEMENT: usize = 500;
        write_tx!(self, |conn| {
            let did = domain_id(conn, self, domain).await?;
            let t = now();
            for chunk in aliases.chunks(PER_STATEMENT) {
                let mut q = String::from("INSERT INTO aliases (domain_id, localpart, target, created_at) VALUES ");
                for i in 0..chunk.len() {
                    q.push_str(if i == 0 { "(?, ?, ?, ?)" } else { ", (?, ?, ?, ?)" });
                }
                let mut query = sqlx::query(self.db.dialect.sql_owned(q));
                for (local, target) in chunk {
                    query = query.bind(did).bind(local.as_str()).bind(target.as_str()).bind(t);
                }
                query.execute(&mut *conn).await?;
            }
            record(conn, self, "alias.bulk_add", domain, &format!("{} aliases", aliases.len())).await
        })
    }
}
