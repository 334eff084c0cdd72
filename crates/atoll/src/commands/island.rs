use anyhow::Context as _;
use clap::Subcommand;

use crate::context::Context;
use crate::output::{done, print, time};

#[derive(Subcommand)]
pub enum Cmd {
    /// Add an island
    Add {
        name: String,
        /// Where its metadata database and blobs live
        #[arg(long, default_value = "")]
        store: String,
    },
    /// List islands with their states and numbers of accounts
    List,
    /// Take no new accounts on an island (its accounts keep being served)
    Close { name: String },
    /// Take new accounts on an island again
    Open { name: String },
    /// Remove the message bodies no message uses any more, now (`atoll
    /// serve` does it every store.gc_interval)
    Gc {
        name: String,
        /// How long a body must have been unused ("1h", "0s": all of them);
        /// by default store.gc_grace
        #[arg(long, value_parser = humantime::parse_duration)]
        grace: Option<std::time::Duration>,
    },
}

pub async fn run(ctx: &Context, cmd: Cmd) -> anyhow::Result<()> {
    let dir = ctx.directory().await?;
    match cmd {
        Cmd::Add { name, store } => {
            let store = if store.is_empty() {
                ctx.config.node.data_dir.join("islands").join(&name).display().to_string()
            } else {
                store
            };
            dir.add_island(&name, &store).await?;
            done(ctx, &format!("island {name} added"));
        }
        Cmd::List => {
            let rows = dir.list_islands().await?;
            print(ctx, &rows, &["island", "state", "accounts", "store", "created"], |i| {
                vec![i.name.clone(), i.state.clone(), i.accounts.to_string(), i.store.clone(), time(i.created_at)]
            })?;
        }
        Cmd::Close { name } => {
            dir.set_island_state(&name, atoll_directory::island_state::CLOSED).await?;
            done(ctx, &format!("island {name} closed to new accounts"));
        }
        Cmd::Open { name } => {
            dir.set_island_state(&name, atoll_directory::island_state::OPEN).await?;
            done(ctx, &format!("island {name} open"));
        }
        Cmd::Gc { name, grace } => {
            let island = crate::islands::open_island(&dir, &name, 2).await?;
            let grace = grace.unwrap_or(ctx.config.store.gc_grace);
            let r = island.collect_garbage(grace).await;
            island.close().await;
            let r = r.with_context(|| format!("collecting island {name}"))?;
            done(
                ctx,
                &format!(
                    "island {name}: {} unused bodies removed ({} bytes), {} in use again",
                    r.removed, r.bytes, r.kept
                ),
            );
        }
    }
    Ok(())
}
