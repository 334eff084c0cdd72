//! Islands: the partitions of mail storage every account lives on.

use sqlx::{AnyConnection, Row};

use crate::audit::record;
use crate::model::island_state;
use crate::sql::{is_unique_violation, now, write_tx};
use crate::{Directory, Error, Island, Result};

pub(crate) fn check_island_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok { Ok(()) } else { Err(Error::InvalidName(name.to_string(), "letters, digits, '.', '-' and '_' only")) }
}

/// The id and state of an island, inside a transaction.
pub(crate) async fn island_by_name(conn: &mut AnyConnection, dir: &Directory, name: &str) -> Result<(i64, String)> {
    let row = sqlx::query(dir.db.dialect.sql("SELECT id, state FROM islands WHERE name = ?"))
        .bind(name)
        .fetch_optional(conn)
        .await?;
    match row {
        Some(r) => Ok((r.try_get(0)?, r.try_get(1)?)),
        None => Err(Error::UnknownIsland(name.to_string())),
    }
}

/// Where new accounts go when nobody said: the open island with the fewest
/// accounts, so islands fill evenly. The counts are read once per
/// transaction and kept up to date in memory, so a bulk import does not
/// count a million accounts for every row.
#[derive(Default)]
pub(crate) struct Placement {
    open: Option<Vec<(i64, i64)>>,
}

impl Placement {
    pub(crate) async fn pick(&mut self, conn: &mut AnyConnection, dir: &Directory) -> Result<i64> {
        if self.open.is_none() {
            let rows = sqlx::query(dir.db.dialect.sql(
                "SELECT i.id, (SELECT COUNT(*) FROM accounts a WHERE a.island_id = i.id) \
                 FROM islands i WHERE i.state = 'open' ORDER BY i.id",
            ))
            .fetch_all(conn)
            .await?;
            let counts =
                rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<Result<Vec<_>, sqlx::Error>>()?;
            self.open = Some(counts);
        }
        let open = self.open.as_mut().ok_or(Error::NoOpenIsland)?;
        // Fewest accounts first; the oldest island on a tie.
        let best = open.iter_mut().min_by_key(|(id, n)| (*n, *id)).ok_or(Error::NoOpenIsland)?;
        best.1 += 1;
        Ok(best.0)
    }

    /// An account was put on `island` by name or by group.
    pub(crate) fn placed(&mut self, island: i64) {
        if let Some(entry) = self.open.as_mut().and_then(|o| o.iter_mut().find(|(id, _)| *id == island)) {
            entry.1 += 1;
        }
    }
}

impl Directory {
    pub async fn add_island(&self, name: &str, store: &str) -> Result<()> {
        check_island_name(name)?;
        write_tx!(self, |conn| {
            let inserted = sqlx::query(
                self.db.dialect.sql("INSERT INTO islands (name, state, store, created_at) VALUES (?, 'open', ?, ?)"),
            )
            .bind(name)
            .bind(store)
            .bind(now())
            .execute(&mut *conn)
            .await;
            match inserted {
                Err(e) if is_unique_violation(&e) => return Err(Error::IslandExists(name.to_string())),
                other => other?,
            };
            record(conn, self, "island.add", name, store).await
        })
    }

    /// Creates the island if it does not exist yet (start-up of a node that
    /// serves it); returns whether it was created.
    pub async fn ensure_island(&self, name: &str, store: &str) -> Result<bool> {
        match self.add_island(name, store).await {
            Ok(()) => Ok(true),
            Err(Error::IslandExists(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn list_islands(&self) -> Result<Vec<Island>> {
        let rows = sqlx::query(self.db.dialect.sql(
            "SELECT i.name, i.state, i.store, i.created_at, \
               (SELECT COUNT(*) FROM accounts a WHERE a.island_id = i.id) \
             FROM islands i ORDER BY i.name",
        ))
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Island {
                    name: r.try_get(0)?,
                    state: r.try_get(1)?,
                    store: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                    accounts: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// open: takes new accounts; closed: keeps serving its accounts but takes
    /// no new ones; draining: its accounts are being moved elsewhere.
    pub async fn set_island_state(&self, name: &str, state: &str) -> Result<()> {
        if !island_state::ALL.contains(&state) {
            return Err(Error::Invalid(format!("island state must be one of {}", island_state::ALL.join(", "))));
        }
        write_tx!(self, |conn| {
            let (id, old) = island_by_name(conn, self, name).await?;
            sqlx::query(self.db.dialect.sql("UPDATE islands SET state = ? WHERE id = ?"))
                .bind(state)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            record(conn, self, "island.state", name, &format!("{old} -> {state}")).await
        })
    }
}
