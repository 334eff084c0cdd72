//! Reading one whole command off the wire: its line, and every literal it
//! announces (RFC 9051 §4.3), with the continuation request for a
//! synchronising literal and none for LITERAL+ (RFC 7888). The command's
//! bytes come out exactly as sent, literals inline, for the parser.
//!
//! Nothing the client sends makes this buffer without bound: a line is cut
//! at `max_line`, and a literal larger than `max_literal` is refused before
//! it is sent (synchronising) or ends the connection (non-synchronising,
//! whose bytes are already on their way; RFC 7888 §4 lets the server close).

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_line: usize,
    pub max_literal: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete command, CRLF removed from its last line.
    Command(Vec<u8>),
    /// The line was longer than allowed; the rest was read and dropped.
    LineTooLong { tag: Option<String> },
    /// A synchronising literal over the limit: the client has not sent it
    /// and waits for our answer (`NO [TOOBIG]`).
    LiteralTooBig { tag: Option<String>, size: u64 },
    /// A non-synchronising literal over the limit: the connection must end.
    NonSyncTooBig { tag: Option<String>, size: u64 },
}

/// A literal announcement at the end of a line: `{n}`, `{n+}`, `~{n}`.
fn literal_at_end(line: &[u8]) -> Option<(u64, bool)> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let mut inner = &body[open + 1..];
    let non_sync = inner.ends_with(b"+");
    if non_sync {
        inner = &inner[..inner.len() - 1];
    }
    if inner.is_empty() || inner.len() > 19 || !inner.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(inner).ok()?.parse().ok()?;
    Some((n, non_sync))
}

/// The tag of a command, when the first bytes make one (for error answers).
pub fn tag_of(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == b' ').unwrap_or(bytes.len());
    let tag = &bytes[..end];
    let ok = !tag.is_empty() && tag.iter().all(|&b| super::parser::is_tag_char(b));
    ok.then(|| String::from_utf8_lossy(tag).into_owned())
}

/// Reads one line into `out` (without CRLF or LF). Returns false at end of
/// input before any byte; Err(true) when the line was cut at `max`.
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, out: &mut Vec<u8>, max: usize) -> io::Result<Result<bool, ()>> {
    let start = out.len();
    let mut too_long = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            if out.len() == start && !too_long {
                return Ok(Ok(false));
            }
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed in the middle of a line"));
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if !too_long {
            // Keep what fits, so the tag can still be read for the answer.
            let room = (max + 2).saturating_sub(out.len() - start);
            if take > room {
                out.extend_from_slice(&buf[..room]);
                too_long = true;
            } else {
                out.extend_from_slice(&buf[..take]);
            }
        }
        r.consume(take);
        if done {
            break;
        }
    }
    if too_long {
        return Ok(Err(()));
    }
    if out.ends_with(b"\n") {
        out.pop();
    }
    if out.ends_with(b"\r") {
        out.pop();
    }
    Ok(Ok(true))
}

/// Reads the next command from `io`, which gets the `+` continuation
/// requests too. None at a clean end of input.
pub async fn read_command<T>(io: &mut BufReader<T>, limits: Limits) -> io::Result<Option<Frame>>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let r = io;
    let mut out = Vec::new();
    let mut total_line = 0usize;
    loop {
        let line_start = out.len();
        let room = limits.max_line.saturating_sub(total_line);
        match read_line(r, &mut out, room).await? {
            Ok(true) => {}
            Ok(false) if line_start == 0 => return Ok(None),
            Ok(false) => {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside a command"));
            }
            Err(()) => return Ok(Some(Frame::LineTooLong { tag: tag_of(&out) })),
        }
        total_line += out.len() - line_start;
        let Some((size, non_sync)) = literal_at_end(&out[line_start..]) else {
            return Ok(Some(Frame::Command(out)));
        };
        if size > limits.max_literal as u64 {
            let tag = tag_of(&out);
            return Ok(Some(if non_sync {
                Frame::NonSyncTooBig { tag, size }
            } else {
                Frame::LiteralTooBig { tag, size }
            }));
        }
        if !non_sync {
            let w = r.get_mut();
            w.write_all(b"+ Ready for literal data\r\n").await?;
            w.flush().await?;
        }
        out.extend_from_slice(b"\r\n");
        let start = out.len();
        out.resize(start + size as usize, 0);
        r.read_exact(&mut out[start..]).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_line: 100, max_literal: 1000 };

    async fn frames(input: &[u8]) -> (Vec<Frame>, Vec<u8>) {
        let mut r = BufReader::new(tokio::io::join(input, Vec::new()));
        let mut out = Vec::new();
        while let Some(f) = read_command(&mut r, LIMITS).await.expect("read") {
            let stop = matches!(f, Frame::NonSyncTooBig { .. } | Frame::LiteralTooBig { .. });
            out.push(f);
            if stop {
                break;
            }
        }
        let (_, w) = r.into_inner().into_inner();
        (out, w)
    }

    #[tokio::test]
    async fn literals_inline_with_continuations() {
        let (f, w) = frames(b"a1 LOGIN {3}\r\nann {4+}\r\npass\r\na2 NOOP\n").await;
        assert_eq!(
            f,
            vec![Frame::Command(b"a1 LOGIN {3}\r\nann {4+}\r\npass".to_vec()), Frame::Command(b"a2 NOOP".to_vec())]
        );
        assert_eq!(w, b"+ Ready for literal data\r\n", "one continuation, for the synchronising literal only");
    }

    #[tokio::test]
    async fn limits() {
        let long = format!("a1 NOOP {}\r\na2 NOOP\r\n", "x".repeat(200));
        let (f, _) = frames(long.as_bytes()).await;
        assert_eq!(f, vec![Frame::LineTooLong { tag: Some("a1".into()) }, Frame::Command(b"a2 NOOP".to_vec())]);
        let (f, w) = frames(b"a3 APPEND INBOX {99999999999}\r\n").await;
        assert_eq!(f, vec![Frame::LiteralTooBig { tag: Some("a3".into()), size: 99999999999 }]);
        assert!(w.is_empty(), "no continuation for a refused literal");
        let (f, _) = frames(b"a4 APPEND INBOX {5000+}\r\n").await;
        assert_eq!(f, vec![Frame::NonSyncTooBig { tag: Some("a4".into()), size: 5000 }]);
    }

    #[tokio::test]
    async fn eof_inside_a_literal_is_an_error() {
        let mut r = BufReader::new(tokio::io::join(&b"a1 LOGIN {10}\r\nab"[..], Vec::new()));
        assert!(read_command(&mut r, LIMITS).await.is_err());
    }
}
