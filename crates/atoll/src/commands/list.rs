//! `atoll list`: mailing lists, their members and moderators in the
//! directory; the posts held for the moderators live in the queue
//! (`list_held.rs`).

use clap::Subcommand;

use super::list_held;
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
    /// Moderators of a list: they decide on held posts, and their own
    /// posts are never held
    #[command(subcommand)]
    Moderator(ModeratorCmd),
    /// Posts to moderated lists held for a decision, of one list or all
    /// (read from the spool, with or without the node running)
    Held { list: Option<String> },
    /// Distribute a held post to the list's members
    Approve {
        /// Its queue id, from `atoll list held` or the moderators' notice
        id: String,
    },
    /// Refuse a held post: the sender gets a notice (Status 5.7.2) with
    /// the reason; or drop it silently with --discard
    Reject {
        /// Its queue id, from `atoll list held` or the moderators' notice
        id: String,
        /// Why, in one line: it goes into the sender's notice
        #[arg(long, conflicts_with = "discard")]
        reason: Option<String>,
        /// Drop it without a notice to anyone (spam)
        #[arg(long)]
        discard: bool,
    },
}

#[derive(Subcommand)]
pub enum ModeratorCmd {
    /// Make an address a moderator of a list (it need not be a member)
    Add { list: String, address: String },
    /// Take a moderator off a list
    Remove { list: String, address: String },
    /// Show a list's moderators
    List { list: String },
}

pub async fn run(ctx: &Context, cmd: Cmd) -> anyhow::Result<()> {
    // Held posts are the queue's: these work without the directory.
    match cmd {
        Cmd::Held { list } => return list_held::show(ctx, list.as_deref()),
        Cmd::Approve { id } => return list_held::approve(ctx, &id),
        Cmd::Reject { id, reason, discard } => return list_held::reject(ctx, &id, reason, discard),
        _ => {}
    }
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
        Cmd::Moderator(ModeratorCmd::Add { list, address }) => {
            dir.add_moderator(&list, &address).await?;
            done(ctx, &format!("{} moderates {}", address.to_lowercase(), list.to_lowercase()));
        }
        Cmd::Moderator(ModeratorCmd::Remove { list, address }) => {
            dir.remove_moderator(&list, &address).await?;
            done(ctx, &format!("{} no longer moderates {}", address.to_lowercase(), list.to_lowercase()));
        }
        Cmd::Moderator(ModeratorCmd::List { list }) => {
            let rows = dir.list_moderators(&list).await?;
            print(ctx, &rows, &["moderator"], |m| vec![m.clone()])?;
        }
        Cmd::Held { .. } | Cmd::Approve { .. } | Cmd::Reject { .. } => {}
    }
    Ok(())
}
