//! Replies as a client reads them: one or more lines `ddd-text` ending in
//! `ddd text` (RFC 5321 §4.2.1), with an optional enhanced status code at
//! the start of the text (RFC 3463, RFC 2034 §3).

use std::fmt;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// RFC 5321 §4.5.3.1.5 caps a reply line at 512 octets; servers exceed it
/// in practice, so allow more, but not without limit.
const MAX_LINE: usize = 4096;
/// Lines in one reply (an EHLO reply has one per extension).
const MAX_LINES: usize = 100;

/// A server's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReply {
    pub code: u16,
    /// class.subject.detail when the server gave one.
    pub status: Option<[u16; 3]>,
    /// The text of every line, code and status removed.
    pub lines: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("connection closed by the server")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed reply line: {0:?}")]
    Malformed(String),
    #[error("reply too long")]
    TooLong,
}

impl ServerReply {
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// The enhanced status code, or one derived from the basic code
    /// (RFC 3463 §3: X.0.0 when nothing more is known).
    pub fn status_or_default(&self) -> [u16; 3] {
        self.status.unwrap_or([self.code / 100, 0, 0])
    }

    /// One line, as it goes into a log or a DSN's Diagnostic-Code.
    pub fn one_line(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ServerReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some([a, b, c]) = self.status {
            write!(f, " {a}.{b}.{c}")?;
        }
        let text = self.lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
        if !text.is_empty() {
            write!(f, " {text}")?;
        }
        Ok(())
    }
}

/// Parses `x.y.z` at the start of a reply text (RFC 3463 §2: class 2, 4
/// or 5; subject and detail up to three digits).
fn status_prefix(text: &str) -> Option<([u16; 3], &str)> {
    let (token, rest) = text.split_once(' ').unwrap_or((text, ""));
    let mut parts = token.split('.');
    let mut out = [0u16; 3];
    for (i, slot) in out.iter_mut().enumerate() {
        let p = parts.next()?;
        let max_len = if i == 0 { 1 } else { 3 };
        if p.is_empty() || p.len() > max_len || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = p.parse().ok()?;
    }
    if parts.next().is_some() || !matches!(out[0], 2 | 4 | 5) {
        return None;
    }
    Some((out, rest))
}

/// Reads one whole reply.
pub async fn read_reply<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<ServerReply, ReplyError> {
    let mut lines = Vec::new();
    let mut code = 0u16;
    let mut status = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut *r).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line).await?;
        if n == 0 {
            return Err(ReplyError::Closed);
        }
        if line.len() > MAX_LINE {
            return Err(ReplyError::TooLong);
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let bytes = text.as_bytes();
        if bytes.len() < 3 || !bytes[..3].iter().all(u8::is_ascii_digit) {
            return Err(ReplyError::Malformed(text.to_string()));
        }
        let this: u16 = text[..3].parse().map_err(|_| ReplyError::Malformed(text.to_string()))?;
        if !(200..600).contains(&this) || (code != 0 && this != code) {
            return Err(ReplyError::Malformed(text.to_string()));
        }
        code = this;
        let last = match bytes.get(3) {
            None | Some(b' ') => true,
            Some(b'-') => false,
            Some(_) => return Err(ReplyError::Malformed(text.to_string())),
        };
        let mut rest = text.get(4..).unwrap_or("");
        if let Some((s, tail)) = status_prefix(rest)
            && s[0] == code / 100
        {
            status.get_or_insert(s);
            rest = tail;
        }
        lines.push(rest.to_string());
        if last {
            return Ok(ServerReply { code, status, lines });
        }
        if lines.len() >= MAX_LINES {
            return Err(ReplyError::TooLong);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(s: &str) -> Result<ServerReply, ReplyError> {
        let mut r = tokio::io::BufReader::new(s.as_bytes());
        read_reply(&mut r).await
    }

    #[tokio::test]
    async fn single_and_multi_line_replies() {
        let r = parse("250 2.1.5 Ok\r\n").await.unwrap();
        assert_eq!((r.code, r.status, r.lines.clone()), (250, Some([2, 1, 5]), vec!["Ok".to_string()]));
        assert_eq!(r.to_string(), "250 2.1.5 Ok");
        let r = parse("250-mx.example.org\r\n250-PIPELINING\r\n250 SIZE 1000\r\n").await.unwrap();
        assert_eq!(r.lines, ["mx.example.org", "PIPELINING", "SIZE 1000"]);
        assert_eq!(r.status, None);
        let r = parse("550 5.1.1 <x@example.org>: unknown\r\n").await.unwrap();
        assert_eq!(r.status_or_default(), [5, 1, 1]);
        let r = parse("451 try later\r\n").await.unwrap();
        assert_eq!(r.status_or_default(), [4, 0, 0]);
        assert!(r.is_transient());
        // A bare code is a complete reply.
        assert_eq!(parse("354\r\n").await.unwrap().code, 354);
    }

    #[tokio::test]
    async fn a_status_of_another_class_is_text() {
        let r = parse("550 2.0.0 odd\r\n").await.unwrap();
        assert_eq!(r.status, None);
        assert_eq!(r.lines, ["2.0.0 odd"]);
    }

    #[tokio::test]
    async fn broken_replies_are_errors() {
        assert!(matches!(parse("").await, Err(ReplyError::Closed)));
        assert!(matches!(parse("250-a\r\n").await, Err(ReplyError::Closed)));
        assert!(matches!(parse("hello\r\n").await, Err(ReplyError::Malformed(_))));
        assert!(matches!(parse("250-a\r\n251 b\r\n").await, Err(ReplyError::Malformed(_))));
        assert!(matches!(parse("250xa\r\n").await, Err(ReplyError::Malformed(_))));
        let long = format!("250 {}\r\n", "a".repeat(MAX_LINE + 10));
        assert!(matches!(parse(&long).await, Err(ReplyError::TooLong)));
    }
}
