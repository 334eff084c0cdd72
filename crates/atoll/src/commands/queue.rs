//! `atoll queue`: the messages this node's MX accepted and has not
//! delivered yet. It reads the spool (`<data_dir>/spool`) directly, with or
//! without the node running; retry and remove are requests the node's
//! queue carries out within a second (or when it starts).

use anyhow::Context as _;
use atoll_smtp::queue::control::{self, Request};
use atoll_smtp::queue::spool::{self, Spooled, format_id, parse_id};
use clap::Subcommand;
use serde::Serialize;

use crate::context::Context;
use crate::output::{done, print, print_one, time};

#[derive(Subcommand)]
pub enum Cmd {
    /// The queued messages, oldest first
    List,
    /// One message: its envelope and header
    Show { id: String },
    /// Try a message now rather than at its next retry (`--all`: every one)
    Retry {
        #[arg(required_unless_present = "all")]
        id: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Drop a message from the queue, undelivered
    Remove { id: String },
}

#[derive(Serialize)]
struct Row {
    id: String,
    arrived: i64,
    size: usize,
    sender: String,
    pending: Vec<String>,
    /// "islands" (mailboxes here), "outbound" (SMTP to other domains) or
    /// "held" (waiting for a list's moderator: `atoll list held`).
    via: &'static str,
}

fn row(m: &Spooled) -> Row {
    Row {
        id: format_id(m.id),
        arrived: m.envelope.arrived,
        size: m.body.len(),
        sender: m.envelope.sender.clone(),
        pending: m.pending(),
        via: if m.envelope.held {
            "held"
        } else if m.envelope.remote {
            "outbound"
        } else {
            "islands"
        },
    }
}

pub async fn run(ctx: &Context, cmd: Cmd) -> anyhow::Result<()> {
    let dir = ctx.config.node.data_dir.join("spool");
    let queued = || spool::read(&dir).with_context(|| format!("cannot read the queue in {}", dir.display()));
    // An id the queue holds, or a clear error.
    let find = |id: &str| -> anyhow::Result<Spooled> {
        let n = parse_id(id).with_context(|| format!("{id:?} is not a queue id (16 hexadecimal digits)"))?;
        queued()?.into_iter().find(|m| m.id == n).with_context(|| format!("no message {id} in the queue"))
    };
    match cmd {
        Cmd::List => {
            let rows: Vec<Row> = queued()?.iter().map(row).collect();
            print(ctx, &rows, &["id", "arrived", "size", "sender", "via", "waiting for"], |r| {
                let sender = if r.sender.is_empty() { "<>".to_string() } else { r.sender.clone() };
                vec![r.id.clone(), time(r.arrived), r.size.to_string(), sender, r.via.to_string(), r.pending.join(", ")]
            })?;
        }
        Cmd::Show { id } => {
            let m = find(&id)?;
            let r = row(&m);
            let header_end = memchr_header_end(&m.body);
            let header = String::from_utf8_lossy(&m.body[..header_end]).to_string();
            #[derive(Serialize)]
            struct Shown<'a> {
                #[serde(flatten)]
                row: &'a Row,
                recipients: Vec<String>,
                header: &'a str,
            }
            let recipients: Vec<String> = m.envelope.recipients.iter().map(|r| r.address.clone()).collect();
            let shown = Shown { row: &r, recipients: recipients.clone(), header: &header };
            print_one(
                ctx,
                &shown,
                &[
                    ("id", r.id.clone()),
                    ("arrived", time(r.arrived)),
                    ("size", r.size.to_string()),
                    ("sender", if r.sender.is_empty() { "<>".into() } else { r.sender.clone() }),
                    ("recipients", recipients.join(", ")),
                    ("via", r.via.to_string()),
                    ("waiting for", r.pending.join(", ")),
                    ("header", format!("\n{}", header.trim_end())),
                ],
            )?;
        }
        Cmd::Retry { id, all } => {
            if all {
                control::submit(&dir, &Request::RetryAll).context("cannot leave the request")?;
                done(ctx, "retry of every queued message requested");
            } else {
                let id = id.unwrap_or_default();
                let m = find(&id)?;
                control::submit(&dir, &Request::Retry(m.id)).context("cannot leave the request")?;
                done(ctx, &format!("retry of {id} requested"));
            }
        }
        Cmd::Remove { id } => {
            let m = find(&id)?;
            control::submit(&dir, &Request::Remove(m.id)).context("cannot leave the request")?;
            done(ctx, &format!("removal of {id} requested"));
        }
    }
    Ok(())
}

/// Where the header section ends (after its blank line), or the end.
fn memchr_header_end(body: &[u8]) -> usize {
    body.windows(4).position(|w| w == b"\r\n\r\n").map_or(body.len(), |p| p + 4)
}
