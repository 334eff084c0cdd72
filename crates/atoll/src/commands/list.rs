use clap::Subcommand;

use crate::context::Context;
use crate::output::{done, print};

#[derive(Subcommand)]
pub enum Cmd {
    /// Create a mailing list
    Create {
        address: String,
        /// Who may post: members, anyone or moderated
        #[arg(long, default_value = "members")]
        posting: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Remove a mailing list and its member list
    Remove { address: String },
    /// Add a member
    Subscribe {
        list: String,
        member: String,
        /// Receive digests instead of each post
        #[arg(long)]
        digest: bool,
    },
    /// Remove a member
    Unsubscribe { list: String, member: String },
    /// Show a list's members
    Members { list: String },
    /// Show mailing lists, of one domain or all
    Show { domain: Option<String> },
}

pub async fn run(ctx: &Context, cmd: Cmd) -> anyhow::Result<()> {
    let dir = ctx.directory().await?;
    match cmd {
        Cmd::Create { address, posting, description } => {
            dir.create_list(&address, &posting, &description).await?;
            done(ctx, &format!("list {} created", address.to_lowercase()));
        }
        Cmd::Remove { address } => {
            dir.remove_list(&address).await?;
            done(ctx, &format!("list {} removed", address.to_lowercase()));
        }
        Cmd::Subscribe { list, member, digest } => {
            dir.subscribe(&list, &member, digest).await?;
            done(ctx, &format!("{} subscribed to {}", member.to_lowercase(), list.to_lowercase()));
        }
        Cmd::Unsubscribe { list, member } => {
            dir.unsubscribe(&list, &member).await?;
            done(ctx, &format!("{} unsubscribed from {}", member.to_lowercase(), list.to_lowercase()));
        }
        Cmd::Members { list } => {
            let rows = dir.list_members(&list).await?;
            print(ctx, &rows, &["member", "digest"], |m| {
                vec![m.address.clone(), if m.digest { "yes" } else { "no" }.into()]
            })?;
        }
        Cmd::Show { domain } => {
            let rows = dir.list_lists(domain.as_deref()).await?;
            print(ctx, &rows, &["list", "posting", "members", "description"], |l| {
                vec![l.address.clone(), l.policy.clone(), l.members.to_string(), l.description.clone()]
            })?;
        }
    }
    Ok(())
}
