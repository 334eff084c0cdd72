use clap::Subcommand;

use crate::context::Context;
use crate::output::{done, print};

#[derive(Subcommand)]
pub enum Cmd {
    /// Forward an account's mail to TARGET
    Add {
        account: String,
        target: String,
        /// Also keep a copy in the account's mailbox
        #[arg(long)]
        keep_copy: bool,
    },
    /// List forwards, of one account or all
    List { account: Option<String> },
    /// Remove one forward, or all of an account's
    Remove { account: String, target: Option<String> },
}

pub async fn run(ctx: &Context, cmd: Cmd) -> anyhow::Result<()> {
    let dir = ctx.directory().await?;
    match cmd {
        Cmd::Add { account, target, keep_copy } => {
            dir.add_forward(&account, &target, keep_copy).await?;
            done(ctx, &format!("forward {} -> {} added", account.to_lowercase(), target.to_lowercase()));
        }
        Cmd::List { account } => {
            let rows = dir.list_forwards(account.as_deref()).await?;
            print(ctx, &rows, &["account", "target", "keep copy"], |f| {
                vec![f.account.clone(), f.target.clone(), if f.keep_copy { "yes" } else { "no" }.into()]
            })?;
        }
        Cmd::Remove { account, target } => {
            dir.remove_forward(&account, target.as_deref()).await?;
            done(ctx, &format!("forward from {} removed", account.to_lowercase()));
        }
    }
    Ok(())
}
