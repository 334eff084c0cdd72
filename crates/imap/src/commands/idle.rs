//! IDLE (RFC 2177, RFC 9051 §6.3.13): the session waits for changes and
//! reports them at once until the client sends DONE. A change made
//! through this node wakes it through the store's watch; changes made
//! through other store nodes of the island are picked up by re-reading
//! the mailbox every `idle_poll`.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite};

use crate::session::{CmdResult, Next, Session};

pub(super) async fn idle<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, tag: &str) -> CmdResult {
    let Some(user) = &s.user else { return Ok(Next::Continue) };
    let mut watch = user.island.watch(user.account_id);
    watch.borrow_and_update();
    s.out.extend_from_slice(b"+ idling\r\n");
    s.refresh(true).await?;
    s.flush().await?;
    let deadline = tokio::time::Instant::now() + s.inner.config.idle_timeout;
    let poll = s.inner.config.idle_poll;
    let mut line = Vec::new();
    let mut shutdown = s.shutdown.clone();
    loop {
        // read_until keeps what it read in `line` when another branch wins,
        // so no byte of the DONE line is lost.
        tokio::select! {
            r = s.io.read_until(b'\n', &mut line) => {
                match r {
                    Ok(0) => return Ok(Next::Close),
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
                let text = String::from_utf8_lossy(&line).trim().to_ascii_uppercase();
                if text == "DONE" {
                    break;
                }
                s.tagged(tag, "BAD", "expected DONE");
                return Ok(Next::Continue);
            }
            changed = watch.changed() => {
                if changed.is_err() {
                    // The island is gone; fall back to polling.
                    tokio::time::sleep(poll).await;
                }
                s.refresh(true).await?;
                s.flush().await?;
            }
            _ = tokio::time::sleep(poll) => {
                s.refresh(true).await?;
                s.flush().await?;
            }
            _ = tokio::time::sleep_until(deadline) => {
                s.untagged(b"BYE autologout; idle for too long");
                return Ok(Next::Close);
            }
            _ = shutdown.wait() => {
                s.untagged(b"BYE server shutting down");
                return Ok(Next::Close);
            }
        }
        if line.len() > 64 {
            s.tagged(tag, "BAD", "expected DONE");
            return Ok(Next::Continue);
        }
    }
    s.tagged(tag, "OK", "IDLE terminated");
    Ok(Next::Continue)
}
