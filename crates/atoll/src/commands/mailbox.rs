//! `atoll mailbox`: look into an account's mailboxes on its island, with or
//! without a server running.

use atoll_store::{BlobId, Island, Message};
use clap::Subcommand;
use serde::Serialize;

use crate::context::Context;
use crate::islands::open_island;
use crate::output::{print, time};

#[derive(Subcommand)]
pub enum Cmd {
    /// List an account's mailboxes with their counts
    List { address: String },
    /// List the messages in one of an account's mailboxes
    Show { address: String, mailbox: String },
}

#[derive(Serialize)]
struct MailboxRow {
    name: String,
    special_use: Option<String>,
    messages: i64,
    unseen: i64,
    size: i64,
    uidvalidity: i64,
    uidnext: i64,
}

#[derive(Serialize)]
struct MessageRow {
    uid: i64,
    flags: Vec<String>,
    size: i64,
    internal_date: i64,
    subject: String,
}

/// Connections an admin command keeps to the island's metadata.
const CLI_CONNECTIONS: u32 = 2;

pub async fn run(ctx: &Context, cmd: Cmd) -> anyhow::Result<()> {
    let dir = ctx.directory().await?;
    match cmd {
        Cmd::List { address } => {
            let account = dir.account(&address).await?;
            let island = open_island(&dir, &account.island, CLI_CONNECTIONS).await?;
            let mut rows = Vec::new();
            // An account that never received mail has no mailboxes yet.
            for m in island.ensure_defaults(account.id).await? {
                let status = island.status(&m).await?;
                rows.push(MailboxRow {
                    name: m.name,
                    special_use: m.special_use,
                    messages: status.messages,
                    unseen: status.unseen,
                    size: status.size,
                    uidvalidity: m.uidvalidity,
                    uidnext: m.uidnext,
                });
            }
            print(
                ctx,
                &rows,
                &["mailbox", "special-use", "messages", "unseen", "size", "uidvalidity", "uidnext"],
                |r| {
                    vec![
                        r.name.clone(),
                        r.special_use.clone().unwrap_or_else(|| "-".into()),
                        r.messages.to_string(),
                        r.unseen.to_string(),
                        r.size.to_string(),
                        r.uidvalidity.to_string(),
                        r.uidnext.to_string(),
                    ]
                },
            )?;
        }
        Cmd::Show { address, mailbox } => {
            let account = dir.account(&address).await?;
            let island = open_island(&dir, &account.island, CLI_CONNECTIONS).await?;
            island.ensure_defaults(account.id).await?;
            let mbox = island.mailbox(account.id, &mailbox).await?;
            let mut rows = Vec::new();
            for m in island.messages(&mbox).await? {
                rows.push(message_row(&island, &m).await?);
            }
            print(ctx, &rows, &["uid", "flags", "size", "internal date", "subject"], |r| {
                vec![
                    r.uid.to_string(),
                    if r.flags.is_empty() { "-".into() } else { r.flags.join(" ") },
                    r.size.to_string(),
                    time(r.internal_date),
                    r.subject.clone(),
                ]
            })?;
        }
    }
    Ok(())
}

async fn message_row(island: &Island, m: &Message) -> anyhow::Result<MessageRow> {
    Ok(MessageRow {
        uid: m.uid,
        flags: m.flags.names(),
        size: m.size,
        internal_date: m.internal_date,
        subject: subject(island, m.blob).await?,
    })
}

/// The decoded Subject of a stored message.
///
/// Read from the body until the store keeps the analysis made at delivery
/// (then: `Island::analysis(blob)`), which spares reading the message.
async fn subject(island: &Island, blob: BlobId) -> anyhow::Result<String> {
    let raw = island.read(blob).await?;
    let parsed = mail_parser::MessageParser::new().parse_headers(&raw);
    Ok(parsed.and_then(|p| p.subject().map(str::to_string)).unwrap_or_default())
}
