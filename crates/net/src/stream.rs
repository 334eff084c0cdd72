//! A connection that starts in cleartext and may turn into TLS (STARTTLS:
//! IMAP RFC 9051 §6.2.1, POP3 RFC 2595, SMTP RFC 3207), or is TLS from the
//! first byte (implicit TLS, RFC 8314).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::server::TlsStream;

use crate::TlsAcceptor;

pub enum Stream<S> {
    Plain(S),
    Tls(Box<TlsStream<S>>),
    /// Only while the handshake of [`Stream::upgrade`] runs.
    Upgrading,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream<S> {
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// Implicit TLS: the handshake before anything else.
    pub async fn accept(inner: S, acceptor: &TlsAcceptor) -> io::Result<Stream<S>> {
        Ok(Stream::Tls(Box::new(acceptor.accept(inner).await?)))
    }

    /// What a listener hands its session: the connection as it is, or, on
    /// an implicit-TLS port (RFC 8314 §3.3), after a handshake that must
    /// finish within `timeout` (a client that never sends its hello must
    /// not hold the connection).
    pub async fn open(
        inner: S,
        implicit_tls: bool,
        acceptor: Option<&TlsAcceptor>,
        timeout: std::time::Duration,
    ) -> io::Result<Stream<S>> {
        if !implicit_tls {
            return Ok(Stream::Plain(inner));
        }
        let Some(acceptor) = acceptor else {
            return Err(io::Error::other("implicit TLS without a certificate"));
        };
        match tokio::time::timeout(timeout, Stream::accept(inner, acceptor)).await {
            Ok(s) => s,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")),
        }
    }

    /// STARTTLS: the handshake on the open connection. The caller must have
    /// thrown away anything it buffered from the cleartext phase (RFC 9051
    /// §6.2.1 and RFC 3207 §4.2 warn about injected commands).
    pub async fn upgrade(&mut self, acceptor: &TlsAcceptor) -> io::Result<()> {
        match std::mem::replace(self, Stream::Upgrading) {
            Stream::Plain(s) => {
                *self = Stream::Tls(Box::new(acceptor.accept(s).await?));
                Ok(())
            }
            other => {
                *self = other;
                Err(io::Error::other("the connection is already TLS"))
            }
        }
    }
}

/// Writes a session's pending output (its replies, gathered so that
/// pipelined commands are answered in one write) and empties it.
pub async fn write_pending<W: AsyncWrite + Unpin>(w: &mut W, out: &mut Vec<u8>) -> io::Result<()> {
    use tokio::io::AsyncWriteExt;
    if !out.is_empty() {
        w.write_all(out).await?;
        w.flush().await?;
        out.clear();
    }
    Ok(())
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "TLS handshake failed; the connection is gone")
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(gone())),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Upgrading => Poll::Ready(Err(gone())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Upgrading => Poll::Ready(Err(gone())),
        }
    }
}
