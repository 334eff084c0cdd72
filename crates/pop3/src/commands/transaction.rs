//! The TRANSACTION state (RFC 1939 §5, §7): STAT, LIST, UIDL, RETR, TOP,
//! DELE, RSET and NOOP on the maildrop the session opened at login.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use crate::encode::Encoder;
use crate::session::maildrop::{Missing, live};
use crate::session::{CmdResult, Next, Session};

/// How much of a body is read from its file at a time.
const CHUNK: usize = 64 << 10;

/// The session is in TRANSACTION whenever these run (the state check is in
/// the session); an answer that says otherwise is a bug, not a panic.
macro_rules! maildrop {
    ($s:expr) => {
        match $s.maildrop() {
            Some(m) => m,
            None => {
                $s.err("log in first");
                return Ok(Next::Continue);
            }
        }
    };
}

fn missing<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, n: u32, why: Missing) -> CmdResult {
    match why {
        Missing::NoSuchMessage => s.err(&format!("no message {n}")),
        Missing::Deleted => s.err(&format!("message {n} already deleted")),
    }
    Ok(Next::Continue)
}

pub(super) fn stat<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>) -> CmdResult {
    let (n, size) = maildrop!(s).stat();
    // RFC 1939 §5: exactly "+OK nn mm".
    s.ok(&format!("{n} {size}"));
    Ok(Next::Continue)
}

pub(super) fn list<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, n: Option<u32>) -> CmdResult {
    let m = maildrop!(s);
    if let Some(n) = n {
        let answer = m.get(n).map(|e| e.size);
        return match answer {
            Ok(size) => {
                s.ok(&format!("{n} {size}"));
                Ok(Next::Continue)
            }
            Err(why) => missing(s, n, why),
        };
    }
    let (count, total) = m.stat();
    let lines: Vec<String> = live(&m.entries).map(|(n, e)| format!("{n} {}", e.size)).collect();
    s.ok(&format!("{count} messages ({total} octets)"));
    for l in lines {
        s.line(&l);
    }
    s.end_multiline();
    Ok(Next::Continue)
}

pub(super) fn uidl<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, n: Option<u32>) -> CmdResult {
    let m = maildrop!(s);
    if let Some(n) = n {
        let answer = m.get(n).map(|e| m.unique_id(e));
        return match answer {
            Ok(id) => {
                s.ok(&format!("{n} {id}"));
                Ok(Next::Continue)
            }
            Err(why) => missing(s, n, why),
        };
    }
    let lines: Vec<String> = live(&m.entries).map(|(n, e)| format!("{n} {}", m.unique_id(e))).collect();
    s.ok("unique-id listing follows");
    for l in lines {
        s.line(&l);
    }
    s.end_multiline();
    Ok(Next::Continue)
}

pub(super) async fn retr<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, n: u32) -> CmdResult {
    send(s, n, None).await
}

pub(super) async fn top<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, n: u32, lines: u64) -> CmdResult {
    send(s, n, Some(lines)).await
}

/// RETR (`top` None) or TOP: streams the body from its file.
async fn send<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, n: u32, top: Option<u64>) -> CmdResult {
    let m = maildrop!(s);
    let (blob, size) = match m.get(n) {
        Ok(e) => (e.blob, e.size),
        Err(why) => return missing(s, n, why),
    };
    let mut file = match m.island.blobs().reader(blob).await {
        Ok(f) => f,
        Err(atoll_store::blob::BlobError::Missing(_)) => {
            // Expunged through IMAP during this session and collected.
            s.err(&format!("message {n} was removed by another session"));
            return Ok(Next::Continue);
        }
        Err(e) => {
            tracing::error!(error = %e, "pop3: reading a message failed");
            s.err("[SYS/TEMP] the message cannot be read now; try again");
            return Ok(Next::Continue);
        }
    };
    let mut encoder = match top {
        None => {
            s.ok(&format!("{size} octets"));
            Encoder::whole()
        }
        Some(lines) => {
            s.ok("top of message follows");
            Encoder::top(lines)
        }
    };
    let mut buf = vec![0u8; CHUNK];
    while !encoder.is_done() {
        // The +OK is out already: a read error can only end the
        // connection (the client sees no final "." and knows).
        let got = file.read(&mut buf).await?;
        if got == 0 {
            break;
        }
        encoder.feed(&buf[..got], &mut s.out);
        s.maybe_flush().await?;
    }
    encoder.finish(&mut s.out);
    if top.is_none()
        && let Some(m) = s.maildrop()
        && let Ok(e) = m.get_mut(n)
    {
        e.retrieved = true;
    }
    Ok(Next::Continue)
}

pub(super) fn dele<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, n: u32) -> CmdResult {
    let m = maildrop!(s);
    match m.get_mut(n) {
        Ok(e) => {
            // RFC 1939 §5: only marked; removed in the UPDATE state.
            e.deleted = true;
            s.ok(&format!("message {n} deleted"));
            Ok(Next::Continue)
        }
        Err(why) => missing(s, n, why),
    }
}

pub(super) fn rset<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>) -> CmdResult {
    let m = maildrop!(s);
    for e in &mut m.entries {
        e.deleted = false;
    }
    let (n, size) = m.stat();
    s.ok(&format!("maildrop has {n} messages ({size} octets)"));
    Ok(Next::Continue)
}

pub(super) fn noop<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>) -> CmdResult {
    s.ok("");
    Ok(Next::Continue)
}
