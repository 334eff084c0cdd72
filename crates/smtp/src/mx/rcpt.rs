//! RCPT TO on the MX: what the directory says about each recipient.

use atoll_directory::{Destination, Resolution, policy};

use super::Inner;
use crate::greylist::Decision;
use crate::reply::Reply;
use crate::session::Client;

const BAD_ADDRESS: Reply = Reply::new(501, [5, 1, 3], "bad recipient address syntax");
const NO_SUCH_USER: Reply = Reply::new(550, [5, 1, 1], "no such user here");
// RFC 3463 §3.8: X.7.1, delivery not authorized. Never an open relay.
const RELAY_DENIED: Reply = Reply::new(550, [5, 7, 1], "relay access denied");
const DISABLED: Reply = Reply::new(550, [5, 2, 1], "mailbox disabled");
// RFC 3463 §3.5: X.4.6 routing loop detected.
const LOOP: Reply = Reply::new(550, [5, 4, 6], "routing loop detected");
const UNDELIVERABLE: Reply = Reply::new(550, [5, 1, 1], "no deliverable mailbox for this address");
const DIRECTORY_DOWN: Reply = Reply::new(451, [4, 3, 0], "directory unavailable, try again later");
// RFC 3463 §3.3: X.2.2 mailbox full. Temporary: the owner may make room.
const FULL: Reply = Reply::new(452, [4, 2, 2], "mailbox full");
// RFC 3463 §3.8: X.7.2, mailing list expansion prohibited.
const MEMBERS_ONLY: Reply = Reply::new(550, [5, 7, 2], "only members may post to this list");
const MODERATED: Reply = Reply::new(550, [5, 7, 2], "this list is moderated and takes no posts by mail");

impl Inner {
    /// Greylisting (Postgrey's algorithm, RFC 6647) for a recipient the
    /// directory accepted: 451 4.7.1 for a triplet seen too recently.
    /// When its state cannot be read the recipient passes: greylisting
    /// keeps spam out, it must not keep mail out.
    pub(crate) async fn greylisted(&self, client: &Client, sender: &str, rcpt: &str) -> Result<(), Reply> {
        let (Some(greylist), Some(ip)) = (&self.greylist, client.peer) else { return Ok(()) };
        match greylist.check(crate::trace::now_epoch(), ip, None, sender, rcpt).await {
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
        let resolution = match self.directory.resolve(address).await {
            Ok(r) => r,
            Err(atoll_directory::Error::InvalidAddress(..)) => return Err(BAD_ADDRESS),
            Err(e) => {
                tracing::warn!(rcpt = %address, error = %e, "smtp: directory lookup failed");
                return Err(DIRECTORY_DOWN);
            }
        };
        let destinations = match &*resolution {
            Resolution::Deliver { destinations } => destinations,
            Resolution::Unknown => return Err(NO_SUCH_USER),
            Resolution::NotLocal => return Err(RELAY_DENIED),
            Resolution::Suspended { .. } => return Err(DISABLED),
            Resolution::Loop { .. } => return Err(LOOP),
            Resolution::Undeliverable { .. } => return Err(UNDELIVERABLE),
        };
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
                    _ => return Err(MODERATED),
                },
                // Forwards and aliases to other domains: the queue relays
                // them (the sender asked for a local address, so this is
                // not relaying for strangers).
                Destination::External { .. } => {}
            }
        }
        Ok(())
    }

    /// A mailbox at or over its quota takes nothing more (452, so the
    /// sender retries once the owner made room). Only known for islands
    /// this node serves; others decide at delivery.
    async fn check_quota(&self, account_id: i64, owner: &str, island: &str) -> Result<(), Reply> {
        let Some(store) = self.islands.get(island) else { return Ok(()) };
        let quota = match self.directory.account(owner).await {
            Ok(a) => a.quota_bytes,
            Err(atoll_directory::Error::UnknownAccount(_)) => return Err(NO_SUCH_USER),
            Err(e) => {
                tracing::warn!(rcpt = %owner, error = %e, "smtp: account lookup failed");
                return Err(DIRECTORY_DOWN);
            }
        };
        if quota <= 0 {
            return Ok(());
        }
        match store.quota_usage(account_id).await {
            Ok((used, _)) if used >= quota => Err(FULL),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(rcpt = %owner, %island, error = %e, "smtp: quota lookup failed");
                Err(Reply::new(451, [4, 3, 0], "mail store unavailable, try again later"))
            }
        }
    }
}
