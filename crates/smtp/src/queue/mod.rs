//! The node's queue: messages the MX accepted, on their way into the
//! islands, and messages on their way out to other domains.
//!
//! [`Queue::accept`] writes the message to the spool ([`spool`]) and
//! returns once it is on stable storage: only then does the MX answer 250.
//! Delivery runs behind it:
//!
//! - island workers take queued messages, the [`Router`] resolves their
//!   recipients and stores one copy per island;
//! - a recipient that forwards outside, or a list member elsewhere, gets a
//!   copy of the message made for the outbound path (with `Delivered-To`,
//!   which also stops forwarding loops), written in the same spool record
//!   that says the forward is done;
//! - messages for outside recipients ([`Envelope::remote`]) go to each
//!   domain's mail exchanger ([`outbound`]);
//! - posts to moderated lists ([`Envelope::held`]) wait, never attempted,
//!   until a moderator approves, rejects or discards them, or
//!   `give_up_after` passes; their moderators get a notice.
//!
//! Whatever failed for a reason that may pass (an island down, the
//! directory or a remote server unreachable) is tried again with a growing
//! delay until `give_up_after`. A recipient that fails for good, or is
//! given up on, gets the sender a delivery status notification ([`crate::dsn`]),
//! written in the same record that finishes the recipient; so do late
//! recipients (a delay warning, once) and a NOTIFY=SUCCESS request.
//!
//! - `record.rs`: the spool's on-disk records;
//! - `spool.rs`: the journal with group commit;
//! - `deliver.rs`: recipients to mailboxes, per island;
//! - `handover.rs`: LMTP to store nodes of islands served elsewhere;
//! - `outbound.rs`: SMTP to other domains;
//! - `notify.rs`: the derived messages (forward copies, notifications);
//! - `held.rs`: posts held for a list's moderators, and the decisions;
//! - `control.rs`: requests from `atoll queue` (retry, remove) and
//!   `atoll list` (approve, reject, discard).

pub mod control;
mod deliver;
pub mod handover;
mod held;
mod notify;
pub mod outbound;
pub mod record;
pub mod spool;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

pub use deliver::{Attempt, Outcome, Routed, Router};
pub use handover::Handover;
pub use outbound::{Outbound, OutboundConfig};
pub use record::{Envelope, EnvelopeRecipient, Ret};
pub use spool::{Spool, SpoolError, format_id};

/// Messages one worker hands the islands at once.
const BATCH: usize = 64;

/// How the queue retries.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// This node's name: with the queue id, it names each delivery to the
    /// islands, which store a delivery once however often it is tried.
    pub node: String,
    /// This node's host name, as delivery status notifications name it.
    pub hostname: String,
    /// Deliveries under way at once; each takes up to 64 ready messages
    /// into one batch per island.
    pub workers: usize,
    /// First delay after a failed attempt; it doubles up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// After this long in the queue a recipient is given up on.
    pub give_up_after: Duration,
    /// A recipient still not delivered after this long gets the sender a
    /// delay warning (once); None for no warnings.
    pub delay_warning: Option<Duration>,
    pub segment_size: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            node: "atoll".into(),
            hostname: "localhost".into(),
            workers: 4,
            retry_initial: Duration::from_secs(300),
            retry_max: Duration::from_secs(4 * 3600),
            give_up_after: Duration::from_secs(5 * 86_400),
            delay_warning: Some(Duration::from_secs(4 * 3600)),
            segment_size: spool::DEFAULT_SEGMENT_SIZE,
        }
    }
}

/// A message in the queue.
struct Entry {
    envelope: Envelope,
    body: Arc<[u8]>,
    done: Vec<bool>,
    forwarded: Vec<bool>,
    warned: Vec<bool>,
    /// A held message: the notice to its moderators here and elsewhere is
    /// written (see `record::LinkKind::Moderators`).
    noticed: [bool; 2],
    attempts: u32,
    last_error: Option<String>,
    /// An attempt is under way: another one must not start (a recipient
    /// would be sent to twice).
    in_flight: bool,
}

impl Entry {
    fn new(envelope: Envelope, body: Arc<[u8]>) -> Entry {
        let n = envelope.recipients.len();
        Entry {
            envelope,
            body,
            done: vec![false; n],
            forwarded: vec![false; n],
            warned: vec![false; n],
            noticed: [false; 2],
            attempts: 0,
            last_error: None,
            in_flight: false,
        }
    }

    fn pending(&self) -> Vec<usize> {
        self.done.iter().enumerate().filter(|(_, d)| !**d).map(|(i, _)| i).collect()
    }
}

/// What `atoll queue list` shows of one message.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub id: u64,
    pub envelope: Envelope,
    pub size: usize,
    pub pending: Vec<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// Waiting for a list's moderator.
    pub held: bool,
    /// Held, and the moderators' notice is written.
    pub moderators_notified: bool,
}

/// The queue of one node; cheap to clone.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

struct Inner {
    config: QueueConfig,
    spool: Spool,
    router: Router,
    outbound: Option<Outbound>,
    entries: Mutex<HashMap<u64, Entry>>,
    /// Messages ready for the islands.
    ready: mpsc::UnboundedSender<u64>,
    /// Messages ready for the outbound path.
    remote_ready: mpsc::UnboundedSender<u64>,
    stop: watch::Sender<bool>,
    workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Queue {
    /// Opens the spool in `dir`, starts the delivery workers and queues
    /// again what the spool still holds. Without `outbound`, messages for
    /// other domains wait in the queue. Must run inside a tokio runtime.
    pub fn start(
        dir: impl Into<std::path::PathBuf>,
        config: QueueConfig,
        router: Router,
        outbound: Option<Outbound>,
    ) -> Result<Queue, SpoolError> {
        let (spool, recovered) = Spool::open(dir, config.segment_size)?;
        let (ready, rx) = mpsc::unbounded_channel();
        let (remote_ready, mut remote_rx) = mpsc::unbounded_channel();
        let workers = config.workers.max(1);
        let (stop, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            config,
            spool,
            router,
            outbound,
            entries: Mutex::new(HashMap::new()),
            ready,
            remote_ready,
            stop,
            workers: Mutex::new(Vec::new()),
        });
        if !recovered.is_empty() {
            tracing::info!(messages = recovered.len(), "queue: messages from before the restart queued again");
        }
        for m in recovered {
            let mut e = Entry::new(m.envelope, m.body);
            e.done = m.done;
            e.forwarded = m.forwarded;
            e.warned = m.warned;
            e.noticed = m.noticed;
            inner.lock().insert(m.id, e);
            inner.schedule(m.id);
        }
        // Requests left while the node was down (a removal must come before
        // the first attempt), then every second.
        inner.carry_out(control::take(inner.spool.dir()));
        // Held posts no request decided: their moderators hear of them
        // (unless they did before the restart), and the clock runs on.
        let held: Vec<u64> = inner.lock().iter().filter(|(_, e)| e.envelope.held).map(|(id, _)| *id).collect();
        for id in held {
            inner.hold(id);
        }
        let watcher = Arc::downgrade(&inner);
        let mut stop_watching = inner.stop.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop_watching.wait_for(|s| *s) => break,
                }
                let Some(inner) = watcher.upgrade() else { break };
                inner.carry_out(control::take(inner.spool.dir()));
            }
        });
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let mut handles = Vec::with_capacity(workers + 1);
        for _ in 0..workers {
            let (inner, rx) = (inner.clone(), rx.clone());
            let mut stop = inner.stop.subscribe();
            handles.push(tokio::spawn(async move {
                loop {
                    // Whatever else is ready goes in the same attempt, so
                    // the islands get it in one batch (shared syncs).
                    let next = tokio::select! {
                        next = async {
                            let mut rx = rx.lock().await;
                            let first = rx.recv().await?;
                            let mut ids = vec![first];
                            while ids.len() < BATCH {
                                match rx.try_recv() {
                                    Ok(id) => ids.push(id),
                                    Err(_) => break,
                                }
                            }
                            Some(ids)
                        } => next,
                        _ = stop.wait_for(|s| *s) => None,
                    };
                    match next {
                        // A delivery in progress is finished, not cut.
                        Some(ids) => inner.attempt(ids).await,
                        None => break,
                    }
                }
            }));
        }
        // The outbound path: one task per message attempt; the transport
        // limits connections per destination and in total.
        let dispatcher = inner.clone();
        let mut stop = inner.stop.subscribe();
        handles.push(tokio::spawn(async move {
            loop {
                let id = tokio::select! {
                    id = remote_rx.recv() => id,
                    _ = stop.wait_for(|s| *s) => None,
                };
                let Some(id) = id else { break };
                let inner = dispatcher.clone();
                tokio::spawn(async move { inner.attempt_remote(id).await });
            }
        }));
        *inner.workers.lock().unwrap_or_else(|p| p.into_inner()) = handles;
        Ok(Queue { inner })
    }

    /// Stops delivering: deliveries into the islands in progress finish,
    /// the rest stays in the spool for the next start. Accepting is the
    /// MX's to stop first. A message being sent to another domain at this
    /// moment may be sent again after the restart (RFC 5321 §6.1 accepts
    /// that over losing it).
    pub async fn stop(&self) {
        let _ = self.inner.stop.send(true);
        let handles = std::mem::take(&mut *self.inner.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            let _ = h.await;
        }
    }

    /// A queue id for a message about to be accepted (it goes into the
    /// Received line before the message is written).
    pub fn new_id(&self) -> u64 {
        self.inner.spool.new_id()
    }

    /// Queues message `id`; returns once it is on stable storage. A held
    /// envelope waits for a moderator; its moderators are told.
    pub async fn accept(&self, id: u64, envelope: Envelope, body: Vec<u8>) -> Result<(), SpoolError> {
        self.inner.spool.append(id, &envelope, &body, None).await?;
        let held = envelope.held;
        self.inner.lock().insert(id, Entry::new(envelope, body.into()));
        if held {
            self.inner.hold(id);
        } else {
            self.inner.schedule(id);
        }
        Ok(())
    }

    /// What is queued now, oldest first.
    pub fn list(&self) -> Vec<QueuedMessage> {
        let entries = self.inner.lock();
        let mut out: Vec<QueuedMessage> = entries
            .iter()
            .map(|(id, e)| QueuedMessage {
                id: *id,
                envelope: e.envelope.clone(),
                size: e.body.len(),
                pending: e.pending().into_iter().map(|i| e.envelope.recipients[i].address.clone()).collect(),
                attempts: e.attempts,
                last_error: e.last_error.clone(),
                held: e.envelope.held,
                moderators_notified: e.noticed.iter().any(|n| *n),
            })
            .collect();
        out.sort_by_key(|m| m.id);
        out
    }

    /// Tries a queued message now instead of at its next retry.
    pub fn retry(&self, id: u64) -> bool {
        self.inner.retry(id)
    }

    /// Drops a message from the queue, undelivered; false if unknown.
    pub fn remove(&self, id: u64) -> bool {
        self.inner.remove(id)
    }
}

impl Inner {
    /// Hands message `id` to the path it takes; a held one takes none.
    fn schedule(&self, id: u64) {
        let remote = match self.lock().get(&id) {
            Some(e) if e.envelope.held => return,
            Some(e) => e.envelope.remote,
            None => return,
        };
        let _ = if remote { self.remote_ready.send(id) } else { self.ready.send(id) };
    }

    fn retry(&self, id: u64) -> bool {
        let known = self.lock().contains_key(&id);
        if known {
            self.schedule(id);
        }
        known
    }

    fn remove(&self, id: u64) -> bool {
        let Some(e) = self.lock().remove(&id) else { return false };
        let pending: Vec<u16> = e.pending().into_iter().map(|i| i as u16).collect();
        self.spool.done(id, &pending, true);
        tracing::warn!(id = %format_id(id), sender = %e.envelope.sender, recipients = pending.len(), "queue: message removed by request, undelivered");
        true
    }

    fn carry_out(self: &Arc<Self>, requests: Vec<control::Request>) {
        for r in requests {
            let known = match &r {
                control::Request::Retry(id) => self.retry(*id),
                control::Request::Remove(id) => self.remove(*id),
                control::Request::RetryAll => {
                    let ids: Vec<u64> = self.lock().keys().copied().collect();
                    for id in ids {
                        self.schedule(id);
                    }
                    true
                }
                // Decisions write to the spool: they run on their own and
                // say themselves what became of them.
                control::Request::Approve(_) | control::Request::Reject(..) | control::Request::Discard(_) => {
                    let me = self.clone();
                    tokio::spawn(async move { me.decide(r).await });
                    continue;
                }
            };
            if !known {
                tracing::info!(request = ?r, "queue: request for a message no longer queued");
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        // A worker that panicked mid-update leaves plain data behind:
        // keep going with it.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes message `id` for an attempt: its envelope, body and pending
    /// recipients, or None when it is gone, finished or already in flight.
    fn take(&self, id: u64) -> Option<(Envelope, Arc<[u8]>, Vec<usize>)> {
        let mut entries = self.lock();
        let e = entries.get_mut(&id)?;
        let pending = e.pending();
        if e.in_flight || e.envelope.held || pending.is_empty() {
            return None;
        }
        e.in_flight = true;
        Some((e.envelope.clone(), e.body.clone(), pending))
    }

    /// One delivery attempt into the islands for each of these messages,
    /// together.
    async fn attempt(self: &Arc<Self>, mut ids: Vec<u64>) {
        ids.sort_unstable();
        ids.dedup();
        // (id, envelope, body, pending recipients) of each message.
        type Work = (u64, Envelope, Arc<[u8]>, Vec<usize>);
        let work: Vec<Work> = ids
            .iter()
            .filter_map(|&id| self.take(id).map(|(envelope, body, pending)| (id, envelope, body, pending)))
            .collect();
        if work.is_empty() {
            return;
        }
        let attempts: Vec<Attempt<'_>> = work
            .iter()
            .map(|(id, envelope, body, pending)| Attempt {
                key: format!("{}:{}", self.config.node, format_id(*id)),
                envelope,
                body,
                pending,
            })
            .collect();
        let routed = self.router.deliver_many(&attempts).await;
        for ((id, envelope, body, pending), routed) in work.iter().zip(routed) {
            let outcomes = self.forward(*id, envelope, body, pending, routed).await;
            let hosts = vec![None; outcomes.len()];
            self.record(*id, envelope, body, pending, &outcomes, &hosts).await;
        }
    }

    /// One attempt of a message for other domains: a transaction per
    /// destination domain, all at once.
    async fn attempt_remote(self: &Arc<Self>, id: u64) {
        let Some((envelope, body, pending)) = self.take(id) else { return };
        let Some(outbound) = self.outbound.clone() else {
            let outcomes =
                vec![Outcome::Deferred("4.4.3 this node sends no mail to other domains".into()); pending.len()];
            let hosts = vec![None; pending.len()];
            self.record(id, &envelope, &body, &pending, &outcomes, &hosts).await;
            return;
        };
        let mut by_domain: Vec<(String, Vec<usize>)> = Vec::new();
        for &i in &pending {
            let d = outbound::domain_of(&envelope.recipients[i].address);
            match by_domain.iter_mut().find(|(name, _)| *name == d) {
                Some((_, list)) => list.push(i),
                None => by_domain.push((d, vec![i])),
            }
        }
        let shared = Arc::new(envelope.clone());
        let mut tasks = tokio::task::JoinSet::new();
        for (domain, list) in by_domain {
            let (outbound, envelope, body) = (outbound.clone(), shared.clone(), body.clone());
            tasks.spawn(async move {
                let Some(permit) = outbound.permit(&domain).await else {
                    let n = list.len();
                    return (list, vec![Outcome::Deferred("4.3.0 shutting down".into()); n], None, None);
                };
                let (outcomes, host) = outbound.deliver(&domain, &envelope, &body, &list).await;
                (list, outcomes, host, Some(permit))
            });
        }
        let mut results: HashMap<usize, (Outcome, Option<String>)> = HashMap::new();
        // The destinations' slots are given back only once the outcome is
        // recorded (see `outbound::Permit`).
        let mut permits = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((list, outcomes, host, permit)) => {
                    for (i, o) in list.into_iter().zip(outcomes) {
                        results.insert(i, (o, host.clone()));
                    }
                    permits.extend(permit);
                }
                Err(e) => tracing::error!(id = %format_id(id), error = %e, "outbound: a delivery task failed"),
            }
        }
        let (outcomes, hosts): (Vec<Outcome>, Vec<Option<String>>) = pending
            .iter()
            .map(|i| results.remove(i).unwrap_or((Outcome::Deferred("4.3.0 internal error".into()), None)))
            .unzip();
        self.record(id, &envelope, &body, &pending, &outcomes, &hosts).await;
        drop(permits);
    }

    /// Notes what one attempt did for message `id`: finished recipients,
    /// their notifications, delay warnings, and the retry.
    async fn record(
        self: &Arc<Self>,
        id: u64,
        envelope: &Envelope,
        body: &Arc<[u8]>,
        pending: &[usize],
        outcomes: &[Outcome],
        hosts: &[Option<String>],
    ) {
        let age = trace_age(envelope.arrived);
        let give_up = age >= self.config.give_up_after;
        let warn = self.config.delay_warning.is_some_and(|w| age >= w) && !give_up;
        let warned_already: Vec<bool> = self.lock().get(&id).map(|e| e.warned.clone()).unwrap_or_default();
        let mut plain_done = Vec::new();
        let mut reports = Vec::new();
        let mut delays = Vec::new();
        let mut deferred = None;
        for ((&i, outcome), host) in pending.iter().zip(outcomes).zip(hosts) {
            let rcpt = &envelope.recipients[i];
            let report = match outcome {
                Outcome::Delivered | Outcome::Relayed => notify::success(rcpt, outcome, host),
                Outcome::Failed(why) => {
                    tracing::warn!(id = %format_id(id), rcpt = %rcpt.address, reason = %why, "queue: undeliverable");
                    notify::failure(envelope, rcpt, why, [5, 0, 0], host)
                }
                Outcome::Deferred(why) if give_up => {
                    tracing::warn!(id = %format_id(id), rcpt = %rcpt.address, reason = %why, "queue: given up after retrying");
                    notify::failure(envelope, rcpt, why, [4, 4, 7], host)
                }
                Outcome::Deferred(why) => {
                    deferred = Some(why.clone());
                    if warn && !warned_already.get(i).copied().unwrap_or(true) {
                        delays.extend(notify::delay(envelope, rcpt, why, host).map(|s| (i as u16, s)));
                    }
                    continue;
                }
            };
            match report {
                Some(status) => reports.push((i as u16, status)),
                None => plain_done.push(i as u16),
            }
        }
        // Notifications first: each is written with the link that marks
        // its recipients, so a crash cannot lose one or send it twice.
        let mut notified = Vec::new();
        if !reports.is_empty() {
            match self.notify(id, envelope, body, &reports, record::LinkKind::Notified).await {
                Ok(()) => notified = reports.iter().map(|(i, _)| *i).collect(),
                Err(e) => {
                    tracing::error!(id = %format_id(id), error = %e, "queue: cannot write a delivery status notification; the recipients stay queued");
                    deferred.get_or_insert_with(|| format!("4.3.0 notification not written: {e}"));
                }
            }
        }
        let mut warned_now = Vec::new();
        if !delays.is_empty() {
            match self.notify(id, envelope, body, &delays, record::LinkKind::Warned).await {
                Ok(()) => warned_now = delays.iter().map(|(i, _)| *i).collect(),
                Err(e) => tracing::error!(id = %format_id(id), error = %e, "queue: cannot write a delay warning"),
            }
        }
        let (all_done, attempts) = {
            let mut entries = self.lock();
            let Some(e) = entries.get_mut(&id) else { return };
            for &i in plain_done.iter().chain(&notified) {
                if let Some(d) = e.done.get_mut(i as usize) {
                    *d = true;
                }
            }
            for &i in &warned_now {
                if let Some(w) = e.warned.get_mut(i as usize) {
                    *w = true;
                }
            }
            e.attempts += 1;
            e.last_error = deferred.clone();
            e.in_flight = false;
            let all = e.done.iter().all(|d| *d);
            let attempts = e.attempts;
            if all {
                entries.remove(&id);
            }
            (all, attempts)
        };
        if !plain_done.is_empty() || all_done {
            if envelope.remote {
                // Another domain's server has these now; a crash before
                // this record is on disk would send them again.
                if let Err(e) = self.spool.done_durable(id, &plain_done, all_done).await {
                    tracing::error!(id = %format_id(id), error = %e, "queue: cannot record a delivery");
                }
            } else {
                self.spool.done(id, &plain_done, all_done);
            }
        }
        if let Some(why) = deferred {
            let delay = backoff(&self.config, attempts);
            tracing::info!(id = %format_id(id), attempts, retry_in = ?delay, reason = %why, "queue: deferred");
            // The timer does not keep a stopped queue alive.
            let me = Arc::downgrade(self);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Some(me) = me.upgrade() {
                    me.schedule(id);
                }
            });
        }
    }
}

fn trace_age(arrived: i64) -> Duration {
    let now = crate::trace::now_epoch();
    Duration::from_secs(now.saturating_sub(arrived).max(0) as u64)
}

/// retry_initial, doubled per failed attempt, at most retry_max.
fn backoff(config: &QueueConfig, attempts: u32) -> Duration {
    let factor = 1u32.checked_shl(attempts.saturating_sub(1).min(20)).unwrap_or(u32::MAX);
    config.retry_initial.saturating_mul(factor).min(config.retry_max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let c = QueueConfig {
            retry_initial: Duration::from_secs(60),
            retry_max: Duration::from_secs(3600),
            ..QueueConfig::default()
        };
        let delays: Vec<u64> = (1..=8).map(|a| backoff(&c, a).as_secs()).collect();
        assert_eq!(delays, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff(&c, u32::MAX).as_secs(), 3600);
    }
}
