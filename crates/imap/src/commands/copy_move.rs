//! COPY and MOVE (RFC 9051 §6.4.7-8, RFC 6851) with COPYUID (RFC 4315).

use tokio::io::{AsyncRead, AsyncWrite};

use crate::proto::{SequenceSet, sequence};
use crate::session::{CmdResult, Next, Session};

pub(super) async fn copy_move<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    uid: bool,
    set: &SequenceSet,
    target: &str,
    is_move: bool,
) -> CmdResult {
    let (Some(user), Some(sel)) = (&s.user, &s.selected) else { return Ok(Next::Continue) };
    if is_move && sel.read_only {
        s.tagged(tag, "NO", "[READ-ONLY] mailbox is read-only");
        return Ok(Next::Continue);
    }
    let island = user.island.clone();
    let from = sel.mailbox.clone();
    let to = match island.mailbox(user.account_id, target).await {
        Ok(m) if m.selectable => m,
        Ok(_) => {
            s.tagged(tag, "NO", "[CANNOT] target mailbox cannot hold messages");
            return Ok(Next::Continue);
        }
        Err(atoll_store::Error::NoSuchMailbox(_)) => {
            // RFC 9051 §6.4.7: the client may create it and try again.
            s.tagged(tag, "NO", "[TRYCREATE] no such mailbox");
            return Ok(Next::Continue);
        }
        Err(e) => return super::no_store(s, tag, &e),
    };
    let uids: Vec<i64> = super::resolve_uids(s, uid, set).into_iter().map(i64::from).collect();
    if uids.is_empty() {
        // RFC 9051 §6.4.8: nothing to do is not an error for UID forms.
        s.tagged(tag, "OK", "no messages");
        return Ok(Next::Continue);
    }
    let done =
        if is_move { island.move_messages(&from, &uids, &to).await } else { island.copy(&from, &uids, &to).await };
    let (uidvalidity, pairs) = match done {
        Ok(r) => r,
        Err(e) => return super::no_store(s, tag, &e),
    };
    let src: Vec<u32> = pairs.iter().filter_map(|(a, _)| u32::try_from(*a).ok()).collect();
    let dst: Vec<u32> = pairs.iter().filter_map(|(_, b)| u32::try_from(*b).ok()).collect();
    // Both sets in ascending source order; compress keeps that order only
    // for runs, which UIDs allocated in a block satisfy.
    let code = format!("COPYUID {uidvalidity} {} {}", sequence::compress(&src), sequence::compress(&dst));
    if is_move {
        // RFC 6851 §4.3: COPYUID goes in an untagged OK before the expunges.
        s.untagged(format!("OK [{code}] moved").as_bytes());
        s.refresh(true).await?;
        s.tagged(tag, "OK", "MOVE completed");
    } else {
        s.refresh(true).await?;
        s.tagged(tag, "OK", &format!("[{code}] COPY completed"));
    }
    Ok(Next::Continue)
}
