//! Messages the queue makes from a queued one, each written together with
//! its link to the parent (`record::Link`):
//!
//! - the copy for a recipient's outside forwards, with `Delivered-To`;
//! - delivery status notifications (RFC 3464) to the sender: failures,
//!   delay warnings and success notices, as RFC 3461's NOTIFY asks.

use std::sync::Arc;

use super::deliver::{Outcome, Routed};
use super::record::{Envelope, EnvelopeRecipient, Link, LinkKind, notify};
use super::{Entry, Inner, SpoolError, format_id};
use crate::dsn::{Action, RecipientStatus, Report, status_of};

/// Whether the sender wants to hear about this: never for the null
/// sender (RFC 5321 §4.5.5: no bounce of a bounce) or NOTIFY=NEVER; when
/// NOTIFY was given, only for what it names (RFC 3461 §4.1); without it,
/// failures and delays.
fn wants(envelope: &Envelope, rcpt: &EnvelopeRecipient, bit: u8) -> bool {
    if envelope.sender.is_empty() || rcpt.notify & notify::NEVER != 0 {
        return false;
    }
    if rcpt.notify == 0 {
        return bit != notify::SUCCESS;
    }
    rcpt.notify & bit != 0
}

/// The reply text without our "host said:" prefix: what a DSN's
/// Diagnostic-Code carries.
fn diagnostic(why: &str) -> String {
    why.split_once(" said: ").map_or(why, |(_, reply)| reply).to_string()
}

fn status(
    rcpt: &EnvelopeRecipient,
    action: Action,
    code: [u16; 3],
    why: Option<&str>,
    host: &Option<String>,
) -> RecipientStatus {
    RecipientStatus {
        address: rcpt.address.clone(),
        orcpt: rcpt.orcpt.clone(),
        action,
        status: code,
        remote_mta: host.clone(),
        diagnostic: why.map(diagnostic),
    }
}

/// A success notice, when NOTIFY=SUCCESS asked for one.
pub(super) fn success(rcpt: &EnvelopeRecipient, outcome: &Outcome, host: &Option<String>) -> Option<RecipientStatus> {
    if rcpt.notify & notify::SUCCESS == 0 || rcpt.notify & notify::NEVER != 0 {
        return None;
    }
    let action = if matches!(outcome, Outcome::Relayed) { Action::Relayed } else { Action::Delivered };
    Some(status(rcpt, action, [2, 0, 0], None, host))
}

/// A failure report, unless the sender does not want one.
pub(super) fn failure(
    envelope: &Envelope,
    rcpt: &EnvelopeRecipient,
    why: &str,
    default: [u16; 3],
    host: &Option<String>,
) -> Option<RecipientStatus> {
    if !wants(envelope, rcpt, notify::FAILURE) {
        return None;
    }
    let mut code = status_of(&diagnostic(why), default);
    if code[0] != 5 {
        // Given up after retrying a temporary failure: RFC 3463 §3.5,
        // 4.4.7 "delivery time expired" becomes permanent.
        code = [5, 4, 7];
    }
    Some(status(rcpt, Action::Failed, code, Some(why), host))
}

/// A delay warning, unless the sender does not want one.
pub(super) fn delay(
    envelope: &Envelope,
    rcpt: &EnvelopeRecipient,
    why: &str,
    host: &Option<String>,
) -> Option<RecipientStatus> {
    if !wants(envelope, rcpt, notify::DELAY) {
        return None;
    }
    let mut code = status_of(&diagnostic(why), [4, 0, 0]);
    code[0] = 4;
    Some(status(rcpt, Action::Delayed, code, Some(why), host))
}

/// The notice that a held post is refused (by a moderator, or because
/// none decided in time), unless the sender does not want to hear of
/// failures. `why` is our own text and goes into the report as it is.
pub(super) fn refused(
    envelope: &Envelope,
    rcpt: &EnvelopeRecipient,
    code: [u16; 3],
    why: &str,
) -> Option<RecipientStatus> {
    if !wants(envelope, rcpt, notify::FAILURE) {
        return None;
    }
    Some(RecipientStatus {
        address: rcpt.address.clone(),
        orcpt: rcpt.orcpt.clone(),
        action: Action::Failed,
        status: code,
        remote_mta: None,
        diagnostic: Some(why.to_string()),
    })
}

/// Whether the message's header already holds `Delivered-To: <address>`:
/// it went through this forward before (a loop, as Postfix detects it).
fn delivered_to(body: &[u8], address: &str) -> bool {
    let end = memchr::memmem::find(body, b"\r\n\r\n").unwrap_or(body.len());
    let head = String::from_utf8_lossy(&body[..end]);
    head.split("\r\n").any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("Delivered-To") && value.trim().eq_ignore_ascii_case(address)
        })
    })
}

impl Inner {
    /// Makes the outbound copies for recipients that forward outside and
    /// have none yet, and says what each pending recipient's outcome is
    /// now: finished only when its mailboxes here have the message and its
    /// forwards their copy.
    pub(super) async fn forward(
        self: &Arc<Self>,
        id: u64,
        envelope: &Envelope,
        body: &Arc<[u8]>,
        pending: &[usize],
        routed: Vec<Routed>,
    ) -> Vec<Outcome> {
        let forwarded: Vec<bool> = self.lock().get(&id).map(|e| e.forwarded.clone()).unwrap_or_default();
        let mut out = Vec::with_capacity(routed.len());
        for (&i, r) in pending.iter().zip(routed) {
            if r.external.is_empty() || forwarded.get(i).copied().unwrap_or(false) {
                out.push(r.outcome);
                continue;
            }
            let rcpt = &envelope.recipients[i];
            if delivered_to(body, &rcpt.address) {
                out.push(Outcome::Failed(format!("5.4.6 mail forwarding loop for {}", rcpt.address)));
                continue;
            }
            // RFC 3461 §4.2: the original recipient travels with the copy.
            let orcpt = rcpt.orcpt.clone().unwrap_or_else(|| rcpt.address.clone());
            let copy = Envelope {
                sender: envelope.sender.clone(),
                recipients: r
                    .external
                    .iter()
                    .map(|a| EnvelopeRecipient { address: a.clone(), notify: rcpt.notify, orcpt: Some(orcpt.clone()) })
                    .collect(),
                arrived: crate::trace::now_epoch(),
                envid: envelope.envid.clone(),
                ret: envelope.ret,
                junk: false,
                remote: true,
                held: false,
            };
            let mut raw = format!("Delivered-To: {}\r\n", rcpt.address.replace(['\r', '\n'], "")).into_bytes();
            raw.extend_from_slice(body);
            let link = Link { parent: id, kind: LinkKind::Forwarded, recipients: vec![i as u16] };
            match self.derive(copy, raw, link).await {
                Ok(copy_id) => {
                    tracing::info!(id = %format_id(id), rcpt = %rcpt.address, copy = %format_id(copy_id), to = %r.external.join(","), "queue: forwarded");
                    if let Some(e) = self.lock().get_mut(&id)
                        && let Some(f) = e.forwarded.get_mut(i)
                    {
                        *f = true;
                    }
                    out.push(r.outcome);
                }
                Err(e) => out.push(Outcome::Deferred(format!("4.3.0 cannot queue the forward: {e}"))),
            }
        }
        out
    }

    /// Writes a notification about message `id` for these recipients to
    /// its sender; `kind` says what it does to them.
    pub(super) async fn notify(
        self: &Arc<Self>,
        id: u64,
        envelope: &Envelope,
        body: &[u8],
        statuses: &[(u16, RecipientStatus)],
        kind: LinkKind,
    ) -> Result<(), SpoolError> {
        let recipients: Vec<RecipientStatus> = statuses.iter().map(|(_, s)| s.clone()).collect();
        let now = crate::trace::now_epoch();
        let report = Report {
            reporting_mta: &self.config.hostname,
            queue_id: &format_id(id),
            envelope,
            original: body,
            recipients: &recipients,
            retry_until: Some(envelope.arrived + self.config.give_up_after.as_secs() as i64),
            now,
        };
        let message = report.message();
        let notice = Envelope {
            sender: String::new(),
            recipients: vec![EnvelopeRecipient::new(envelope.sender.clone())],
            arrived: now,
            envid: None,
            ret: None,
            junk: false,
            remote: self.router.is_remote(&envelope.sender).await,
            held: false,
        };
        let link = Link { parent: id, kind, recipients: statuses.iter().map(|(i, _)| *i).collect() };
        let notice_id = self.derive(notice, message, link).await?;
        tracing::info!(id = %format_id(id), notice = %format_id(notice_id), kind = ?kind, to = %envelope.sender, "queue: delivery status notification queued");
        Ok(())
    }

    /// Writes a derived message with its link and queues it.
    pub(super) async fn derive(
        self: &Arc<Self>,
        envelope: Envelope,
        body: Vec<u8>,
        link: Link,
    ) -> Result<u64, SpoolError> {
        let id = self.spool.new_id();
        self.spool.append(id, &envelope, &body, Some(&link)).await?;
        self.lock().insert(id, Entry::new(envelope, body.into()));
        self.schedule(id);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(sender: &str) -> Envelope {
        Envelope {
            sender: sender.into(),
            recipients: vec![],
            arrived: 0,
            envid: None,
            ret: None,
            junk: false,
            remote: false,
            held: false,
        }
    }

    fn rcpt(bits: u8) -> EnvelopeRecipient {
        EnvelopeRecipient { address: "bob@example.org".into(), notify: bits, orcpt: None }
    }

    #[test]
    fn notify_decides_who_hears_what() {
        let e = env("ann@example.net");
        let none = None;
        // No NOTIFY: failures and delays, no success.
        assert!(failure(&e, &rcpt(0), "550 5.1.1 x", [5, 0, 0], &none).is_some());
        assert!(delay(&e, &rcpt(0), "451 x", &none).is_some());
        assert!(success(&rcpt(0), &Outcome::Delivered, &none).is_none());
        // NOTIFY=NEVER: nothing.
        assert!(failure(&e, &rcpt(notify::NEVER), "550 x", [5, 0, 0], &none).is_none());
        assert!(delay(&e, &rcpt(notify::NEVER), "451 x", &none).is_none());
        // NOTIFY=SUCCESS only.
        assert!(failure(&e, &rcpt(notify::SUCCESS), "550 x", [5, 0, 0], &none).is_none());
        let s = success(&rcpt(notify::SUCCESS), &Outcome::Relayed, &none).unwrap();
        assert_eq!(s.action, Action::Relayed);
        // The null sender never gets one.
        assert!(failure(&env(""), &rcpt(notify::FAILURE), "550 x", [5, 0, 0], &none).is_none());
    }

    #[test]
    fn failure_codes() {
        let e = env("ann@example.net");
        let host = Some("mx.example.org".to_string());
        let f = failure(&e, &rcpt(0), "mx.example.org said: 550 5.1.1 unknown", [5, 0, 0], &host).unwrap();
        assert_eq!(f.status, [5, 1, 1]);
        assert_eq!(f.diagnostic.as_deref(), Some("550 5.1.1 unknown"));
        // A temporary failure given up on: 5.4.7.
        let g = failure(&e, &rcpt(0), "4.4.1 connection refused", [4, 4, 7], &None).unwrap();
        assert_eq!(g.status, [5, 4, 7]);
        let d = delay(&e, &rcpt(0), "mx said: 451 4.7.1 greylisted", &None).unwrap();
        assert_eq!(d.status, [4, 7, 1]);
    }

    #[test]
    fn delivered_to_is_found_in_the_header_only() {
        let m = b"Delivered-To: Bob@Example.org\r\nSubject: x\r\n\r\nDelivered-To: carol@example.org\r\n";
        assert!(delivered_to(m, "bob@example.org"));
        assert!(!delivered_to(m, "carol@example.org"));
    }
}
