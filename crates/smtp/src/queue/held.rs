//! Posts held for a list's moderators (Mailman's "hold for approval").
//!
//! The MX queues a post to a moderated list, from anyone but one of its
//! moderators, with the envelope's `held` flag: it is durable before the
//! 250 like every message, and never attempted while the flag holds.
//! Then:
//!
//! - its moderators get a notice ([`crate::moderation`]), written with a
//!   [`LinkKind::Moderators`] link so that a crash neither loses it nor
//!   sends it twice;
//! - `atoll list approve` writes a released record and the post is
//!   delivered like any message to the list;
//! - `atoll list reject` finishes it with a notice to the sender (a
//!   delivery status report, Status 5.7.2, the reason in its text),
//!   written with the link that finishes its recipients; `--discard`
//!   finishes it without a word;
//! - nobody decides within `give_up_after`: it is refused like a message
//!   given up on (5.4.7), with a notice.
//!
//! A decision is carried out once: the entry is in flight while its
//! record is written. A decision whose record a crash loses leaves the
//! post held, and the moderator decides again.

use std::sync::Arc;
use std::time::Duration;

use atoll_directory::{Destination, Resolution};

use super::control::Request;
use super::notify;
use super::record::{Envelope, EnvelopeRecipient, Link, LinkKind};
use super::{Entry, Inner, Queue, SpoolError, format_id, trace_age};
use crate::moderation::HeldNotice;

impl Queue {
    /// Queues message `id` like [`Queue::accept`], with the recipients
    /// marked in `held` set apart: they wait for a moderator. When some
    /// recipients are held and others not, the held ones become a message
    /// of their own with a new id, written first; both are durable before
    /// this returns, or neither counts. Returns the held message's id.
    pub async fn accept_holding(
        &self,
        id: u64,
        envelope: Envelope,
        held: &[bool],
        body: Vec<u8>,
    ) -> Result<Option<u64>, SpoolError> {
        let held_count = envelope.recipients.iter().zip(held).filter(|(_, h)| **h).count();
        if held_count == 0 {
            self.accept(id, envelope, body).await?;
            return Ok(None);
        }
        if held_count == envelope.recipients.len() {
            self.accept(id, Envelope { held: true, ..envelope }, body).await?;
            return Ok(Some(id));
        }
        let (mut waiting, mut now) = (Vec::new(), Vec::new());
        for (i, r) in envelope.recipients.iter().enumerate() {
            if held.get(i).copied().unwrap_or(false) { waiting.push(r.clone()) } else { now.push(r.clone()) }
        }
        let held_id = self.new_id();
        let on_hold = Envelope { recipients: waiting, held: true, ..envelope.clone() };
        let at_once = Envelope { recipients: now, ..envelope };
        let spool = &self.inner.spool;
        spool.append(held_id, &on_hold, &body, None).await?;
        if let Err(e) = spool.append(id, &at_once, &body, None).await {
            // The client hears 451 and sends it again: take the held part
            // back (nothing has been done with it yet).
            let all: Vec<u16> = (0..on_hold.recipients.len() as u16).collect();
            spool.done(held_id, &all, true);
            return Err(e);
        }
        let body: Arc<[u8]> = body.into();
        {
            let mut entries = self.inner.lock();
            entries.insert(held_id, Entry::new(on_hold, body.clone()));
            entries.insert(id, Entry::new(at_once, body));
        }
        self.inner.schedule(id);
        self.inner.hold(held_id);
        Ok(Some(held_id))
    }

    /// Distributes held post `id`; false when no such post is held (or a
    /// decision on it is under way), or the release cannot be written.
    pub async fn approve(&self, id: u64) -> bool {
        self.inner.decide(Request::Approve(id)).await
    }

    /// Refuses held post `id`, telling the sender why.
    pub async fn reject(&self, id: u64, reason: Option<String>) -> bool {
        self.inner.decide(Request::Reject(id, reason)).await
    }

    /// Drops held post `id` without telling anyone.
    pub async fn discard(&self, id: u64) -> bool {
        self.inner.decide(Request::Discard(id)).await
    }
}

/// "5 days", "3 hours": how long `give_up_after` is, for people.
fn span(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = match s {
        _ if s >= 86_400 && s.is_multiple_of(86_400) => (s / 86_400, "day"),
        _ if s >= 3600 && s.is_multiple_of(3600) => (s / 3600, "hour"),
        _ if s >= 60 && s.is_multiple_of(60) => (s / 60, "minute"),
        _ => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

impl Inner {
    /// A held message just queued or found at start: its moderators hear
    /// of it, and it is refused when nobody decides in time.
    pub(super) fn hold(self: &Arc<Self>, id: u64) {
        let Some(arrived) = self.lock().get(&id).map(|e| e.envelope.arrived) else { return };
        let me = self.clone();
        tokio::spawn(async move { me.notify_moderators(id).await });
        let wait = self.config.give_up_after.saturating_sub(trace_age(arrived));
        // The timer does not keep a stopped queue alive.
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Some(me) = me.upgrade() {
                me.expire(id).await;
            }
        });
    }

    /// Takes held message `id` for a decision: its envelope, body and
    /// pending recipients; None when it is not held or a decision is under
    /// way.
    fn take_held(&self, id: u64) -> Option<(Envelope, Arc<[u8]>, Vec<usize>)> {
        let mut entries = self.lock();
        let e = entries.get_mut(&id)?;
        if !e.envelope.held || e.in_flight {
            return None;
        }
        e.in_flight = true;
        Some((e.envelope.clone(), e.body.clone(), e.pending()))
    }

    fn put_back(&self, id: u64) {
        if let Some(e) = self.lock().get_mut(&id) {
            e.in_flight = false;
        }
    }

    /// Carries out a moderator's decision; false when there was nothing to
    /// decide or it could not be written.
    pub(super) async fn decide(self: &Arc<Self>, request: Request) -> bool {
        let id = match &request {
            Request::Approve(id) | Request::Reject(id, _) | Request::Discard(id) => *id,
            other => {
                tracing::warn!(request = ?other, "queue: not a moderator's decision");
                return false;
            }
        };
        let Some((envelope, body, pending)) = self.take_held(id) else {
            tracing::info!(id = %format_id(id), request = ?request, "queue: no such held post (decided already, or gone)");
            return false;
        };
        let qid = format_id(id);
        match request {
            Request::Approve(_) => match self.spool.release(id).await {
                Ok(()) => {
                    if let Some(e) = self.lock().get_mut(&id) {
                        e.envelope.held = false;
                        e.in_flight = false;
                    }
                    tracing::info!(id = %qid, sender = %envelope.sender, "queue: held post approved");
                    self.schedule(id);
                    true
                }
                Err(e) => {
                    tracing::error!(id = %qid, error = %e, "queue: cannot write the approval; the post stays held");
                    self.put_back(id);
                    false
                }
            },
            Request::Reject(_, reason) => {
                let why = |rcpt: &EnvelopeRecipient| match &reason {
                    Some(r) => format!("5.7.2 the moderators of {} rejected the post: {r}", rcpt.address),
                    None => format!("5.7.2 the moderators of {} rejected the post", rcpt.address),
                };
                let done = self.refuse(id, &envelope, &body, &pending, [5, 7, 2], why).await;
                if done {
                    tracing::info!(id = %qid, sender = %envelope.sender, reason = ?reason, "queue: held post rejected");
                }
                done
            }
            Request::Discard(_) => {
                self.lock().remove(&id);
                let pending: Vec<u16> = pending.iter().map(|&i| i as u16).collect();
                self.spool.done(id, &pending, true);
                tracing::info!(id = %qid, sender = %envelope.sender, "queue: held post discarded");
                true
            }
            // Not a decision: refused above.
            Request::Retry(_) | Request::RetryAll | Request::Remove(_) => {
                self.put_back(id);
                false
            }
        }
    }

    /// Nobody decided on held message `id` within `give_up_after`.
    async fn expire(self: &Arc<Self>, id: u64) {
        let Some((envelope, body, pending)) = self.take_held(id) else { return };
        let after = span(self.config.give_up_after);
        let why = |rcpt: &EnvelopeRecipient| {
            format!("5.4.7 no moderator of {} decided on the post within {after}", rcpt.address)
        };
        if self.refuse(id, &envelope, &body, &pending, [5, 4, 7], why).await {
            tracing::warn!(id = %format_id(id), sender = %envelope.sender, "queue: held post expired undecided; refused");
        }
    }

    /// Finishes held message `id` as refused: the sender's notice is
    /// written with the link that finishes the recipients it covers; the
    /// rest (NOTIFY=NEVER, the null sender) get a done record.
    async fn refuse(
        self: &Arc<Self>,
        id: u64,
        envelope: &Envelope,
        body: &Arc<[u8]>,
        pending: &[usize],
        code: [u16; 3],
        why: impl Fn(&EnvelopeRecipient) -> String,
    ) -> bool {
        let mut reports = Vec::new();
        let mut plain = Vec::new();
        for &i in pending {
            let rcpt = &envelope.recipients[i];
            match notify::refused(envelope, rcpt, code, &why(rcpt)) {
                Some(status) => reports.push((i as u16, status)),
                None => plain.push(i as u16),
            }
        }
        if !reports.is_empty()
            && let Err(e) = self.notify(id, envelope, body, &reports, LinkKind::Notified).await
        {
            tracing::error!(id = %format_id(id), error = %e, "queue: cannot write the notice of a refused post; it stays held");
            self.put_back(id);
            return false;
        }
        self.lock().remove(&id);
        self.spool.done(id, &plain, true);
        true
    }

    /// Writes the moderators' notices of held message `id` that are not
    /// written yet: one for the moderators whose mailboxes are here, one
    /// for those elsewhere. Tried again later when the directory or the
    /// spool fails.
    async fn notify_moderators(self: &Arc<Self>, id: u64) {
        let (envelope, body, noticed) = {
            let entries = self.lock();
            let Some(e) = entries.get(&id) else { return };
            if !e.envelope.held || e.noticed.iter().all(|n| *n) {
                return;
            }
            (e.envelope.clone(), e.body.clone(), e.noticed)
        };
        let qid = format_id(id);
        let (lists, moderators) = match self.moderators_of(&envelope).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(id = %qid, error = %e, "queue: cannot look up the moderators of a held post; trying again later");
                return self.notify_later(id);
            }
        };
        if moderators.is_empty() {
            tracing::warn!(id = %qid, lists = %lists.join(","), "queue: a held post's lists have no moderators; it waits for `atoll list approve` or expiry");
            return;
        }
        let (mut here, mut elsewhere) = (Vec::new(), Vec::new());
        for m in moderators {
            if self.router.is_remote(&m).await { elsewhere.push(m) } else { here.push(m) }
        }
        let now = crate::trace::now_epoch();
        for (half, to) in [(0usize, here), (1, elsewhere)] {
            if to.is_empty() || noticed[half] {
                continue;
            }
            // A decision may have come meanwhile, or the node is stopping.
            let still_held = self.lock().get(&id).is_some_and(|e| e.envelope.held && !e.in_flight);
            if *self.stop.borrow() || !still_held {
                return;
            }
            let notice = HeldNotice {
                hostname: &self.config.hostname,
                queue_id: &qid,
                lists: &lists,
                sender: &envelope.sender,
                moderators: &to,
                post: &body,
                held_at: envelope.arrived,
                expires: envelope.arrived + self.config.give_up_after.as_secs() as i64,
                now,
            };
            let message = notice.message();
            let env = Envelope {
                sender: String::new(),
                recipients: to.iter().map(|a| EnvelopeRecipient::new(a.clone())).collect(),
                arrived: now,
                envid: None,
                ret: None,
                junk: false,
                remote: half == 1,
                held: false,
            };
            let link = Link { parent: id, kind: LinkKind::Moderators, recipients: vec![half as u16] };
            match self.derive(env, message, link).await {
                Ok(notice_id) => {
                    if let Some(e) = self.lock().get_mut(&id) {
                        e.noticed[half] = true;
                    }
                    tracing::info!(id = %qid, notice = %format_id(notice_id), to = %to.join(","), "queue: post held for moderation; moderators notified");
                }
                Err(e) => {
                    tracing::error!(id = %qid, error = %e, "queue: cannot write the moderators' notice; trying again later");
                    return self.notify_later(id);
                }
            }
        }
    }

    fn notify_later(self: &Arc<Self>, id: u64) {
        let me = Arc::downgrade(self);
        let delay = self.config.retry_initial;
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(me) = me.upgrade() {
                me.notify_moderators(id).await;
            }
        });
    }

    /// The lists a held post's recipients reach, and their moderators
    /// (sorted, each once). Resolved now, as delivery will be.
    async fn moderators_of(&self, envelope: &Envelope) -> Result<(Vec<String>, Vec<String>), atoll_directory::Error> {
        let directory = self.router.directory();
        let (mut lists, mut moderators) = (Vec::new(), Vec::new());
        for rcpt in &envelope.recipients {
            let resolution = directory.resolve(&rcpt.address).await?;
            let Resolution::Deliver { destinations } = &*resolution else { continue };
            for d in destinations {
                if let Destination::List { address, .. } = d {
                    lists.push(address.clone());
                    moderators.extend(directory.list_moderators(address).await?);
                }
            }
        }
        lists.sort();
        lists.dedup();
        moderators.sort();
        moderators.dedup();
        Ok((lists, moderators))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(Duration::from_secs(5 * 86_400)), "5 days");
        assert_eq!(span(Duration::from_secs(86_400)), "1 day");
        assert_eq!(span(Duration::from_secs(7200)), "2 hours");
        assert_eq!(span(Duration::from_secs(90)), "90 seconds");
        assert_eq!(span(Duration::from_secs(4)), "4 seconds");
    }
}
