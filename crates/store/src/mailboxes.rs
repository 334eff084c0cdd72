//! Mailboxes of an account: the default set, hierarchy, subscriptions.
//!
//! Names are UTF-8 (RFC 9051 §5.1), levels separated by '/'. INBOX is
//! matched case-insensitively and always stored as "INBOX" (RFC 9051 §5.1).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{Error, Island, Result};
use atoll_sql::{fetch_id, is_unique_violation, now, write_tx};

/// Created on first use, with their SPECIAL-USE attributes (RFC 6154).
pub const DEFAULT_MAILBOXES: [(&str, &str); 6] = [
    ("INBOX", ""),
    ("Drafts", "\\Drafts"),
    ("Sent", "\\Sent"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
];

const SEP: char = '/';
const MAX_NAME_CHARS: usize = 700;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mailbox {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    /// Unique and unchanging, even across RENAME: a replica is never
    /// mistaken for a different mailbox of the same name.
    pub guid: String,
    pub uidvalidity: i64,
    pub uidnext: i64,
    pub highestmodseq: i64,
    pub special_use: Option<String>,
    /// False for a name kept only because it has children (\Noselect).
    pub selectable: bool,
}

/// Counts for STATUS and SELECT.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    pub messages: i64,
    pub unseen: i64,
    pub deleted: i64,
    pub size: i64,
}

const COLUMNS: &str =
    "id, account_id, name, guid, uidvalidity, uidnext, highestmodseq, special_use, selectable FROM mailboxes";

fn from_row(r: &AnyRow) -> Result<Mailbox> {
    let special: String = r.try_get(7)?;
    let selectable: i64 = r.try_get(8)?;
    Ok(Mailbox {
        id: r.try_get(0)?,
        account_id: r.try_get(1)?,
        name: r.try_get(2)?,
        guid: r.try_get(3)?,
        uidvalidity: r.try_get(4)?,
        uidnext: r.try_get(5)?,
        highestmodseq: r.try_get(6)?,
        special_use: (!special.is_empty()).then_some(special),
        selectable: selectable != 0,
    })
}

/// Checks and normalises a mailbox name.
pub fn normalise_name(name: &str) -> Result<String> {
    let bad = |why| Error::InvalidName(name.to_string(), why);
    if name.is_empty() {
        return Err(bad("empty name"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(bad("longer than 700 characters"));
    }
    if name.starts_with(SEP) || name.ends_with(SEP) || name.contains("//") {
        return Err(bad("empty hierarchy level"));
    }
    if name.chars().any(|c| c.is_control() || c == '*' || c == '%') {
        return Err(bad("control characters and the wildcards * and % are not allowed"));
    }
    let (first, rest) = match name.split_once(SEP) {
        Some((f, r)) => (f, Some(r)),
        None => (name, None),
    };
    if first.eq_ignore_ascii_case("INBOX") {
        return Ok(match rest {
            Some(r) => format!("INBOX{SEP}{r}"),
            None => "INBOX".to_string(),
        });
    }
    Ok(name.to_string())
}

/// "a/b/c" → ["a", "a/b"]
fn parents(name: &str) -> Vec<&str> {
    name.match_indices(SEP).map(|(i, _)| &name[..i]).collect()
}

fn new_guid() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::Corrupt(format!("no randomness for a mailbox id: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

async fn next_uidvalidity(conn: &mut AnyConnection, island: &Island) -> Result<i64> {
    let t = now();
    sqlx::query(island.db.sql(
        "UPDATE counters SET value = CASE WHEN value + 1 > ? THEN value + 1 ELSE ? END WHERE name = 'uidvalidity'",
    ))
    .bind(t)
    .bind(t)
    .execute(&mut *conn)
    .await?;
    let q = sqlx::query(island.db.sql("SELECT value FROM counters WHERE name = 'uidvalidity'"));
    fetch_id(q, conn).await?.ok_or_else(|| Error::Corrupt("the uidvalidity counter is missing".into()))
}

pub(crate) async fn find(
    conn: &mut AnyConnection,
    island: &Island,
    account: i64,
    name: &str,
) -> Result<Option<Mailbox>> {
    let row = sqlx::query(island.db.sql_owned(format!("SELECT {COLUMNS} WHERE account_id = ? AND name = ?")))
        .bind(account)
        .bind(name)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Creates `name` (selectable or not) unless it exists; returns whether it did.
async fn insert(
    conn: &mut AnyConnection,
    island: &Island,
    account: i64,
    name: &str,
    special: &str,
    selectable: bool,
) -> Result<bool> {
    if find(conn, island, account, name).await?.is_some() {
        return Ok(false);
    }
    let uidvalidity = next_uidvalidity(conn, island).await?;
    let r = sqlx::query(island.db.sql(
        "INSERT INTO mailboxes (account_id, name, guid, uidvalidity, uidnext, highestmodseq, special_use, selectable, created_at) \
         VALUES (?, ?, ?, ?, 1, 1, ?, ?, ?)",
    ))
    .bind(account)
    .bind(name)
    .bind(new_guid()?)
    .bind(uidvalidity)
    .bind(special)
    .bind(selectable as i64)
    .bind(now())
    .execute(&mut *conn)
    .await;
    match r {
        Err(e) if is_unique_violation(&e) => Err(Error::MailboxExists(name.to_string())),
        Err(e) => Err(e.into()),
        Ok(_) => Ok(true),
    }
}

impl Island {
    /// Creates the default mailboxes of an account that has none yet and
    /// subscribes them; returns the account's mailboxes.
    pub async fn ensure_defaults(&self, account: i64) -> Result<Vec<Mailbox>> {
        let existing = self.mailboxes(account).await?;
        if existing.iter().any(|m| m.name == "INBOX") {
            return Ok(existing);
        }
        write_tx!(self.db, Error, |conn| {
            for (name, special) in DEFAULT_MAILBOXES {
                insert(conn, self, account, name, special, true).await?;
                subscribe_in(conn, self, account, name).await?;
            }
            Ok(())
        })?;
        self.mailboxes(account).await
    }

    /// All mailboxes of an account, by name.
    pub async fn mailboxes(&self, account: i64) -> Result<Vec<Mailbox>> {
        let rows = sqlx::query(self.db.sql_owned(format!("SELECT {COLUMNS} WHERE account_id = ? ORDER BY name")))
            .bind(account)
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn mailbox(&self, account: i64, name: &str) -> Result<Mailbox> {
        let name = normalise_name(name)?;
        let mut conn = self.db.pool.acquire().await?;
        find(&mut conn, self, account, &name).await?.ok_or(Error::NoSuchMailbox(name))
    }

    /// Creates a mailbox and any missing parent levels (RFC 9051 §6.3.4).
    /// A name kept only as a parent (\Noselect) becomes a real mailbox.
    pub async fn create_mailbox(&self, account: i64, name: &str, special_use: Option<&str>) -> Result<Mailbox> {
        let name = normalise_name(name)?;
        write_tx!(self.db, Error, |conn| {
            for parent in parents(&name) {
                insert(conn, self, account, parent, "", true).await?;
            }
            match find(conn, self, account, &name).await? {
                Some(m) if m.selectable => return Err(Error::MailboxExists(name.clone())),
                Some(m) => {
                    let uidvalidity = next_uidvalidity(conn, self).await?;
                    sqlx::query(self.db.sql("UPDATE mailboxes SET selectable = 1, uidvalidity = ? WHERE id = ?"))
                        .bind(uidvalidity)
                        .bind(m.id)
                        .execute(&mut *conn)
                        .await?;
                }
                None => {
                    insert(conn, self, account, &name, special_use.unwrap_or(""), true).await?;
                }
            }
            Ok(())
        })?;
        self.mailbox(account, &name).await
    }

    /// Deletes a mailbox and its messages. One with children stays as a
    /// non-selectable name (RFC 9051 §6.3.5); deleting such a name again
    /// while it has children is an error.
    pub async fn delete_mailbox(&self, account: i64, name: &str) -> Result<()> {
        let name = normalise_name(name)?;
        if name == "INBOX" {
            return Err(Error::InboxDelete);
        }
        write_tx!(self.db, Error, |conn| {
            let m = find(conn, self, account, &name).await?.ok_or_else(|| Error::NoSuchMailbox(name.clone()))?;
            let children = children(conn, self, account, &name).await?.len();
            if children > 0 && !m.selectable {
                return Err(Error::HasChildren(name.clone()));
            }
            crate::messages::remove_all(conn, self, &m).await?;
            if children > 0 {
                sqlx::query(self.db.sql("UPDATE mailboxes SET selectable = 0 WHERE id = ?"))
                    .bind(m.id)
                    .execute(&mut *conn)
                    .await?;
            } else {
                sqlx::query(self.db.sql("DELETE FROM expunged WHERE mailbox_id = ?"))
                    .bind(m.id)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(self.db.sql("DELETE FROM mailboxes WHERE id = ?")).bind(m.id).execute(&mut *conn).await?;
            }
            Ok(())
        })?;
        self.notify.changed(account);
        Ok(())
    }

    /// Renames a mailbox with everything below it; missing parents of the
    /// new name are created. Renaming INBOX moves its messages to a new
    /// mailbox and leaves INBOX empty (RFC 9051 §6.3.6).
    pub async fn rename_mailbox(&self, account: i64, from: &str, to: &str) -> Result<()> {
        let from = normalise_name(from)?;
        let to = normalise_name(to)?;
        if to == from || to.starts_with(&format!("{from}{SEP}")) {
            return Err(Error::InvalidName(to, "cannot rename a mailbox into itself"));
        }
        write_tx!(self.db, Error, |conn| {
            let m = find(conn, self, account, &from).await?.ok_or_else(|| Error::NoSuchMailbox(from.clone()))?;
            if find(conn, self, account, &to).await?.is_some() {
                return Err(Error::MailboxExists(to.clone()));
            }
            for parent in parents(&to) {
                insert(conn, self, account, parent, "", true).await?;
            }
            if from == "INBOX" {
                insert(conn, self, account, &to, "", true).await?;
                let target = find(conn, self, account, &to).await?.ok_or_else(|| Error::NoSuchMailbox(to.clone()))?;
                crate::messages::move_all(conn, self, &m, &target).await?;
                return Ok(());
            }
            // Children first: their names start with the old name.
            for (id, old) in children(conn, self, account, &from).await? {
                let new = format!("{to}{}", &old[from.len()..]);
                sqlx::query(self.db.sql("UPDATE mailboxes SET name = ? WHERE id = ?"))
                    .bind(new)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query(self.db.sql("UPDATE mailboxes SET name = ? WHERE id = ?"))
                .bind(&to)
                .bind(m.id)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })?;
        self.notify.changed(account);
        Ok(())
    }

    pub async fn subscribe(&self, account: i64, name: &str) -> Result<()> {
        let name = normalise_name(name)?;
        write_tx!(self.db, Error, |conn| { subscribe_in(conn, self, account, &name).await })
    }

    pub async fn unsubscribe(&self, account: i64, name: &str) -> Result<()> {
        let name = normalise_name(name)?;
        write_tx!(self.db, Error, |conn| {
            sqlx::query(self.db.sql("DELETE FROM subscriptions WHERE account_id = ? AND name = ?"))
                .bind(account)
                .bind(&name)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    pub async fn subscriptions(&self, account: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(self.db.sql("SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name"))
            .bind(account)
            .fetch_all(&self.db.pool)
            .await?;
        Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
    }

    /// Counts for STATUS (MESSAGES, UNSEEN, SIZE) and SELECT.
    pub async fn status(&self, mailbox: &Mailbox) -> Result<Status> {
        let d = self.db.dialect;
        let q = format!(
            "SELECT COUNT(*), {}, {}, {} FROM messages WHERE mailbox_id = ?",
            d.cast_int("COALESCE(SUM(CASE WHEN flags % 2 = 0 THEN 1 ELSE 0 END), 0)"),
            d.cast_int("COALESCE(SUM(CASE WHEN flags % 16 >= 8 THEN 1 ELSE 0 END), 0)"),
            d.cast_int("COALESCE(SUM(size), 0)"),
        );
        let r = sqlx::query(self.db.sql_owned(q)).bind(mailbox.id).fetch_one(&self.db.pool).await?;
        Ok(Status { messages: r.try_get(0)?, unseen: r.try_get(1)?, deleted: r.try_get(2)?, size: r.try_get(3)? })
    }

    /// The first UID no session has claimed as \Recent yet (RFC 3501
    /// §2.3.2): messages from it on are recent for the next session that
    /// selects the mailbox read-write (EXAMINE shows them without claiming).
    pub async fn first_recent_uid(&self, mailbox: &Mailbox) -> Result<i64> {
        let r = sqlx::query(self.db.sql("SELECT first_recent_uid FROM mailboxes WHERE id = ?"))
            .bind(mailbox.id)
            .fetch_optional(&self.db.pool)
            .await?;
        match r {
            Some(r) => Ok(r.try_get(0)?),
            None => Err(Error::NoSuchMailbox(mailbox.name.clone())),
        }
    }

    /// Claims the \Recent flag of the messages below `upto` that no
    /// session has claimed (RFC 3501 §2.3.2: a message is recent in one
    /// session only): moves first_recent_uid up to `upto` atomically and
    /// returns its old value, so uids in `old..upto` are recent for the
    /// caller. Returns `upto` (nothing) when another session got there
    /// first.
    pub async fn claim_recent(&self, mailbox: &Mailbox, upto: i64) -> Result<i64> {
        // Compare-and-set: another session may claim between the read and
        // the update; then read again.
        for _ in 0..16 {
            let old = self.first_recent_uid(mailbox).await?;
            if old >= upto {
                return Ok(upto);
            }
            let done = write_tx!(relaxed self.db, Error, |conn| {
                let r = sqlx::query(
                    self.db.sql("UPDATE mailboxes SET first_recent_uid = ? WHERE id = ? AND first_recent_uid = ?"),
                )
                .bind(upto)
                .bind(mailbox.id)
                .bind(old)
                .execute(&mut *conn)
                .await?;
                Ok(r.rows_affected())
            })?;
            if done == 1 {
                return Ok(old);
            }
        }
        // Lost every race: others keep claiming; leave these to them.
        Ok(upto)
    }

    /// STATUS RECENT: messages no session has claimed as \Recent yet.
    pub async fn unclaimed_recent(&self, mailbox: &Mailbox) -> Result<i64> {
        let first = self.first_recent_uid(mailbox).await?;
        let r = sqlx::query(self.db.sql("SELECT COUNT(*) FROM messages WHERE mailbox_id = ? AND uid >= ?"))
            .bind(mailbox.id)
            .bind(first)
            .fetch_one(&self.db.pool)
            .await?;
        Ok(r.try_get(0)?)
    }
}

async fn subscribe_in(conn: &mut AnyConnection, island: &Island, account: i64, name: &str) -> Result<()> {
    let exists = sqlx::query(island.db.sql("SELECT 1 FROM subscriptions WHERE account_id = ? AND name = ?"))
        .bind(account)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_none() {
        sqlx::query(island.db.sql("INSERT INTO subscriptions (account_id, name) VALUES (?, ?)"))
            .bind(account)
            .bind(name)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The mailboxes below `name`: (id, full name).
async fn children(conn: &mut AnyConnection, island: &Island, account: i64, name: &str) -> Result<Vec<(i64, String)>> {
    // An account has tens to hundreds of mailboxes: filtering here is exact
    // on every engine, where LIKE would treat '_' as a wildcard, '\' as an
    // escape on MySQL, and follow a locale collation on PostgreSQL.
    let prefix = format!("{name}{SEP}");
    let rows = sqlx::query(island.db.sql("SELECT id, name FROM mailboxes WHERE account_id = ?"))
        .bind(account)
        .fetch_all(conn)
        .await?;
    let mut out = Vec::new();
    for r in &rows {
        let n: String = r.try_get(1)?;
        if n.starts_with(&prefix) {
            out.push((r.try_get(0)?, n));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalise_name("inbox").unwrap(), "INBOX");
        assert_eq!(normalise_name("InBox/Work").unwrap(), "INBOX/Work");
        assert_eq!(normalise_name("Inboxes").unwrap(), "Inboxes");
        assert_eq!(normalise_name("Lists/Rust/Users").unwrap(), "Lists/Rust/Users");
        assert_eq!(normalise_name("Entwürfe").unwrap(), "Entwürfe");
        for bad in ["", "/a", "a/", "a//b", "a*", "50%", "a\nb"] {
            assert!(normalise_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parents("a/b/c"), ["a", "a/b"]);
        assert!(parents("a").is_empty());
    }
}
