//! What the MX and LMTP both ask about a recipient at RCPT time: the
//! directory's resolution, and whether a mailbox has room; with the
//! replies that refuse it.

use std::sync::Arc;

use atoll_directory::{Destination, Directory, Resolution};
use atoll_store::Island;

use crate::reply::Reply;

pub(crate) const BAD_ADDRESS: Reply = Reply::new(501, [5, 1, 3], "bad recipient address syntax");
pub(crate) const NO_SUCH_USER: Reply = Reply::new(550, [5, 1, 1], "no such user here");
pub(crate) const DISABLED: Reply = Reply::new(550, [5, 2, 1], "mailbox disabled");
// RFC 3463 §3.5: X.4.6 routing loop detected. 550, not 554: RCPT has no 554.
pub(crate) const LOOP: Reply = Reply::new(550, [5, 4, 6], "routing loop detected");
pub(crate) const UNDELIVERABLE: Reply = Reply::new(550, [5, 1, 1], "no deliverable mailbox for this address");
pub(crate) const DIRECTORY_DOWN: Reply = Reply::new(451, [4, 3, 0], "directory unavailable, try again later");
pub(crate) const STORE_DOWN: Reply = Reply::new(451, [4, 3, 0], "mail store unavailable, try again later");
// RFC 3463 §3.3: X.2.2 mailbox full. Temporary: the owner may make room.
pub(crate) const FULL: Reply = Reply::new(452, [4, 2, 2], "mailbox full");

/// The destinations of `address`, or the reply that refuses it; an address
/// outside our domains gets `not_local`. `service` names the caller in logs.
pub(crate) async fn destinations(
    directory: &Directory,
    address: &str,
    not_local: Reply,
    service: &'static str,
) -> Result<Arc<Resolution>, Reply> {
    let resolution = resolve(directory, address, service).await?;
    match refusal(&resolution) {
        Some(r) => Err(r),
        None if matches!(*resolution, Resolution::NotLocal) => Err(not_local),
        None => Ok(resolution),
    }
}

/// What the directory says about `address`; Err only when it cannot say
/// (bad syntax, directory down).
pub(crate) async fn resolve(
    directory: &Directory,
    address: &str,
    service: &'static str,
) -> Result<Arc<Resolution>, Reply> {
    match directory.resolve(address).await {
        Ok(r) => Ok(r),
        Err(atoll_directory::Error::InvalidAddress(..)) => Err(BAD_ADDRESS),
        Err(e) => {
            tracing::warn!(rcpt = %address, error = %e, "{service}: directory lookup failed");
            Err(DIRECTORY_DOWN)
        }
    }
}

/// The reply that refuses a local address the directory cannot deliver
/// to; None for a deliverable one and for one outside our domains.
pub(crate) fn refusal(resolution: &Resolution) -> Option<Reply> {
    match resolution {
        Resolution::Deliver { .. } | Resolution::NotLocal => None,
        Resolution::Unknown => Some(NO_SUCH_USER),
        Resolution::Suspended { .. } => Some(DISABLED),
        Resolution::Loop { .. } => Some(LOOP),
        Resolution::Undeliverable { .. } => Some(UNDELIVERABLE),
    }
}

/// The destinations of a resolution [`destinations`] accepted.
pub(crate) fn of(resolution: &Resolution) -> &[Destination] {
    match resolution {
        Resolution::Deliver { destinations } => destinations,
        _ => &[],
    }
}

/// The quota of `owner`'s mailbox (0: none), refused with 452 4.2.2 when
/// the mailbox is already at or over it: it takes nothing more, and the
/// sender retries once the owner made room. The size of the message is
/// checked after DATA, where it is known.
pub(crate) async fn room(
    directory: &Directory,
    island: &Island,
    account_id: i64,
    owner: &str,
    service: &'static str,
) -> Result<i64, Reply> {
    let quota = match directory.account(owner).await {
        Ok(a) => a.quota_bytes,
        // Removed between the resolution (cached) and now.
        Err(atoll_directory::Error::UnknownAccount(_)) => return Err(NO_SUCH_USER),
        Err(e) => {
            tracing::warn!(rcpt = %owner, error = %e, "{service}: account lookup failed");
            return Err(DIRECTORY_DOWN);
        }
    };
    if quota <= 0 {
        return Ok(0);
    }
    match island.quota_usage(account_id).await {
        Ok((used, _)) if used >= quota => Err(FULL),
        Ok(_) => Ok(quota),
        Err(e) => {
            tracing::warn!(rcpt = %owner, island = %island.name(), error = %e, "{service}: quota lookup failed");
            Err(STORE_DOWN)
        }
    }
}
