//! Response syntax (RFC 9051 §7): strings, mailbox names, flag lists and
//! dates as the client must see them.

use atoll_message::imap_syntax;
use atoll_store::Flags;

pub use atoll_message::imap_syntax::{nstring, number};

/// An IMAP string: quoted when possible, a literal otherwise.
pub fn string(out: &mut Vec<u8>, s: &[u8], utf8: bool) {
    if utf8 { imap_syntax::string_utf8(out, s) } else { imap_syntax::string(out, s) }
}

/// A mailbox name: UTF-8 for a client that enabled UTF8=ACCEPT, modified
/// UTF-7 otherwise (RFC 9051 §5.1.3 / RFC 3501 §5.1.3).
pub fn mailbox(out: &mut Vec<u8>, name: &str, utf8: bool) {
    if utf8 {
        imap_syntax::string_utf8(out, name.as_bytes());
    } else {
        imap_syntax::string(out, super::mutf7::encode(name).as_bytes());
    }
}

pub fn flags(out: &mut Vec<u8>, f: &Flags) {
    out.push(b'(');
    for (i, n) in f.names().iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(n.as_bytes());
    }
    out.push(b')');
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `"dd-Mon-yyyy hh:mm:ss +0000"` (RFC 9051 `date-time`), in UTC.
pub fn date_time(t: i64) -> String {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "\"{d:02}-{}-{y:04} {:02}:{:02}:{:02} +0000\"",
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// (year, month, day) of a day count since 1970-01-01 (H. Hinnant).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
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
        assert_eq!(date_time(0), "\"01-Jan-1970 00:00:00 +0000\"");
        assert_eq!(date_time(1_800_000_000), "\"15-Jan-2027 08:00:00 +0000\"");
        assert_eq!(civil_from_days(super::super::parser::days_from_civil(2026, 11, 22)), (2026, 11, 22));
    }

    #[test]
    fn mailbox_names() {
        let mut out = Vec::new();
        mailbox(&mut out, "Entwürfe", false);
        assert_eq!(out, b"\"Entw&APw-rfe\"");
        out.clear();
        mailbox(&mut out, "Entwürfe", true);
        assert_eq!(out, "\"Entwürfe\"".as_bytes());
    }
}
