//! Posts to moderated lists at the MX. RCPT accepts them (the sender
//! cannot know the moderators' decision yet); after the message, each
//! recipient that reaches a moderated list the sender does not moderate
//! is queued as held (`crate::queue` keeps it until a moderator decides),
//! the other recipients as usual: two messages when there are both, each
//! durable before the one 250.
//!
//! Like the members-only check, the sender is the envelope's (MAIL FROM):
//! the one address the MX knows and every bounce goes to. The null sender
//! moderates nothing, so its posts are held.

use atoll_directory::{Destination, Resolution, policy};

use super::Inner;
use crate::queue::{Envelope, EnvelopeRecipient, SpoolError, format_id};

/// Why a message could not be queued.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EnqueueError {
    #[error("cannot look up the lists' moderators: {0}")]
    Directory(#[from] atoll_directory::Error),
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

impl Inner {
    /// Queues message `id`, holding the recipients that wait for a
    /// moderator; returns once everything is on stable storage.
    pub(crate) async fn enqueue(&self, id: u64, envelope: Envelope, body: Vec<u8>) -> Result<(), EnqueueError> {
        let held = self.held(&envelope.sender, &envelope.recipients).await?;
        let sender = envelope.sender.clone();
        if let Some(held_id) = self.queue.accept_holding(id, envelope, &held, body).await? {
            tracing::info!(id = %format_id(id), held = %format_id(held_id), %sender, recipients = held.iter().filter(|h| **h).count(), "smtp: post to a moderated list held");
        }
        Ok(())
    }

    /// Per recipient: whether it reaches a moderated list (or one whose
    /// policy this node does not know) that `sender` does not moderate. The resolution is the one RCPT used (cached).
    async fn held(&self, sender: &str, recipients: &[EnvelopeRecipient]) -> Result<Vec<bool>, atoll_directory::Error> {
        let mut held = Vec::with_capacity(recipients.len());
        for r in recipients {
            let resolution = self.directory.resolve(&r.address).await?;
            let mut hold = false;
            if let Resolution::Deliver { destinations } = &*resolution {
                for d in destinations {
                    if let Destination::List { list_id, policy, .. } = d
                        // Moderated, or a policy this node does not know.
                        && !matches!(policy.as_str(), policy::ANYONE | policy::MEMBERS)
                        && !self.directory.is_list_moderator(*list_id, sender).await?
                    {
                        hold = true;
                        break;
                    }
                }
            }
            held.push(hold);
        }
        Ok(held)
    }
}
