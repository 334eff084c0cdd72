//! The commands outside a message: greetings, STARTTLS, RSET, NOOP, VRFY,
//! HELP and QUIT, and the dispatch of every command.

use smtp_proto::{EXT_START_TLS, Request};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Dialect, Flow, Protocol, Session};
use crate::reply::{self, NOT_IMPLEMENTED, Reply};

pub(super) const OK: Reply = Reply::new(250, [2, 0, 0], "OK");
const BYE: Reply = Reply::new(221, [2, 0, 0], "closing connection");
const VRFY: Reply = Reply::new(252, [2, 5, 0], "cannot VRFY user, but will accept message and attempt delivery");
const HELP_LMTP: Reply = Reply::new(214, [2, 0, 0], "LMTP (RFC 2033): LHLO MAIL RCPT DATA BDAT RSET NOOP VRFY QUIT");
const HELP_SMTP: Reply =
    Reply::new(214, [2, 0, 0], "SMTP (RFC 5321): EHLO HELO STARTTLS MAIL RCPT DATA BDAT RSET NOOP VRFY QUIT");
const USE_LHLO: Reply = Reply::new(500, [5, 5, 1], "this is LMTP: greet with LHLO (RFC 2033 section 4.1)");
pub(super) const UNKNOWN: Reply = Reply::new(500, [5, 5, 1], "command unrecognized");
const TLS_READY: Reply = Reply::new(220, [2, 0, 0], "ready to start TLS");
// RFC 3207 §4: 454 when TLS is not available.
const NO_TLS: Reply = Reply::new(454, [4, 7, 0], "TLS not available");
const ALREADY_TLS: Reply = Reply::new(503, [5, 5, 1], "already in TLS");
const NEED_EHLO: Reply = Reply::new(503, [5, 5, 1], "send EHLO first");

impl<P: Protocol, S: AsyncRead + AsyncWrite + Unpin + Send> Session<'_, P, S> {
    pub(super) async fn command(&mut self, request: Request<String>) -> Flow {
        let dialect = self.protocol.dialect();
        match request {
            Request::Lhlo { host } if dialect == Dialect::Lmtp => self.hello(host, true),
            Request::Ehlo { host } if dialect == Dialect::Smtp => self.hello(host, true),
            Request::Helo { host } if dialect == Dialect::Smtp => self.hello(host, false),
            // RFC 2033 §4.1: LMTP servers must not answer EHLO or HELO as
            // SMTP does, so that an SMTP client is never mistaken for one.
            Request::Ehlo { .. } | Request::Helo { .. } => self.reply(&USE_LHLO),
            Request::Lhlo { .. } => self.reply(&UNKNOWN),
            Request::StartTls => return self.starttls(),
            Request::Mail { from } => self.mail(from).await,
            Request::Rcpt { to } => self.rcpt(to).await,
            Request::Data => self.data(),
            Request::Bdat { chunk_size, is_last } => self.bdat(chunk_size, is_last).await,
            Request::Rset => {
                self.tx = None;
                self.reply(&OK);
            }
            Request::Noop { .. } => self.reply(&OK),
            // RFC 5321 §3.5.3: 252 when the server will not verify.
            Request::Vrfy { .. } => self.reply(&VRFY),
            Request::Help { .. } => {
                let help = if dialect == Dialect::Lmtp { HELP_LMTP } else { HELP_SMTP };
                self.reply(&help);
            }
            Request::Quit => {
                let host = self.protocol.hostname();
                self.reply(&Reply::with_text(BYE.code, BYE.status, format!("{host} {}", BYE.text)));
                return Flow::Quit;
            }
            Request::Auth { mechanism, initial_response } => return self.auth(mechanism, initial_response).await,
            // Known to SMTP, not offered: EXPN would tell list members to
            // anyone (RFC 5321 §7.3).
            Request::Expn { .. } | Request::Etrn { .. } | Request::Atrn { .. } | Request::Burl { .. } => {
                self.reply(&NOT_IMPLEMENTED)
            }
        }
        Flow::Continue
    }

    fn hello(&mut self, host: String, extended: bool) {
        // RFC 5321 §4.1.4: a new greeting also resets the transaction.
        self.tx = None;
        self.client.helo = Some(host);
        self.client.extended = extended;
        let (hostname, limits) = (self.protocol.hostname(), self.protocol.limits());
        if extended {
            let caps = self.protocol.extensions(&self.client);
            let mechanisms = if self.client.user.is_some() { 0 } else { self.offered_mechanisms() };
            reply::hello(hostname, caps, mechanisms, limits.max_message_size, &mut self.out);
        } else {
            reply::hello(hostname, 0, 0, 0, &mut self.out);
        }
    }

    /// STARTTLS (RFC 3207).
    fn starttls(&mut self) -> Flow {
        if self.client.tls {
            self.reply(&ALREADY_TLS);
            return Flow::Continue;
        }
        // No certificate (or LMTP, which has no TLS): not a command here.
        if self.protocol.tls().is_none() {
            self.reply(&NOT_IMPLEMENTED);
            return Flow::Continue;
        }
        if self.protocol.extensions(&self.client) & EXT_START_TLS == 0 {
            self.reply(&NO_TLS);
            return Flow::Continue;
        }
        if self.client.helo.is_none() {
            self.reply(&NEED_EHLO);
            return Flow::Continue;
        }
        self.reply(&TLS_READY);
        Flow::StartTls
    }

    /// The handshake after 220; false when it failed and the connection
    /// is gone. RFC 3207 §4.2: the session starts over, as if new: no
    /// greeting is known and no transaction is open.
    pub(super) async fn start_tls(&mut self) -> bool {
        let Some(acceptor) = self.protocol.tls() else { return false };
        if let Err(e) = self.stream.upgrade(acceptor).await {
            tracing::debug!(peer = ?self.client.peer, error = %e, "STARTTLS handshake failed");
            return false;
        }
        self.client.tls = true;
        self.client.user = None;
        self.client.helo = None;
        self.client.extended = false;
        self.tx = None;
        true
    }
}
