//! LMTP's side of the shared session (RFC 2033): LHLO, final recipients
//! only, and one reply per recipient after the message.

use smtp_proto::{EXT_8BIT_MIME, EXT_CHUNKING, EXT_ENHANCED_STATUS_CODES, EXT_PIPELINING, EXT_SIZE, MailFrom, RcptTo};

use super::Inner;
use super::deliver::Recipient;
use crate::reply::Reply;
use crate::session::{Client, Dialect, Limits, Protocol, Transaction};
use crate::trace::{self, Received};

impl Protocol for Inner {
    type Recipient = Recipient;

    fn dialect(&self) -> Dialect {
        Dialect::Lmtp
    }

    fn hostname(&self) -> &str {
        &self.config.hostname
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn banner(&self) -> &str {
        "LMTP atoll ready"
    }

    fn extensions(&self, _client: &Client) -> u32 {
        EXT_PIPELINING | EXT_ENHANCED_STATUS_CODES | EXT_8BIT_MIME | EXT_SIZE | EXT_CHUNKING
    }

    async fn check_recipient(
        &self,
        _client: &Client,
        _mail: &MailFrom<String>,
        rcpt: &RcptTo<String>,
    ) -> Result<Recipient, Reply> {
        self.resolve_recipient(&rcpt.address).await
    }

    /// Stores the message and gives one reply per accepted recipient, in
    /// RCPT order (RFC 2033 §4.2).
    async fn message(&self, client: &Client, tx: Transaction<Recipient>) -> Vec<Reply> {
        let id = trace::new_id();
        let sender = tx.mail.address;
        // A hand-over from another node's queue names its delivery (so a
        // retry is stored once) and whether it is spam (see
        // `queue::handover`).
        let handed = tx.mail.env_id.as_deref().and_then(crate::queue::handover::decode_envid);
        let (key, mailbox) = match handed {
            Some((key, junk)) => (Some(key), junk.then(|| "Junk".to_string())),
            None => (None, None),
        };
        let recipients: Vec<Recipient> = tx.recipients.into_iter().map(|(_, r)| r).collect();
        let raw = with_trace(self, client, &sender, tx.body, &id);
        tracing::debug!(%id, %sender, recipients = recipients.len(), size = raw.len(), key = ?key, "lmtp: message received");
        self.deliver(raw, &recipients, &id, key, mailbox).await
    }
}

/// The stored message: Return-Path and Received, then the body
/// (Delivered-To is added when the copy is for one mailbox only, see
/// `trace::with_delivered_to`). The Received line has no `for <rcpt>`
/// clause: the body is shared by every recipient on an island.
fn with_trace(inner: &Inner, client: &Client, sender: &str, body: Vec<u8>, id: &str) -> Vec<u8> {
    let received = Received {
        helo: client.helo.as_deref().unwrap_or(""),
        hostname: None,
        peer: client.peer,
        by: &inner.config.hostname,
        protocol: "LMTP",
        id,
        time: trace::now_epoch(),
    };
    let mut raw = trace::return_path(sender).into_bytes();
    raw.extend_from_slice(received.header().as_bytes());
    raw.reserve_exact(body.len());
    raw.extend_from_slice(&body);
    raw
}
