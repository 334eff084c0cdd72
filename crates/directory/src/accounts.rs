//! Accounts: a mailbox owner, its password, state, island, group and quota.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::address::Address;
use crate::audit::record;
use crate::domains::{address_user, domain_id};
use crate::islands::{Placement, check_island_name, island_by_name};
use crate::model::state;
use crate::sql::{fetch_id, is_unique_violation, now, write_tx};
use crate::{Account, Directory, Error, Result};

/// A password as given to the directory.
#[derive(Clone)]
pub enum PasswordInput {
    /// No password: the account cannot log in until one is set.
    None,
    /// A cleartext password, hashed with argon2id before it is stored.
    Plain(String),
    /// A hash exported from another system ({SHA512-CRYPT}…, $2y$…, …),
    /// stored as it is and replaced by argon2id at the first login.
    Hash(String),
}

impl std::fmt::Debug for PasswordInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PasswordInput::None => "None",
            PasswordInput::Plain(_) => "Plain(***)",
            PasswordInput::Hash(_) => "Hash(***)",
        })
    }
}

impl PasswordInput {
    /// The text to store, checked so that an unusable hash is refused at
    /// import time rather than at the user's first login.
    pub(crate) fn to_stored(&self, dir: &Directory) -> Result<String> {
        match self {
            PasswordInput::None => Ok(String::new()),
            PasswordInput::Plain(p) => {
                if p.is_empty() {
                    return Err(Error::Invalid("empty password".into()));
                }
                Ok(atoll_password::hash(p)?)
            }
            PasswordInput::Hash(h) => {
                let policy = atoll_password::Policy { allow_plain: dir.settings.allow_plain_passwords };
                atoll_password::check(h, &policy)?;
                Ok(h.clone())
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub address: String,
    pub password: PasswordInput,
    /// None: the open island with the fewest accounts (or the group's).
    pub island: Option<String>,
    pub group: Option<String>,
    /// 0 means unlimited.
    pub quota_bytes: i64,
    pub display_name: String,
}

impl NewAccount {
    pub fn new(address: &str) -> NewAccount {
        NewAccount {
            address: address.to_string(),
            password: PasswordInput::None,
            island: None,
            group: None,
            quota_bytes: 0,
            display_name: String::new(),
        }
    }
}

/// The result of a successful login.
#[derive(Debug, Clone)]
pub struct AuthOutcome {
    pub account: Account,
    /// The stored hash was replaced by argon2id.
    pub rehashed: bool,
}

const ACCOUNT_COLUMNS: &str = "a.id, a.localpart, d.name, a.state, i.name, g.name, a.quota_bytes, \
     a.display_name, a.password, a.created_at, a.updated_at";
const ACCOUNT_FROM: &str = "FROM accounts a JOIN domains d ON d.id = a.domain_id \
     JOIN islands i ON i.id = a.island_id LEFT JOIN account_groups g ON g.id = a.group_id";

fn account_from_row(r: &AnyRow) -> Result<(Account, String)> {
    let local: String = r.try_get(1)?;
    let domain: String = r.try_get(2)?;
    let password: String = r.try_get(8)?;
    let scheme = if password.is_empty() {
        "none".to_string()
    } else {
        atoll_password::scheme_of(&password).map(|s| scheme_name(s).to_string()).unwrap_or_else(|_| "unknown".into())
    };
    Ok((
        Account {
            id: r.try_get(0)?,
            address: format!("{local}@{domain}"),
            state: r.try_get(3)?,
            island: r.try_get(4)?,
            group: r.try_get(5)?,
            quota_bytes: r.try_get(6)?,
            display_name: r.try_get(7)?,
            password_scheme: scheme,
            created_at: r.try_get(9)?,
            updated_at: r.try_get(10)?,
        },
        password,
    ))
}

/// Inserts one account inside an open transaction (shared with bulk import).
pub(crate) async fn insert_account(
    conn: &mut AnyConnection,
    dir: &Directory,
    placement: &mut Placement,
    new: &NewAccount,
    stored_password: &str,
) -> Result<String> {
    let addr = Address::parse(&new.address)?;
    if new.quota_bytes < 0 {
        return Err(Error::Invalid(format!("{addr}: quota must not be negative")));
    }
    let did = domain_id(conn, dir, &addr.domain).await?;
    if let Some(what) = address_user(conn, dir, did, &addr.local).await? {
        return Err(Error::AddressTaken(addr.to_string(), what));
    }
    let group_id = match &new.group {
        Some(g) => Some(ensure_group(conn, dir, g).await?),
        None => None,
    };
    // (island, whether the placement picked it)
    let (island_id, picked) = match (&new.island, group_id) {
        (Some(name), _) => {
            let (id, st) = island_by_name(conn, dir, name).await?;
            if st != crate::model::island_state::OPEN {
                return Err(Error::IslandNotOpen(name.clone(), st));
            }
            (id, false)
        }
        // Accounts of one group share folders, so they live on one island.
        (None, Some(gid)) => match group_island(conn, dir, gid).await? {
            Some(id) => (id, false),
            None => (placement.pick(conn, dir).await?, true),
        },
        (None, None) => (placement.pick(conn, dir).await?, true),
    };
    if !picked {
        placement.placed(island_id);
    }
    let t = now();
    let inserted = sqlx::query(dir.db.dialect.sql(
        "INSERT INTO accounts (domain_id, localpart, state, password, island_id, group_id, quota_bytes, display_name, created_at, updated_at) \
         VALUES (?, ?, 'active', ?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(did)
    .bind(&addr.local)
    .bind(stored_password)
    .bind(island_id)
    .bind(group_id)
    .bind(new.quota_bytes)
    .bind(&new.display_name)
    .bind(t)
    .bind(t)
    .execute(&mut *conn)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => return Err(Error::AddressTaken(addr.to_string(), "an account")),
        other => other?,
    };
    if let Some(gid) = group_id {
        // The first account placed in a group pins the group to its island.
        sqlx::query(dir.db.dialect.sql("UPDATE account_groups SET island_id = ? WHERE id = ? AND island_id IS NULL"))
            .bind(island_id)
            .bind(gid)
            .execute(&mut *conn)
            .await?;
    }
    Ok(addr.to_string())
}

async fn ensure_group(conn: &mut AnyConnection, dir: &Directory, name: &str) -> Result<i64> {
    check_island_name(name)
        .map_err(|_| Error::InvalidName(name.to_string(), "group names use letters, digits, '.', '-' and '_'"))?;
    let find = async |conn: &mut AnyConnection| {
        fetch_id(sqlx::query(dir.db.dialect.sql("SELECT id FROM account_groups WHERE name = ?")).bind(name), conn).await
    };
    if let Some(id) = find(conn).await? {
        return Ok(id);
    }
    sqlx::query(dir.db.dialect.sql("INSERT INTO account_groups (name, created_at) VALUES (?, ?)"))
        .bind(name)
        .bind(now())
        .execute(&mut *conn)
        .await?;
    find(conn).await?.ok_or_else(|| Error::Invalid(format!("group {name} vanished")))
}

async fn group_island(conn: &mut AnyConnection, dir: &Directory, gid: i64) -> Result<Option<i64>> {
    let row = sqlx::query(dir.db.dialect.sql("SELECT island_id FROM account_groups WHERE id = ?"))
        .bind(gid)
        .fetch_one(conn)
        .await?;
    Ok(row.try_get(0)?)
}

/// The account id behind an address, inside a transaction.
pub(crate) async fn account_id(conn: &mut AnyConnection, dir: &Directory, addr: &Address) -> Result<i64> {
    let q =
        sqlx::query(dir.db.dialect.sql(
            "SELECT a.id FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE d.name = ? AND a.localpart = ?",
        ))
        .bind(&addr.domain)
        .bind(&addr.local);
    fetch_id(q, conn).await?.ok_or_else(|| Error::UnknownAccount(addr.to_string()))
}

impl Directory {
    pub async fn add_account(&self, new: &NewAccount) -> Result<Account> {
        // Hash outside the transaction: argon2 is deliberately slow.
        let stored = new.password.to_stored(self)?;
        let address = write_tx!(self, |conn| {
            let address = insert_account(conn, self, &mut Placement::default(), new, &stored).await?;
            let island = new.island.as_deref().unwrap_or("auto");
            record(conn, self, "account.add", &address, &format!("island={island}")).await?;
            Ok(address)
        })?;
        self.account(&address).await
    }

    pub async fn account(&self, address: &str) -> Result<Account> {
        Ok(self.account_with_password(address).await?.0)
    }

    async fn account_with_password(&self, address: &str) -> Result<(Account, String)> {
        let addr = Address::parse(address)?;
        let q = const_format(ACCOUNT_COLUMNS, ACCOUNT_FROM, "WHERE d.name = ? AND a.localpart = ?");
        let row = sqlx::query(self.db.dialect.sql_owned(q))
            .bind(&addr.domain)
            .bind(&addr.local)
            .fetch_optional(&self.db.pool)
            .await?;
        match row {
            Some(r) => account_from_row(&r),
            None => Err(Error::UnknownAccount(addr.to_string())),
        }
    }

    /// Accounts of one domain, or of all, ordered by address.
    pub async fn list_accounts(&self, domain: Option<&str>) -> Result<Vec<Account>> {
        let d = crate::address::domain_filter(domain)?;
        let q =
            const_format(ACCOUNT_COLUMNS, ACCOUNT_FROM, "WHERE (? = '' OR d.name = ?) ORDER BY d.name, a.localpart");
        let rows = sqlx::query(self.db.dialect.sql_owned(q)).bind(&d).bind(&d).fetch_all(&self.db.pool).await?;
        rows.iter().map(|r| account_from_row(r).map(|(a, _)| a)).collect()
    }

    pub async fn set_password(&self, address: &str, password: &PasswordInput) -> Result<()> {
        let addr = Address::parse(address)?;
        let stored = password.to_stored(self)?;
        write_tx!(self, |conn| {
            let id = account_id(conn, self, &addr).await?;
            update_password(conn, self, id, &stored).await?;
            record(conn, self, "account.passwd", &addr.to_string(), "").await
        })
    }

    pub async fn set_state(&self, address: &str, new_state: &str) -> Result<()> {
        let addr = Address::parse(address)?;
        if new_state != state::ACTIVE && new_state != state::SUSPENDED {
            return Err(Error::Invalid(format!("unknown account state {new_state:?}")));
        }
        write_tx!(self, |conn| {
            let id = account_id(conn, self, &addr).await?;
            sqlx::query(self.db.dialect.sql("UPDATE accounts SET state = ?, updated_at = ? WHERE id = ?"))
                .bind(new_state)
                .bind(now())
                .bind(id)
                .execute(&mut *conn)
                .await?;
            let action = if new_state == state::SUSPENDED { "account.suspend" } else { "account.resume" };
            record(conn, self, action, &addr.to_string(), "").await
        })
    }

    /// Sets the quota in bytes; 0 is unlimited.
    pub async fn set_quota(&self, address: &str, bytes: i64) -> Result<()> {
        let addr = Address::parse(address)?;
        if bytes < 0 {
            return Err(Error::Invalid("quota must not be negative".into()));
        }
        write_tx!(self, |conn| {
            let id = account_id(conn, self, &addr).await?;
            sqlx::query(self.db.dialect.sql("UPDATE accounts SET quota_bytes = ?, updated_at = ? WHERE id = ?"))
                .bind(bytes)
                .bind(now())
                .bind(id)
                .execute(&mut *conn)
                .await?;
            record(conn, self, "account.quota", &addr.to_string(), &bytes.to_string()).await
        })
    }

    /// Removes the account with its forwards and preferences. Aliases that
    /// point at it are left alone (they may point elsewhere too) and are
    /// reported by `resolve` as dangling.
    pub async fn remove_account(&self, address: &str) -> Result<()> {
        let addr = Address::parse(address)?;
        write_tx!(self, |conn| {
            let id = account_id(conn, self, &addr).await?;
            for q in [
                "DELETE FROM forwards WHERE account_id = ?",
                "DELETE FROM preferences WHERE account_id = ?",
                "DELETE FROM accounts WHERE id = ?",
            ] {
                sqlx::query(self.db.dialect.sql(q)).bind(id).execute(&mut *conn).await?;
            }
            record(conn, self, "account.remove", &addr.to_string(), "").await
        })
    }

    /// Checks a login. `Ok(None)` for a wrong password, an unknown address or
    /// an account that cannot log in, so callers cannot tell them apart by
    /// accident. A correct password stored in an older scheme is replaced by
    /// argon2id when the settings say so.
    pub async fn authenticate(&self, address: &str, password: &str) -> Result<Option<AuthOutcome>> {
        let (account, stored) = match self.account_with_password(address).await {
            Ok(found) => found,
            Err(Error::UnknownAccount(_)) | Err(Error::InvalidAddress(..)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if stored.is_empty() || account.state != state::ACTIVE {
            return Ok(None);
        }
        let policy = atoll_password::Policy { allow_plain: self.settings.allow_plain_passwords };
        let verified = match atoll_password::verify(&stored, password, &policy) {
            Ok(Some(v)) => v,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::warn!(account = %account.address, error = %e, "stored password hash is unusable");
                return Ok(None);
            }
        };
        let mut rehashed = false;
        if verified.needs_rehash && self.settings.rehash_on_login {
            let new_hash = atoll_password::hash(password)?;
            let id = account.id;
            let addr = account.address.clone();
            let from = scheme_name(verified.scheme);
            write_tx!(self, |conn| {
                // Only replace the hash that was verified: a password changed
                // in the meantime wins.
                let r = sqlx::query(
                    self.db
                        .dialect
                        .sql("UPDATE accounts SET password = ?, updated_at = ? WHERE id = ? AND password = ?"),
                )
                .bind(&new_hash)
                .bind(now())
                .bind(id)
                .bind(&stored)
                .execute(&mut *conn)
                .await?;
                if r.rows_affected() == 1 {
                    record(conn, self, "account.rehash", &addr, &format!("{from} -> argon2id")).await?;
                }
                Ok(())
            })?;
            rehashed = true;
        }
        Ok(Some(AuthOutcome { account, rehashed }))
    }
}

async fn update_password(conn: &mut AnyConnection, dir: &Directory, id: i64, stored: &str) -> Result<()> {
    sqlx::query(dir.db.dialect.sql("UPDATE accounts SET password = ?, updated_at = ? WHERE id = ?"))
        .bind(stored)
        .bind(now())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

fn const_format(columns: &str, from: &str, tail: &str) -> String {
    format!("SELECT {columns} {from} {tail}")
}

/// How a hash scheme is shown to operators (Dovecot's names, lowercased).
pub(crate) fn scheme_name(s: atoll_password::Scheme) -> &'static str {
    use atoll_password::Scheme::*;
    match s {
        Argon2id => "argon2id",
        Argon2i => "argon2i",
        Sha512Crypt => "sha512-crypt",
        Sha256Crypt => "sha256-crypt",
        Bcrypt => "blf-crypt",
        Ssha => "ssha",
        Ssha512 => "ssha512",
        Plain => "plain",
        #[allow(unreachable_patterns)]
        _ => "other",
    }
}
