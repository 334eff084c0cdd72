//! Reading one whole command off the wire: its lines and every literal it
//! announces (RFC 9051 §4.3), as the exact bytes the parser takes (line
//! ends normalised to CRLF, literals inline).
//!
//! # The continuation handshake
//!
//! [`CommandReader::next`] never writes. When a line ends in a
//! synchronising literal `{n}` within the limits, it returns
//! [`Frame::NeedContinuation`]: the client is waiting. The caller either
//! sends a continuation request (`+ Ready for literal data`, see
//! [`CONTINUE`]) and calls `next` again, which then reads the literal and
//! the rest of the command; or it refuses the command with a tagged NO/BAD
//! and calls [`CommandReader::abandon`] (RFC 9051 §7.5: the client then does
//! not send the literal). Non-synchronising literals `{n+}` (LITERAL+, RFC
//! 7888) and literal8 `~{n}` (RFC 3516 §4.4; `~{n+}` too) follow the same
//! rules by their own `+`. [`read_command`] wraps all this for a stream
//! that is both halves.
//!
//! `next` is cancel-safe: its progress lives in the reader, and the only
//! await point is `fill_buf`, so it may sit in a `select!`, and a dropped
//! call resumes where it stopped.
//!
//! # Limits
//!
//! Memory per command is bounded by `max_line` (the command's text outside
//! literals, all lines together) plus its literal budget: `max_append` for
//! APPEND, `max_literal` for anything else. Over a limit:
//!
//! - a line: the rest of it is read and dropped, and [`Frame::LineTooLong`]
//!   comes back (answer `tag BAD`);
//! - a synchronising literal: refused before the client sends it,
//!   [`Frame::LiteralTooBig`] (answer `tag NO [TOOBIG]`, RFC 9051 §7.1);
//! - a non-synchronising literal: its bytes are already on their way. RFC
//!   7888 §4 leaves the server two choices, to read and discard them or to
//!   close the connection. Up to `max_discard` bytes are read and dropped
//!   (with the rest of the command) and the answer is
//!   [`Frame::LiteralTooBig`] as above; beyond that the reader gives
//!   [`Frame::NonSyncTooBig`] and is of no further use: answer `* BYE` and
//!   close.
//!
//! Lines end with CRLF; a bare LF is accepted too.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

pub use super::parser::tag_of;

/// The continuation request sent before a synchronising literal.
pub const CONTINUE: &[u8] = b"+ Ready for literal data\r\n";

/// How many bytes of a dropped line are kept to see whether it ends with a
/// literal announcement: `~{18446744073709551615+}` is 25.
const TAIL: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of command text outside literals, all lines of one command
    /// together (CRLF not counted).
    pub max_line: usize,
    /// Literal bytes in one command other than APPEND (LOGIN, SEARCH …).
    pub max_literal: u64,
    /// Literal bytes in one APPEND: the message size limit (APPENDLIMIT,
    /// RFC 7889).
    pub max_append: u64,
    /// Bytes of over-limit non-synchronising literals read and dropped
    /// before giving up on the connection.
    pub max_discard: u64,
}

impl Limits {
    /// Non-APPEND literals as large as a line; an overshooting LITERAL+
    /// APPEND is read and dropped up to twice the message limit (it costs
    /// bandwidth, not memory, and the client gets a clean `NO [TOOBIG]`).
    pub fn new(max_line: usize, max_append: u64) -> Self {
        Limits { max_line, max_literal: max_line as u64, max_append, max_discard: max_append.saturating_mul(2) }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(64 << 10, 50 << 20)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete command, CRLF removed from its last line.
    Command(Vec<u8>),
    /// A synchronising literal of `size` bytes was announced; the client
    /// waits. Send [`CONTINUE`] and call `next` again, or answer the tag
    /// and call `abandon`.
    NeedContinuation { tag: Option<String>, size: u64 },
    /// The command's text was over `max_line`; it was read and dropped.
    LineTooLong { tag: Option<String> },
    /// A literal was over the limit: refused before it was sent
    /// (synchronising) or read and dropped (non-synchronising). The
    /// command is gone; the connection is fine.
    LiteralTooBig { tag: Option<String>, size: u64 },
    /// A non-synchronising literal over the limit and over `max_discard`:
    /// the connection must be closed.
    NonSyncTooBig { tag: Option<String>, size: u64 },
}

/// A literal announced at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Announce {
    size: u64,
    sync: bool,
}

/// `{n}`, `{n+}`, `~{n}` at the very end of a line (`quotes`: only when
/// it is outside a quoted string; a quoted string never spans lines). The
/// size saturates, so an absurd one is simply too big.
fn announced_literal(line: &[u8], quotes: bool) -> Option<Announce> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let inner = body.get(open + 1..)?;
    let (digits, sync) = match inner.strip_suffix(b"+") {
        Some(d) => (d, false),
        None => (inner, true),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if quotes && in_quotes(line.get(..open)?) {
        return None;
    }
    let size = digits.iter().fold(0u64, |n, &d| n.saturating_mul(10).saturating_add(u64::from(d - b'0')));
    Some(Announce { size, sync })
}

/// Whether a quoted string is still open at the end of `s`.
fn in_quotes(s: &[u8]) -> bool {
    let mut quoted = false;
    let mut escaped = false;
    for &b in s {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        }
    }
    quoted
}

/// Whether a command's first line is an APPEND (`tag SP APPEND SP …`),
/// whose literal may be as large as a message.
fn is_append(line: &[u8]) -> bool {
    let mut words = line.splitn(3, |&b| b == b' ');
    words.next();
    words.next().is_some_and(|w| w.eq_ignore_ascii_case(b"APPEND"))
}

fn strip_line_end(v: &mut Vec<u8>) {
    if v.last() == Some(&b'\n') {
        v.pop();
    }
    if v.last() == Some(&b'\r') {
        v.pop();
    }
}

fn keep_tail(tail: &mut Vec<u8>, more: &[u8]) {
    tail.extend_from_slice(more);
    if tail.len() > TAIL {
        tail.drain(..tail.len() - TAIL);
    }
}

#[derive(Debug)]
enum State {
    /// Reading a line that starts at `start` in the buffer.
    Line { start: usize },
    /// `NeedContinuation` was returned; calling `next` again accepts.
    Continue { size: u64 },
    /// Reading literal bytes into the buffer.
    Literal { remaining: u64 },
    /// Dropping the rest of a command, then returning `report`:
    /// `remaining` literal bytes first, then a line (of which the last
    /// bytes are kept in `tail` to see whether another literal follows).
    Skip { remaining: u64, tail: Vec<u8>, report: Frame, discarded: u64 },
    /// After `NonSyncTooBig`: the stream is out of step for good.
    Broken,
}

/// Reads commands one at a time; see the module documentation.
#[derive(Debug)]
pub struct CommandReader {
    limits: Limits,
    buf: Vec<u8>,
    line_bytes: usize,
    literal_bytes: u64,
    append: bool,
    state: State,
}

impl CommandReader {
    pub fn new(limits: Limits) -> Self {
        CommandReader {
            limits,
            buf: Vec::new(),
            line_bytes: 0,
            literal_bytes: 0,
            append: false,
            state: State::Line { start: 0 },
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Changes the limits for the commands to come (the command being read
    /// keeps the budget it started with where it already spent it).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// After [`Frame::NeedContinuation`]: the caller refused the literal
    /// (and answered the tag), so the client will not send it. Drops the
    /// partial command.
    pub fn abandon(&mut self) {
        if matches!(self.state, State::Continue { .. }) {
            self.reset();
        }
    }

    fn reset(&mut self) {
        self.buf = Vec::new();
        self.line_bytes = 0;
        self.literal_bytes = 0;
        self.append = false;
        self.state = State::Line { start: 0 };
    }

    fn take_command(&mut self) -> Frame {
        let cmd = std::mem::take(&mut self.buf);
        self.reset();
        Frame::Command(cmd)
    }

    fn begin_literal(&mut self, size: u64) {
        self.buf.extend_from_slice(b"\r\n");
        // Grow with what arrives, not with what is announced.
        self.buf.reserve(usize::try_from(size.min(64 << 10)).unwrap_or(0));
        self.literal_bytes = self.literal_bytes.saturating_add(size);
        self.state = if size == 0 { State::Line { start: self.buf.len() } } else { State::Literal { remaining: size } };
    }

    /// Starts dropping the rest of the command, to answer with `report`.
    fn skip(&mut self, remaining: u64, report: Frame, discarded: u64) {
        self.buf = Vec::new();
        self.state = State::Skip { remaining, tail: Vec::new(), report, discarded };
    }

    /// A whole line is in the buffer from `start`: the command is complete,
    /// or a literal follows.
    fn line_done(&mut self, start: usize) -> Option<Frame> {
        strip_line_end(&mut self.buf);
        let Some(lit) = self.buf.get(start..).and_then(|l| announced_literal(l, true)) else {
            return Some(self.take_command());
        };
        if start == 0 {
            self.append = is_append(&self.buf);
        }
        let budget = if self.append { self.limits.max_append } else { self.limits.max_literal };
        let tag = tag_of(&self.buf);
        if self.literal_bytes.saturating_add(lit.size) > budget {
            let report = Frame::LiteralTooBig { tag: tag.clone(), size: lit.size };
            if lit.sync {
                self.reset();
                return Some(report);
            }
            if lit.size > self.limits.max_discard {
                self.buf = Vec::new();
                self.state = State::Broken;
                return Some(Frame::NonSyncTooBig { tag, size: lit.size });
            }
            self.skip(lit.size, report, lit.size);
            return None;
        }
        if lit.sync {
            self.state = State::Continue { size: lit.size };
            return Some(Frame::NeedContinuation { tag, size: lit.size });
        }
        self.begin_literal(lit.size);
        None
    }

    /// The dropped line ended: another non-synchronising literal is dropped
    /// too (within `max_discard`); otherwise the command is over.
    fn skipped_line_done(&mut self) -> Option<Frame> {
        let State::Skip { tail, report, discarded, .. } = &mut self.state else { return None };
        strip_line_end(tail);
        match announced_literal(tail, false) {
            Some(lit) if !lit.sync => {
                let total = discarded.saturating_add(lit.size);
                if total > self.limits.max_discard {
                    let tag = match report {
                        Frame::LineTooLong { tag } | Frame::LiteralTooBig { tag, .. } => tag.clone(),
                        _ => None,
                    };
                    self.state = State::Broken;
                    return Some(Frame::NonSyncTooBig { tag, size: lit.size });
                }
                let report = std::mem::replace(report, Frame::Command(Vec::new()));
                self.skip(lit.size, report, total);
                None
            }
            // A synchronising literal is not sent until we say so: our
            // answer ends the command for the client.
            _ => {
                let report = std::mem::replace(report, Frame::Command(Vec::new()));
                self.reset();
                Some(report)
            }
        }
    }

    /// Reads until there is something for the caller. None at a clean end
    /// of input (between commands); an error when the input ends inside a
    /// command, on I/O errors, and after `NonSyncTooBig`.
    pub async fn next<R: AsyncBufRead + Unpin>(&mut self, r: &mut R) -> io::Result<Option<Frame>> {
        loop {
            match self.state {
                State::Broken => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "IMAP input is out of step"));
                }
                State::Continue { size } => {
                    self.begin_literal(size);
                    continue;
                }
                _ => {}
            }
            let avail = r.fill_buf().await?;
            if avail.is_empty() {
                if self.buf.is_empty() && matches!(self.state, State::Line { start: 0 }) {
                    return Ok(None);
                }
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside a command"));
            }
            let newline = avail.iter().position(|&b| b == b'\n');
            match &mut self.state {
                State::Line { start } => {
                    let start = *start;
                    let (take, done) = newline.map_or((avail.len(), false), |i| (i + 1, true));
                    // +2: the line's CRLF is not command text.
                    let room = self.limits.max_line.saturating_add(2).saturating_sub(self.line_bytes);
                    if take > room {
                        // Keep what fits, so the tag can still be read.
                        self.buf.extend_from_slice(avail.get(..room).unwrap_or_default());
                        let tag = tag_of(&self.buf);
                        let mut tail = Vec::new();
                        keep_tail(&mut tail, avail.get(..take).unwrap_or_default());
                        r.consume(take);
                        self.buf = Vec::new();
                        self.state =
                            State::Skip { remaining: 0, tail, report: Frame::LineTooLong { tag }, discarded: 0 };
                        if done && let Some(frame) = self.skipped_line_done() {
                            return Ok(Some(frame));
                        }
                        continue;
                    }
                    self.buf.extend_from_slice(avail.get(..take).unwrap_or_default());
                    self.line_bytes += take;
                    r.consume(take);
                    if done && let Some(frame) = self.line_done(start) {
                        return Ok(Some(frame));
                    }
                }
                State::Literal { remaining } => {
                    let n = avail.len().min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                    self.buf.extend_from_slice(avail.get(..n).unwrap_or_default());
                    r.consume(n);
                    *remaining -= n as u64;
                    if *remaining == 0 {
                        self.state = State::Line { start: self.buf.len() };
                    }
                }
                State::Skip { remaining, tail, .. } if *remaining > 0 => {
                    let n = avail.len().min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                    r.consume(n);
                    *remaining -= n as u64;
                    tail.clear();
                }
                State::Skip { tail, .. } => {
                    let (take, done) = newline.map_or((avail.len(), false), |i| (i + 1, true));
                    keep_tail(tail, avail.get(..take).unwrap_or_default());
                    r.consume(take);
                    if done && let Some(frame) = self.skipped_line_done() {
                        return Ok(Some(frame));
                    }
                }
                State::Continue { .. } | State::Broken => {}
            }
        }
    }
}

/// Reads the next command from a stream that is both halves, sending
/// [`CONTINUE`] itself for every synchronising literal within the limits.
/// Never returns `NeedContinuation`. Not cancel-safe (the partial command
/// is lost); use a [`CommandReader`] for that, or to refuse a literal
/// before it is sent.
pub async fn read_command<T>(io: &mut BufReader<T>, limits: Limits) -> io::Result<Option<Frame>>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut reader = CommandReader::new(limits);
    loop {
        match reader.next(io).await? {
            Some(Frame::NeedContinuation { .. }) => {
                let w = io.get_mut();
                w.write_all(CONTINUE).await?;
                w.flush().await?;
            }
            other => return Ok(other),
        }
    }
}

/// A line that is not a command: IDLE's `DONE`, a SASL response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The line without CRLF (or LF).
    Text(Vec<u8>),
    /// Longer than allowed; read to its end and dropped.
    TooLong,
}

/// Reads one line of at most `max` bytes, its line end not counted. None
/// at end of input before any byte; an error when the input ends inside a
/// line. Not cancel-safe.
pub async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> io::Result<Option<Line>> {
    Ok(match atoll_net::line::read_line(r, max.saturating_add(2)).await? {
        atoll_net::line::Line::Eof => None,
        atoll_net::line::Line::TooLong => Some(Line::TooLong),
        atoll_net::line::Line::Line(mut out) => {
            strip_line_end(&mut out);
            Some(if out.len() > max { Line::TooLong } else { Line::Text(out) })
        }
    })
}

#[cfg(test)]
mod tests;
