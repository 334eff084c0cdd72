//! `atoll list held|approve|reject`: posts to moderated lists that wait
//! for a moderator. They are in the node's queue: these commands read the
//! spool (`<data_dir>/spool`) directly, with or without the node running,
//! and leave each decision as a request the queue carries out within a
//! second, or when it starts.

use anyhow::{Context as _, bail};
use atoll_smtp::queue::control::{self, Request};
use atoll_smtp::queue::spool::{self, Spooled, format_id, parse_id};
use serde::Serialize;

use crate::context::Context;
use crate::output::{done, print, time};

#[derive(Serialize)]
struct Held {
    id: String,
    arrived: i64,
    /// When it is refused if nobody decides (`[queue] give_up_after`).
    expires: i64,
    sender: String,
    /// The list addresses it was sent to.
    lists: Vec<String>,
    subject: String,
    size: usize,
    /// The moderators' notice is written.
    moderators_notified: bool,
}

fn held(ctx: &Context, m: &Spooled) -> Held {
    let give_up = ctx.config.queue.give_up_after.as_secs() as i64;
    Held {
        id: format_id(m.id),
        arrived: m.envelope.arrived,
        expires: m.envelope.arrived + give_up,
        sender: m.envelope.sender.clone(),
        lists: m.pending(),
        subject: atoll_message::header_values(&m.body, "Subject").into_iter().next().unwrap_or_default(),
        size: m.body.len(),
        moderators_notified: m.noticed.iter().any(|n| *n),
    }
}

fn spool_dir(ctx: &Context) -> std::path::PathBuf {
    ctx.config.node.data_dir.join("spool")
}

/// The held posts, oldest first.
fn read(ctx: &Context) -> anyhow::Result<Vec<Spooled>> {
    let dir = spool_dir(ctx);
    let all = spool::read(&dir).with_context(|| format!("cannot read the queue in {}", dir.display()))?;
    Ok(all.into_iter().filter(|m| m.envelope.held).collect())
}

/// The held post `id`, or a clear error.
fn find(ctx: &Context, id: &str) -> anyhow::Result<Spooled> {
    let n = parse_id(id).with_context(|| format!("{id:?} is not a queue id (16 hexadecimal digits)"))?;
    match read(ctx)?.into_iter().find(|m| m.id == n) {
        Some(m) => Ok(m),
        None => bail!("no held post {id} (see `atoll list held`)"),
    }
}

pub fn show(ctx: &Context, list: Option<&str>) -> anyhow::Result<()> {
    let list = list.map(str::to_lowercase);
    let rows: Vec<Held> = read(ctx)?
        .iter()
        .map(|m| held(ctx, m))
        .filter(|h| list.as_ref().is_none_or(|l| h.lists.iter().any(|a| a.eq_ignore_ascii_case(l))))
        .collect();
    print(ctx, &rows, &["id", "arrived", "list", "sender", "subject", "expires"], |h| {
        let sender = if h.sender.is_empty() { "<>".to_string() } else { h.sender.clone() };
        vec![h.id.clone(), time(h.arrived), h.lists.join(", "), sender, h.subject.clone(), time(h.expires)]
    })
}

fn submit(ctx: &Context, request: &Request) -> anyhow::Result<()> {
    control::submit(&spool_dir(ctx), request).context("cannot leave the request")
}

pub fn approve(ctx: &Context, id: &str) -> anyhow::Result<()> {
    let m = find(ctx, id)?;
    submit(ctx, &Request::Approve(m.id))?;
    done(ctx, &format!("approval of {} requested: it goes to the members", format_id(m.id)));
    Ok(())
}

pub fn reject(ctx: &Context, id: &str, reason: Option<String>, discard: bool) -> anyhow::Result<()> {
    let m = find(ctx, id)?;
    if discard {
        submit(ctx, &Request::Discard(m.id))?;
        done(ctx, &format!("discarding of {} requested: nobody is told", format_id(m.id)));
    } else {
        submit(ctx, &Request::Reject(m.id, reason))?;
        done(ctx, &format!("rejection of {} requested: the sender gets a notice", format_id(m.id)));
    }
    Ok(())
}
