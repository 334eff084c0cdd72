use clap::Subcommand;

use crate::context::Context;
use crate::output::{print, time};

#[derive(Subcommand)]
pub enum Cmd {
    /// Show the nodes registered in the directory and whether they are alive
    Status,
}

pub async fn run(ctx: &Context, cmd: Cmd) -> anyhow::Result<()> {
    let dir = ctx.directory().await?;
    match cmd {
        Cmd::Status => {
            let nodes = dir.list_nodes().await?;
            let now = dir.now();
            // A node is alive while its heartbeats are recent: three missed
            // beats of this node's own configured interval.
            let limit = (ctx.config.node.heartbeat.as_secs() as i64 * 3).max(5);
            print(ctx, &nodes, &["node", "state", "roles", "islands", "last heartbeat", "version"], |n| {
                let state = if now - n.heartbeat_at <= limit { "up" } else { "down" };
                vec![
                    n.name.clone(),
                    state.into(),
                    n.roles.join(","),
                    n.islands.join(","),
                    time(n.heartbeat_at),
                    n.version.clone(),
                ]
            })?;
        }
    }
    Ok(())
}
