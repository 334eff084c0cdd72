//! Trace information a server adds to a message it takes in (RFC 5321
//! §4.4): `Return-Path` at final delivery and a `Received` line per hop.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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

/// What one Received line records.
pub struct Received<'a> {
    /// The name the client gave in HELO/EHLO/LHLO.
    pub helo: &'a str,
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
    /// `Received: from <helo> ([<ip>]) by <host> (atoll) with LMTP id <id>; <date>`
    /// (RFC 5321 §4.4; the address is an address-literal, `[IPv6:…]` for IPv6).
    pub fn header(&self) -> String {
        let peer = match self.peer {
            Some(IpAddr::V4(ip)) => format!("[{ip}]"),
            Some(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
                Some(v4) => format!("[{v4}]"),
                None => format!("[IPv6:{ip}]"),
            },
            None => "unknown".to_string(),
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

/// An RFC 5322 §3.3 date-time in UTC: `Sun, 22 Nov 2026 10:00:00 +0000`.
pub fn rfc5322_date(epoch: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = DAYS[(days + 4).rem_euclid(7) as usize];
    let month = MONTHS[(m - 1) as usize];
    format!("{weekday}, {d} {month} {y:04} {:02}:{:02}:{:02} +0000", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Howard Hinnant's days-to-civil algorithm: (year, month 1-12, day 1-31).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(rfc5322_date(1_795_341_600), "Sun, 22 Nov 2026 10:00:00 +0000");
    }

    #[test]
    fn received_line() {
        let r = Received {
            helo: "mx1.example.org",
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
        assert_eq!(return_path(""), "Return-Path: <>\r\n");
        assert_eq!(return_path("a@b\r\nX: y"), "Return-Path: <a@b??X: y>\r\n");
    }

    #[test]
    fn ids_differ() {
        let a = new_id();
        assert_eq!(a.len(), 16);
        assert_ne!(a, new_id());
    }
}
