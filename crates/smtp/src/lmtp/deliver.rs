//! Recipient checks at RCPT time and delivery into the islands after the
//! message: what LMTP asks of the directory and of the store.

use std::collections::{HashMap, HashSet};

use atoll_directory::Destination;
use atoll_store::Delivery;

use super::Inner;
use crate::Reply;
use crate::recipient::{self, FULL, NO_SUCH_USER, STORE_DOWN};

/// A recipient accepted at RCPT time.
#[derive(Debug, Clone)]
pub(crate) struct Recipient {
    /// As the client wrote it, for logs.
    pub(crate) address: String,
    /// The mailboxes it reaches: one for an account, several for an alias
    /// whose targets are all local mailboxes on this node's islands.
    pub(crate) mailboxes: Vec<Mailbox>,
}

#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    pub(crate) account_id: i64,
    /// The mailbox's own address (for Delivered-To).
    pub(crate) address: String,
    pub(crate) island: String,
    /// 0 is unlimited.
    pub(crate) quota_bytes: i64,
}

const NOT_HERE: Reply = Reply::new(550, [5, 1, 1], "mailbox is not on this node's islands");
const NOT_MAILBOX: Reply = Reply::new(550, [5, 1, 1], "not a local mailbox");
const DELIVERED: Reply = Reply::new(250, [2, 0, 0], "delivered");

impl Inner {
    /// Decides RCPT TO: the recipient, or the reply that refuses it.
    ///
    /// LMTP is final delivery. Only addresses whose every destination is a
    /// mailbox on one of this node's islands are taken. External targets
    /// (forwards, aliases to other domains) and mailing lists are the MX's
    /// business: it expands and relays them before it speaks LMTP, so an
    /// address that still leads there is refused rather than half
    /// delivered. Likewise a mailbox on another island: the MX routes per
    /// island and has sent it to the wrong node.
    pub(crate) async fn resolve_recipient(&self, address: &str) -> Result<Recipient, Reply> {
        let resolution = recipient::destinations(&self.directory, address, NO_SUCH_USER, "lmtp").await?;
        let destinations = recipient::of(&resolution);
        let mut mailboxes = Vec::with_capacity(destinations.len());
        for d in destinations {
            match d {
                Destination::Mailbox { account_id, address: owner, island, .. } => {
                    let Some(store) = self.islands.get(island) else { return Err(NOT_HERE) };
                    let quota_bytes = recipient::room(&self.directory, store, *account_id, owner, "lmtp").await?;
                    mailboxes.push(Mailbox {
                        account_id: *account_id,
                        address: owner.clone(),
                        island: island.clone(),
                        quota_bytes,
                    });
                }
                Destination::External { .. } | Destination::List { .. } => return Err(NOT_MAILBOX),
            }
        }
        Ok(Recipient { address: address.to_string(), mailboxes })
    }

    /// Stores `raw` for every recipient and returns one reply per recipient,
    /// in their order (RFC 2033 §4.2).
    ///
    /// Each island gets one `Island::deliver` call with every account of the
    /// transaction that lives there, each account once even when several
    /// recipients reach it: the body is stored once and all copies commit
    /// together. A recipient is answered 250 only after that returned,
    /// which means the blob is fsync'ed and the rows are committed.
    ///
    /// `key` names the delivery for the island's duplicate check; `mailbox`
    /// files it somewhere other than INBOX (Junk).
    pub(crate) async fn deliver(
        &self,
        raw: Vec<u8>,
        recipients: &[Recipient],
        id: &str,
        key: Option<String>,
        mailbox: Option<String>,
    ) -> Vec<Reply> {
        // One mailbox in all: its copy is its own and names it (before the
        // size is taken, for the quota).
        let mut all = recipients.iter().flat_map(|r| &r.mailboxes);
        let first = all.next();
        let single = first.filter(|f| all.all(|m| m.account_id == f.account_id));
        let raw = match single {
            Some(m) => crate::trace::with_delivered_to(&raw, &m.address),
            None => raw,
        };
        let size = raw.len() as i64;
        let mut replies: Vec<Option<Reply>> = vec![None; recipients.len()];

        // Quotas, now that the size is known: usage + size must fit. A
        // recipient whose mailbox is too full is refused on its own; its
        // mailboxes get no copy (an alias is delivered whole or not at all,
        // so the retry does not duplicate).
        let mut usage: HashMap<i64, Result<i64, ()>> = HashMap::new();
        for (r, reply) in recipients.iter().zip(replies.iter_mut()) {
            for m in r.mailboxes.iter().filter(|m| m.quota_bytes > 0) {
                let used = match usage.get(&m.account_id) {
                    Some(u) => *u,
                    None => {
                        let u = match self.islands.get(&m.island) {
                            Some(island) => {
                                island.quota_usage(m.account_id).await.map(|(bytes, _)| bytes).map_err(|e| {
                                    tracing::warn!(id, island = %m.island, error = %e, "lmtp: quota lookup failed");
                                })
                            }
                            None => Err(()),
                        };
                        usage.insert(m.account_id, u);
                        u
                    }
                };
                let verdict = match used {
                    Ok(used) if used.saturating_add(size) > m.quota_bytes => Some(FULL),
                    Ok(_) => None,
                    Err(()) => Some(STORE_DOWN),
                };
                if let Some(v) = verdict {
                    *reply = Some(v);
                    break;
                }
            }
        }

        // Accounts per island, each once, in the order first seen.
        let mut per_island: Vec<(&str, Vec<i64>)> = Vec::new();
        let mut seen: HashSet<i64> = HashSet::new();
        for (r, reply) in recipients.iter().zip(&replies) {
            if reply.is_some() {
                continue;
            }
            for m in &r.mailboxes {
                if !seen.insert(m.account_id) {
                    continue;
                }
                match per_island.iter_mut().find(|(name, _)| *name == m.island) {
                    Some((_, accounts)) => accounts.push(m.account_id),
                    None => per_island.push((&m.island, vec![m.account_id])),
                }
            }
        }

        let mut failed: HashSet<&str> = HashSet::new();
        let mut raw = Some(raw);
        let last = per_island.len().saturating_sub(1);
        for (i, (name, accounts)) in per_island.iter().enumerate() {
            // Clone the body for all but the last island.
            let body = if i == last { raw.take().unwrap_or_default() } else { raw.clone().unwrap_or_default() };
            let result = match self.islands.get(*name) {
                Some(island) if key.is_some() || mailbox.is_some() => {
                    let d =
                        Delivery { raw: body, accounts: accounts.clone(), key: key.clone(), mailbox: mailbox.clone() };
                    match island.deliver_batch(vec![d]).await.pop() {
                        Some(r) => r.map_err(|e| e.to_string()),
                        None => Err("no result from the island".to_string()),
                    }
                }
                Some(island) => island.deliver(body, accounts).await.map_err(|e| e.to_string()),
                None => Err("island not served by this node".to_string()),
            };
            match result {
                Ok(stored) => {
                    tracing::info!(id, island = %name, copies = stored.len(), size, "lmtp: delivered");
                }
                Err(e) => {
                    tracing::error!(id, island = %name, error = %e, "lmtp: delivery failed");
                    failed.insert(name);
                }
            }
        }

        recipients
            .iter()
            .zip(replies)
            .map(|(r, reply)| match reply {
                Some(refused) => {
                    tracing::info!(id, rcpt = %r.address, reply = %refused, "lmtp: not delivered");
                    refused
                }
                None if r.mailboxes.iter().any(|m| failed.contains(m.island.as_str())) => STORE_DOWN,
                None => DELIVERED,
            })
            .collect()
    }
}
