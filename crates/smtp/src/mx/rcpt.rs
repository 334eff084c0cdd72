//! RCPT TO on the MX: what the directory says about each recipient.

use atoll_directory::{Destination, policy};

use super::Inner;
use crate::greylist::Decision;
use crate::recipient::{self, DIRECTORY_DOWN};
use crate::reply::Reply;
use crate::session::Client;

// RFC 3463 §3.8: X.7.1, delivery not authorized. Never an open relay.
const RELAY_DENIED: Reply = Reply::new(550, [5, 7, 1], "relay access denied");
// RFC 3463 §3.8: X.7.2, mailing list expansion prohibited.
const MEMBERS_ONLY: Reply = Reply::new(550, [5, 7, 2], "only members may post to this list");

impl Inner {
    /// Greylisting (Postgrey's algorithm, RFC 6647) for a recipient the
    /// directory accepted: 451 4.7.1 for a triplet seen too recently.
    /// When its state cannot be read the recipient passes: greylisting
    /// keeps spam out, it must not keep mail out.
    pub(crate) async fn greylisted(&self, client: &Client, sender: &str, rcpt: &str) -> Result<(), Reply> {
        let (Some(greylist), Some(ip)) = (&self.greylist, client.peer) else { return Ok(()) };
        match greylist.check(crate::trace::now_epoch(), ip, client.hostname(), sender, rcpt).await {
            Ok(Decision::Pass(why)) => {
                tracing::debug!(%ip, %sender, %rcpt, ?why, "smtp: greylisting passed");
                Ok(())
            }
            Ok(Decision::Defer { retry_after_seconds }) => {
                tracing::info!(%ip, %sender, %rcpt, retry_after_seconds, "smtp: greylisted");
                Err(Reply::with_text(451, [4, 7, 1], greylist.defer_text(retry_after_seconds, rcpt)))
            }
            Err(e) => {
                tracing::warn!(%ip, %sender, %rcpt, error = %e, "smtp: greylisting unavailable; recipient let through");
                Ok(())
            }
        }
    }

    /// Decides RCPT TO for a message from `sender` (empty: the null sender).
    pub(crate) async fn check_recipient(&self, sender: &str, address: &str) -> Result<(), Reply> {
        let resolution = recipient::destinations(&self.directory, address, RELAY_DENIED, "smtp").await?;
        let destinations = recipient::of(&resolution);
        for d in destinations {
            match d {
                Destination::Mailbox { account_id, address: owner, island, .. } => {
                    self.check_quota(*account_id, owner, island).await?;
                }
                Destination::List { list_id, address: list, policy } => match policy.as_str() {
                    policy::ANYONE => {}
                    policy::MEMBERS => {
                        let member = if sender.is_empty() {
                            false
                        } else {
                            self.directory.is_list_member(*list_id, sender).await.map_err(|e| {
                                tracing::warn!(%list, error = %e, "smtp: list membership lookup failed");
                                DIRECTORY_DOWN
                            })?
                        };
                        if !member {
                            return Err(MEMBERS_ONLY);
                        }
                    }
                    // Accepted: whether a moderator must decide is settled
                    // when the message is queued (`hold.rs`). An unknown
                    // policy (a newer node's) is treated the same way: held
                    // rather than refused or let through.
                    _ => {}
                },
                // Forwards and aliases to other domains: the queue relays
                // them (the sender asked for a local address, so this is
                // not relaying for strangers).
                Destination::External { .. } => {}
            }
        }
        Ok(())
    }

    /// Room in a mailbox of an island this node serves; others decide at
    /// delivery.
    async fn check_quota(&self, account_id: i64, owner: &str, island: &str) -> Result<(), Reply> {
        let Some(store) = self.islands.get(island) else { return Ok(()) };
        recipient::room(&self.directory, store, account_id, owner, "smtp").await.map(|_| ())
    }
}
