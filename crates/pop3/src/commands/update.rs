//! QUIT (RFC 1939 §4, §6). In AUTHORIZATION it only ends the session; in
//! TRANSACTION it enters the UPDATE state: the messages marked deleted are
//! expunged through the store, so IMAP sessions on the INBOX get their
//! EXPUNGE responses, and (with `mark_seen`) the ones downloaded with RETR
//! get \Seen. Then the maildrop's lock goes with the session.

use atoll_store::{Flags, StoreOp};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::session::{CmdResult, Next, Session, State};

pub(super) async fn quit<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>) -> CmdResult {
    let hostname = s.inner.config.hostname.clone();
    let State::Transaction(m) = std::mem::replace(&mut s.state, State::Authorization { user: None }) else {
        s.ok(&format!("{hostname} POP3 server signing off"));
        return Ok(Next::Close);
    };
    let deleted: Vec<i64> = m.entries.iter().filter(|e| e.deleted).map(|e| e.uid).collect();
    let seen: Vec<i64> = m.entries.iter().filter(|e| e.retrieved && !e.deleted).map(|e| e.uid).collect();
    let left = m.entries.len() - deleted.len();
    if s.inner.config.mark_seen && !seen.is_empty() {
        let flags = Flags { system: atoll_store::system::SEEN, ..Flags::default() };
        // Flags are not worth failing the QUIT for: the deletions matter.
        if let Err(e) = m.island.store_flags(&m.mailbox, &seen, StoreOp::Add, &flags, None).await {
            tracing::warn!(error = %e, "pop3: marking downloaded messages \\Seen failed");
        }
    }
    if !deleted.is_empty()
        && let Err(e) = m.island.expunge(&m.mailbox, &deleted).await
    {
        tracing::error!(error = %e, "pop3: removing deleted messages failed");
        // RFC 1939 §6: the error answer of QUIT in UPDATE.
        s.err("[SYS/TEMP] some deleted messages not removed");
        return Ok(Next::Close);
    }
    s.ok(&format!("{hostname} POP3 server signing off ({left} messages left)"));
    Ok(Next::Close)
}
