//! Getting in: STLS (RFC 2595 §4), USER and PASS (RFC 1939 §7), AUTH
//! with PLAIN and LOGIN (RFC 5034, decoded by `atoll-sasl`), and opening
//! the maildrop with its lock (RFC 1939 §8, `[IN-USE]` of RFC 2449
//! §8.1.2). Passwords are refused on a cleartext connection unless the
//! configuration allows it, and every failure waits before its answer.

use atoll_sasl::{Exchange, Mechanism, Step};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::line::{Line, has_buffered, read_line};
use crate::session::maildrop::Entry;
use crate::session::{CmdResult, MAX_FAILED_LOGINS, Maildrop, Next, Session, State};

/// RFC 2595 §4 has no response code for this; Dovecot answers the same.
const PLAINTEXT_REFUSED: &str = "[AUTH] plaintext authentication is disabled until STLS";

pub(super) async fn stls<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>) -> CmdResult {
    let Some(tls) = s.inner.tls.clone() else {
        s.err("TLS is not configured");
        return Ok(Next::Continue);
    };
    if s.is_tls() {
        s.err("TLS is already active");
        return Ok(Next::Continue);
    }
    // RFC 2595 §4 (and RFC 3207 §4.2's warning): commands the client sent
    // after STLS before the handshake must not be run as if they came
    // over TLS.
    if has_buffered(&s.io) {
        s.err("data after STLS");
        return Ok(Next::Close);
    }
    s.ok("begin TLS negotiation");
    s.flush().await?;
    s.io.get_mut().upgrade(&tls).await?;
    // RFC 2595 §4: the client forgets what it knew; so does the server.
    s.state = State::Authorization { user: None };
    Ok(Next::Continue)
}

pub(super) fn user<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, name: String) -> CmdResult {
    if !s.may_send_password() {
        s.err(PLAINTEXT_REFUSED);
        return Ok(Next::Continue);
    }
    // RFC 1939 §7: the server may answer +OK for an unknown name too, so
    // that names cannot be probed.
    s.state = State::Authorization { user: Some(name) };
    s.ok("send PASS");
    Ok(Next::Continue)
}

pub(super) async fn pass<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, password: &str) -> CmdResult {
    if !s.may_send_password() {
        s.err(PLAINTEXT_REFUSED);
        return Ok(Next::Continue);
    }
    // RFC 1939 §7: PASS only right after a successful USER; a failed
    // PASS goes back to the start of AUTHORIZATION.
    let State::Authorization { user: Some(user) } =
        std::mem::replace(&mut s.state, State::Authorization { user: None })
    else {
        s.err("USER first");
        return Ok(Next::Continue);
    };
    log_in(s, &user, password).await
}

/// A bare AUTH lists the mechanisms (not in RFC 5034, but Outlook and
/// other clients of RFC 1734's time ask this way).
pub(super) fn mechanisms<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>) -> CmdResult {
    if !s.may_send_password() {
        s.err(PLAINTEXT_REFUSED);
        return Ok(Next::Continue);
    }
    s.ok("mechanisms follow");
    for m in super::capa::MECHANISMS {
        s.line(m);
    }
    s.end_multiline();
    Ok(Next::Continue)
}

pub(super) async fn auth<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    mechanism: &str,
    initial: Option<&str>,
) -> CmdResult {
    s.state = State::Authorization { user: None };
    let Ok(mechanism) = Mechanism::parse(mechanism) else {
        s.err("unsupported authentication mechanism");
        return Ok(Next::Continue);
    };
    if !s.may_send_password() {
        s.err(PLAINTEXT_REFUSED);
        return Ok(Next::Continue);
    }
    let (mut exchange, mut step) = match Exchange::start(mechanism, initial) {
        Ok(started) => started,
        Err(e) => return sasl_failed(s, &e),
    };
    let credentials = loop {
        let challenge = match step {
            Step::Done(c) => break c,
            Step::Challenge(challenge) => challenge,
        };
        // RFC 5034 §4: "+" SP base64 challenge.
        s.out.extend_from_slice(format!("+ {challenge}\r\n").as_bytes());
        s.flush().await?;
        let max = s.inner.config.max_line_length;
        let response = match tokio::time::timeout(s.inner.config.login_timeout, read_line(&mut s.io, max)).await {
            Err(_) | Ok(Ok(Line::Eof)) => return Ok(Next::Close),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Line::TooLong)) => {
                s.err("authentication response too long");
                return Ok(Next::Continue);
            }
            Ok(Ok(Line::Line(bytes))) => String::from_utf8_lossy(&bytes).trim_end().to_string(),
        };
        step = match exchange.respond(&response) {
            Ok(step) => step,
            Err(e) => return sasl_failed(s, &e),
        };
    };
    if !credentials.acts_as_self() {
        s.err("[AUTH] acting as another user is not allowed");
        return Ok(Next::Continue);
    }
    log_in(s, &credentials.authcid, &credentials.password).await
}

/// RFC 5034 §4: a cancelled or malformed exchange fails with -ERR.
fn sasl_failed<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>, e: &atoll_sasl::Error) -> CmdResult {
    s.err(&e.to_string());
    Ok(Next::Continue)
}

/// Checks the password and opens the maildrop: TRANSACTION on success.
async fn log_in<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    address: &str,
    password: &str,
) -> CmdResult {
    let outcome = match s.inner.directory.authenticate(address, password).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "pop3: directory unavailable for login");
            s.err("[SYS/TEMP] the directory is unavailable; try again");
            return Ok(Next::Continue);
        }
    };
    let Some(outcome) = outcome else {
        s.failed_logins += 1;
        tracing::info!(user = %address, peer = ?s.peer, "pop3: login failed");
        // Slow down guessing; a client that keeps failing is disconnected.
        tokio::time::sleep(s.inner.config.auth_failure_delay).await;
        s.err("[AUTH] invalid credentials");
        return Ok(if s.failed_logins >= MAX_FAILED_LOGINS { Next::Close } else { Next::Continue });
    };
    let account = outcome.account;
    let Some(island) = s.inner.islands.get(&account.island).cloned() else {
        s.err("[SYS/TEMP] this mailbox is served by another node");
        return Ok(Next::Continue);
    };
    let Some(lock) = s.inner.locks.try_lock(island.name(), account.id) else {
        tracing::info!(user = %account.address, peer = ?s.peer, "pop3: maildrop in use");
        s.err("[IN-USE] the maildrop is in use by another POP3 session");
        return Ok(Next::Continue);
    };
    let opened = async {
        island.ensure_defaults(account.id).await?;
        let mailbox = island.mailbox(account.id, "INBOX").await?;
        let messages = island.messages(&mailbox).await?;
        let blobs: Vec<_> = messages.iter().map(|m| m.blob).collect();
        let sizes = island.crlf_sizes(&blobs).await?;
        let entries = messages
            .iter()
            .map(|m| Entry {
                uid: m.uid,
                blob: m.blob,
                size: sizes.get(&m.blob).copied().unwrap_or(m.size as u64),
                deleted: false,
                retrieved: false,
            })
            .collect::<Vec<Entry>>();
        Ok::<_, atoll_store::Error>((mailbox, entries))
    };
    let (mailbox, entries) = match opened.await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(user = %account.address, error = %e, "pop3: opening the maildrop failed");
            s.err("[SYS/TEMP] the maildrop cannot be opened now; try again");
            return Ok(Next::Continue);
        }
    };
    tracing::info!(user = %account.address, peer = ?s.peer, messages = entries.len(), "pop3: logged in");
    let maildrop = Maildrop { island, mailbox, entries, _lock: lock };
    let (n, size) = maildrop.stat();
    s.state = State::Transaction(Box::new(maildrop));
    s.ok(&format!("logged in; maildrop has {n} messages ({size} octets)"));
    Ok(Next::Continue)
}
