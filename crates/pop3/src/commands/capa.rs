//! CAPA (RFC 2449 §5): what this server does, which depends on the state
//! and on whether the connection is TLS yet.

use tokio::io::{AsyncRead, AsyncWrite};

use crate::session::{CmdResult, Next, Session, State};

/// The SASL mechanisms offered (RFC 5034 §3).
pub(crate) const MECHANISMS: [&str; 2] = ["PLAIN", "LOGIN"];

pub(super) fn capa<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &mut Session<S>) -> CmdResult {
    let lines = capabilities(s);
    s.ok("capability list follows");
    for l in lines {
        s.line(&l);
    }
    s.end_multiline();
    Ok(Next::Continue)
}

pub(crate) fn capabilities<S: AsyncRead + AsyncWrite + Unpin + Send>(s: &Session<S>) -> Vec<String> {
    // RFC 2449 §6.
    let mut caps: Vec<String> = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"].map(String::from).into();
    if let State::Authorization { .. } = s.state {
        // RFC 2595 §4: no password mechanisms before TLS unless allowed.
        if s.may_send_password() {
            caps.push("USER".into());
            caps.push(format!("SASL {}", MECHANISMS.join(" ")));
        }
        if !s.is_tls() && s.inner.tls.is_some() {
            caps.push("STLS".into());
        }
    }
    caps.push("IMPLEMENTATION atoll".into());
    caps
}
