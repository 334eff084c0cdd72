//! SELECT and EXAMINE (RFC 9051 §6.3.2-3, with CONDSTORE/QRESYNC of
//! RFC 7162), CLOSE, UNSELECT (RFC 3691), EXPUNGE and UID EXPUNGE
//! (RFC 4315 §2.1).

use tokio::io::{AsyncRead, AsyncWrite};

use crate::proto::{SelectParams, SequenceSet, response, sequence};
use crate::session::{CmdResult, Next, Selected, Session};

pub(super) async fn select<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    name: &str,
    read_only: bool,
    params: SelectParams,
) -> CmdResult {
    let Some(user) = &s.user else { return Ok(Next::Continue) };
    let island = user.island.clone();
    let account = user.account_id;
    // RFC 7162 §3.2.11: leaving a selected mailbox is announced as CLOSED.
    if s.selected.take().is_some() {
        s.untagged(b"OK [CLOSED] previous mailbox closed");
    }
    if params.condstore {
        s.condstore = true;
    }
    if params.qresync.is_some() && !s.qresync {
        s.tagged(tag, "BAD", "QRESYNC must be ENABLEd first (RFC 7162 §3.2.5)");
        return Ok(Next::Continue);
    }
    let mailbox = match island.mailbox(account, name).await {
        Ok(m) if m.selectable => m,
        Ok(_) => {
            s.tagged(tag, "NO", "[NONEXISTENT] mailbox cannot be selected");
            return Ok(Next::Continue);
        }
        Err(e) => return super::no_store(s, tag, &e),
    };
    let mut sel = match s.inner.views.current(&mailbox) {
        Some(view) => Selected::with_view(mailbox, read_only, view),
        None => {
            let messages = match island.messages(&mailbox).await {
                Ok(m) => m,
                Err(e) => return super::no_store(s, tag, &e),
            };
            let mut sel = Selected::new(mailbox, read_only, messages);
            sel.share(&s.inner.views);
            sel
        }
    };
    // RFC 3501 §2.3.2: SELECT claims the messages no session has seen as
    // \Recent; EXAMINE shows them without claiming.
    crate::session::notice_recent(&island, &mut sel, s.rev2).await;
    sel.learn_all_keywords();
    s.untagged(format!("{} EXISTS", sel.exists()).as_bytes());
    if !s.rev2 {
        // RFC 3501 §7.3.2 (IMAP4rev1 only; RFC 9051 dropped \Recent).
        s.untagged(format!("{} RECENT", sel.recent_count()).as_bytes());
        if let Some(seq) = sel.messages.iter().position(|m| !m.flags.has(atoll_store::system::SEEN)) {
            s.untagged(format!("OK [UNSEEN {}] first unseen", seq + 1).as_bytes());
        }
    }
    for line in sel.flags_lines() {
        s.untagged(&line);
    }
    s.untagged(format!("OK [UIDVALIDITY {}] UIDs valid", sel.mailbox.uidvalidity).as_bytes());
    s.untagged(format!("OK [UIDNEXT {}] next UID", sel.mailbox.uidnext).as_bytes());
    s.untagged(format!("OK [HIGHESTMODSEQ {}] highest", sel.highestmodseq).as_bytes());
    if s.rev2 {
        let mut line = b"LIST () \"/\" ".to_vec();
        response::mailbox(&mut line, &sel.mailbox.name, false);
        s.untagged(&line);
    }
    // RFC 7162 §3.2.5: with QRESYNC and a matching UIDVALIDITY, what
    // vanished and what changed since the client's mod-sequence.
    if let Some(q) = &params.qresync
        && i64::from(q.uidvalidity) == sel.mailbox.uidvalidity
    {
        let since = i64::try_from(q.modseq).unwrap_or(i64::MAX);
        match island.changes_since(&sel.mailbox, since).await {
            Ok(changes) => {
                let known = |u: u32| q.known_uids.as_ref().is_none_or(|k| k.contains(u, u32::MAX));
                let vanished: Vec<u32> =
                    changes.vanished.iter().filter_map(|u| u32::try_from(*u).ok()).filter(|u| known(*u)).collect();
                if !vanished.is_empty() {
                    s.untagged(format!("VANISHED (EARLIER) {}", sequence::compress(&vanished)).as_bytes());
                }
                for m in &changes.changed {
                    let uid = u32::try_from(m.uid).unwrap_or(u32::MAX);
                    if let Some(seq) = sel.seq_of(uid) {
                        let mut line = format!("{seq} FETCH (UID {uid} FLAGS ").into_bytes();
                        response::flags_recent(&mut line, &m.flags, sel.is_recent(uid));
                        line.extend_from_slice(format!(" MODSEQ ({}))", m.modseq).as_bytes());
                        s.untagged(&line);
                    }
                }
            }
            Err(e) => return super::no_store(s, tag, &e),
        }
    }
    let mode = if read_only { "READ-ONLY" } else { "READ-WRITE" };
    s.selected = Some(sel);
    s.tagged(tag, "OK", &format!("[{mode}] {} completed", if read_only { "EXAMINE" } else { "SELECT" }));
    Ok(Next::Continue)
}

/// CLOSE expunges \Deleted messages silently (RFC 9051 §6.4.1); UNSELECT
/// does not.
pub(super) async fn close<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    expunge: bool,
) -> CmdResult {
    if let (Some(user), Some(sel)) = (&s.user, s.selected.take())
        && expunge
        && !sel.read_only
    {
        let deleted = deleted_now(&user.island, &sel).await;
        if !deleted.is_empty()
            && let Err(e) = user.island.expunge(&sel.mailbox, &deleted).await
        {
            return super::no_store(s, tag, &e);
        }
    }
    s.tagged(tag, "OK", if expunge { "CLOSE completed" } else { "UNSELECT completed" });
    Ok(Next::Continue)
}

/// \Deleted messages as the database has them now (another session may
/// have changed flags since this one looked).
async fn deleted_now(island: &atoll_store::Island, sel: &Selected) -> Vec<i64> {
    island.deleted_uids(&sel.mailbox).await.unwrap_or_else(|_| sel.deleted_uids())
}

pub(super) async fn expunge<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    set: Option<SequenceSet>,
) -> CmdResult {
    let (Some(user), Some(sel)) = (&s.user, &s.selected) else { return Ok(Next::Continue) };
    if sel.read_only {
        s.tagged(tag, "NO", "[READ-ONLY] mailbox is read-only");
        return Ok(Next::Continue);
    }
    let island = user.island.clone();
    s.refresh(true).await?;
    let Some(sel) = &s.selected else { return Ok(Next::Continue) };
    let mut uids = deleted_now(&island, sel).await;
    if let Some(set) = &set {
        let chosen = super::resolve_uids(s, true, set);
        uids.retain(|u| u32::try_from(*u).is_ok_and(|u| chosen.binary_search(&u).is_ok()));
    }
    let mailbox = sel.mailbox.clone();
    if !uids.is_empty()
        && let Err(e) = island.expunge(&mailbox, &uids).await
    {
        return super::no_store(s, tag, &e);
    }
    s.refresh(true).await?;
    let modseq = s.selected.as_ref().map(|m| m.highestmodseq).unwrap_or(0);
    if s.condstore {
        s.tagged(tag, "OK", &format!("[HIGHESTMODSEQ {modseq}] EXPUNGE completed"));
    } else {
        s.tagged(tag, "OK", "EXPUNGE completed");
    }
    Ok(Next::Continue)
}
