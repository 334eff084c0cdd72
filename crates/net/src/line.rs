//! Reading one line of a text protocol (a POP3 command, an IMAP SASL
//! response) with a length limit. A longer line is read to its end and
//! thrown away, so that the session can refuse it and go on with the next
//! line instead of taking the rest as one.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// What the client sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line, its line end included.
    Line(Vec<u8>),
    /// A line over the limit (already consumed).
    TooLong,
    /// The connection closed between lines.
    Eof,
}

/// Reads one line of at most `max` octets, its line end included. A
/// connection closed inside a line is an `UnexpectedEof` error.
pub async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    let mut any = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            if !any {
                return Ok(Line::Eof);
            }
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside a line"));
        }
        any = true;
        let (take, done) = buf.iter().position(|&b| b == b'\n').map_or((buf.len(), false), |i| (i + 1, true));
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
