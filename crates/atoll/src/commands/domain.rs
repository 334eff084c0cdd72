use clap::Subcommand;

use crate::context::Context;
use crate::output::{done, print, time};

#[derive(Subcommand)]
pub enum Cmd {
    /// Add a domain to receive mail for
    Add { domain: String },
    /// List domains with their numbers of accounts, aliases and lists
    List,
    /// Remove a domain that has no accounts, aliases or lists left
    Remove { domain: String },
}

pub async fn run(ctx: &Context, cmd: Cmd) -> anyhow::Result<()> {
    let dir = ctx.directory().await?;
    match cmd {
        Cmd::Add { domain } => {
            dir.add_domain(&domain).await?;
            done(ctx, &format!("domain {} added", domain.to_lowercase()));
        }
        Cmd::List => {
            let rows = dir.list_domains().await?;
            print(ctx, &rows, &["domain", "accounts", "aliases", "lists", "created"], |d| {
                vec![
                    d.name.clone(),
                    d.accounts.to_string(),
                    d.aliases.to_string(),
                    d.lists.to_string(),
                    time(d.created_at),
                ]
            })?;
        }
        Cmd::Remove { domain } => {
            dir.remove_domain(&domain).await?;
            done(ctx, &format!("domain {} removed", domain.to_lowercase()));
        }
    }
    Ok(())
}
