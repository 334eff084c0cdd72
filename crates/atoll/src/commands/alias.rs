use clap::Subcommand;

use crate::context::Context;
use crate::output::{done, print};

#[derive(Subcommand)]
pub enum Cmd {
    /// Make ADDRESS deliver to TARGET (add several targets one by one); @domain is the catch-all
    Add { address: String, target: String },
    /// List aliases, one line per target
    List { domain: Option<String> },
    /// Remove one target of an alias, or the whole alias
    Remove { address: String, target: Option<String> },
}

pub async fn run(ctx: &Context, cmd: Cmd) -> anyhow::Result<()> {
    let dir = ctx.directory().await?;
    match cmd {
        Cmd::Add { address, target } => {
            dir.add_alias(&address, &target).await?;
            done(ctx, &format!("alias {} -> {} added", address.to_lowercase(), target.to_lowercase()));
        }
        Cmd::List { domain } => {
            let rows = dir.list_aliases(domain.as_deref()).await?;
            print(ctx, &rows, &["alias", "target"], |a| vec![a.address.clone(), a.target.clone()])?;
        }
        Cmd::Remove { address, target } => {
            dir.remove_alias(&address, target.as_deref()).await?;
            done(ctx, &format!("alias {} removed", address.to_lowercase()));
        }
    }
    Ok(())
}
