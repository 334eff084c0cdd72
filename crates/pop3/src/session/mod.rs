//! One POP3 connection: the state machine of RFC 1939 §3 (AUTHORIZATION
//! → TRANSACTION → UPDATE), the read loop and the output buffer. The
//! commands themselves are in `crate::commands`.
//!
//! Only QUIT in the TRANSACTION state enters UPDATE. A connection that
//! drops, times out or is cut off at shutdown ends without it, so the
//! messages it marked deleted stay (RFC 1939 §6).

pub mod maildrop;

use std::net::IpAddr;
use std::sync::Arc;

use atoll_net::{Shutdown, Stream};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::line::{Line, read_line};
use crate::parser::{Command, parse};
use crate::server::Inner;
pub(crate) use maildrop::Maildrop;

/// Where the session is (RFC 1939 §3).
pub(crate) enum State {
    /// Not logged in; `user` is the name a USER command gave, waiting for
    /// PASS.
    Authorization { user: Option<String> },
    /// Logged in, holding the maildrop.
    Transaction(Box<Maildrop>),
}

/// What the loop does after a command.
pub(crate) enum Next {
    Continue,
    Close,
}

pub(crate) type CmdResult = std::io::Result<Next>;

/// Output is gathered here and written when the client has nothing more
/// pipelined; a long RETR flushes on the way so that memory stays bounded.
const FLUSH_AT: usize = 256 << 10;

/// Failed logins after which the connection is closed.
pub(crate) const MAX_FAILED_LOGINS: u32 = 5;

pub struct Session<S> {
    pub(crate) inner: Arc<Inner>,
    pub(crate) io: BufReader<Stream<S>>,
    pub(crate) out: Vec<u8>,
    pub(crate) peer: Option<IpAddr>,
    pub(crate) shutdown: Shutdown,
    pub(crate) state: State,
    pub(crate) failed_logins: u32,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Session<S> {
    pub(crate) fn new(inner: Arc<Inner>, stream: Stream<S>, peer: Option<IpAddr>, shutdown: Shutdown) -> Self {
        Session {
            inner,
            io: BufReader::new(stream),
            out: Vec::with_capacity(4096),
            peer,
            shutdown,
            state: State::Authorization { user: None },
            failed_logins: 0,
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.io.get_ref().is_tls()
    }

    /// Whether a password may be sent now (RFC 2595 §4).
    pub(crate) fn may_send_password(&self) -> bool {
        self.is_tls() || self.inner.config.allow_plaintext_auth
    }

    pub async fn run(mut self) -> std::io::Result<()> {
        // No APOP timestamp: APOP needs the password in clear on the server.
        self.ok(&format!("{} POP3 server ready", self.inner.config.hostname));
        self.flush().await?;
        loop {
            let mut shutdown = self.shutdown.clone();
            let max = self.inner.config.max_line_length;
            let line = tokio::select! {
                // Cut off without UPDATE: nothing marked is deleted.
                _ = shutdown.wait() => return Ok(()),
                l = tokio::time::timeout(self.inner.config.idle_timeout, read_line(&mut self.io, max)) => l,
            };
            let next = match line {
                Err(_) => {
                    // RFC 1939 §3: the autologout timer ran out; the
                    // session ends without entering UPDATE.
                    self.err("autologout; idle for too long");
                    let _ = self.flush().await;
                    return Ok(());
                }
                Ok(Err(e)) => return Err(e),
                Ok(Ok(Line::Eof)) => return Ok(()),
                Ok(Ok(Line::TooLong)) => {
                    self.err("command line too long");
                    Next::Continue
                }
                Ok(Ok(Line::Line(bytes))) => match parse(&bytes) {
                    Ok(cmd) => self.dispatch(cmd).await?,
                    Err(e) => {
                        self.err(&e.to_string());
                        Next::Continue
                    }
                },
            };
            // PIPELINING (RFC 2449 §6.6): answers to commands already
            // received go out together.
            if matches!(next, Next::Close) || self.io.buffer().is_empty() {
                self.flush().await?;
            }
            if let Next::Close = next {
                let _ = self.io.get_mut().shutdown().await;
                return Ok(());
            }
        }
    }

    async fn dispatch(&mut self, cmd: Command) -> CmdResult {
        use Command as C;
        let logged_in = matches!(self.state, State::Transaction(_));
        // RFC 1939 §4 and §5: which commands are valid in which state.
        let allowed = match &cmd {
            C::Capa | C::Quit => true,
            C::Stls | C::User(_) | C::Pass(_) | C::Auth { .. } => !logged_in,
            C::Stat | C::List(_) | C::Uidl(_) | C::Retr(_) | C::Top(..) | C::Dele(_) | C::Rset | C::Noop => logged_in,
        };
        if !allowed {
            let why = if logged_in { "already logged in" } else { "log in first" };
            self.err(&format!("{} is not valid in this state: {why}", cmd.name()));
            return Ok(Next::Continue);
        }
        crate::commands::run(self, cmd).await
    }

    // Output.

    pub(crate) fn ok(&mut self, text: &str) {
        self.status("+OK", text);
    }

    pub(crate) fn err(&mut self, text: &str) {
        self.status("-ERR", text);
    }

    fn status(&mut self, status: &str, text: &str) {
        self.out.extend_from_slice(status.as_bytes());
        if !text.is_empty() {
            self.out.push(b' ');
            self.out.extend_from_slice(text.as_bytes());
        }
        self.out.extend_from_slice(b"\r\n");
    }

    /// One line of a multi-line answer; the caller makes sure it does not
    /// start with `.` (or stuffs it).
    pub(crate) fn line(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Ends a multi-line answer (RFC 1939 §3).
    pub(crate) fn end_multiline(&mut self) {
        self.out.extend_from_slice(b".\r\n");
    }

    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        atoll_net::write_pending(self.io.get_mut(), &mut self.out).await
    }

    /// Flushes when the buffer is large (inside RETR).
    pub(crate) async fn maybe_flush(&mut self) -> std::io::Result<()> {
        if self.out.len() >= FLUSH_AT { self.flush().await } else { Ok(()) }
    }

    pub(crate) fn maildrop(&mut self) -> Option<&mut Maildrop> {
        match &mut self.state {
            State::Transaction(m) => Some(m),
            State::Authorization { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests;
