//! ClamAV's clamd, over its socket protocol (clamd(8), "COMMANDS").
//!
//! One connection per message, one `zINSTREAM`: the `z` prefix means the
//! command and clamd's reply each end with a NUL byte. The message follows
//! in chunks, "'<length><data>' where <length> is the size of the following
//! data in bytes expressed as a 4 byte unsigned integer in network byte
//! order", and "streaming is terminated by sending a zero-length chunk".
//!
//! Replies:
//!
//! ```text
//! stream: OK\0
//! stream: Eicar-Signature FOUND\0
//! INSTREAM size limit exceeded. ERROR\0
//! ```

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::conn::{BoundedReader, Conn, exchange, protocol, shown};
use super::{FilterConfig, FilterError, Verdict, within};

/// Bytes per INSTREAM chunk.
const CHUNK: usize = 64 * 1024;
/// Longest reply we read (a virus name is short).
const MAX_REPLY: usize = 4096;

/// Asks clamd at `config.endpoint` about `message`, within
/// `config.timeout`.
pub async fn check(config: &FilterConfig, message: &[u8]) -> Result<Verdict, FilterError> {
    within(config.timeout, async {
        let conn = Conn::open(&config.endpoint).await?;
        exchange(conn, |tx| send(tx, message), read_reply).await
    })
    .await
}

async fn send<W: AsyncWrite + Unpin>(mut tx: W, message: &[u8]) -> std::io::Result<()> {
    tx.write_all(b"zINSTREAM\0").await?;
    for chunk in message.chunks(CHUNK) {
        // CHUNK fits in a u32.
        tx.write_all(&(chunk.len() as u32).to_be_bytes()).await?;
        tx.write_all(chunk).await?;
    }
    tx.write_all(&0u32.to_be_bytes()).await?;
    tx.flush().await
}

pub(crate) async fn read_reply<R: AsyncRead + Unpin>(mut rx: BoundedReader<R>) -> Result<Verdict, FilterError> {
    // "Clamd replies will honour the requested terminator": NUL after z.
    let Some(reply) = rx.read_until(0, MAX_REPLY).await? else {
        return Err(protocol("the connection closed without a reply", b""));
    };
    parse_reply(&reply)
}

fn parse_reply(reply: &[u8]) -> Result<Verdict, FilterError> {
    let bad = || protocol("not a clamd INSTREAM reply", reply);
    let text = std::str::from_utf8(reply).map_err(|_| bad())?;
    let text = text.trim_end_matches(['\0', '\n', '\r']);
    // "Note: do not exceed StreamMaxLength as defined in clamd.conf,
    // otherwise clamd will reply with INSTREAM size limit exceeded and
    // close the connection."
    if text.ends_with(" ERROR") {
        if text.contains("size limit exceeded") {
            return Err(FilterError::SizeLimit(shown(reply)));
        }
        return Err(FilterError::Scanner(shown(reply)));
    }
    let Some(result) = text.strip_prefix("stream: ") else {
        return Err(bad());
    };
    if result == "OK" {
        return Ok(Verdict::Clean);
    }
    match result.strip_suffix(" FOUND") {
        Some(name) if !name.trim().is_empty() => Ok(Verdict::Virus { name: name.trim().to_string() }),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn request_framing() {
        let message = vec![b'm'; CHUNK + 10];
        let mut sent = Vec::new();
        send(&mut sent, &message).await.unwrap();
        assert_eq!(&sent[..10], b"zINSTREAM\0");
        let mut rest = &sent[10..];
        let mut received = Vec::new();
        loop {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            rest = &rest[4..];
            if len == 0 {
                break;
            }
            received.extend_from_slice(&rest[..len]);
            rest = &rest[len..];
        }
        assert!(rest.is_empty());
        assert_eq!(received, message);
    }

    #[test]
    fn replies() {
        assert_eq!(parse_reply(b"stream: OK\0").unwrap(), Verdict::Clean);
        assert_eq!(
            parse_reply(b"stream: Eicar-Signature FOUND\0").unwrap(),
            Verdict::Virus { name: "Eicar-Signature".into() }
        );
        assert_eq!(
            parse_reply(b"stream: Win.Test.EICAR_HDB-1 FOUND\n").unwrap(),
            Verdict::Virus { name: "Win.Test.EICAR_HDB-1".into() }
        );
        let e = parse_reply(b"INSTREAM size limit exceeded. ERROR\0").unwrap_err();
        assert!(matches!(&e, FilterError::SizeLimit(s) if s == "INSTREAM size limit exceeded. ERROR"), "{e}");
        let e = parse_reply(b"stream: Can't allocate memory ERROR\0").unwrap_err();
        assert!(matches!(e, FilterError::Scanner(_)), "{e}");
        for bad in [&b"PONG\0"[..], b"stream: FOUND\0", b"stream: maybe\0", b"\xff\xfe\0", b"stream:  FOUND"] {
            let e = parse_reply(bad).unwrap_err();
            assert!(matches!(e, FilterError::Protocol { .. }), "{bad:?}: {e}");
        }
    }

    #[tokio::test]
    async fn bounded_reply() {
        let endless: &'static [u8] = Box::leak(vec![b'x'; 100_000].into_boxed_slice());
        let e = read_reply(BoundedReader::new(endless)).await.unwrap_err();
        assert!(matches!(e, FilterError::TooLong(MAX_REPLY)), "{e}");
        let e = read_reply(BoundedReader::new(&b""[..])).await.unwrap_err();
        assert!(matches!(e, FilterError::Protocol { .. }), "{e}");
    }
}
