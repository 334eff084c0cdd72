//! Submission's side of the shared session: AUTH first, the user's own
//! sender and From, recipients anywhere, and the message completed,
//! signed and queued.

use std::time::Instant;

use atoll_directory::{Destination, Resolution, policy};
use atoll_sasl::Credentials;
use atoll_store::{Flags, NewMessage, system};
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN, MailFrom, RcptTo};

use super::{Inner, header, identity};
use crate::queue::{Envelope, EnvelopeRecipient, Ret, format_id};
use crate::recipient::{self, DIRECTORY_DOWN};
use crate::reply::{QUEUE_FAILED, Reply};
use crate::session::{Client, Dialect, Limits, Protocol, Transaction};
use crate::trace::{self, Received};

// RFC 4954 §6: 530 5.7.0 before AUTH.
const AUTH_REQUIRED: Reply = Reply::new(530, [5, 7, 0], "authentication required");
// RFC 4954 §6: 535 5.7.8 for bad credentials, 454 4.7.0 when they cannot
// be checked now.
const BAD_CREDENTIALS: Reply = Reply::new(535, [5, 7, 8], "authentication credentials invalid");
const AUTH_UNAVAILABLE: Reply = Reply::new(454, [4, 7, 0], "temporary authentication failure");
// RFC 3463 §3.8: X.7.1, not authorized; Postfix's wording.
const NOT_OWNER: Reply = Reply::new(553, [5, 7, 1], "sender address rejected: not owned by user");
const FROM_NOT_OWNER: Reply = Reply::new(550, [5, 7, 1], "From address not owned by user");
const NO_FROM: Reply = Reply::new(550, [5, 6, 0], "the message has no From address");
const RATE_LIMITED: Reply = Reply::new(450, [4, 7, 1], "too many recipients in the last hour; try again later");
const MEMBERS_ONLY: Reply = Reply::new(550, [5, 7, 2], "only members may post to this list");

/// Where an accepted recipient's mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dest {
    /// An address of this platform: into the islands.
    Local,
    /// Anywhere else: the outbound path.
    Remote,
    /// A moderated list the sender does not moderate: queued held for its
    /// moderators (docs/mx.md, "Moderated lists").
    Held,
}

impl Protocol for Inner {
    type Recipient = Dest;

    fn dialect(&self) -> Dialect {
        Dialect::Smtp
    }

    fn hostname(&self) -> &str {
        &self.config.hostname
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    fn banner(&self) -> &str {
        "ESMTP atoll submission ready"
    }

    fn extensions(&self, client: &Client) -> u32 {
        crate::session::protocol::esmtp_extensions(self.tls.is_some(), client)
    }

    fn tls(&self) -> Option<&atoll_net::TlsAcceptor> {
        self.tls.as_ref()
    }

    fn sasl_mechanisms(&self) -> u64 {
        AUTH_PLAIN | AUTH_LOGIN
    }

    fn auth_needs_tls(&self) -> bool {
        !self.config.allow_plaintext_auth
    }

    async fn authenticate(&self, _client: &Client, credentials: &Credentials) -> Result<String, Reply> {
        if !credentials.acts_as_self() {
            tokio::time::sleep(self.config.auth_failure_delay).await;
            return Err(BAD_CREDENTIALS);
        }
        match self.directory.authenticate(&credentials.authcid, &credentials.password).await {
            Ok(Some(outcome)) => Ok(outcome.account.address),
            Ok(None) => {
                // Slow down guessing.
                tokio::time::sleep(self.config.auth_failure_delay).await;
                Err(BAD_CREDENTIALS)
            }
            Err(e) => {
                tracing::warn!(error = %e, "submission: directory unavailable for AUTH");
                Err(AUTH_UNAVAILABLE)
            }
        }
    }

    async fn check_sender(&self, client: &Client, mail: &MailFrom<String>) -> Result<(), Reply> {
        let Some(user) = &client.user else { return Err(AUTH_REQUIRED) };
        // The null sender is for notifications (read receipts); it cannot
        // pass for anyone.
        if mail.address.is_empty() {
            return Ok(());
        }
        match identity::may_send_as(&self.directory, user, &mail.address).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                tracing::info!(%user, sender = %mail.address, "submission: sender refused");
                Err(NOT_OWNER)
            }
            Err(e) => {
                tracing::warn!(%user, error = %e, "submission: directory unavailable for the sender check");
                Err(DIRECTORY_DOWN)
            }
        }
    }

    async fn check_recipient(
        &self,
        client: &Client,
        mail: &MailFrom<String>,
        rcpt: &RcptTo<String>,
    ) -> Result<Dest, Reply> {
        if client.user.is_none() {
            return Err(AUTH_REQUIRED);
        }
        let resolution = recipient::resolve(&self.directory, &rcpt.address, "submission").await?;
        if let Some(refused) = recipient::refusal(&resolution) {
            return Err(refused);
        }
        let Resolution::Deliver { destinations } = &*resolution else { return Ok(Dest::Remote) };
        let mut held = false;
        for d in destinations {
            match d {
                Destination::Mailbox { account_id, address: owner, island, .. } => {
                    if let Some(store) = self.islands.get(island) {
                        recipient::room(&self.directory, store, *account_id, owner, "submission").await?;
                    }
                }
                Destination::List { list_id, address: list, policy } => match policy.as_str() {
                    policy::ANYONE => {}
                    policy::MEMBERS => {
                        let member = self.directory.is_list_member(*list_id, &mail.address).await.map_err(|e| {
                            tracing::warn!(%list, error = %e, "submission: list membership lookup failed");
                            DIRECTORY_DOWN
                        })?;
                        if !member {
                            return Err(MEMBERS_ONLY);
                        }
                    }
                    // Moderated (or a policy this node does not know): a
                    // moderator's own post goes at once, any other waits.
                    _ => {
                        held |= !self.directory.is_list_moderator(*list_id, &mail.address).await.map_err(|e| {
                            tracing::warn!(%list, error = %e, "submission: list moderator lookup failed");
                            DIRECTORY_DOWN
                        })?;
                    }
                },
                Destination::External { .. } => {}
            }
        }
        Ok(if held { Dest::Held } else { Dest::Local })
    }

    async fn message(&self, client: &Client, tx: Transaction<Dest>) -> Vec<Reply> {
        vec![self.submit(client, tx).await]
    }
}

impl Inner {
    async fn submit(&self, client: &Client, tx: Transaction<Dest>) -> Reply {
        let Some(user) = client.user.clone() else { return AUTH_REQUIRED };
        // RFC 6409 §6.1 lets the server check the message's own claims:
        // a From of someone else would be signed as ours.
        let from = atoll_message::header_addresses(&tx.body, "From");
        if from.is_empty() {
            return NO_FROM;
        }
        for address in &from {
            match identity::may_send_as(&self.directory, &user, address).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(%user, from = %address, "submission: From refused");
                    return FROM_NOT_OWNER;
                }
                Err(e) => {
                    tracing::warn!(%user, error = %e, "submission: directory unavailable for the From check");
                    return DIRECTORY_DOWN;
                }
            }
        }
        let count = u32::try_from(tx.recipients.len()).unwrap_or(u32::MAX);
        if !self.rate.take(&user, count, Instant::now()) {
            tracing::warn!(%user, recipients = count, "submission: rate limit reached");
            return RATE_LIMITED;
        }

        let id = self.queue.new_id();
        let qid = format_id(id);
        let now = trace::now_epoch();
        // RFC 3848: ESMTPA / ESMTPSA for authenticated submission.
        let protocol = if client.tls { "ESMTPSA" } else { "ESMTPA" };
        let received = Received {
            helo: client.helo.as_deref().unwrap_or(""),
            // Submission looks up no reverse DNS: the user is known by
            // AUTH.
            hostname: None,
            peer: client.peer,
            by: &self.config.hostname,
            protocol,
            id: &qid,
            time: now,
        };
        let mut message = received.header().into_bytes();
        message.extend_from_slice(header::missing_fields(&tx.body, &qid, &self.config.hostname, now).as_bytes());
        message.extend_from_slice(&tx.body);
        // DKIM (RFC 6376) for the From domain, over the message as it
        // leaves; the signature goes on top.
        if let Some(signer) = &self.signer {
            let domain = from[0].rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
            if let Some(signature) = signer.sign(&domain, &message).await {
                let mut signed = signature.into_bytes();
                signed.extend_from_slice(&message);
                message = signed;
            }
        }

        let mail = tx.mail;
        let (mut local, mut remote, mut held) = (Vec::new(), Vec::new(), Vec::new());
        for (r, dest) in tx.recipients {
            let r = EnvelopeRecipient::from_rcpt(r);
            match dest {
                Dest::Local => local.push(r),
                Dest::Remote => remote.push(r),
                Dest::Held => held.push(r),
            }
        }
        let envelope = |recipients: Vec<EnvelopeRecipient>, remote: bool, held: bool| Envelope {
            sender: mail.address.clone(),
            recipients,
            arrived: now,
            envid: mail.env_id.clone(),
            ret: Ret::from_mail_flags(mail.flags),
            junk: false,
            remote,
            held,
        };
        // Local recipients go into the islands, posts to moderated lists
        // wait for a moderator, the rest go out: a queue entry for each
        // there is, each on disk before the 250.
        let mut ids = Vec::new();
        for (recipients, is_remote, is_held) in [(local, false, false), (held, false, true), (remote, true, false)] {
            if recipients.is_empty() {
                continue;
            }
            let this = if ids.is_empty() { id } else { self.queue.new_id() };
            if let Err(e) = self.queue.accept(this, envelope(recipients, is_remote, is_held), message.clone()).await {
                tracing::error!(id = %format_id(this), error = %e, "submission: could not queue the message");
                return QUEUE_FAILED;
            }
            ids.push(format_id(this));
        }
        tracing::info!(id = %ids.join(","), %user, sender = %mail.address, recipients = count, size = message.len(), "submission: accepted");
        if self.config.save_sent {
            self.save_sent(&user, &message).await;
        }
        Reply::with_text(250, [2, 0, 0], format!("OK queued as {}", ids.join(" ")))
    }

    /// A copy in the user's Sent mailbox, marked \Seen, when the user's
    /// island is served here; otherwise the client's own copy has to do.
    async fn save_sent(&self, user: &str, message: &[u8]) {
        let account = match self.directory.account(user).await {
            Ok(a) => a,
            Err(e) => return tracing::warn!(%user, error = %e, "submission: no Sent copy (account lookup failed)"),
        };
        let Some(island) = self.islands.get(&account.island) else {
            return tracing::info!(%user, island = %account.island, "submission: no Sent copy (island served elsewhere)");
        };
        if let Err(e) = island.ensure_defaults(account.id).await {
            return tracing::warn!(%user, error = %e, "submission: no Sent copy");
        }
        let new = NewMessage {
            raw: message.to_vec(),
            flags: Flags { system: system::SEEN, keywords: Vec::new() },
            internal_date: None,
        };
        if let Err(e) = island.append(account.id, "Sent", new).await {
            tracing::warn!(%user, error = %e, "submission: no Sent copy");
        }
    }
}
