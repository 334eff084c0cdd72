//! IMAP dates: `date` (`1-Feb-1994`, SEARCH) and `date-time`
//! (`"17-Jul-1996 02:44:25 -0700"`, APPEND and INTERNALDATE), RFC 9051 §9.
//! Times are seconds since the epoch (UTC); a SEARCH date is the epoch
//! second of that day's midnight, UTC.
//!
//! Parsing is strict (four-digit years, real calendar days, hours below 24),
//! so every accepted value fits the arithmetic below without overflow.

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Month number (1-12) of a three-letter name, any case (RFC 9051 `date-month`).
fn month_number(m: &[u8]) -> Option<u32> {
    MONTHS.iter().position(|x| x.as_bytes().eq_ignore_ascii_case(m)).and_then(|i| u32::try_from(i + 1).ok())
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |n, &d| n.checked_mul(10)?.checked_add(u32::from(d - b'0')))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub use atoll_message::date::{civil_from_days, days_from_civil};

/// `date-text` = `date-day "-" date-month "-" date-year` with a 1- or
/// 2-digit day (RFC 9051 §9): epoch seconds of that day's midnight, UTC.
pub fn parse_date(s: &[u8]) -> Option<i64> {
    let mut it = s.split(|&b| b == b'-');
    let (d, m, y) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || d.len() > 2 || y.len() != 4 {
        return None;
    }
    day_start(digits(d)?, month_number(m)?, digits(y)?)
}

fn day_start(day: u32, month: u32, year: u32) -> Option<i64> {
    let year = i64::from(year);
    if year == 0 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86400)
}

/// The inside of a `date-time` (RFC 9051 §9), without its quotes:
/// `date-day-fixed "-" date-month "-" date-year SP time SP zone`, where
/// `date-day-fixed` is two digits or a space and one digit.
pub fn parse_date_time(s: &[u8]) -> Option<i64> {
    if s.len() != 26 {
        return None;
    }
    let day = match (s[0], s[1]) {
        (b' ', d) => digits(&[d])?,
        _ => digits(&s[0..2])?,
    };
    if s[2] != b'-' || s[6] != b'-' || s[11] != b' ' || s[20] != b' ' {
        return None;
    }
    let midnight = day_start(day, month_number(&s[3..6])?, digits(&s[7..11])?)?;
    if s[14] != b':' || s[17] != b':' {
        return None;
    }
    let (h, m, sec) = (digits(&s[12..14])?, digits(&s[15..17])?, digits(&s[18..20])?);
    // 60 is a leap second.
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let sign = match s[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (zh, zm) = (digits(&s[22..24])?, digits(&s[24..26])?);
    if zm > 59 {
        return None;
    }
    let local = midnight + i64::from(h * 3600 + m * 60 + sec);
    Some(local - sign * i64::from(zh * 3600 + zm * 60))
}

/// `"dd-Mon-yyyy hh:mm:ss +zzzz"` (RFC 9051 `date-time`, with its quotes)
/// in the zone `offset_minutes` east of UTC.
pub fn format_date_time(t: i64, offset_minutes: i32) -> String {
    let local = t.saturating_add(i64::from(offset_minutes) * 60);
    let (y, m, d) = civil_from_days(local.div_euclid(86400));
    let secs = local.rem_euclid(86400);
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.unsigned_abs();
    let month = MONTHS.get(m.saturating_sub(1) as usize).copied().unwrap_or("Jan");
    format!(
        "\"{d:02}-{month}-{y:04} {:02}:{:02}:{:02} {sign}{:02}{:02}\"",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        off / 60,
        off % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date(b"1-Feb-1994"), Some(days_from_civil(1994, 2, 1) * 86400));
        assert_eq!(parse_date(b"01-feb-1994"), parse_date(b"1-Feb-1994"));
        assert_eq!(parse_date(b"29-Feb-2024"), Some(days_from_civil(2024, 2, 29) * 86400));
        for bad in [
            &b"29-Feb-2023"[..],
            b"31-Apr-2020",
            b"0-Jan-2020",
            b"1-Jan-0000",
            b"1-Foo-2020",
            b"1-Jan-20",
            b"1-Jan-20200",
            b"123-Jan-2020",
            b"1-Jan-2020-1",
            b"",
            b"-1-Jan-2020",
            b"+1-Jan-2020",
        ] {
            assert_eq!(parse_date(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn date_times() {
        let base = days_from_civil(1996, 7, 17) * 86400 + 2 * 3600 + 44 * 60 + 25;
        assert_eq!(parse_date_time(b"17-Jul-1996 02:44:25 -0700"), Some(base + 7 * 3600));
        assert_eq!(parse_date_time(b" 7-Jul-1996 02:44:25 +0000"), Some(base - 10 * 86400));
        assert_eq!(parse_date_time(b"07-Jul-1996 02:44:25 +0000"), Some(base - 10 * 86400));
        for bad in [
            &b"17-Jul-1996 24:00:00 +0000"[..],
            b"17-Jul-1996 02:60:00 +0000",
            b"17-Jul-1996 02:44:25 0000",
            b"17-Jul-1996 02:44:25 +0060",
            b"17-Jul-1996 -2:44:25 +0000",
            b"17-Jul-1996 02:44:25 +00000",
            b"7-Jul-1996 02:44:25 +0000",
            b"31-Jun-1996 02:44:25 +0000",
            b"17-Jul-99999 02:44:25 +0000",
        ] {
            assert_eq!(parse_date_time(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_date_time(0, 0), "\"01-Jan-1970 00:00:00 +0000\"");
        assert_eq!(format_date_time(1_800_000_000, 0), "\"15-Jan-2027 08:00:00 +0000\"");
        assert_eq!(format_date_time(0, -420), "\"31-Dec-1969 17:00:00 -0700\"");
        assert_eq!(format_date_time(0, 330), "\"01-Jan-1970 05:30:00 +0530\"");
        // Whatever is written parses back to the same instant.
        for t in [0, 1, 86399, 951_782_400, 1_700_000_000, -86_400 * 365] {
            for off in [0, -420, 60, 765] {
                let s = format_date_time(t, off);
                assert_eq!(parse_date_time(&s.as_bytes()[1..s.len() - 1]), Some(t), "{s}");
            }
        }
        assert_eq!(civil_from_days(days_from_civil(2026, 11, 22)), (2026, 11, 22));
    }
}
