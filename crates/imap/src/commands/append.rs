//! APPEND (RFC 9051 §6.3.12) with APPENDUID (RFC 4315).

use atoll_store::{Flags, NewMessage};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::proto::Append;
use crate::session::{CmdResult, Next, Session};

pub(super) async fn append<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    a: Append,
) -> CmdResult {
    let Some(user) = &s.user else { return Ok(Next::Continue) };
    let names: Vec<&str> = a.flags.iter().map(String::as_str).filter(|f| !f.eq_ignore_ascii_case("\\Recent")).collect();
    let flags = match Flags::parse(names) {
        Ok(f) => f,
        Err(e) => {
            s.tagged(tag, "BAD", &e.to_string());
            return Ok(Next::Continue);
        }
    };
    // RFC 3516 §4.4: NUL bytes from a literal8 are kept as base64, so that
    // BODY[] stays a valid literal and BINARY[] returns the bytes sent.
    let raw = match atoll_message::encode_binary_parts(&a.message) {
        Some(encoded) => encoded,
        None => a.message,
    };
    let island = user.island.clone();
    let account = user.account_id;
    let quota = user.quota_bytes;
    if quota > 0 {
        match island.quota_usage(account).await {
            Ok((used, _)) if used.saturating_add(raw.len() as i64) > quota => {
                s.tagged(tag, "NO", "[OVERQUOTA] the mailbox is full");
                return Ok(Next::Continue);
            }
            Ok(_) => {}
            Err(e) => return super::no_store(s, tag, &e),
        }
    }
    let msg = NewMessage { raw, flags, internal_date: a.date };
    match island.append(account, &a.mailbox, msg).await {
        Ok(stored) => {
            s.refresh(true).await?;
            s.tagged(tag, "OK", &format!("[APPENDUID {} {}] APPEND completed", stored.uidvalidity, stored.uid));
        }
        Err(atoll_store::Error::NoSuchMailbox(_)) => s.tagged(tag, "NO", "[TRYCREATE] no such mailbox"),
        Err(e) => return super::no_store(s, tag, &e),
    }
    Ok(Next::Continue)
}
