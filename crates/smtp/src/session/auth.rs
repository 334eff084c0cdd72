//! AUTH (RFC 4954) with the SASL mechanisms of `atoll-sasl`: the command,
//! its `334` challenges, and the response lines in between, which are not
//! commands. Only servers that offer mechanisms (submission) take it;
//! the others answer 502.

use atoll_sasl::{Error as SaslError, Exchange, Mechanism, Step};
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Flow, Mode, Protocol, Session};
use crate::reply::{NOT_IMPLEMENTED, Reply};

/// RFC 4954 §4: a response line is at most 12288 octets.
pub(super) const MAX_RESPONSE: usize = 12288;

const ALREADY: Reply = Reply::new(503, [5, 5, 1], "already authenticated");
const IN_TRANSACTION: Reply = Reply::new(503, [5, 5, 1], "AUTH is not allowed during a mail transaction");
const NEED_EHLO: Reply = Reply::new(503, [5, 5, 1], "send EHLO first");
// RFC 4954 §6: 504 for a mechanism the server does not offer.
const UNSUPPORTED: Reply = Reply::new(504, [5, 5, 4], "unrecognized authentication type");
// RFC 4954 §6: 538 when the mechanism needs an encrypted connection.
const NEED_TLS: Reply = Reply::new(538, [5, 7, 11], "encryption required for requested authentication mechanism");
const CANCELLED: Reply = Reply::new(501, [5, 0, 0], "authentication cancelled");
const MALFORMED: Reply = Reply::new(501, [5, 5, 2], "cannot decode the response");
const TOO_LONG: Reply = Reply::new(500, [5, 5, 6], "authentication exchange line is too long");
const TOO_MANY_FAILURES: Reply = Reply::new(421, [4, 7, 0], "too many failed authentications, closing connection");
const MAX_FAILURES: u32 = 3;
pub(super) const SUCCEEDED: Reply = Reply::new(235, [2, 7, 0], "authentication successful");

/// A SASL exchange waiting for the client's next line.
pub(super) struct Pending {
    exchange: Exchange,
    line: Vec<u8>,
    /// The rest of an overlong line is being thrown away.
    overlong: bool,
}

fn mechanism_of(bits: u64) -> Option<Mechanism> {
    match bits {
        AUTH_PLAIN => Some(Mechanism::Plain),
        AUTH_LOGIN => Some(Mechanism::Login),
        _ => None,
    }
}

impl<P: Protocol, S: AsyncRead + AsyncWrite + Unpin + Send> Session<'_, P, S> {
    /// The mechanisms offered to this client now: none before TLS when
    /// the server wants TLS for passwords.
    pub(super) fn offered_mechanisms(&self) -> u64 {
        let all = self.protocol.sasl_mechanisms();
        if self.protocol.auth_needs_tls() && !self.client.tls { 0 } else { all }
    }

    /// AUTH: starts an exchange, or answers why not.
    pub(super) async fn auth(&mut self, mechanism: u64, initial: String) -> Flow {
        let all = self.protocol.sasl_mechanisms();
        if all == 0 {
            self.reply(&NOT_IMPLEMENTED);
            return Flow::Continue;
        }
        let refused = if self.client.helo.is_none() || !self.client.extended {
            Some(NEED_EHLO)
        } else if self.client.user.is_some() {
            Some(ALREADY)
        } else if self.tx.is_some() {
            Some(IN_TRANSACTION)
        } else if all & mechanism == 0 {
            Some(UNSUPPORTED)
        } else if self.offered_mechanisms() & mechanism == 0 {
            // Offered once the connection is encrypted, not now.
            Some(NEED_TLS)
        } else {
            None
        };
        if let Some(r) = refused {
            self.reply(&r);
            return Flow::Continue;
        }
        let Some(mech) = mechanism_of(mechanism) else {
            self.reply(&UNSUPPORTED);
            return Flow::Continue;
        };
        // RFC 4954 §4: no initial response is an empty string here; "=" is
        // an empty one.
        let initial = (!initial.is_empty()).then_some(initial);
        match Exchange::start(mech, initial.as_deref()) {
            Ok((exchange, step)) => self.auth_step(exchange, step).await,
            Err(e) => {
                self.auth_error(&e);
                Flow::Continue
            }
        }
    }

    /// The next line of an exchange, in pieces as they arrive.
    pub(super) async fn auth_input(&mut self, mut pending: Pending, bytes: &mut std::slice::Iter<'_, u8>) -> Flow {
        let rest = bytes.as_slice();
        let (take, complete) = match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => (lf + 1, true),
            None => (rest.len(), false),
        };
        if !pending.overlong {
            pending.line.extend_from_slice(&rest[..take]);
            if pending.line.len() > MAX_RESPONSE + 2 {
                pending.overlong = true;
                pending.line = Vec::new();
            }
        }
        *bytes = rest[take..].iter();
        if !complete {
            self.mode = Mode::Auth(Box::new(pending));
            return Flow::Continue;
        }
        if pending.overlong {
            self.reply(&TOO_LONG);
            return Flow::Continue;
        }
        let line = String::from_utf8_lossy(&pending.line).trim_end_matches(['\r', '\n']).to_string();
        let mut exchange = pending.exchange;
        match exchange.respond(&line) {
            Ok(step) => self.auth_step(exchange, step).await,
            Err(e) => {
                self.auth_error(&e);
                Flow::Continue
            }
        }
    }

    async fn auth_step(&mut self, exchange: Exchange, step: Step) -> Flow {
        match step {
            Step::Challenge(c) => {
                // RFC 4954 §4: "334 " and the base64 challenge.
                self.out.extend_from_slice(format!("334 {c}\r\n").as_bytes());
                self.mode = Mode::Auth(Box::new(Pending { exchange, line: Vec::new(), overlong: false }));
            }
            Step::Done(credentials) => match self.protocol.authenticate(&self.client, &credentials).await {
                Ok(user) => {
                    tracing::info!(peer = ?self.client.peer, %user, "smtp: authenticated");
                    self.client.user = Some(user);
                    self.reply(&SUCCEEDED);
                }
                Err(reply) => {
                    self.client.failed_auths += 1;
                    tracing::info!(peer = ?self.client.peer, user = %credentials.authcid, "smtp: authentication failed");
                    self.reply(&reply);
                    // Guessing passwords gets a few tries per connection.
                    if self.client.failed_auths >= MAX_FAILURES {
                        self.reply(&TOO_MANY_FAILURES);
                        return Flow::Quit;
                    }
                }
            },
        }
        Flow::Continue
    }

    fn auth_error(&mut self, e: &SaslError) {
        let r = match e {
            SaslError::Cancelled => CANCELLED,
            SaslError::Unsupported => UNSUPPORTED,
            _ => MALFORMED,
        };
        self.reply(&r);
    }
}
