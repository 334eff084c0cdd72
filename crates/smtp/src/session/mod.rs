//! The SMTP/LMTP session state machine, shared by the MX (RFC 5321) and
//! the store role's LMTP server (RFC 2033); each supplies its decisions
//! through [`Protocol`].
//!
//! Input is read in chunks and every complete command in a chunk is
//! answered before the next read, so pipelined commands (RFC 2920) get
//! their replies in one write. Nothing the client sends can make the
//! session panic or buffer without bound: command lines are capped by
//! smtp-proto (4096 octets), a message by the size limit (the rest of an
//! oversized message is read and thrown away), and every read by the
//! timeout.
//!
//! - `mod.rs` (this file): reading, writing, and what the next bytes are;
//! - `commands.rs`: the commands outside a message (greetings, RSET,
//!   NOOP, VRFY, HELP, QUIT, STARTTLS);
//! - `auth.rs`: AUTH and its SASL exchange (submission);
//! - `transaction.rs`: MAIL, RCPT, DATA, BDAT and the end of a message;
//! - `protocol.rs`: what LMTP and the MX decide for themselves.

mod auth;
mod commands;
pub(crate) mod protocol;
mod transaction;

use std::net::IpAddr;
use std::slice::Iter;

use atoll_net::Stream;
use smtp_proto::request::receiver::{BdatReceiver, DataReceiver, DummyDataReceiver, RequestReceiver};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

pub(crate) use protocol::{Client, Dialect, Limits, Protocol, Transaction};

use crate::reply::{self, Reply};
use crate::{Result, Shutdown};

const READ_CHUNK: usize = 16 * 1024;

const LINE_TOO_LONG: Reply = Reply::new(500, [5, 5, 2], "line too long");
const TIMEOUT: Reply = Reply::new(421, [4, 4, 2], "timeout, closing connection");
const SHUTTING_DOWN: Reply = Reply::new(421, [4, 3, 2], "shutting down, try again later");

/// What the next input bytes are.
enum Mode {
    /// Commands.
    Command,
    /// The rest of a command line longer than smtp-proto takes.
    SkipLine,
    /// DATA's message, dot-stuffed, into the transaction's body.
    Data(DataReceiver),
    /// The rest of a DATA message already too large, thrown away.
    DataDiscard(DummyDataReceiver),
    /// A BDAT chunk into the transaction's body.
    Bdat(BdatReceiver),
    /// A BDAT chunk that is thrown away; `refused` is the reply once it is
    /// read (None: the message grew too large, answered as such).
    BdatDiscard { receiver: DummyDataReceiver, is_last: bool, refused: Option<Reply> },
    /// A SASL response line (AUTH, RFC 4954 §4).
    Auth(Box<auth::Pending>),
}

/// Whether to go on after a step.
enum Flow {
    Continue,
    Quit,
    /// STARTTLS was accepted: flush, drop buffered input, handshake.
    StartTls,
}

enum Input {
    Bytes(usize),
    Closed,
    TimedOut,
    Shutdown,
}

pub(crate) struct Session<'a, P: Protocol, S> {
    protocol: &'a P,
    stream: Stream<S>,
    shutdown: Shutdown,
    /// Replies not yet written.
    out: Vec<u8>,
    client: Client,
    tx: Option<Transaction<P::Recipient>>,
    mode: Mode,
}

impl<'a, P: Protocol, S: AsyncRead + AsyncWrite + Unpin + Send> Session<'a, P, S> {
    pub(crate) fn new(protocol: &'a P, stream: Stream<S>, peer: Option<IpAddr>, shutdown: Shutdown) -> Self {
        let client = Client { peer, tls: stream.is_tls(), ..Client::default() };
        Session { protocol, stream, shutdown, out: Vec::new(), client, tx: None, mode: Mode::Command }
    }

    /// Sets what reverse DNS said about the client (the MX's lookup at
    /// connect).
    pub(crate) fn with_reverse(mut self, reverse: Option<Result<atoll_dns::ReverseName, atoll_dns::DnsError>>) -> Self {
        self.client.reverse = reverse;
        self
    }

    pub(crate) async fn run(mut self) -> Result<()> {
        if self.shutdown.is_fired() {
            self.reply(&SHUTTING_DOWN);
            return self.flush().await;
        }
        reply::greeting(self.protocol.hostname(), self.protocol.banner(), &mut self.out);
        let mut buf = vec![0u8; READ_CHUNK];
        let mut commands = RequestReceiver::default();
        loop {
            self.flush().await?;
            let n = match self.read(&mut buf).await? {
                Input::Bytes(n) => n,
                // Mid-message, this drops the transaction: nothing is
                // stored for a message that was not completed.
                Input::Closed => return Ok(()),
                Input::TimedOut => {
                    self.reply(&TIMEOUT);
                    return self.flush().await;
                }
                Input::Shutdown => {
                    self.reply(&SHUTTING_DOWN);
                    return self.flush().await;
                }
            };
            let mut bytes = buf[..n].iter();
            while !bytes.as_slice().is_empty() {
                match self.step(&mut commands, &mut bytes).await {
                    Flow::Continue => {}
                    Flow::Quit => return self.flush().await,
                    Flow::StartTls => {
                        self.flush().await?;
                        // RFC 3207 §4.2: anything the client sent after
                        // STARTTLS in cleartext is thrown away, never
                        // taken as a command of the TLS session.
                        commands = RequestReceiver::default();
                        if !self.start_tls().await {
                            return Ok(());
                        }
                        break;
                    }
                }
            }
        }
    }

    async fn read(&mut self, buf: &mut [u8]) -> Result<Input> {
        // Only a session waiting for its next command gives way to a
        // shutdown; a message being received is finished first.
        let idle = matches!(self.mode, Mode::Command) && self.tx.is_none();
        let read = tokio::time::timeout(self.protocol.limits().timeout, self.stream.read(buf));
        tokio::select! {
            r = read => match r {
                Err(_) => Ok(Input::TimedOut),
                Ok(Ok(0)) => Ok(Input::Closed),
                Ok(Ok(n)) => Ok(Input::Bytes(n)),
                Ok(Err(e)) => Err(e.into()),
            },
            _ = self.shutdown.wait(), if idle => Ok(Input::Shutdown),
        }
    }

    async fn flush(&mut self) -> Result<()> {
        Ok(atoll_net::write_pending(&mut self.stream, &mut self.out).await?)
    }

    fn reply(&mut self, r: &Reply) {
        r.write(&mut self.out);
    }

    /// Consumes some of `bytes` according to the mode.
    async fn step(&mut self, commands: &mut RequestReceiver, bytes: &mut Iter<'_, u8>) -> Flow {
        match std::mem::replace(&mut self.mode, Mode::Command) {
            Mode::Command => {
                let before = bytes.len();
                match commands.ingest(bytes) {
                    Ok(request) => {
                        let request = request.into_owned();
                        return self.command(request).await;
                    }
                    // The receiver keeps the partial line.
                    Err(smtp_proto::Error::NeedsMoreData { .. }) => *bytes = [].iter(),
                    Err(smtp_proto::Error::ResponseTooLong) => {
                        // RFC 5321 §4.5.3.1.4: 500 for a line too long. The
                        // rest of it is not a command.
                        self.reply(&LINE_TOO_LONG);
                        self.mode = Mode::SkipLine;
                    }
                    Err(e) => {
                        self.reply(&parse_error(&e));
                        if bytes.len() == before {
                            // Never loop on input the parser did not take.
                            self.mode = Mode::SkipLine;
                        }
                    }
                }
            }
            Mode::Auth(pending) => return self.auth_input(*pending, bytes).await,
            Mode::SkipLine => {
                let rest = bytes.as_slice();
                match rest.iter().position(|&b| b == b'\n') {
                    Some(lf) => *bytes = rest[lf + 1..].iter(),
                    None => {
                        *bytes = [].iter();
                        self.mode = Mode::SkipLine;
                    }
                }
            }
            Mode::Data(mut receiver) => {
                let max = self.protocol.limits().max_message_size;
                let Some(tx) = self.tx.as_mut() else {
                    // Unreachable: DATA starts only inside a transaction.
                    return Flow::Continue;
                };
                let done = receiver.ingest(bytes, &mut tx.body);
                if tx.body.len() > max {
                    tx.too_big = true;
                    tx.body = Vec::new();
                    if !done {
                        self.mode = Mode::DataDiscard(DummyDataReceiver::new_data(&receiver));
                    }
                } else if !done {
                    self.mode = Mode::Data(receiver);
                }
                if done {
                    self.end_of_message().await;
                }
            }
            Mode::DataDiscard(mut receiver) => {
                if receiver.ingest(bytes) {
                    self.end_of_message().await;
                } else {
                    self.mode = Mode::DataDiscard(receiver);
                }
            }
            Mode::Bdat(mut receiver) => {
                let Some(tx) = self.tx.as_mut() else {
                    return Flow::Continue;
                };
                if receiver.ingest(bytes, &mut tx.body) {
                    self.end_of_chunk(receiver.is_last).await;
                } else {
                    self.mode = Mode::Bdat(receiver);
                }
            }
            Mode::BdatDiscard { mut receiver, is_last, refused } => {
                if receiver.ingest(bytes) {
                    match refused {
                        Some(r) => self.reply(&r),
                        None => self.end_of_chunk(is_last).await,
                    }
                } else {
                    self.mode = Mode::BdatDiscard { receiver, is_last, refused };
                }
            }
        }
        Flow::Continue
    }
}

/// The reply to a command smtp-proto could not parse.
fn parse_error(e: &smtp_proto::Error) -> Reply {
    use smtp_proto::Error as E;
    match e {
        E::UnknownCommand => commands::UNKNOWN,
        E::InvalidSenderAddress => Reply::new(501, [5, 1, 7], "bad sender address syntax"),
        E::InvalidRecipientAddress => Reply::new(501, [5, 1, 3], "bad recipient address syntax"),
        // RFC 5321 §4.1.1.11: 555 for MAIL/RCPT parameters not recognized.
        E::UnsupportedParameter { param } => Reply::with_text(555, [5, 5, 4], format!("unsupported parameter {param}")),
        E::InvalidParameter { param } => Reply::with_text(501, [5, 5, 4], format!("invalid parameter {param}")),
        E::SyntaxError { syntax } => Reply::with_text(501, [5, 5, 4], format!("syntax: {syntax}")),
        E::ResponseTooLong => LINE_TOO_LONG,
        E::NeedsMoreData { .. } | E::InvalidResponse { .. } => Reply::new(501, [5, 5, 4], "syntax error"),
    }
}
