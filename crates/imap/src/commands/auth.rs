//! Getting in: STARTTLS (RFC 9051 §6.2.1), LOGIN (§6.2.3) and
//! AUTHENTICATE PLAIN (§6.2.2, RFC 4616, decoded by `atoll-sasl`) with
//! SASL-IR (RFC 4959).
//! Passwords are refused on a cleartext connection unless the
//! configuration allows it, and every failure waits before its answer.

use atoll_sasl::{Exchange, Mechanism, Step};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::proto::framing::{Line, read_line};
use crate::session::{CmdResult, Next, Session, User};

pub(super) async fn starttls<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, tag: &str) -> CmdResult {
    let Some(tls) = s.inner.tls.clone() else {
        s.tagged(tag, "NO", "TLS is not configured");
        return Ok(Next::Continue);
    };
    if s.is_tls() {
        s.tagged(tag, "BAD", "TLS is already active");
        return Ok(Next::Continue);
    }
    // RFC 9051 §6.2.1: anything the client sent after STARTTLS before the
    // handshake must not be taken as a command (command injection).
    if !s.io.buffer().is_empty() {
        s.tagged(tag, "BAD", "data after STARTTLS");
        return Ok(Next::Close);
    }
    s.tagged(tag, "OK", "begin TLS negotiation now");
    s.flush().await?;
    s.io.get_mut().upgrade(&tls).await?;
    Ok(Next::Continue)
}

fn may_send_password<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &Session<S>) -> bool {
    s.is_tls() || s.inner.config.allow_plaintext_auth
}

pub(super) async fn login<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    user: &str,
    password: &str,
) -> CmdResult {
    if !may_send_password(s) {
        s.tagged(tag, "NO", "[PRIVACYREQUIRED] LOGIN is disabled until STARTTLS");
        return Ok(Next::Continue);
    }
    log_in(s, tag, user, password).await
}

pub(super) async fn authenticate<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    mechanism: &str,
    initial: Option<String>,
) -> CmdResult {
    // Only PLAIN is offered: LOGIN (the command) covers the clients that
    // would use the LOGIN mechanism.
    let Ok(mechanism @ Mechanism::Plain) = Mechanism::parse(mechanism) else {
        s.tagged(tag, "NO", "[CANNOT] unsupported authentication mechanism");
        return Ok(Next::Continue);
    };
    if !may_send_password(s) {
        s.tagged(tag, "NO", "[PRIVACYREQUIRED] authentication is disabled until STARTTLS");
        return Ok(Next::Continue);
    }
    let (mut exchange, mut step) = match Exchange::start(mechanism, initial.as_deref()) {
        Ok(started) => started,
        Err(e) => return refuse(s, tag, &e),
    };
    let credentials = loop {
        let challenge = match step {
            Step::Done(c) => break c,
            Step::Challenge(challenge) => challenge,
        };
        s.out.extend_from_slice(format!("+ {challenge}\r\n").as_bytes());
        s.flush().await?;
        // A response over the line limit is read to its end and refused,
        // not cut short with its rest taken as the next command.
        let max = s.inner.config.max_line_length;
        let text = match tokio::time::timeout(s.inner.config.login_timeout, read_line(&mut s.io, max)).await {
            Err(_) | Ok(Ok(None)) => return Ok(Next::Close),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Some(Line::TooLong))) => {
                s.tagged(tag, "BAD", "authentication response too long");
                return Ok(Next::Continue);
            }
            Ok(Ok(Some(Line::Text(bytes)))) => String::from_utf8_lossy(&bytes).into_owned(),
        };
        step = match exchange.respond(&text) {
            Ok(step) => step,
            Err(e) => return refuse(s, tag, &e),
        };
    };
    if !credentials.acts_as_self() {
        s.tagged(tag, "NO", "[AUTHORIZATIONFAILED] acting as another user is not allowed");
        return Ok(Next::Continue);
    }
    log_in(s, tag, &credentials.authcid, &credentials.password).await
}

/// A response that ended the exchange: RFC 9051 §6.2.2 answers a cancel
/// and a malformed response with BAD.
fn refuse<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, tag: &str, e: &atoll_sasl::Error) -> CmdResult {
    s.tagged(tag, "BAD", &e.to_string());
    Ok(Next::Continue)
}

async fn log_in<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    address: &str,
    password: &str,
) -> CmdResult {
    let outcome = match s.inner.directory.authenticate(address, password).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "imap: directory unavailable for login");
            s.tagged(tag, "NO", "[UNAVAILABLE] the directory is unavailable; try again");
            return Ok(Next::Continue);
        }
    };
    let Some(outcome) = outcome else {
        s.failed_logins += 1;
        tracing::info!(user = %address, peer = ?s.peer, "imap: login failed");
        // Slow down guessing; a client that keeps failing is disconnected.
        tokio::time::sleep(s.inner.config.auth_failure_delay).await;
        s.tagged(tag, "NO", "[AUTHENTICATIONFAILED] invalid credentials");
        return Ok(if s.failed_logins >= 5 { Next::Close } else { Next::Continue });
    };
    let account = outcome.account;
    let Some(island) = s.inner.islands.get(&account.island).cloned() else {
        s.tagged(tag, "NO", "[UNAVAILABLE] this mailbox is served by another node");
        return Ok(Next::Continue);
    };
    if let Err(e) = island.ensure_defaults(account.id).await {
        return super::no_store(s, tag, &e);
    }
    tracing::info!(user = %account.address, peer = ?s.peer, "imap: logged in");
    s.user = Some(User {
        account_id: account.id,
        address: account.address.clone(),
        quota_bytes: account.quota_bytes,
        island,
    });
    let caps = s.capabilities();
    s.tagged(tag, "OK", &format!("[CAPABILITY {caps}] logged in"));
    Ok(Next::Continue)
}
