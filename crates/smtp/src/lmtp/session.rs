//! One LMTP connection: the state machine from the greeting to QUIT.
//!
//! Input is read in chunks and every complete command in a chunk is
//! answered before the next read, so pipelined commands (RFC 2920) get
//! their replies in one write. Nothing the client sends can make the
//! session panic or buffer without bound: command lines are capped by
//! smtp-proto (4096 octets), a message by `max_message_size` (the rest of
//! an oversized message is read and thrown away), and every read by the
//! timeout.

use std::net::IpAddr;
use std::slice::Iter;

use smtp_proto::request::receiver::{BdatReceiver, DataReceiver, DummyDataReceiver, RequestReceiver};
use smtp_proto::{
    EXT_8BIT_MIME, EXT_CHUNKING, EXT_ENHANCED_STATUS_CODES, EXT_PIPELINING, EXT_SIZE, MAIL_BODY_BINARYMIME, MailFrom,
    RcptTo, Request,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Inner;
use super::deliver::{ACCEPTED, Recipient};
use crate::reply::{self, Reply};
use crate::trace::{self, Received};
use crate::{Result, Shutdown};

const READ_CHUNK: usize = 16 * 1024;

const OK: Reply = Reply::new(250, [2, 0, 0], "OK");
const SENDER_OK: Reply = Reply::new(250, [2, 1, 0], "sender OK");
const START_DATA: Reply = Reply::new(354, [0, 0, 0], "start mail input; end with <CRLF>.<CRLF>");
const BYE: Reply = Reply::new(221, [2, 0, 0], "closing connection");
const VRFY: Reply = Reply::new(252, [2, 5, 0], "cannot VRFY user, but will accept message and attempt delivery");
const HELP: Reply = Reply::new(214, [2, 0, 0], "LMTP (RFC 2033): LHLO MAIL RCPT DATA BDAT RSET NOOP VRFY QUIT");
const USE_LHLO: Reply = Reply::new(500, [5, 5, 1], "this is LMTP: greet with LHLO (RFC 2033 section 4.1)");
const UNKNOWN: Reply = Reply::new(500, [5, 5, 1], "command unrecognized");
const NOT_IMPLEMENTED: Reply = Reply::new(502, [5, 5, 1], "command not implemented");
const LINE_TOO_LONG: Reply = Reply::new(500, [5, 5, 2], "line too long");
const NEED_LHLO: Reply = Reply::new(503, [5, 5, 1], "send LHLO first");
const NESTED_MAIL: Reply = Reply::new(503, [5, 5, 1], "sender already given");
const NEED_MAIL: Reply = Reply::new(503, [5, 5, 1], "need MAIL command first");
const NEED_RCPT: Reply = Reply::new(503, [5, 5, 1], "no valid recipients");
const RCPT_AFTER_BDAT: Reply = Reply::new(503, [5, 5, 1], "no RCPT after BDAT");
const DATA_AFTER_BDAT: Reply = Reply::new(503, [5, 5, 1], "no DATA after BDAT");
const BINARYMIME: Reply = Reply::new(555, [5, 5, 4], "BODY=BINARYMIME is not supported");
const TOO_MANY_RCPTS: Reply = Reply::new(452, [4, 5, 3], "too many recipients");
// RFC 1870 §6 and RFC 3463 §3.4: X.3.4 message too big for system.
const TOO_BIG: Reply = Reply::new(552, [5, 3, 4], "message size exceeds the fixed maximum message size");
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
}

/// From MAIL to the end of the message (or RSET).
struct Transaction {
    sender: String,
    recipients: Vec<Recipient>,
    body: Vec<u8>,
    /// The message passed max_message_size; its bytes are being dropped.
    too_big: bool,
    /// BDAT was used: DATA and RCPT are out of sequence now (RFC 3030 §2).
    chunked: bool,
}

/// Whether to go on after a step.
enum Flow {
    Continue,
    Quit,
}

enum Input {
    Bytes(usize),
    Closed,
    TimedOut,
    Shutdown,
}

pub(super) struct Session<'a, S> {
    inner: &'a Inner,
    stream: S,
    peer: Option<IpAddr>,
    shutdown: Shutdown,
    /// Replies not yet written.
    out: Vec<u8>,
    /// The name the client gave in LHLO.
    lhlo: Option<String>,
    tx: Option<Transaction>,
    mode: Mode,
}

impl<'a, S: AsyncRead + AsyncWrite + Unpin> Session<'a, S> {
    pub(super) fn new(inner: &'a Inner, stream: S, peer: Option<IpAddr>, shutdown: Shutdown) -> Self {
        Session { inner, stream, peer, shutdown, out: Vec::new(), lhlo: None, tx: None, mode: Mode::Command }
    }

    pub(super) async fn run(mut self) -> Result<()> {
        if self.shutdown.is_fired() {
            self.reply(&SHUTTING_DOWN);
            return self.flush().await;
        }
        reply::greeting(&self.inner.config.hostname, "LMTP atoll ready", &mut self.out);
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
                if let Flow::Quit = self.step(&mut commands, &mut bytes).await {
                    return self.flush().await;
                }
            }
        }
    }

    async fn read(&mut self, buf: &mut [u8]) -> Result<Input> {
        // Only a session waiting for its next command gives way to a
        // shutdown; a message being received is finished first.
        let idle = matches!(self.mode, Mode::Command) && self.tx.is_none();
        let read = tokio::time::timeout(self.inner.config.timeout, self.stream.read(buf));
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
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.stream.flush().await?;
            self.out.clear();
        }
        Ok(())
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
                let max = self.inner.config.max_message_size;
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

    async fn command(&mut self, request: Request<String>) -> Flow {
        match request {
            Request::Lhlo { host } => {
                // RFC 5321 §4.1.4: a new greeting also resets the transaction.
                self.tx = None;
                self.lhlo = Some(host);
                let caps = EXT_PIPELINING | EXT_ENHANCED_STATUS_CODES | EXT_8BIT_MIME | EXT_SIZE | EXT_CHUNKING;
                reply::hello(&self.inner.config.hostname, caps, self.inner.config.max_message_size, &mut self.out);
            }
            // RFC 2033 §4.1: LMTP servers must not answer EHLO or HELO as
            // SMTP does, so that an SMTP client is never mistaken for one.
            Request::Ehlo { .. } | Request::Helo { .. } => self.reply(&USE_LHLO),
            Request::Mail { from } => self.mail(from),
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
            Request::Help { .. } => self.reply(&HELP),
            Request::Quit => {
                let bye =
                    Reply::with_text(BYE.code, BYE.status, format!("{} {}", self.inner.config.hostname, BYE.text));
                self.reply(&bye);
                return Flow::Quit;
            }
            // Known to SMTP, not offered here: LMTP runs on internal
            // networks without TLS or authentication.
            Request::StartTls
            | Request::Auth { .. }
            | Request::Expn { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => self.reply(&NOT_IMPLEMENTED),
        }
        Flow::Continue
    }

    fn mail(&mut self, from: MailFrom<String>) {
        if self.lhlo.is_none() {
            return self.reply(&NEED_LHLO);
        }
        if self.tx.is_some() {
            return self.reply(&NESTED_MAIL);
        }
        // RFC 1870 §6.1: a declared size over the limit is refused at once.
        if from.size > self.inner.config.max_message_size {
            return self.reply(&TOO_BIG);
        }
        if from.flags & MAIL_BODY_BINARYMIME != 0 {
            return self.reply(&BINARYMIME);
        }
        self.tx = Some(Transaction {
            sender: from.address,
            recipients: Vec::new(),
            body: Vec::new(),
            too_big: false,
            chunked: false,
        });
        self.reply(&SENDER_OK);
    }

    async fn rcpt(&mut self, to: RcptTo<String>) {
        let max = self.inner.config.max_recipients;
        let Some(tx) = self.tx.as_mut() else {
            return self.reply(&NEED_MAIL);
        };
        if tx.chunked {
            return self.reply(&RCPT_AFTER_BDAT);
        }
        // RFC 5321 §4.5.3.1.10: 452 for too many recipients, so the client
        // sends the rest in another transaction.
        if tx.recipients.len() >= max {
            return self.reply(&TOO_MANY_RCPTS);
        }
        match self.inner.check_recipient(&to.address).await {
            Ok(recipient) => {
                tx.recipients.push(recipient);
                self.reply(&ACCEPTED);
            }
            Err(refused) => self.reply(&refused),
        }
    }

    fn data(&mut self) {
        let Some(tx) = &self.tx else {
            return self.reply(&NEED_MAIL);
        };
        if tx.chunked {
            return self.reply(&DATA_AFTER_BDAT);
        }
        // RFC 2033 §4.2: DATA with no successful RCPT fails with 503.
        if tx.recipients.is_empty() {
            return self.reply(&NEED_RCPT);
        }
        self.reply(&START_DATA);
        self.mode = Mode::Data(DataReceiver::new());
    }

    /// BDAT (RFC 3030, CHUNKING). The chunk's octets follow the command
    /// whatever the answer, so a refused chunk is read and dropped before
    /// the refusal is sent.
    async fn bdat(&mut self, chunk_size: usize, is_last: bool) {
        let max = self.inner.config.max_message_size;
        let discard =
            |refused| Mode::BdatDiscard { receiver: DummyDataReceiver::new_bdat(chunk_size), is_last, refused };
        let refused = match &self.tx {
            None => Some(NEED_MAIL),
            Some(tx) if tx.recipients.is_empty() => Some(NEED_RCPT),
            Some(_) => None,
        };
        if let Some(r) = refused {
            if chunk_size == 0 {
                self.reply(&r);
            } else {
                self.mode = discard(Some(r));
            }
            return;
        }
        let Some(tx) = self.tx.as_mut() else { return };
        tx.chunked = true;
        if tx.too_big || tx.body.len().saturating_add(chunk_size) > max {
            tx.too_big = true;
            tx.body = Vec::new();
        }
        if chunk_size == 0 {
            return self.end_of_chunk(is_last).await;
        }
        self.mode = if tx.too_big { discard(None) } else { Mode::Bdat(BdatReceiver::new(chunk_size, is_last)) };
    }

    async fn end_of_chunk(&mut self, is_last: bool) {
        if is_last {
            return self.end_of_message().await;
        }
        let Some(tx) = &self.tx else { return };
        if tx.too_big {
            // RFC 3030 §2: after an error reply to a BDAT the client sends
            // no more chunks of this message; the transaction is over.
            self.tx = None;
            return self.reply(&TOO_BIG);
        }
        let r = Reply::with_text(250, [2, 0, 0], format!("{} octets received", tx.body.len()));
        self.reply(&r);
    }

    /// The message is complete (end of DATA or the last BDAT chunk): store
    /// it and give one reply per accepted recipient, in RCPT order
    /// (RFC 2033 §4.2). The transaction ends either way.
    async fn end_of_message(&mut self) {
        let Some(tx) = self.tx.take() else { return };
        if tx.too_big {
            for _ in &tx.recipients {
                self.reply(&TOO_BIG);
            }
            return;
        }
        let id = trace::new_id();
        let Transaction { sender, recipients, body, .. } = tx;
        let raw = self.with_trace(&sender, body, &id);
        tracing::debug!(%id, %sender, recipients = recipients.len(), size = raw.len(), "lmtp: message received");
        for r in self.inner.deliver(raw, &recipients, &id).await {
            self.reply(&r);
        }
    }

    /// The stored message: Return-Path and Received, then the body.
    ///
    /// No Delivered-To: it names one recipient, and the body is shared by
    /// every recipient on an island (stored once, content-addressed). The
    /// Received line has no `for <rcpt>` clause for the same reason.
    fn with_trace(&self, sender: &str, body: Vec<u8>, id: &str) -> Vec<u8> {
        let received = Received {
            helo: self.lhlo.as_deref().unwrap_or(""),
            peer: self.peer,
            by: &self.inner.config.hostname,
            protocol: "LMTP",
            id,
            time: trace::now_epoch(),
        };
        let mut raw = trace::return_path(sender).into_bytes();
        raw.extend_from_slice(received.header().as_bytes());
        raw.reserve_exact(body.len());
        raw.extend_from_slice(&body);
        raw
    }
}

/// The reply to a command smtp-proto could not parse.
fn parse_error(e: &smtp_proto::Error) -> Reply {
    use smtp_proto::Error as E;
    match e {
        E::UnknownCommand => UNKNOWN,
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
