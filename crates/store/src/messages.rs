//! Messages in mailboxes: delivery and APPEND, flags, EXPUNGE, COPY/MOVE,
//! and the changes since a mod-sequence (CONDSTORE/QRESYNC, RFC 7162).
//!
//! Every change takes its UIDs and its mod-sequence from the mailbox row
//! inside the change's own transaction, so several store nodes serving one
//! island never hand out the same UID twice.

use std::sync::Arc;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::blob::BlobId;
use crate::flags::Flags;
use crate::mailboxes::{Mailbox, find};
use crate::{Error, Island, Result};
use atoll_sql::{Dialect, now, write_tx};

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub raw: Vec<u8>,
    pub flags: Flags,
    /// INTERNALDATE; now when not given.
    pub internal_date: Option<i64>,
}

/// Where a stored message landed (APPENDUID, RFC 4315).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stored {
    pub mailbox_id: i64,
    pub uidvalidity: i64,
    pub uid: i64,
    pub modseq: i64,
}

/// One message of an [`Island::deliver_batch`]: its bytes, the accounts
/// that get it, the queue's delivery key, and the mailbox it is filed into
/// (None: INBOX; a mailbox the account no longer has: INBOX too).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub raw: Vec<u8>,
    pub accounts: Vec<i64>,
    pub key: Option<String>,
    pub mailbox: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub uid: i64,
    pub flags: Flags,
    pub internal_date: i64,
    pub save_date: i64,
    pub size: i64,
    pub modseq: i64,
    pub blob: BlobId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    Add,
    Remove,
    Replace,
}

/// What changed in a mailbox after a mod-sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub changed: Vec<Message>,
    /// UIDs expunged since then (QRESYNC VANISHED).
    pub vanished: Vec<i64>,
    pub highestmodseq: i64,
}

const MSG_COLUMNS: &str = "uid, flags, keywords, internal_date, save_date, size, modseq, body FROM messages";

fn message_from_row(r: &AnyRow) -> Result<Message> {
    let keywords: String = r.try_get(2)?;
    let blob: Vec<u8> = r.try_get(7)?;
    Ok(Message {
        uid: r.try_get(0)?,
        flags: Flags::from_stored(r.try_get(1)?, &keywords),
        internal_date: r.try_get(3)?,
        save_date: r.try_get(4)?,
        size: r.try_get(5)?,
        modseq: r.try_get(6)?,
        blob: BlobId::from_bytes(&blob).ok_or_else(|| Error::Corrupt("blob id is not 32 bytes".into()))?,
    })
}

/// Takes `n` UIDs and one new mod-sequence from the mailbox:
/// (first uid, modseq, uidvalidity).
async fn allocate(conn: &mut AnyConnection, island: &Island, mailbox_id: i64, n: i64) -> Result<(i64, i64, i64)> {
    let done = sqlx::query(island.db.sql(
        "UPDATE mailboxes SET uidnext = uidnext + ?, highestmodseq = highestmodseq + 1 WHERE id = ? AND selectable = 1",
    ))
    .bind(n)
    .bind(mailbox_id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotSelectable(format!("#{mailbox_id}")));
    }
    let r = sqlx::query(island.db.sql("SELECT uidnext, highestmodseq, uidvalidity FROM mailboxes WHERE id = ?"))
        .bind(mailbox_id)
        .fetch_one(&mut *conn)
        .await?;
    let uidnext: i64 = r.try_get(0)?;
    Ok((uidnext - n, r.try_get(1)?, r.try_get(2)?))
}

/// A new mod-sequence for a change that allocates no UID.
async fn next_modseq(conn: &mut AnyConnection, island: &Island, mailbox_id: i64) -> Result<i64> {
    allocate(conn, island, mailbox_id, 0).await.map(|(_, m, _)| m)
}

async fn add_usage(conn: &mut AnyConnection, island: &Island, account: i64, bytes: i64, messages: i64) -> Result<()> {
    let q = match island.db.dialect {
        Dialect::Mysql => {
            "INSERT INTO quota_usage (account_id, bytes, messages) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE bytes = bytes + VALUES(bytes), messages = messages + VALUES(messages)"
        }
        _ => {
            "INSERT INTO quota_usage (account_id, bytes, messages) VALUES (?, ?, ?) \
             ON CONFLICT (account_id) DO UPDATE SET bytes = quota_usage.bytes + excluded.bytes, \
             messages = quota_usage.messages + excluded.messages"
        }
    };
    sqlx::query(island.db.sql(q)).bind(account).bind(bytes).bind(messages).execute(conn).await?;
    Ok(())
}

/// Records a distinct body once; a body stored again is no longer a
/// candidate for garbage collection.
async fn upsert_blob(conn: &mut AnyConnection, island: &Island, id: BlobId, raw: &[u8], analysis: &str) -> Result<()> {
    let q = match island.db.dialect {
        Dialect::Mysql => {
            "INSERT INTO blobs (hash, size, created_at, analysis, crlf_size) VALUES (?, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE orphaned_at = NULL"
        }
        _ => {
            "INSERT INTO blobs (hash, size, created_at, analysis, crlf_size) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (hash) DO UPDATE SET orphaned_at = NULL"
        }
    };
    let crlf_size = i64::try_from(crate::crlf::crlf_size(raw)).unwrap_or(i64::MAX);
    sqlx::query(island.db.sql(q))
        .bind(id.as_bytes().to_vec())
        .bind(raw.len() as i64)
        .bind(now())
        .bind(analysis)
        .bind(crlf_size)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks the blobs among `bodies` that no message uses any more, for the
/// garbage collector (crate::gc).
pub(crate) async fn mark_orphans(conn: &mut AnyConnection, island: &Island, bodies: &[BlobId]) -> Result<()> {
    let mut seen: Vec<&BlobId> = bodies.iter().collect();
    seen.sort();
    seen.dedup();
    for id in seen {
        sqlx::query(island.db.sql(
            "UPDATE blobs SET orphaned_at = ? WHERE hash = ? AND orphaned_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.body = ?)",
        ))
        .bind(now())
        .bind(id.as_bytes().to_vec())
        .bind(id.as_bytes().to_vec())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// After `upsert_blob` and before the commit: the collector may have
/// removed this body between the write and the upsert (it holds the row
/// while it parks the file, so the upsert waited for it). Writes it again.
async fn ensure_body(island: &Island, id: BlobId, raw: &Arc<[u8]>) -> Result<()> {
    if !island.blobs.exists(id).await? {
        tracing::info!(blob = %id, "body collected while being stored again: rewriting it");
        island.blobs.put(raw.clone()).await?;
    }
    Ok(())
}

async fn select_uids(conn: &mut AnyConnection, island: &Island, mailbox_id: i64, uids: &[i64]) -> Result<Vec<Message>> {
    let mut out = Vec::with_capacity(uids.len());
    for chunk in uids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let mut q = sqlx::query(
            island.db.sql_owned(format!("SELECT {MSG_COLUMNS} WHERE mailbox_id = ? AND uid IN ({marks}) ORDER BY uid")),
        )
        .bind(mailbox_id);
        for uid in chunk {
            q = q.bind(*uid);
        }
        for r in q.fetch_all(&mut *conn).await? {
            out.push(message_from_row(&r)?);
        }
    }
    out.sort_by_key(|m| m.uid);
    Ok(out)
}

/// Records that `account` took delivery `key`; false when it already had.
/// One queue delivers one key at a time, so no other transaction races
/// this check.
async fn claim_delivery(conn: &mut AnyConnection, island: &Island, key: &str, account: i64, at: i64) -> Result<bool> {
    let seen = sqlx::query(island.db.sql("SELECT 1 FROM deliveries WHERE delivery_key = ? AND account_id = ?"))
        .bind(key)
        .bind(account)
        .fetch_optional(&mut *conn)
        .await?;
    if seen.is_some() {
        return Ok(false);
    }
    sqlx::query(island.db.sql("INSERT INTO deliveries (delivery_key, account_id, delivered_at) VALUES (?, ?, ?)"))
        .bind(key)
        .bind(account)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

async fn insert_message(
    conn: &mut AnyConnection,
    island: &Island,
    mailbox_id: i64,
    uid: i64,
    m: &Message,
    modseq: i64,
) -> Result<()> {
    sqlx::query(island.db.sql(
        "INSERT INTO messages (mailbox_id, uid, body, flags, keywords, internal_date, save_date, size, modseq) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(mailbox_id)
    .bind(uid)
    .bind(m.blob.as_bytes().to_vec())
    .bind(m.flags.system)
    .bind(m.flags.keywords_text())
    .bind(m.internal_date)
    .bind(now())
    .bind(m.size)
    .bind(modseq)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes messages and records them as expunged at a new mod-sequence.
async fn expunge_in(conn: &mut AnyConnection, island: &Island, mailbox: &Mailbox, gone: &[Message]) -> Result<()> {
    if gone.is_empty() {
        return Ok(());
    }
    let modseq = next_modseq(conn, island, mailbox.id).await?;
    for m in gone {
        sqlx::query(island.db.sql("DELETE FROM messages WHERE mailbox_id = ? AND uid = ?"))
            .bind(mailbox.id)
            .bind(m.uid)
            .execute(&mut *conn)
            .await?;
        sqlx::query(island.db.sql("INSERT INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)"))
            .bind(mailbox.id)
            .bind(m.uid)
            .bind(modseq)
            .execute(&mut *conn)
            .await?;
    }
    let bodies: Vec<BlobId> = gone.iter().map(|m| m.blob).collect();
    mark_orphans(conn, island, &bodies).await?;
    let bytes: i64 = gone.iter().map(|m| m.size).sum();
    add_usage(conn, island, mailbox.account_id, -bytes, -(gone.len() as i64)).await
}

/// Removes every message of a mailbox that is being deleted.
pub(crate) async fn remove_all(conn: &mut AnyConnection, island: &Island, mailbox: &Mailbox) -> Result<()> {
    let q = format!(
        "SELECT COUNT(*), {} FROM messages WHERE mailbox_id = ?",
        island.db.dialect.cast_int("COALESCE(SUM(size), 0)")
    );
    let r = sqlx::query(island.db.sql_owned(q)).bind(mailbox.id).fetch_one(&mut *conn).await?;
    let n: i64 = r.try_get(0)?;
    let bytes: i64 = r.try_get(1)?;
    let bodies = sqlx::query(island.db.sql("SELECT DISTINCT body FROM messages WHERE mailbox_id = ?"))
        .bind(mailbox.id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            let b: Vec<u8> = r.try_get(0)?;
            BlobId::from_bytes(&b).ok_or_else(|| Error::Corrupt("blob id is not 32 bytes".into()))
        })
        .collect::<Result<Vec<_>>>()?;
    sqlx::query(island.db.sql("DELETE FROM messages WHERE mailbox_id = ?"))
        .bind(mailbox.id)
        .execute(&mut *conn)
        .await?;
    mark_orphans(conn, island, &bodies).await?;
    if n > 0 {
        add_usage(conn, island, mailbox.account_id, -bytes, -n).await?;
    }
    Ok(())
}

/// RENAME INBOX: every message moves, keeping its UID, to `target` (new and
/// empty); INBOX keeps its UIDVALIDITY and UIDNEXT, so no UID is reused, and
/// records the moved UIDs as expunged for QRESYNC clients.
pub(crate) async fn move_all(
    conn: &mut AnyConnection,
    island: &Island,
    inbox: &Mailbox,
    target: &Mailbox,
) -> Result<()> {
    let uids: Vec<i64> = sqlx::query(island.db.sql("SELECT uid FROM messages WHERE mailbox_id = ?"))
        .bind(inbox.id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let modseq = next_modseq(conn, island, inbox.id).await?;
    sqlx::query(island.db.sql("UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?"))
        .bind(inbox.uidnext.max(1))
        .bind(modseq)
        .bind(target.id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(island.db.sql("UPDATE messages SET mailbox_id = ? WHERE mailbox_id = ?"))
        .bind(target.id)
        .bind(inbox.id)
        .execute(&mut *conn)
        .await?;
    for uid in uids {
        sqlx::query(island.db.sql("INSERT INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)"))
            .bind(inbox.id)
            .bind(uid)
            .bind(modseq)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl Island {
    /// Stores a message in one mailbox (IMAP APPEND). The body is on stable
    /// storage before the transaction that makes it visible commits.
    pub async fn append(&self, account: i64, mailbox: &str, msg: NewMessage) -> Result<Stored> {
        let name = crate::mailboxes::normalise_name(mailbox)?;
        let size = msg.raw.len() as i64;
        let (raw, analysis) = crate::analysis::compute(msg.raw).await?;
        let raw: Arc<[u8]> = raw.into();
        let id = self.blobs.put(raw.clone()).await?;
        let internal_date = msg.internal_date.unwrap_or_else(now);
        let stored = write_tx!(self.db, Error, |conn| {
            let m = find(conn, self, account, &name).await?.ok_or_else(|| Error::NoSuchMailbox(name.clone()))?;
            upsert_blob(conn, self, id, &raw, &analysis).await?;
            ensure_body(self, id, &raw).await?;
            let (uid, modseq, uidvalidity) = allocate(conn, self, m.id, 1).await?;
            let row = Message { uid, flags: msg.flags.clone(), internal_date, save_date: 0, size, modseq, blob: id };
            insert_message(conn, self, m.id, uid, &row, modseq).await?;
            add_usage(conn, self, account, size, 1).await?;
            Ok(Stored { mailbox_id: m.id, uidvalidity, uid, modseq })
        })?;
        self.notify.changed(account);
        Ok(stored)
    }

    /// Delivers one message to the INBOX of several accounts of this island
    /// (LMTP): the body is stored once and every copy is committed in one
    /// transaction, so all recipients get it or none do.
    pub async fn deliver(&self, raw: Vec<u8>, accounts: &[i64]) -> Result<Vec<Stored>> {
        self.deliver_keyed(raw, accounts, None).await
    }

    /// [`Island::deliver`] for a queue that may try the same delivery again:
    /// an account that already took the delivery `key` (a queue names its
    /// node and message) gets no second copy, and is left out of the
    /// result. The queue's retry after a crash between this commit and its
    /// own note of the delivery is thus harmless.
    pub async fn deliver_keyed(&self, raw: Vec<u8>, accounts: &[i64], key: Option<&str>) -> Result<Vec<Stored>> {
        let one = Delivery { raw, accounts: accounts.to_vec(), key: key.map(str::to_string), mailbox: None };
        let mut stored = self.deliver_together(std::slice::from_ref(&one)).await?;
        Ok(stored.pop().unwrap_or_default())
    }

    /// Delivers several messages at once, as [`Island::deliver_keyed`]
    /// does each: the bodies are parsed side by side, written with one
    /// shared sync, and every copy is committed in one transaction, so a
    /// queue with many messages waiting pays two syncs per batch instead of
    /// two per message. If the batch fails as a whole (one bad message
    /// among good ones), each message is tried on its own, so that only
    /// the bad one fails. Results come back in input order.
    pub async fn deliver_batch(&self, batch: Vec<Delivery>) -> Vec<Result<Vec<Stored>>> {
        match self.deliver_together(&batch).await {
            Ok(stored) => stored.into_iter().map(Ok).collect(),
            Err(e) if batch.len() > 1 => {
                tracing::debug!(island = %self.name(), error = %e, messages = batch.len(), "batch delivery failed; one by one");
                let mut out = Vec::with_capacity(batch.len());
                for d in &batch {
                    let one = self.deliver_together(std::slice::from_ref(d)).await;
                    out.push(one.map(|mut v| v.pop().unwrap_or_default()));
                }
                out
            }
            Err(e) => vec![Err(e)],
        }
    }

    async fn deliver_together(&self, batch: &[Delivery]) -> Result<Vec<Vec<Stored>>> {
        let mut accounts: Vec<i64> = batch.iter().flat_map(|d| d.accounts.iter().copied()).collect();
        accounts.sort_unstable();
        accounts.dedup();
        for a in &accounts {
            self.ensure_defaults(*a).await?;
        }
        // Parse side by side (each on the blocking pool).
        let mut parsing = tokio::task::JoinSet::new();
        for (i, d) in batch.iter().enumerate() {
            let raw = d.raw.clone();
            parsing.spawn(async move { (i, crate::analysis::compute(raw).await) });
        }
        let mut parsed: Vec<Option<(Arc<[u8]>, String)>> = vec![None; batch.len()];
        while let Some(done) = parsing.join_next().await {
            let (i, result) = done.map_err(|e| Error::Corrupt(format!("message analysis stopped: {e}")))?;
            let (raw, analysis) = result?;
            parsed[i] = Some((raw.into(), analysis));
        }
        let parsed: Vec<(Arc<[u8]>, String)> = parsed.into_iter().flatten().collect();
        if parsed.len() != batch.len() {
            return Err(Error::Corrupt("a message of the batch was not analysed".into()));
        }
        let ids = self.blobs.put_many(parsed.iter().map(|(raw, _)| raw.clone()).collect()).await?;
        let t = now();
        let stored = write_tx!(self.db, Error, |conn| {
            let mut all = Vec::with_capacity(batch.len());
            for ((d, (raw, analysis)), id) in batch.iter().zip(&parsed).zip(&ids) {
                let size = d.raw.len() as i64;
                upsert_blob(conn, self, *id, raw, analysis).await?;
                ensure_body(self, *id, raw).await?;
                let mut out = Vec::with_capacity(d.accounts.len());
                for a in &d.accounts {
                    if let Some(key) = d.key.as_deref()
                        && !claim_delivery(conn, self, key, *a, t).await?
                    {
                        continue;
                    }
                    let m = match d.mailbox.as_deref() {
                        Some(name) => find(conn, self, *a, name).await?,
                        None => None,
                    };
                    let m = match m {
                        Some(m) => m,
                        None => {
                            find(conn, self, *a, "INBOX").await?.ok_or_else(|| Error::NoSuchMailbox("INBOX".into()))?
                        }
                    };
                    let (uid, modseq, uidvalidity) = allocate(conn, self, m.id, 1).await?;
                    let row = Message {
                        uid,
                        flags: Flags::default(),
                        internal_date: t,
                        save_date: 0,
                        size,
                        modseq,
                        blob: *id,
                    };
                    insert_message(conn, self, m.id, uid, &row, modseq).await?;
                    add_usage(conn, self, *a, size, 1).await?;
                    out.push(Stored { mailbox_id: m.id, uidvalidity, uid, modseq });
                }
                all.push(out);
            }
            Ok(all)
        })?;
        for a in &accounts {
            self.notify.changed(*a);
        }
        Ok(stored)
    }

    /// Every message of a mailbox, by UID. The island keeps the list of
    /// each mailbox it was asked for in memory (shared by every session)
    /// and brings it up to date with the changes since (`changes_since`),
    /// so selecting a big mailbox reads only what changed.
    pub async fn messages(&self, mailbox: &Mailbox) -> Result<Vec<Message>> {
        if let Some(snap) = self.cache.mailboxes.get(&(mailbox.id, mailbox.uidvalidity)) {
            let ch = self.changes_since(mailbox, snap.highestmodseq).await?;
            if ch.changed.is_empty() && ch.vanished.is_empty() && ch.highestmodseq == snap.highestmodseq {
                return Ok(snap.messages.clone());
            }
            let mut list = snap.messages.clone();
            apply_changes(&mut list, &ch);
            let out = list.clone();
            self.cache.mailboxes.insert(
                (mailbox.id, mailbox.uidvalidity),
                Arc::new(crate::cache::Snapshot { highestmodseq: ch.highestmodseq, messages: list }),
            );
            return Ok(out);
        }
        // The mod-sequence first: a change that commits while the rows are
        // read is then seen again next time rather than missed.
        let highestmodseq: i64 = sqlx::query(self.db.sql("SELECT highestmodseq FROM mailboxes WHERE id = ?"))
            .bind(mailbox.id)
            .fetch_one(&self.db.pool)
            .await?
            .try_get(0)?;
        let rows = sqlx::query(self.db.sql_owned(format!("SELECT {MSG_COLUMNS} WHERE mailbox_id = ? ORDER BY uid")))
            .bind(mailbox.id)
            .fetch_all(&self.db.pool)
            .await?;
        let list = rows.iter().map(message_from_row).collect::<Result<Vec<_>>>()?;
        self.cache.mailboxes.insert(
            (mailbox.id, mailbox.uidvalidity),
            Arc::new(crate::cache::Snapshot { highestmodseq, messages: list.clone() }),
        );
        Ok(list)
    }

    /// UIDs of the messages flagged \Deleted, as the database has them now.
    pub async fn deleted_uids(&self, mailbox: &Mailbox) -> Result<Vec<i64>> {
        let q = format!(
            "SELECT uid FROM messages WHERE mailbox_id = ? AND (flags & {}) <> 0 ORDER BY uid",
            crate::system::DELETED
        );
        let rows = sqlx::query(self.db.sql_owned(q)).bind(mailbox.id).fetch_all(&self.db.pool).await?;
        Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<Vec<i64>, _>>()?)
    }

    /// The raw message.
    pub async fn read(&self, blob: BlobId) -> Result<Vec<u8>> {
        Ok(self.blobs.get(blob).await?)
    }

    /// STORE: changes flags of `uids`. With `unchanged_since` (CONDSTORE),
    /// messages changed after that mod-sequence are left alone and returned
    /// as failed (RFC 7162 §3.1.3). Returns the changed messages (with their
    /// new mod-sequence) and the failed UIDs.
    pub async fn store_flags(
        &self,
        mailbox: &Mailbox,
        uids: &[i64],
        op: StoreOp,
        flags: &Flags,
        unchanged_since: Option<i64>,
    ) -> Result<(Vec<Message>, Vec<i64>)> {
        let done = write_tx!(relaxed self.db, Error, |conn| {
            let current = select_uids(conn, self, mailbox.id, uids).await?;
            let mut failed = Vec::new();
            let mut changes = Vec::new();
            for m in current {
                if unchanged_since.is_some_and(|since| m.modseq > since) {
                    failed.push(m.uid);
                    continue;
                }
                let new = match op {
                    StoreOp::Add => m.flags.union(flags),
                    StoreOp::Remove => m.flags.minus(flags),
                    StoreOp::Replace => flags.clone(),
                };
                if new != m.flags {
                    changes.push(Message { flags: new, ..m });
                }
            }
            if !changes.is_empty() {
                // One mod-sequence for everything this command changed.
                let modseq = next_modseq(conn, self, mailbox.id).await?;
                for c in &mut changes {
                    c.modseq = modseq;
                    sqlx::query(self.db.sql(
                        "UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?",
                    ))
                    .bind(c.flags.system)
                    .bind(c.flags.keywords_text())
                    .bind(modseq)
                    .bind(mailbox.id)
                    .bind(c.uid)
                    .execute(&mut *conn)
                    .await?;
                }
            }
            Ok((changes, failed))
        })?;
        if !done.0.is_empty() {
            self.notify.changed(mailbox.account_id);
        }
        Ok(done)
    }

    /// Removes messages (EXPUNGE, UID EXPUNGE); returns the UIDs removed.
    pub async fn expunge(&self, mailbox: &Mailbox, uids: &[i64]) -> Result<Vec<i64>> {
        let gone: Vec<i64> = write_tx!(relaxed self.db, Error, |conn| {
            let gone = select_uids(conn, self, mailbox.id, uids).await?;
            expunge_in(conn, self, mailbox, &gone).await?;
            Ok(gone.iter().map(|m| m.uid).collect())
        })?;
        if !gone.is_empty() {
            self.notify.changed(mailbox.account_id);
        }
        Ok(gone)
    }

    /// Copies messages to another mailbox of the same account, sharing their
    /// bodies; returns (source UID, new UID) pairs for COPYUID (RFC 4315).
    pub async fn copy(&self, from: &Mailbox, uids: &[i64], to: &Mailbox) -> Result<(i64, Vec<(i64, i64)>)> {
        self.copy_or_move(from, uids, to, false).await
    }

    /// MOVE (RFC 6851): copy and expunge in one transaction.
    pub async fn move_messages(&self, from: &Mailbox, uids: &[i64], to: &Mailbox) -> Result<(i64, Vec<(i64, i64)>)> {
        self.copy_or_move(from, uids, to, true).await
    }

    async fn copy_or_move(
        &self,
        from: &Mailbox,
        uids: &[i64],
        to: &Mailbox,
        remove: bool,
    ) -> Result<(i64, Vec<(i64, i64)>)> {
        let done = write_tx!(self.db, Error, |conn| {
            let src = select_uids(conn, self, from.id, uids).await?;
            if src.is_empty() {
                return Ok((to.uidvalidity, Vec::new()));
            }
            let (first, modseq, uidvalidity) = allocate(conn, self, to.id, src.len() as i64).await?;
            let mut pairs = Vec::with_capacity(src.len());
            for (i, m) in src.iter().enumerate() {
                let uid = first + i as i64;
                insert_message(conn, self, to.id, uid, m, modseq).await?;
                pairs.push((m.uid, uid));
            }
            let bytes: i64 = src.iter().map(|m| m.size).sum();
            add_usage(conn, self, to.account_id, bytes, src.len() as i64).await?;
            if remove {
                expunge_in(conn, self, from, &src).await?;
            }
            Ok((uidvalidity, pairs))
        })?;
        if !done.1.is_empty() {
            self.notify.changed(to.account_id);
            self.notify.changed(from.account_id);
        }
        Ok(done)
    }

    /// Messages changed and UIDs expunged after `modseq` (CONDSTORE
    /// CHANGEDSINCE, QRESYNC).
    pub async fn changes_since(&self, mailbox: &Mailbox, modseq: i64) -> Result<Changes> {
        let mut conn = self.db.pool.acquire().await?;
        // The mod-sequence first, the changes after: a change committed in
        // between is then reported now and again next time (harmless),
        // never skipped.
        let highestmodseq = sqlx::query(self.db.sql("SELECT highestmodseq FROM mailboxes WHERE id = ?"))
            .bind(mailbox.id)
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        // Every change (flags, new message, expunge) takes a new
        // mod-sequence in the transaction that makes it, so nothing can
        // have changed when the mailbox's is still the one the caller has:
        // the common case of a refresh between two commands costs one
        // query, not three.
        if highestmodseq == modseq {
            return Ok(Changes { changed: Vec::new(), vanished: Vec::new(), highestmodseq });
        }
        let rows = sqlx::query(
            self.db.sql_owned(format!("SELECT {MSG_COLUMNS} WHERE mailbox_id = ? AND modseq > ? ORDER BY uid")),
        )
        .bind(mailbox.id)
        .bind(modseq)
        .fetch_all(&mut *conn)
        .await?;
        let changed = rows.iter().map(message_from_row).collect::<Result<Vec<_>>>()?;
        let vanished =
            sqlx::query(self.db.sql("SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid"))
                .bind(mailbox.id)
                .bind(modseq)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<Vec<i64>, _>>()?;
        Ok(Changes { changed, vanished, highestmodseq })
    }

    /// Bytes and messages an account uses on this island.
    pub async fn quota_usage(&self, account: i64) -> Result<(i64, i64)> {
        let r = sqlx::query(self.db.sql("SELECT bytes, messages FROM quota_usage WHERE account_id = ?"))
            .bind(account)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(match r {
            Some(r) => (r.try_get(0)?, r.try_get(1)?),
            None => (0, 0),
        })
    }
}

/// Brings a UID-ordered message list up to date: changed rows replace or
/// join it, vanished UIDs leave it. A UID both changed and vanished (stored
/// to, then expunged) is gone.
fn apply_changes(list: &mut Vec<Message>, ch: &Changes) {
    for m in &ch.changed {
        match list.binary_search_by_key(&m.uid, |x| x.uid) {
            Ok(i) => list[i] = m.clone(),
            Err(i) => list.insert(i, m.clone()),
        }
    }
    if !ch.vanished.is_empty() {
        list.retain(|m| ch.vanished.binary_search(&m.uid).is_err());
    }
}
