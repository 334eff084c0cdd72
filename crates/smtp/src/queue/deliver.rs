//! Where a queued message goes: every recipient resolved through the
//! directory (again: aliases may have changed since RCPT), lists expanded
//! to their members, and one copy per island for all the mailboxes there.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use atoll_directory::{Destination, Directory, Resolution};
use atoll_store::{Delivery, Island};

use super::handover::{Handover, HandoverItem};
use super::record::Envelope;
use crate::trace;

/// What became of one recipient in one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Taken by another domain's server that does not offer DSN, so no
    /// success notice will come from further on (RFC 3461 §5.2.2).
    Relayed,
    /// Try again later.
    Deferred(String),
    /// Never deliverable: bounce.
    Failed(String),
}

/// One recipient after an attempt at the islands: what became of its
/// mailboxes here, and the outside addresses it forwards to (the outbound
/// path's, through a copy of the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub outcome: Outcome,
    pub external: Vec<String>,
}

/// Delivers into the islands: in-process into those this node serves,
/// over LMTP to a store node of the others ([`Handover`]).
pub struct Router {
    directory: Directory,
    islands: HashMap<String, Island>,
    handover: Option<Handover>,
}

/// How deep list members that are lists themselves are followed.
const MAX_LIST_DEPTH: usize = 4;

impl Router {
    pub fn new(directory: Directory, islands: impl IntoIterator<Item = Island>) -> Router {
        Router { directory, islands: islands.into_iter().map(|i| (i.name().to_string(), i)).collect(), handover: None }
    }

    /// Mail for islands this node does not serve goes to their store nodes
    /// over LMTP; without this it waits in the queue.
    pub fn with_handover(mut self, handover: Handover) -> Router {
        self.handover = Some(handover);
        self
    }

    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// One delivery attempt for several messages, each for its recipients
    /// still pending; `Attempt::key` names the delivery for the islands'
    /// duplicate check (node and queue id). Every island gets all of its
    /// copies in one batch (`Island::deliver_batch`), so the syncs are
    /// shared. Per message, in order: per pending recipient, what became of
    /// it here and where else it goes.
    pub async fn deliver_many(&self, attempts: &[Attempt<'_>]) -> Vec<Vec<Routed>> {
        let mut plans = Vec::with_capacity(attempts.len());
        for a in attempts {
            plans.push(self.plan(a.envelope, a.pending).await);
        }
        // Per island: the deliveries, and which message each one is for.
        let mut batches: Vec<(String, Vec<Delivery>, Vec<usize>)> = Vec::new();
        // The same for islands served elsewhere: (message, mailbox addresses).
        type ForIsland = (String, Vec<(usize, Vec<String>)>);
        let mut elsewhere: Vec<ForIsland> = Vec::new();
        for (m, (a, plan)) in attempts.iter().zip(&plans).enumerate() {
            if plan.per_island.is_empty() {
                continue;
            }
            let raw = with_return_path(&a.envelope.sender, a.body);
            for (island, mailboxes) in &plan.per_island {
                if !self.islands.contains_key(island) {
                    let addresses = mailboxes.iter().map(|(_, address)| address.clone()).collect();
                    match elsewhere.iter_mut().find(|(name, _)| name == island) {
                        Some((_, items)) => items.push((m, addresses)),
                        None => elsewhere.push((island.clone(), vec![(m, addresses)])),
                    }
                    continue;
                }
                let raw = match mailboxes.as_slice() {
                    [(_, only)] => trace::with_delivered_to(&raw, only),
                    _ => raw.clone(),
                };
                let d = Delivery {
                    raw,
                    accounts: mailboxes.iter().map(|(id, _)| *id).collect(),
                    key: Some(a.key.clone()),
                    mailbox: a.envelope.junk.then(|| "Junk".to_string()),
                };
                match batches.iter_mut().find(|(name, _, _)| name == island) {
                    Some((_, ds, owners)) => {
                        ds.push(d);
                        owners.push(m);
                    }
                    None => batches.push((island.clone(), vec![d], vec![m])),
                }
            }
        }
        // failed[m]: island -> error, for message m.
        let mut failed: Vec<HashMap<String, String>> = vec![HashMap::new(); attempts.len()];
        for (name, items) in elsewhere {
            let results = match &self.handover {
                Some(h) => {
                    let list: Vec<HandoverItem<'_>> = items
                        .iter()
                        .map(|(m, addresses)| HandoverItem {
                            sender: &attempts[*m].envelope.sender,
                            body: attempts[*m].body,
                            addresses: addresses.clone(),
                            key: &attempts[*m].key,
                            junk: attempts[*m].envelope.junk,
                        })
                        .collect();
                    h.deliver(&name, &list).await
                }
                None => vec![Err(format!("4.4.1 island {name} is not served by this node")); items.len()],
            };
            for ((m, _), result) in items.into_iter().zip(results) {
                match result {
                    Ok(()) => {
                        tracing::info!(key = %attempts[m].key, island = %name, "queue: handed over to a store node")
                    }
                    Err(e) => {
                        tracing::warn!(key = %attempts[m].key, island = %name, error = %e, "queue: hand-over failed");
                        failed[m].insert(name.clone(), e);
                    }
                }
            }
        }
        for (name, deliveries, owners) in batches {
            let n = deliveries.len();
            let results = match self.islands.get(&name) {
                Some(island) => island
                    .deliver_batch(deliveries)
                    .await
                    .into_iter()
                    .map(|r| r.map(|s| s.len()).map_err(|e| e.to_string()))
                    .collect(),
                None => vec![Err(format!("island {name} is not served by this node")); n],
            };
            for (m, result) in owners.into_iter().zip(results) {
                match result {
                    Ok(copies) => tracing::info!(key = %attempts[m].key, island = %name, copies, "queue: delivered"),
                    Err(e) => {
                        tracing::warn!(key = %attempts[m].key, island = %name, error = %e, "queue: island delivery failed");
                        failed[m].insert(name.clone(), e);
                    }
                }
            }
        }
        plans.into_iter().zip(failed).map(|(plan, failed)| plan.outcomes(&failed)).collect()
    }

    /// Whether mail to `address` leaves this platform: its domain is not
    /// one of ours. When the directory cannot say, it is taken as ours:
    /// the islands' path then waits for the directory.
    pub async fn is_remote(&self, address: &str) -> bool {
        matches!(self.directory.resolve(address).await.as_deref(), Ok(Resolution::NotLocal))
    }

    /// Resolves a message's pending recipients: the mailboxes per island,
    /// and the recipients already decided (failed, deferred, nothing to do).
    async fn plan(&self, envelope: &Envelope, pending: &[usize]) -> Plan {
        let mut per_island: Vec<(String, Vec<(i64, String)>)> = Vec::new();
        let mut needs: Vec<Vec<String>> = vec![Vec::new(); pending.len()];
        let mut decided: Vec<Option<Outcome>> = vec![None; pending.len()];
        let mut externals: Vec<Vec<String>> = vec![Vec::new(); pending.len()];
        let mut seen: HashSet<i64> = HashSet::new();
        for (slot, &i) in pending.iter().enumerate() {
            let Some(rcpt) = envelope.recipients.get(i) else {
                decided[slot] = Some(Outcome::Failed("5.1.3 no such recipient in the envelope".into()));
                continue;
            };
            let mut mailboxes = Vec::new();
            let mut external = Vec::new();
            if let Err(o) = self.expand(&rcpt.address, 0, &mut mailboxes, &mut external).await {
                decided[slot] = Some(o);
                continue;
            }
            external.sort();
            external.dedup();
            if mailboxes.is_empty() {
                // Only forwards, or a list without members: nothing to do
                // here.
                decided[slot] = Some(Outcome::Delivered);
            }
            externals[slot] = external;
            for (account, address, island) in mailboxes {
                if !needs[slot].contains(&island) {
                    needs[slot].push(island.clone());
                }
                if !seen.insert(account) {
                    continue;
                }
                match per_island.iter_mut().find(|(name, _)| *name == island) {
                    Some((_, accounts)) => accounts.push((account, address)),
                    None => per_island.push((island, vec![(account, address)])),
                }
            }
        }
        Plan { per_island, needs, decided, externals }
    }

    /// The mailboxes (account, its address, island) and the outside
    /// addresses an address reaches now.
    async fn expand(
        &self,
        address: &str,
        depth: usize,
        out: &mut Vec<(i64, String, String)>,
        external: &mut Vec<String>,
    ) -> Result<(), Outcome> {
        let resolution = match self.directory.resolve(address).await {
            Ok(r) => r,
            Err(atoll_directory::Error::InvalidAddress(..)) => {
                return Err(Outcome::Failed(format!("5.1.3 bad address {address}")));
            }
            Err(e) => return Err(Outcome::Deferred(format!("4.3.0 directory unavailable: {e}"))),
        };
        let destinations = match &*resolution {
            Resolution::Deliver { destinations } => destinations,
            // A list member outside our domains: the outbound queue's.
            Resolution::NotLocal if depth > 0 => {
                external.push(address.to_string());
                return Ok(());
            }
            Resolution::Unknown | Resolution::NotLocal => {
                return Err(Outcome::Failed(format!("5.1.1 {address}: no such user here")));
            }
            Resolution::Suspended { .. } => return Err(Outcome::Failed(format!("5.2.1 {address}: mailbox disabled"))),
            Resolution::Loop { chain } => return Err(Outcome::Failed(format!("5.4.6 routing loop: {chain}"))),
            Resolution::Undeliverable { reason } => return Err(Outcome::Failed(reason.clone())),
        };
        for d in destinations {
            match d {
                Destination::Mailbox { account_id, address: owner, island, .. } => {
                    out.push((*account_id, owner.clone(), island.clone()))
                }
                Destination::External { address: target } => external.push(target.clone()),
                Destination::List { address: list, .. } => {
                    if depth >= MAX_LIST_DEPTH {
                        return Err(Outcome::Failed(format!("5.4.6 {list}: lists nested too deep")));
                    }
                    let members = self
                        .directory
                        .list_members(list)
                        .await
                        .map_err(|e| Outcome::Deferred(format!("4.3.0 directory unavailable: {e}")))?;
                    for m in members {
                        // One member that cannot take mail does not stop the
                        // list: it is skipped (its own bounce handling is the
                        // list manager's business).
                        let (mut theirs, mut outside) = (Vec::new(), Vec::new());
                        match Box::pin(self.expand(&m.address, depth + 1, &mut theirs, &mut outside)).await {
                            Ok(()) => {
                                out.append(&mut theirs);
                                external.append(&mut outside);
                            }
                            Err(Outcome::Deferred(e)) => return Err(Outcome::Deferred(e)),
                            Err(o) => {
                                tracing::info!(list = %list, member = %m.address, outcome = ?o, "queue: list member skipped")
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// One message's attempt, for [`Router::deliver_many`].
pub struct Attempt<'a> {
    /// The delivery key (node and queue id).
    pub key: String,
    pub envelope: &'a Envelope,
    pub body: &'a Arc<[u8]>,
    /// Indexes of the recipients still to deliver.
    pub pending: &'a [usize],
}

/// A message's recipients resolved, before the islands are asked.
struct Plan {
    per_island: Vec<(String, Vec<(i64, String)>)>,
    /// Per pending recipient: the islands its mailboxes are on.
    needs: Vec<Vec<String>>,
    /// Per pending recipient: the outcome when known without the islands.
    decided: Vec<Option<Outcome>>,
    /// Per pending recipient: outside addresses it forwards to.
    externals: Vec<Vec<String>>,
}

impl Plan {
    fn outcomes(self, failed: &HashMap<String, String>) -> Vec<Routed> {
        self.decided
            .into_iter()
            .zip(self.needs)
            .zip(self.externals)
            .map(|((o, islands), external)| {
                let outcome = o.unwrap_or_else(|| match islands.iter().find_map(|i| failed.get(i)) {
                    Some(e) => Outcome::Deferred(e.clone()),
                    None => Outcome::Delivered,
                });
                Routed { outcome, external }
            })
            .collect()
    }
}

/// Return-Path (RFC 5321 §4.4) goes on at final delivery.
fn with_return_path(sender: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = trace::return_path(sender).into_bytes();
    raw.extend_from_slice(body);
    raw
}
