//! Replies: a three-digit code (RFC 5321 §4.2), an enhanced status code
//! (RFC 3463, announced with ENHANCEDSTATUSCODES, RFC 2034) and one line of
//! text. Written with smtp-proto's `Response` and `EhloResponse` writers.

use std::borrow::Cow;
use std::fmt;

use smtp_proto::{EhloResponse, Response};

/// One reply line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// class.subject.detail, RFC 3463 §2; `[0, 0, 0]` for none (354 and
    /// the greeting carry none, RFC 2034 §3).
    pub status: [u8; 3],
    pub text: Cow<'static, str>,
}

/// A command this server knows but does not offer (RFC 5321 §4.2.4).
pub const NOT_IMPLEMENTED: Reply = Reply::new(502, [5, 5, 1], "command not implemented");

/// The spool could not take the message (RFC 5321 §4.2.2: 451, local
/// error in processing): the client keeps it and tries again.
pub const QUEUE_FAILED: Reply = Reply::new(451, [4, 3, 0], "local error in processing, try again later");

/// RCPT accepted (RFC 3463 §3.2: X.1.5 destination address valid).
pub const RCPT_OK: Reply = Reply::new(250, [2, 1, 5], "recipient OK");

/// Longest reply text we send. RFC 5321 §4.5.3.1.5 caps a reply line at 512
/// octets with the code and CRLF; the enhanced code takes 10 more.
const MAX_TEXT: usize = 480;

impl Reply {
    pub const fn new(code: u16, status: [u8; 3], text: &'static str) -> Reply {
        Reply { code, status, text: Cow::Borrowed(text) }
    }

    /// A reply whose text is built at run time (it may quote an address or
    /// an error): control characters are replaced, so nothing a client or
    /// the directory says can end the line early or inject another reply.
    pub fn with_text(code: u16, status: [u8; 3], text: impl AsRef<str>) -> Reply {
        Reply { code, status, text: Cow::Owned(clean(text.as_ref())) }
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// Appends the reply line, CRLF included, to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        if self.status == [0, 0, 0] {
            out.extend_from_slice(format!("{} {}\r\n", self.code, self.text).as_bytes());
            return;
        }
        let [class, subject, detail] = self.status;
        // Writing into a Vec cannot fail.
        let _ = Response::new(self.code, class, subject, detail, self.text.as_ref()).write(out);
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.status == [0, 0, 0] {
            return write!(f, "{} {}", self.code, self.text);
        }
        let [class, subject, detail] = self.status;
        write!(f, "{} {class}.{subject}.{detail} {}", self.code, self.text)
    }
}

fn clean(text: &str) -> String {
    let mut out: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if out.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}

/// The greeting, `220 <hostname> <text>`. It carries no enhanced status
/// code: the client has not been told about ENHANCEDSTATUSCODES yet
/// (RFC 2034 §3 applies them to replies after EHLO/LHLO).
pub fn greeting(hostname: &str, text: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("220 {} {}\r\n", clean(hostname), clean(text)).as_bytes());
}

/// The answer to EHLO or LHLO (RFC 5321 §4.1.1.1, RFC 2033 §4.1): the
/// hostname, then one line per extension in `capabilities` (smtp-proto's
/// `EXT_*` bits); `mechanisms` are the SASL mechanisms (`AUTH_*` bits) for
/// an AUTH line (RFC 4954 §3), 0 for none; `size` is the SIZE limit
/// (RFC 1870), 0 for none given.
pub fn hello(hostname: &str, mut capabilities: u32, mechanisms: u64, size: usize, out: &mut Vec<u8>) {
    let hostname = clean(hostname);
    if mechanisms != 0 {
        capabilities |= smtp_proto::EXT_AUTH;
    }
    if capabilities == 0 {
        out.extend_from_slice(format!("250 {hostname}\r\n").as_bytes());
        return;
    }
    let mut r = EhloResponse::new(hostname.as_str());
    r.capabilities = capabilities;
    r.auth_mechanisms = mechanisms;
    r.size = size;
    let mut lines = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = r.write(&mut lines);
    // smtp-proto's first line carries a fixed greeting text; ours names the
    // host only. The extension lines that follow are its.
    let first_end = lines.windows(2).position(|w| w == b"\r\n").map(|p| p + 2).unwrap_or(lines.len());
    out.extend_from_slice(format!("250-{hostname}\r\n").as_bytes());
    out.extend_from_slice(&lines[first_end..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtp_proto::{EXT_8BIT_MIME, EXT_CHUNKING, EXT_ENHANCED_STATUS_CODES, EXT_PIPELINING, EXT_SIZE};

    fn written(r: &Reply) -> String {
        let mut out = Vec::new();
        r.write(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn reply_lines() {
        assert_eq!(written(&Reply::new(250, [2, 1, 5], "OK")), "250 2.1.5 OK\r\n");
        assert_eq!(written(&Reply::new(452, [4, 5, 3], "too many recipients")), "452 4.5.3 too many recipients\r\n");
        assert_eq!(Reply::new(550, [5, 1, 1], "no such user").to_string(), "550 5.1.1 no such user");
        assert_eq!(written(&Reply::new(354, [0, 0, 0], "go ahead")), "354 go ahead\r\n");
        assert!(Reply::new(250, [2, 0, 0], "").is_positive());
        assert!(!Reply::new(451, [4, 3, 0], "").is_positive());
    }

    #[test]
    fn run_time_text_cannot_break_the_line() {
        let r = Reply::with_text(550, [5, 1, 1], "<evil@x>\r\n250 2.0.0 fake");
        assert_eq!(written(&r), "550 5.1.1 <evil@x>  250 2.0.0 fake\r\n");
        let long = Reply::with_text(451, [4, 3, 0], "é".repeat(400));
        let line = written(&long);
        assert!(line.len() <= 512, "{}", line.len());
        assert!(line.ends_with("é\r\n"));
    }

    #[test]
    fn greeting_and_hello() {
        let mut out = Vec::new();
        greeting("mx.example.org", "LMTP atoll ready", &mut out);
        assert_eq!(out, b"220 mx.example.org LMTP atoll ready\r\n");

        let mut out = Vec::new();
        let caps = EXT_PIPELINING | EXT_ENHANCED_STATUS_CODES | EXT_8BIT_MIME | EXT_SIZE | EXT_CHUNKING;
        hello("store1", caps, 0, 52_428_800, &mut out);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.split_terminator("\r\n").collect();
        assert_eq!(lines[0], "250-store1");
        let mut rest: Vec<&str> = lines[1..].iter().map(|l| &l[4..]).collect();
        rest.sort();
        assert_eq!(rest, ["8BITMIME", "CHUNKING", "ENHANCEDSTATUSCODES", "PIPELINING", "SIZE 52428800"]);
        assert!(lines[1..lines.len() - 1].iter().all(|l| l.starts_with("250-")), "{text}");
        assert!(lines[lines.len() - 1].starts_with("250 "), "{text}");

        let mut out = Vec::new();
        hello("store1", 0, 0, 0, &mut out);
        assert_eq!(out, b"250 store1\r\n");

        // RFC 4954 §3: the AUTH line lists the mechanisms.
        let mut out = Vec::new();
        hello("sub1", EXT_PIPELINING, smtp_proto::AUTH_PLAIN | smtp_proto::AUTH_LOGIN, 0, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("250-AUTH ") || text.contains("250 AUTH "), "{text}");
        assert!(text.contains("PLAIN") && text.contains("LOGIN"), "{text}");
    }
}
