//! Just enough HTTP/1.1 (RFC 9112) to ask rspamd one question: one POST
//! per connection with `Connection: close`, and a reply read with a bound
//! whether it is framed by Content-Length, chunked, or by the end of the
//! connection.

use tokio::io::{AsyncRead, AsyncWriteExt};

use super::FilterError;
use super::conn::{BoundedReader, Conn, exchange, header_field, protocol, read_head};

/// Longest reply head we read.
const MAX_HEAD: usize = 16 * 1024;
/// Longest chunk-size line we read.
const MAX_CHUNK_LINE: usize = 1024;

#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// POSTs `body` to `path` on `conn` with `headers` (names and values
/// already free of CR and LF) and returns the reply; a reply body over
/// `max_body` bytes is an error.
pub(crate) async fn post(
    conn: Conn,
    host: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
    max_body: usize,
) -> Result<Response, FilterError> {
    let mut head =
        format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let send = |mut tx: tokio::io::WriteHalf<Conn>| async move {
        tx.write_all(head.as_bytes()).await?;
        tx.write_all(body).await?;
        tx.flush().await
    };
    exchange(conn, send, |rx| read_response(rx, max_body)).await
}

pub(crate) async fn read_response<R: AsyncRead + Unpin>(
    mut rx: BoundedReader<R>,
    max_body: usize,
) -> Result<Response, FilterError> {
    loop {
        let head = read_head(&mut rx, MAX_HEAD).await?;
        let Some(status_line) = head.lines.first() else {
            return Err(protocol("the connection closed without a reply", b""));
        };
        if !head.complete {
            return Err(protocol("the reply ended inside its head", head.lines.last().map_or(status_line, |l| l)));
        }
        let status = parse_status(status_line).ok_or_else(|| protocol("not an HTTP status line", status_line))?;
        // RFC 9110 §15.2: interim 1xx replies come before the final one.
        if (100..200).contains(&status) {
            continue;
        }
        let mut length = None;
        let mut chunked = false;
        for line in &head.lines[1..] {
            let Some((name, value)) = header_field(line) else {
                return Err(protocol("a header line without a colon", line));
            };
            if name.eq_ignore_ascii_case("Content-Length") {
                let n: usize = value.parse().map_err(|_| protocol("a malformed Content-Length", line))?;
                if length.is_some_and(|m| m != n) {
                    return Err(protocol("two different Content-Length values", line));
                }
                length = Some(n);
            } else if name.eq_ignore_ascii_case("Transfer-Encoding") {
                // RFC 9112 §6.1: chunked must be the final coding; we asked
                // for nothing else.
                if !value.eq_ignore_ascii_case("chunked") {
                    return Err(protocol("an unsupported Transfer-Encoding", line));
                }
                chunked = true;
            }
        }
        // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; without
        // either, the body runs to the end of the connection.
        let body = if chunked {
            read_chunked(&mut rx, max_body).await?
        } else if let Some(n) = length {
            if n > max_body {
                return Err(FilterError::TooLong(max_body));
            }
            rx.read_exact(n).await?
        } else {
            rx.read_to_end(max_body).await?
        };
        return Ok(Response { status, body });
    }
}

/// `HTTP/1.x NNN reason`.
fn parse_status(line: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok().filter(|c| (100..600).contains(c))
}

/// A chunked body (RFC 9112 §7.1): `size[;ext] CRLF data CRLF` until a
/// zero size, then trailer lines up to an empty one.
async fn read_chunked<R: AsyncRead + Unpin>(
    rx: &mut BoundedReader<R>,
    max_body: usize,
) -> Result<Vec<u8>, FilterError> {
    let mut body = Vec::new();
    loop {
        let Some(line) = rx.read_line(MAX_CHUNK_LINE).await? else {
            return Err(protocol("the connection closed inside a chunked body", b""));
        };
        let text = std::str::from_utf8(&line).map_err(|_| protocol("a malformed chunk size", &line))?;
        let size = text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| protocol("a malformed chunk size", &line))?;
        if size == 0 {
            let trailers = read_head(rx, MAX_HEAD).await?;
            if !trailers.complete {
                return Err(protocol("the connection closed inside the trailers", b""));
            }
            return Ok(body);
        }
        if size > max_body - body.len() {
            return Err(FilterError::TooLong(max_body));
        }
        body.extend_from_slice(&rx.read_exact(size).await?);
        let end = rx.read_exact(2).await?;
        if end != b"\r\n" {
            return Err(protocol("a chunk not followed by CRLF", &end));
        }
    }
}

/// What may go into a request header value: control characters removed.
pub(crate) fn header_value(value: &str) -> String {
    value.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn response(bytes: &'static [u8], max: usize) -> Result<Response, FilterError> {
        read_response(BoundedReader::new(bytes), max).await
    }

    #[tokio::test]
    async fn framings() {
        let r = response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}", 100)
            .await
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));

        let r = response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\nT: v\r\n\r\n",
            100,
        )
        .await
        .unwrap();
        assert_eq!(r.body, b"{\"a\":1}");

        let r = response(b"HTTP/1.0 500 Internal Server Error\r\n\r\nfailed", 100).await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (500, &b"failed"[..]));

        let r =
            response(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 100).await.unwrap();
        assert_eq!(r.status, 200);
    }

    #[tokio::test]
    async fn limits_and_errors() {
        let e = response(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 100).await.unwrap_err();
        assert!(matches!(e, FilterError::TooLong(100)), "{e}");
        let e = response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n", 50).await.unwrap_err();
        assert!(matches!(e, FilterError::TooLong(50)), "{e}");
        let e = response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 50)
            .await
            .unwrap_err();
        assert!(matches!(e, FilterError::Protocol { .. }), "{e}");
        let endless: &'static [u8] =
            Box::leak([&b"HTTP/1.1 200 OK\r\n\r\n"[..], &[b'x'; 10_000]].concat().into_boxed_slice());
        let e = read_response(BoundedReader::new(endless), 1000).await.unwrap_err();
        assert!(matches!(e, FilterError::TooLong(1000)), "{e}");

        for bad in [
            &b""[..],
            b"SPAMD/1.1 0 EX_OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ] {
            let e = response(bad, 100).await.unwrap_err();
            assert!(matches!(e, FilterError::Protocol { .. }), "{bad:?}: {e}");
        }
    }

    #[test]
    fn header_values_lose_control_characters() {
        assert_eq!(header_value("a@b\r\nX-Injected: 1"), "a@bX-Injected: 1");
    }
}
