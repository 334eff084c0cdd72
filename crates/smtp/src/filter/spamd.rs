//! SpamAssassin's spamd, over the SPAMC/SPAMD protocol (spamd/PROTOCOL in
//! the SpamAssassin sources, "The SpamAssassin Network Protocol"; the
//! request form is that of protocol 1.5).
//!
//! One connection per message. We send `SYMBOLS`, which returns the
//! verdict in the `Spam` header and the names of the rules that matched
//! in the body:
//!
//! ```text
//! SYMBOLS SPAMC/1.5\r\n
//! Content-length: <size>\r\n
//! User: <name>\r\n                  (optional)
//! \r\n
//! <message>
//!
//! SPAMD/1.1 0 EX_OK\r\n
//! Content-length: 27\r\n
//! Spam: True ; 1000.0 / 5.0\r\n
//! \r\n
//! GTUBE,NO_RECEIVED,NO_RELAYS
//! ```

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::conn::{BoundedReader, Conn, exchange, header_field, protocol, read_head, shown};
use super::{FilterConfig, FilterError, Verdict, spam_headers, within};

/// Longest head (status line and headers) we read.
const MAX_HEAD: usize = 16 * 1024;
/// Longest symbol list we read: a few hundred rule names at most.
const MAX_BODY: usize = 64 * 1024;

/// Asks spamd at `config.endpoint` about `message`, within
/// `config.timeout`. `user` goes into the User header ("the meaning of
/// this is up to the server; format is that of a traditional UNIX
/// username", PROTOCOL "Headers").
pub async fn check(config: &FilterConfig, user: Option<&str>, message: &[u8]) -> Result<Verdict, FilterError> {
    within(config.timeout, async {
        let conn = Conn::open(&config.endpoint).await?;
        exchange(conn, |tx| send(tx, user, message), read_reply).await
    })
    .await
}

fn request_head(user: Option<&str>, length: usize) -> Vec<u8> {
    // "Content-length: length of a request or response body, in bytes
    // (generally a requirement as of protocol version 1.2 onwards)".
    let mut head = format!("SYMBOLS SPAMC/1.5\r\nContent-length: {length}\r\n");
    if let Some(user) = user {
        // [-A-Za-z0-9_]+ per PROTOCOL; we let '.' and '@' through too
        // (virtual users), nothing that could end the line.
        let user: String = user.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.@".contains(*c)).collect();
        if !user.is_empty() {
            head.push_str(&format!("User: {user}\r\n"));
        }
    }
    head.push_str("\r\n");
    head.into_bytes()
}

async fn send<W: AsyncWrite + Unpin>(mut tx: W, user: Option<&str>, message: &[u8]) -> std::io::Result<()> {
    tx.write_all(&request_head(user, message.len())).await?;
    tx.write_all(message).await?;
    // "After each side is done writing, it shuts down its side of the
    // connection" (PROTOCOL, Synopsis).
    tx.shutdown().await
}

pub(crate) async fn read_reply<R: tokio::io::AsyncRead + Unpin>(
    mut rx: BoundedReader<R>,
) -> Result<Verdict, FilterError> {
    let head = read_head(&mut rx, MAX_HEAD).await?;
    let Some(status) = head.lines.first() else {
        return Err(protocol("the connection closed without a reply", b""));
    };
    // "SPAMD/<version> <code> <message>", code from sysexits.h. "If the
    // response code is not 0, then the processed message will not be sent,
    // and the socket will be closed after the first line is sent."
    let text = std::str::from_utf8(status).map_err(|_| protocol("the status line is not UTF-8", status))?;
    let mut parts = text.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(protocol("not a SPAMD status line", status));
    };
    if !version.starts_with("SPAMD/") {
        return Err(protocol("not a SPAMD status line", status));
    }
    let code: u32 = code.parse().map_err(|_| protocol("not a SPAMD status line", status))?;
    if code != 0 {
        return Err(FilterError::Scanner(shown(status)));
    }
    if !head.complete {
        return Err(protocol("the reply ended inside its headers", head.lines.last().map_or(status, |l| l)));
    }

    let mut spam = None;
    let mut length = None;
    for line in &head.lines[1..] {
        // "Clients should ignore these [undefined headers], and keep
        // looking for headers which they do support."
        let Some((name, value)) = header_field(line) else {
            return Err(protocol("a header line without a colon", line));
        };
        if name.eq_ignore_ascii_case("Spam") {
            spam = Some(parse_spam(value).ok_or_else(|| protocol("a malformed Spam header", line))?);
        } else if name.eq_ignore_ascii_case("Content-length") {
            let n: usize = value.parse().map_err(|_| protocol("a malformed Content-length", line))?;
            if n > MAX_BODY {
                return Err(FilterError::TooLong(MAX_BODY));
            }
            length = Some(n);
        }
    }
    let Some((is_spam, score, threshold)) = spam else {
        return Err(protocol("no Spam header in the reply", status));
    };
    let body = match length {
        Some(n) => rx.read_exact(n).await?,
        None => rx.read_to_end(MAX_BODY).await?,
    };
    if !is_spam {
        return Ok(Verdict::Clean);
    }
    // "SYMBOLS command returns the same as CHECK, followed by a line listing
    // all the rule names, separated by commas" — with or without a final
    // CRLF, "clients should be flexible".
    let tests: Vec<String> = String::from_utf8_lossy(&body)
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    Ok(Verdict::Spam { score, threshold, headers: spam_headers(score, threshold, &tests), tests })
}

/// `True ; 15.0 / 5.0`: "a boolean if the message is spam (either True,
/// False, Yes, or No), followed by a ;, a floating point number
/// representing the score, followed by a /, and finally a floating point
/// number representing the threshold".
fn parse_spam(value: &str) -> Option<(bool, f64, f64)> {
    let (flag, numbers) = value.split_once(';')?;
    let is_spam = match flag.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" => true,
        "false" | "no" => false,
        _ => return None,
    };
    let (score, threshold) = numbers.split_once('/')?;
    let number = |s: &str| s.trim().parse::<f64>().ok().filter(|n| n.is_finite());
    Some((is_spam, number(score)?, number(threshold)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn reply(bytes: &'static [u8]) -> Result<Verdict, FilterError> {
        read_reply(BoundedReader::new(bytes)).await
    }

    #[test]
    fn request() {
        assert_eq!(request_head(None, 42), b"SYMBOLS SPAMC/1.5\r\nContent-length: 42\r\n\r\n");
        assert_eq!(
            request_head(Some("ann@example.org\r\nX: y"), 7),
            b"SYMBOLS SPAMC/1.5\r\nContent-length: 7\r\nUser: ann@example.orgXy\r\n\r\n"
        );
    }

    #[test]
    fn spam_header() {
        assert_eq!(parse_spam("True ; 1000.0 / 5.0"), Some((true, 1000.0, 5.0)));
        assert_eq!(parse_spam("False ; 2 / 5"), Some((false, 2.0, 5.0)));
        assert_eq!(parse_spam("Yes;-0.5/5"), Some((true, -0.5, 5.0)));
        assert_eq!(parse_spam("no ; 0.0 / 5.0"), Some((false, 0.0, 5.0)));
        for bad in ["True 15 / 5", "Maybe ; 1 / 5", "True ; x / 5", "True ; 1 5", "True ; NaN / 5", "True ; inf / 5"] {
            assert_eq!(parse_spam(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn replies() {
        let v = reply(
            b"SPAMD/1.1 0 EX_OK\r\nContent-length: 27\r\nSpam: True ; 1000.0 / 5.0\r\n\r\nGTUBE,NO_RECEIVED,NO_RELAYS",
        )
        .await
        .unwrap();
        let Verdict::Spam { score, threshold, tests, headers } = v else { panic!("{v:?}") };
        assert_eq!((score, threshold), (1000.0, 5.0));
        assert_eq!(tests, ["GTUBE", "NO_RECEIVED", "NO_RELAYS"]);
        assert_eq!(headers[2].value, "Yes, score=1000.0 required=5.0 tests=GTUBE, NO_RECEIVED, NO_RELAYS");

        // Older spamd ends the symbol line with CRLF; no Content-length.
        let v = reply(b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 15 / 5\r\nX-Unknown: ignored\r\n\r\nA,B\r\n").await.unwrap();
        assert!(matches!(v, Verdict::Spam { ref tests, .. } if tests == &["A", "B"]), "{v:?}");

        let v =
            reply(b"SPAMD/1.1 0 EX_OK\r\nContent-length: 9\r\nSpam: False ; 2.1 / 5.0\r\n\r\nTVD_SPACE").await.unwrap();
        assert_eq!(v, Verdict::Clean);
    }

    #[tokio::test]
    async fn errors() {
        let e = reply(b"SPAMD/1.0 76 Bad header line: (EOF)\r\n").await.unwrap_err();
        assert!(matches!(&e, FilterError::Scanner(s) if s == "SPAMD/1.0 76 Bad header line: (EOF)"), "{e}");

        for (bytes, what) in [
            (&b""[..], "the connection closed without a reply"),
            (b"HTTP/1.1 200 OK\r\n\r\n", "not a SPAMD status line"),
            (b"SPAMD/1.1 zero EX_OK\r\n\r\n", "not a SPAMD status line"),
            (b"SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n", "no Spam header in the reply"),
            (b"SPAMD/1.1 0 EX_OK\r\nSpam: sure\r\n\r\n", "a malformed Spam header"),
            (b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\n", "the reply ended inside its headers"),
            (b"SPAMD/1.1 0 EX_OK\r\ngarbage\r\n\r\n", "a header line without a colon"),
            (b"SPAMD/1.1 0 EX_OK\r\nContent-length: -1\r\nSpam: True ; 1 / 5\r\n\r\n", "a malformed Content-length"),
            (
                b"SPAMD/1.1 0 EX_OK\r\nContent-length: 10\r\nSpam: True ; 1 / 5\r\n\r\nshort",
                "the connection closed inside a body",
            ),
        ] {
            match reply(bytes).await {
                Err(FilterError::Protocol { what: w, .. }) => assert_eq!(w, what, "{bytes:?}"),
                other => panic!("{bytes:?}: {other:?}"),
            }
        }
        let e =
            reply(b"SPAMD/1.1 0 EX_OK\r\nContent-length: 99999999\r\nSpam: True ; 1 / 5\r\n\r\n").await.unwrap_err();
        assert!(matches!(e, FilterError::TooLong(MAX_BODY)), "{e}");
    }
}
