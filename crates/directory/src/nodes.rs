//! Nodes: running `atoll serve` processes, their roles and islands, and
//! their heartbeats (what `atoll cluster status` shows).

use sqlx::{AnyConnection, Row};

use crate::audit::record;
use crate::islands::island_by_name;
use crate::sql::{fetch_id, now, write_tx};
use crate::{Directory, Node, Result};

fn split(s: &str) -> Vec<String> {
    s.split(',').filter(|p| !p.is_empty()).map(str::to_string).collect()
}

async fn node_id(conn: &mut AnyConnection, dir: &Directory, name: &str) -> Result<Option<i64>> {
    Ok(fetch_id(sqlx::query(dir.db.dialect.sql("SELECT id FROM nodes WHERE name = ?")).bind(name), conn).await?)
}

impl Directory {
    /// Records that node `name` started with these roles and islands; a node
    /// that restarts under the same name replaces its old entry.
    pub async fn register_node(
        &self,
        name: &str,
        roles: &[&str],
        islands: &[&str],
        addresses: &[String],
        version: &str,
    ) -> Result<()> {
        let roles = roles.join(",");
        let addresses = addresses.join(",");
        write_tx!(self, |conn| {
            let t = now();
            let id = match node_id(conn, self, name).await? {
                Some(id) => {
                    sqlx::query(self.db.dialect.sql(
                        "UPDATE nodes SET roles = ?, addresses = ?, version = ?, started_at = ?, heartbeat_at = ? WHERE id = ?",
                    ))
                    .bind(&roles).bind(&addresses).bind(version).bind(t).bind(t).bind(id)
                    .execute(&mut *conn)
                    .await?;
                    sqlx::query(self.db.dialect.sql("DELETE FROM node_islands WHERE node_id = ?"))
                        .bind(id)
                        .execute(&mut *conn)
                        .await?;
                    id
                }
                None => {
                    sqlx::query(self.db.dialect.sql(
                        "INSERT INTO nodes (name, roles, addresses, version, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)",
                    ))
                    .bind(name).bind(&roles).bind(&addresses).bind(version).bind(t).bind(t)
                    .execute(&mut *conn)
                    .await?;
                    node_id(conn, self, name)
                        .await?
                        .ok_or_else(|| crate::Error::Invalid(format!("node {name} vanished")))?
                }
            };
            for island in islands {
                let (iid, _) = island_by_name(conn, self, island).await?;
                sqlx::query(self.db.dialect.sql("INSERT INTO node_islands (node_id, island_id) VALUES (?, ?)"))
                    .bind(id)
                    .bind(iid)
                    .execute(&mut *conn)
                    .await?;
            }
            record(conn, self, "node.register", name, &format!("roles={roles} islands={}", islands.join(","))).await
        })
    }

    /// Tells the directory that node `name` is alive. Not audited: it
    /// happens every few seconds and changes nothing an operator made.
    pub async fn heartbeat(&self, name: &str) -> Result<()> {
        sqlx::query(self.db.dialect.sql("UPDATE nodes SET heartbeat_at = ? WHERE name = ?"))
            .bind(now())
            .bind(name)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    pub async fn list_nodes(&self) -> Result<Vec<Node>> {
        let rows = sqlx::query(self.db.dialect.sql(
            "SELECT n.name, n.roles, n.addresses, n.version, n.started_at, n.heartbeat_at, i.name \
             FROM nodes n LEFT JOIN node_islands ni ON ni.node_id = n.id LEFT JOIN islands i ON i.id = ni.island_id \
             ORDER BY n.name, i.name",
        ))
        .fetch_all(&self.db.pool)
        .await?;
        let mut out: Vec<Node> = Vec::new();
        for r in &rows {
            let name: String = r.try_get(0)?;
            let island: Option<String> = r.try_get(6)?;
            if out.last().is_none_or(|n| n.name != name) {
                out.push(Node {
                    name,
                    roles: split(&r.try_get::<String, _>(1)?),
                    addresses: split(&r.try_get::<String, _>(2)?),
                    version: r.try_get(3)?,
                    started_at: r.try_get(4)?,
                    heartbeat_at: r.try_get(5)?,
                    islands: Vec::new(),
                });
            }
            if let (Some(island), Some(node)) = (island, out.last_mut()) {
                node.islands.push(island);
            }
        }
        Ok(out)
    }
}
