//! Calendar arithmetic for the protocols' dates: epoch seconds to and from
//! civil dates (UTC), and the RFC 5322 date-time of trace headers. IMAP's
//! own date syntax is in atoll-imap; this is what they share.

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
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
    // Both are small and positive by construction (1..=31, 1..=12).
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
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

/// The calendar day of a Date: field value as written, in its own zone
/// (time of day and zone ignored), as epoch seconds of that day's 00:00 UTC;
/// None when it is not a date. RFC 3501 §6.4.4 / RFC 9051 §6.4.4:
/// SENTBEFORE, SENTON and SENTSINCE compare "the date-part of the Date:
/// header", not the instant converted to UTC.
pub fn written_day(value: &[u8]) -> Option<i64> {
    use mail_parser::HeaderValue;
    use mail_parser::parsers::MessageStream;
    use std::panic::{self, AssertUnwindSafe};
    let mut buf = crate::header::unfold(value);
    buf.push(b'\n');
    let parsed = panic::catch_unwind(AssertUnwindSafe(|| MessageStream::new(&buf).parse_date())).ok()?;
    match parsed {
        HeaderValue::DateTime(dt) if dt.is_valid() => {
            Some(days_from_civil(i64::from(dt.year), u32::from(dt.month), u32::from(dt.day)) * 86_400)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_day_ignores_zone() {
        // RFC 3501 §6.4.4: the date as written, not converted to UTC.
        let day = |y, m, d| Some(days_from_civil(y, m, d) * 86_400);
        assert_eq!(written_day(b"Sat, 24 Mar 2007 23:00:00 +0200"), day(2007, 3, 24));
        assert_eq!(written_day(b"Sun, 25 Mar 2007 00:00:00 +0200"), day(2007, 3, 25));
        assert_eq!(written_day(b"Sun, 28 Oct 2007 23:00:00 -0800"), day(2007, 10, 28));
        assert_eq!(written_day(b" Mon, 29 Oct 2007\r\n 00:00:00 +0200"), day(2007, 10, 29));
        assert_eq!(written_day(b"soon"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(rfc5322_date(1_795_341_600), "Sun, 22 Nov 2026 10:00:00 +0000");
    }

    #[test]
    fn civil_round_trip() {
        for days in [-719_468, -1, 0, 11_016, 20_779, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
