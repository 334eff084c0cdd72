//! Reading command lines with a length limit. A longer line is read to
//! its end and thrown away, so the session can answer `-ERR` and go on
//! with the next command instead of taking the rest as one.

use tokio::io::AsyncBufRead;

pub use atoll_net::line::Line;

/// Reads one line of at most `max` octets, its line end included. A
/// partial last line is dropped: the client has gone.
pub async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<Line> {
    match atoll_net::line::read_line(r, max).await {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(Line::Eof),
        other => other,
    }
}

/// Whether the reader holds bytes the client sent after the current
/// line: data after STLS must not be taken as commands after the
/// handshake (RFC 2595 §4, command injection).
pub fn has_buffered<R: tokio::io::AsyncRead>(r: &tokio::io::BufReader<R>) -> bool {
    !r.buffer().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    async fn lines(input: &[u8], max: usize, reader_capacity: usize) -> Vec<Line> {
        let mut r = BufReader::with_capacity(reader_capacity, input);
        let mut out = Vec::new();
        loop {
            let l = read_line(&mut r, max).await.expect("read");
            let eof = l == Line::Eof;
            out.push(l);
            if eof {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn splits_lines_and_refuses_long_ones() {
        for capacity in [1, 3, 64] {
            let got = lines(b"STAT\r\nLIST 123456789\r\nNOOP\nQUIT\r\npartial", 10, capacity).await;
            assert_eq!(
                got,
                [
                    Line::Line(b"STAT\r\n".to_vec()),
                    Line::TooLong,
                    Line::Line(b"NOOP\n".to_vec()),
                    Line::Line(b"QUIT\r\n".to_vec()),
                    Line::Eof
                ],
                "reader capacity {capacity}"
            );
        }
    }

    #[tokio::test]
    async fn the_limit_counts_the_line_end() {
        assert_eq!(lines(b"ABCD\r\n", 6, 64).await[0], Line::Line(b"ABCD\r\n".to_vec()));
        assert_eq!(lines(b"ABCDE\r\n", 6, 64).await[0], Line::TooLong);
    }
}
