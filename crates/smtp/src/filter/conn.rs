//! What the three clients share: the connection to a scanner (TCP or a
//! unix socket), a reader that never buffers more than it was told to, and
//! the send-while-reading exchange every scanner protocol is run through.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};
use tokio::net::{TcpStream, UnixStream};

use super::FilterError;

/// Where a scanner listens: `host:port` (`[::1]:783` for an IPv6 literal)
/// or the path of a unix socket (anything starting with `/`, or
/// `unix:/path`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Tcp(String),
    Unix(PathBuf),
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Endpoint, String> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix:") {
            if !path.starts_with('/') {
                return Err(format!("{s:?}: a unix socket path must be absolute"));
            }
            return Ok(Endpoint::Unix(path.into()));
        }
        if s.starts_with('/') {
            return Ok(Endpoint::Unix(s.into()));
        }
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(format!("{s:?}: expected host:port or the absolute path of a unix socket"));
        };
        if host.is_empty() || !port.parse::<u16>().is_ok_and(|p| p != 0) {
            return Err(format!("{s:?}: expected host:port with a port from 1 to 65535"));
        }
        if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
            return Err(format!("{s:?}: write an IPv6 address in brackets, [::1]:port"));
        }
        Ok(Endpoint::Tcp(s.to_string()))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(addr) => f.write_str(addr),
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// An open connection to a scanner.
pub(crate) enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    pub(crate) async fn open(endpoint: &Endpoint) -> Result<Conn, FilterError> {
        let connect_error = |source| FilterError::Connect { endpoint: endpoint.clone(), source };
        match endpoint {
            Endpoint::Tcp(addr) => {
                let stream = TcpStream::connect(addr.as_str()).await.map_err(connect_error)?;
                // Requests are written whole; nothing gains from Nagle.
                let _ = stream.set_nodelay(true);
                Ok(Conn::Tcp(stream))
            }
            Endpoint::Unix(path) => Ok(Conn::Unix(UnixStream::connect(path).await.map_err(connect_error)?)),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_flush(cx),
            Conn::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// The bytes of `line` for an error message: lossy UTF-8, without the line
/// end, cut at 200 characters.
pub(crate) fn shown(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\r', '\n', '\0']);
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

pub(crate) fn protocol(what: &'static str, line: &[u8]) -> FilterError {
    FilterError::Protocol { what, line: shown(line) }
}

/// A buffered reader whose every read names its limit: a broken or hostile
/// scanner can make it fail, never make it grow without bound.
pub(crate) struct BoundedReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
}

const READ_SIZE: usize = 8192;

impl<R: AsyncRead + Unpin> BoundedReader<R> {
    pub(crate) fn new(inner: R) -> BoundedReader<R> {
        BoundedReader { inner, buf: Vec::new(), start: 0 }
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Reads more into the buffer; 0 at the end of the stream.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let len = self.buf.len();
        self.buf.resize(len + READ_SIZE, 0);
        let n = match self.inner.read(&mut self.buf[len..]).await {
            Ok(n) => n,
            Err(e) => {
                self.buf.truncate(len);
                return Err(e);
            }
        };
        self.buf.truncate(len + n);
        Ok(n)
    }

    /// The bytes up to and including the next `delim`; at the end of the
    /// stream whatever is left (None when nothing is). More than `limit`
    /// bytes without `delim` is an error.
    pub(crate) async fn read_until(&mut self, delim: u8, limit: usize) -> Result<Option<Vec<u8>>, FilterError> {
        let mut searched = 0;
        loop {
            if let Some(i) = self.buffered()[searched..].iter().position(|&b| b == delim) {
                let end = self.start + searched + i + 1;
                if end - self.start > limit {
                    return Err(FilterError::TooLong(limit));
                }
                let out = self.buf[self.start..end].to_vec();
                self.start = end;
                return Ok(Some(out));
            }
            searched = self.buffered().len();
            if searched > limit {
                return Err(FilterError::TooLong(limit));
            }
            if self.fill().await? == 0 {
                if self.buffered().is_empty() {
                    return Ok(None);
                }
                if self.buffered().len() > limit {
                    return Err(FilterError::TooLong(limit));
                }
                let out = self.buffered().to_vec();
                self.start = self.buf.len();
                return Ok(Some(out));
            }
        }
    }

    /// A line ending in LF (the CR, if any, left on); None at the end of
    /// the stream.
    pub(crate) async fn read_line(&mut self, limit: usize) -> Result<Option<Vec<u8>>, FilterError> {
        self.read_until(b'\n', limit).await
    }

    /// Exactly `n` bytes; the caller has checked `n` against its limit.
    pub(crate) async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, FilterError> {
        while self.buffered().len() < n {
            if self.fill().await? == 0 {
                return Err(FilterError::Protocol {
                    what: "the connection closed inside a body",
                    line: format!("{} of {n} bytes received", self.buffered().len()),
                });
            }
        }
        let out = self.buf[self.start..self.start + n].to_vec();
        self.start += n;
        Ok(out)
    }

    /// Everything up to the end of the stream, at most `limit` bytes.
    pub(crate) async fn read_to_end(&mut self, limit: usize) -> Result<Vec<u8>, FilterError> {
        loop {
            if self.buffered().len() > limit {
                return Err(FilterError::TooLong(limit));
            }
            if self.fill().await? == 0 {
                let out = self.buffered().to_vec();
                self.start = self.buf.len();
                return Ok(out);
            }
        }
    }
}

/// The head of a reply: lines up to the first empty one (LF or CRLF line
/// ends), without their line ends. `complete` is false when the stream
/// ended first, as it does after spamd's error lines.
pub(crate) struct Head {
    pub lines: Vec<Vec<u8>>,
    pub complete: bool,
}

pub(crate) async fn read_head<R: AsyncRead + Unpin>(
    reader: &mut BoundedReader<R>,
    limit: usize,
) -> Result<Head, FilterError> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        // A line over what is left of the limit is the head over the limit.
        let line = reader.read_line(limit - total).await.map_err(|e| match e {
            FilterError::TooLong(_) => FilterError::TooLong(limit),
            e => e,
        })?;
        let Some(mut line) = line else {
            return Ok(Head { lines, complete: false });
        };
        total += line.len();
        let ended = line.last() == Some(&b'\n');
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if line.is_empty() && ended {
            return Ok(Head { lines, complete: true });
        }
        lines.push(line);
        if !ended {
            return Ok(Head { lines, complete: false });
        }
        if total >= limit {
            return Err(FilterError::TooLong(limit));
        }
    }
}

/// Splits `Name: value` (the name without surrounding space, the value
/// trimmed); None for a line without a colon.
pub(crate) fn header_field(line: &[u8]) -> Option<(&str, &str)> {
    let line = std::str::from_utf8(line).ok()?;
    let (name, value) = line.split_once(':')?;
    Some((name.trim(), value.trim()))
}

/// Runs one request/reply exchange on `conn`: `write` sends the request
/// while `read` reads the reply, at the same time, so that a scanner that
/// answers before it has read everything (clamd past StreamMaxLength, spamd
/// refusing a header) is heard instead of leaving us blocked on a full
/// socket or failing on a broken pipe.
///
/// The reply wins: when `read` finishes first, the rest of the request is
/// not sent. When writing fails, the reply is still read, and only when
/// there is none does the write error count.
pub(crate) async fn exchange<W, Rd, T>(
    conn: Conn,
    write: impl FnOnce(WriteHalf<Conn>) -> W,
    read: impl FnOnce(BoundedReader<ReadHalf<Conn>>) -> Rd,
) -> Result<T, FilterError>
where
    W: Future<Output = io::Result<()>>,
    Rd: Future<Output = Result<T, FilterError>>,
{
    let (rx, tx) = tokio::io::split(conn);
    let write = write(tx);
    let read = read(BoundedReader::new(rx));
    tokio::pin!(write, read);
    tokio::select! {
        reply = &mut read => reply,
        sent = &mut write => match sent {
            Ok(()) => read.await,
            Err(e) => match read.await {
                Ok(reply) => Ok(reply),
                // What the scanner said says more than a broken pipe does.
                Err(err @ (FilterError::Protocol { .. } | FilterError::TooLong(_) | FilterError::Scanner(_) | FilterError::SizeLimit(_))) => Err(err),
                Err(_) => Err(FilterError::Io(e)),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!("127.0.0.1:783".parse(), Ok(Endpoint::Tcp("127.0.0.1:783".into())));
        assert_eq!("[::1]:3310".parse(), Ok(Endpoint::Tcp("[::1]:3310".into())));
        assert_eq!("localhost:11333".parse(), Ok(Endpoint::Tcp("localhost:11333".into())));
        assert_eq!("/run/clamav/clamd.ctl".parse(), Ok(Endpoint::Unix("/run/clamav/clamd.ctl".into())));
        assert_eq!("unix:/run/spamd.sock".parse(), Ok(Endpoint::Unix("/run/spamd.sock".into())));
        for bad in ["localhost", "host:", ":783", "host:0", "host:70000", "unix:relative", "", "::1:783"] {
            assert!(bad.parse::<Endpoint>().is_err(), "{bad:?} accepted");
        }
        assert_eq!(Endpoint::Unix("/s".into()).to_string(), "unix:/s");
    }

    #[test]
    fn shown_lines_are_short_and_without_line_ends() {
        assert_eq!(shown(b"stream: OK\0"), "stream: OK");
        assert_eq!(shown(b"bad\r\n"), "bad");
        let long = shown(&[b'x'; 1000]);
        assert_eq!(long.chars().count(), 201);
    }

    async fn reader(bytes: &'static [u8]) -> BoundedReader<&'static [u8]> {
        BoundedReader::new(bytes)
    }

    #[tokio::test]
    async fn bounded_reads() {
        let mut r = reader(b"one\r\ntwo\nrest").await;
        assert_eq!(r.read_line(100).await.unwrap().unwrap(), b"one\r\n");
        assert_eq!(r.read_line(100).await.unwrap().unwrap(), b"two\n");
        assert_eq!(r.read_line(100).await.unwrap().unwrap(), b"rest");
        assert_eq!(r.read_line(100).await.unwrap(), None);

        let mut r = reader(b"0123456789\n").await;
        assert!(matches!(r.read_line(5).await, Err(FilterError::TooLong(5))));

        let big: &'static [u8] = Box::leak(vec![b'a'; 100_000].into_boxed_slice());
        let mut r = BoundedReader::new(big);
        assert!(matches!(r.read_until(0, 4096).await, Err(FilterError::TooLong(4096))));
        let mut r = BoundedReader::new(big);
        assert!(matches!(r.read_to_end(50_000).await, Err(FilterError::TooLong(50_000))));
        let mut r = BoundedReader::new(big);
        assert_eq!(r.read_to_end(100_000).await.unwrap().len(), 100_000);

        let mut r = reader(b"abc").await;
        assert!(matches!(r.read_exact(5).await, Err(FilterError::Protocol { .. })));
    }

    #[tokio::test]
    async fn heads() {
        let mut r = reader(b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\n\r\nbody").await;
        let head = read_head(&mut r, 1000).await.unwrap();
        assert!(head.complete);
        assert_eq!(head.lines, [b"SPAMD/1.1 0 EX_OK".to_vec(), b"Spam: True ; 1 / 5".to_vec()]);
        assert_eq!(r.read_to_end(100).await.unwrap(), b"body");

        let mut r = reader(b"SPAMD/1.0 76 Bad header line: (EOF)\r\n").await;
        let head = read_head(&mut r, 1000).await.unwrap();
        assert!(!head.complete);
        assert_eq!(head.lines.len(), 1);

        let mut r = reader(b"a: b\nc: d\n\n").await;
        assert!(read_head(&mut r, 1000).await.unwrap().complete);

        let endless: &'static [u8] = Box::leak(b"X: y\r\n".repeat(10_000).into_boxed_slice());
        let mut r = BoundedReader::new(endless);
        assert!(matches!(read_head(&mut r, 16_384).await, Err(FilterError::TooLong(16_384))));

        assert_eq!(header_field(b"Content-length: 27"), Some(("Content-length", "27")));
        assert_eq!(header_field(b"no colon"), None);
    }
}
