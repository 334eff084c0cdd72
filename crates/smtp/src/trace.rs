//! Trace information a server adds to a message it takes in (RFC 5321
//! §4.4): `Return-Path` at final delivery and a `Received` line per hop.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use atoll_message::date::rfc5322_date;

/// A short random id for one transaction, shown in the Received line and
/// in the logs so that the two can be matched.
pub fn new_id() -> String {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // Unique enough for a log line if the system has no randomness.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed) ^ now_nanos();
        b = n.to_be_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

pub fn now_epoch() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// `Return-Path: <sender>` (RFC 5321 §4.4: added by the server that makes
/// the final delivery; `<>` for the null sender of a bounce).
pub fn return_path(sender: &str) -> String {
    format!("Return-Path: <{}>\r\n", header_safe(sender))
}

/// `Delivered-To: <address>` (RFC 9228) after the Return-Path line of
/// `raw` (the order Postfix's local delivery uses), for a copy that goes into exactly
/// one mailbox. A copy shared by several mailboxes of an island (one body,
/// content-addressed) gets none: the header would make every copy
/// different. Forwarded copies carry it too, where it stops loops.
pub fn with_delivered_to(raw: &[u8], address: &str) -> Vec<u8> {
    let field = format!("Delivered-To: {}\r\n", header_safe(address));
    let at = if raw.starts_with(b"Return-Path:") { memchr::memchr(b'\n', raw).map_or(0, |i| i + 1) } else { 0 };
    let mut out = Vec::with_capacity(raw.len() + field.len());
    out.extend_from_slice(&raw[..at]);
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(&raw[at..]);
    out
}

/// What one Received line records.
pub struct Received<'a> {
    /// The name the client gave in HELO/EHLO/LHLO.
    pub helo: &'a str,
    /// The client's host name as reverse DNS confirmed it, if looked up.
    pub hostname: Option<&'a str>,
    pub peer: Option<IpAddr>,
    /// This server's name.
    pub by: &'a str,
    /// The with-protocol (RFC 3848: "LMTP", "ESMTP", "ESMTPS", …).
    pub protocol: &'a str,
    pub id: &'a str,
    /// Epoch seconds.
    pub time: i64,
}

impl Received<'_> {
    /// The header, folded, CRLF included:
    /// `Received: from <helo> (<hostname> [<ip>]) by <host> (atoll) with LMTP id <id>; <date>`
    /// (RFC 5321 §4.4: the TCP-info is the verified host name, when there
    /// is one, and the address-literal, `[IPv6:…]` for IPv6).
    pub fn header(&self) -> String {
        let peer = match self.peer.map(atoll_dns::canonical_ip) {
            Some(IpAddr::V4(ip)) => format!("[{ip}]"),
            Some(IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
            None => "unknown".to_string(),
        };
        let peer = match self.hostname {
            Some(name) => format!("{} {peer}", domain_safe(name)),
            None => peer,
        };
        format!(
            "Received: from {} ({peer})\r\n\tby {} (atoll) with {} id {};\r\n\t{}\r\n",
            domain_safe(self.helo),
            domain_safe(self.by),
            self.protocol,
            self.id,
            rfc5322_date(self.time),
        )
    }
}

/// A client-supplied name as it may appear in a header: printable ASCII
/// without the characters that would end a comment or the clause.
fn domain_safe(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_ascii_graphic() && !matches!(c, '(' | ')' | ';' | '\\' | '"') { c } else { '?' })
        .collect();
    if s.is_empty() { "unknown".into() } else { s }
}

/// A header value taken from the envelope: no line breaks.
fn header_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_line() {
        let r = Received {
            helo: "mx1.example.org",
            hostname: None,
            peer: Some("192.0.2.7".parse().unwrap()),
            by: "store1",
            protocol: "LMTP",
            id: "00ff",
            time: 0,
        };
        assert_eq!(
            r.header(),
            "Received: from mx1.example.org ([192.0.2.7])\r\n\tby store1 (atoll) with LMTP id 00ff;\r\n\t\
             Thu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
        let r = Received { helo: "evil)\r\nX-Injected: 1", peer: Some("2001:db8::1".parse().unwrap()), ..r };
        let h = r.header();
        assert!(h.starts_with("Received: from evil???X-Injected:?1 ([IPv6:2001:db8::1])\r\n"), "{h}");
        assert_eq!(h.matches("\r\n").count(), 3);
        let r = Received {
            helo: "client",
            hostname: Some("mail.example.net"),
            peer: Some("192.0.2.7".parse().unwrap()),
            ..r
        };
        assert!(r.header().starts_with("Received: from client (mail.example.net [192.0.2.7])\r\n"), "{}", r.header());
        assert_eq!(return_path(""), "Return-Path: <>\r\n");
        assert_eq!(return_path("a@b\r\nX: y"), "Return-Path: <a@b??X: y>\r\n");
    }

    #[test]
    fn delivered_to_goes_after_return_path() {
        assert_eq!(
            with_delivered_to(b"Return-Path: <a@b>\r\nSubject: x\r\n\r\n", "ann@example.org"),
            b"Return-Path: <a@b>\r\nDelivered-To: ann@example.org\r\nSubject: x\r\n\r\n"
        );
        assert_eq!(with_delivered_to(b"Subject: x\r\n", "x\r\ny"), b"Delivered-To: x??y\r\nSubject: x\r\n");
    }

    #[test]
    fn ids_differ() {
        let a = new_id();
        assert_eq!(a.len(), 16);
        assert_ne!(a, new_id());
    }
}
