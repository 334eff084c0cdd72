//! Reading command lines with a length limit. A longer line is read to
//! its end and thrown away, so the session can answer `-ERR` and go on
//! with the next command instead of taking the rest as one.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// What the client sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line, its line end included.
    Line(Vec<u8>),
    /// A line over the limit (already consumed).
    TooLong,
    /// The connection closed (a partial last line is dropped).
    Eof,
}

/// Reads one line of at most `max` octets, its line end included.
pub async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(Line::Eof);
        }
        let (take, done) = match memchr_lf(buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if !too_long {
            if line.len() + take > max {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(&buf[..take]);
            }
        }
        r.consume(take);
        if done {
            return Ok(if too_long { Line::TooLong } else { Line::Line(line) });
        }
    }
}

fn memchr_lf(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
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
