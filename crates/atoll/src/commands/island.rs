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
    }
    Ok(())
}
