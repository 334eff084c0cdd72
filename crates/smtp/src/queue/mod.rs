//! The node's queue: messages the MX accepted, on their way into the
//! islands.
//!
//! [`Queue::accept`] writes the message to the spool ([`spool`]) and
//! returns once it is on stable storage: only then does the MX answer 250.
//! Delivery runs behind it: workers take queued messages, the [`Router`]
//! resolves their recipients and stores one copy per island, and whatever
//! failed for a reason that may pass (an island down, the directory
//! unreachable) is tried again with a growing delay until `give_up_after`.
//! Recipients that cannot ever be delivered are finished too (the delivery
//! status notification to the sender is the outbound queue's job).
//!
//! - `record.rs`: the spool's on-disk records;
//! - `spool.rs`: the journal with group commit;
//! - `deliver.rs`: recipients to mailboxes, per island;
//! - `control.rs`: requests from `atoll queue` (retry, remove).

pub mod control;
mod deliver;
pub mod record;
pub mod spool;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

pub use deliver::{Attempt, Outcome, Router};
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
    /// Deliveries under way at once; each takes up to 64 ready messages
    /// into one batch per island.
    pub workers: usize,
    /// First delay after a failed attempt; it doubles up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// After this long in the queue a recipient is given up on.
    pub give_up_after: Duration,
    pub segment_size: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            node: "atoll".into(),
            workers: 4,
            retry_initial: Duration::from_secs(60),
            retry_max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(5 * 86_400),
            segment_size: spool::DEFAULT_SEGMENT_SIZE,
        }
    }
}

/// A message in the queue.
struct Entry {
    envelope: Envelope,
    body: Arc<[u8]>,
    done: Vec<bool>,
    attempts: u32,
    last_error: Option<String>,
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
    entries: Mutex<HashMap<u64, Entry>>,
    ready: mpsc::UnboundedSender<u64>,
    stop: watch::Sender<bool>,
    workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Queue {
    /// Opens the spool in `dir`, starts the delivery workers and queues
    /// again what the spool still holds. Must run inside a tokio runtime.
    pub fn start(dir: impl Into<std::path::PathBuf>, config: QueueConfig, router: Router) -> Result<Queue, SpoolError> {
        let (spool, recovered) = Spool::open(dir, config.segment_size)?;
        let (ready, rx) = mpsc::unbounded_channel();
        let workers = config.workers.max(1);
        let (stop, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            config,
            spool,
            router,
            entries: Mutex::new(HashMap::new()),
            ready,
            stop,
            workers: Mutex::new(Vec::new()),
        });
        if !recovered.is_empty() {
            tracing::info!(messages = recovered.len(), "queue: messages from before the restart queued again");
        }
        for m in recovered {
            inner.lock().insert(
                m.id,
                Entry { envelope: m.envelope, body: m.body, done: m.done, attempts: 0, last_error: None },
            );
            let _ = inner.ready.send(m.id);
        }
        // Requests left while the node was down (a removal must come before
        // the first attempt), then every second.
        inner.carry_out(control::take(inner.spool.dir()));
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
        let mut handles = Vec::with_capacity(workers);
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
        *inner.workers.lock().unwrap_or_else(|p| p.into_inner()) = handles;
        Ok(Queue { inner })
    }

    /// Stops delivering: deliveries in progress finish, the rest stays in
    /// the spool for the next start. Accepting is the MX's to stop first.
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

    /// Queues message `id`; returns once it is on stable storage.
    pub async fn accept(&self, id: u64, envelope: Envelope, body: Vec<u8>) -> Result<(), SpoolError> {
        self.inner.spool.append(id, &envelope, &body).await?;
        let done = vec![false; envelope.recipients.len()];
        self.inner.lock().insert(id, Entry { envelope, body: body.into(), done, attempts: 0, last_error: None });
        let _ = self.inner.ready.send(id);
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
                pending: e
                    .envelope
                    .recipients
                    .iter()
                    .zip(&e.done)
                    .filter(|(_, d)| !**d)
                    .map(|(r, _)| r.address.clone())
                    .collect(),
                attempts: e.attempts,
                last_error: e.last_error.clone(),
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
    fn retry(&self, id: u64) -> bool {
        let known = self.lock().contains_key(&id);
        if known {
            let _ = self.ready.send(id);
        }
        known
    }

    fn remove(&self, id: u64) -> bool {
        let Some(e) = self.lock().remove(&id) else { return false };
        let pending: Vec<u16> = e.done.iter().enumerate().filter(|(_, d)| !**d).map(|(i, _)| i as u16).collect();
        self.spool.done(id, &pending, true);
        tracing::warn!(id = %format_id(id), sender = %e.envelope.sender, recipients = pending.len(), "queue: message removed by request, undelivered");
        true
    }

    fn carry_out(&self, requests: Vec<control::Request>) {
        for r in requests {
            let known = match r {
                control::Request::Retry(id) => self.retry(id),
                control::Request::Remove(id) => self.remove(id),
                control::Request::RetryAll => {
                    let ids: Vec<u64> = self.lock().keys().copied().collect();
                    for id in ids {
                        let _ = self.ready.send(id);
                    }
                    true
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

    /// One delivery attempt for each of these messages, together.
    async fn attempt(self: &Arc<Self>, mut ids: Vec<u64>) {
        ids.sort_unstable();
        ids.dedup();
        // (id, envelope, body, pending recipients) of each message.
        type Work = (u64, Envelope, Arc<[u8]>, Vec<usize>);
        let work: Vec<Work> = {
            let entries = self.lock();
            ids.iter()
                .filter_map(|id| {
                    let e = entries.get(id)?;
                    let pending: Vec<usize> = e.done.iter().enumerate().filter(|(_, d)| !**d).map(|(i, _)| i).collect();
                    (!pending.is_empty()).then(|| (*id, e.envelope.clone(), e.body.clone(), pending))
                })
                .collect()
        };
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
        let outcomes = self.router.deliver_many(&attempts).await;
        for ((id, envelope, _, pending), outcomes) in work.iter().zip(outcomes) {
            self.record(*id, envelope, pending, &outcomes);
        }
    }

    /// Notes what one attempt did for message `id`, and schedules its retry.
    fn record(self: &Arc<Self>, id: u64, envelope: &Envelope, pending: &[usize], outcomes: &[Outcome]) {
        let age = trace_age(envelope.arrived);
        let give_up = age >= self.config.give_up_after;
        let mut finished_now = Vec::new();
        let mut deferred = None;
        for (&i, outcome) in pending.iter().zip(outcomes) {
            let rcpt = &envelope.recipients[i].address;
            match outcome {
                Outcome::Delivered => finished_now.push(i as u16),
                Outcome::Failed(why) => {
                    tracing::warn!(id = %format_id(id), %rcpt, reason = %why, "queue: undeliverable");
                    finished_now.push(i as u16);
                }
                Outcome::Deferred(why) if give_up => {
                    tracing::warn!(id = %format_id(id), %rcpt, reason = %why, "queue: given up after retrying");
                    finished_now.push(i as u16);
                }
                Outcome::Deferred(why) => deferred = Some(why.clone()),
            }
        }
        let (all_done, attempts) = {
            let mut entries = self.lock();
            let Some(e) = entries.get_mut(&id) else { return };
            for &i in &finished_now {
                if let Some(d) = e.done.get_mut(i as usize) {
                    *d = true;
                }
            }
            e.attempts += 1;
            e.last_error = deferred.clone();
            let all = e.done.iter().all(|d| *d);
            if all {
                entries.remove(&id);
            }
            (all, entries.get(&id).map_or(0, |e| e.attempts))
        };
        if !finished_now.is_empty() {
            self.spool.done(id, &finished_now, all_done);
        }
        if let Some(why) = deferred {
            let delay = backoff(&self.config, attempts);
            tracing::info!(id = %format_id(id), attempts, retry_in = ?delay, reason = %why, "queue: deferred");
            // The timer does not keep a stopped queue alive.
            let me = Arc::downgrade(self);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Some(me) = me.upgrade() {
                    let _ = me.ready.send(id);
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
