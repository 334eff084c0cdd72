//! Response syntax (RFC 9051 §7, §9): status lines with response codes,
//! continuation requests, strings (quoted when safe, else literals),
//! mailbox names, flag lists, sequence sets, dates and ESEARCH.
//!
//! Everything appends to a `Vec<u8>`: the session gathers a command's
//! answers in one buffer and writes them at once.

mod code;

use atoll_message::imap_syntax;
use atoll_store::Flags;

pub use atoll_message::imap_syntax::{nstring, number};
pub use code::ResponseCode;

use super::datetime;
pub use super::sequence::{compress, compress_in_order};

/// The status of a status response (RFC 9051 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
    /// Greeting only.
    Preauth,
    /// Untagged only: the server is closing the connection.
    Bye,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::Preauth => "PREAUTH",
            Status::Bye => "BYE",
        }
    }
}

/// `tag SP status SP ["[" code "]" SP] text CRLF`, or `*` without a tag.
/// The text loses any CR or LF (RFC 9051 `text` holds neither), and an
/// empty text becomes "completed": IMAP4rev1's `resp-text` needs one.
pub fn status_line(out: &mut Vec<u8>, tag: Option<&str>, status: Status, code: Option<&ResponseCode>, text: &str) {
    out.extend_from_slice(tag.unwrap_or("*").as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    if let Some(code) = code {
        out.push(b'[');
        out.extend_from_slice(code.to_string().as_bytes());
        out.extend_from_slice(b"] ");
    }
    let text = if text.is_empty() { "completed" } else { text };
    out.extend(text.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
    out.extend_from_slice(b"\r\n");
}

/// A tagged status response.
pub fn tagged(out: &mut Vec<u8>, tag: &str, status: Status, code: Option<&ResponseCode>, text: &str) {
    status_line(out, Some(tag), status, code, text);
}

/// An untagged status response (`* OK [UIDNEXT 5] …`, `* BYE …`).
pub fn untagged(out: &mut Vec<u8>, status: Status, code: Option<&ResponseCode>, text: &str) {
    status_line(out, None, status, code, text);
}

/// A continuation request: `+ text CRLF` (RFC 9051 §7.5); for SASL the
/// text is the base64 challenge, possibly empty.
pub fn continuation(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"+ ");
    out.extend(text.bytes().filter(|&b| b != b'\r' && b != b'\n'));
    out.extend_from_slice(b"\r\n");
}

/// An IMAP string: quoted when possible, a literal otherwise. With
/// `utf8` (UTF8=ACCEPT or IMAP4rev2 enabled) UTF-8 may be quoted; else
/// only 7-bit text is.
pub fn string(out: &mut Vec<u8>, s: &[u8], utf8: bool) {
    if utf8 { imap_syntax::string_utf8(out, s) } else { imap_syntax::string(out, s) }
}

/// An astring: a bare atom when every byte may be in one (and it is not
/// `NIL`, which would read as nothing in an nstring position), else a
/// string.
pub fn astring(out: &mut Vec<u8>, s: &[u8], utf8: bool) {
    let atom = !s.is_empty() && s.iter().all(|&b| super::parser::is_astring_char(b)) && !s.eq_ignore_ascii_case(b"NIL");
    if atom {
        out.extend_from_slice(s);
    } else {
        string(out, s, utf8);
    }
}

/// `{n}\r\n` and the bytes: for bodies and anything with line breaks or
/// 8-bit data. A literal cannot hold NUL (RFC 9051 `CHAR8`); use
/// [`literal8`] for binary content.
pub fn literal(out: &mut Vec<u8>, s: &[u8]) {
    literal_header(out, s.len() as u64, false);
    out.extend_from_slice(s);
}

/// `~{n}\r\n` and the bytes: BINARY's literal8 (RFC 3516 §4.2), which may
/// hold NUL.
pub fn literal8(out: &mut Vec<u8>, s: &[u8]) {
    literal_header(out, s.len() as u64, true);
    out.extend_from_slice(s);
}

/// Only the `{n}\r\n` (or `~{n}\r\n`) of a literal, for a body that is
/// streamed after it.
pub fn literal_header(out: &mut Vec<u8>, len: u64, binary: bool) {
    if binary {
        out.push(b'~');
    }
    out.push(b'{');
    number(out, len);
    out.extend_from_slice(b"}\r\n");
}

/// A mailbox name: UTF-8 for a client that enabled UTF8=ACCEPT or
/// IMAP4rev2, modified UTF-7 otherwise (RFC 9051 §5.1, RFC 3501 §5.1.3).
/// Always a string, so that names like `NIL` or `a b` stay names.
pub fn mailbox(out: &mut Vec<u8>, name: &str, utf8: bool) {
    if utf8 {
        imap_syntax::string_utf8(out, name.as_bytes());
    } else {
        imap_syntax::string(out, super::mutf7::encode(name).as_bytes());
    }
}

/// `(\Seen $Work)` from the store's flags.
pub fn flags(out: &mut Vec<u8>, f: &Flags) {
    flag_list(out, f.names().iter().map(String::as_str));
}

/// A message's FLAGS with `\Recent` first when it is recent in this
/// session (RFC 3501 §2.3.2: a session-only flag, not stored).
pub fn flags_recent(out: &mut Vec<u8>, f: &Flags, recent: bool) {
    let names = f.names();
    let recent = recent.then_some("\\Recent");
    flag_list(out, recent.into_iter().chain(names.iter().map(String::as_str)));
}

/// `(a b c)`; flags are atoms (or `\atom`), written as given.
pub fn flag_list<'a>(out: &mut Vec<u8>, flags: impl IntoIterator<Item = &'a str>) {
    out.push(b'(');
    for (i, f) in flags.into_iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(f.as_bytes());
    }
    out.push(b')');
}

/// `"dd-Mon-yyyy hh:mm:ss +0000"` (RFC 9051 `date-time`, quoted), in UTC.
pub fn date_time(t: i64) -> String {
    datetime::format_date_time(t, 0)
}

/// `date-time` in the zone `offset_minutes` east of UTC (the zone the
/// client gave in APPEND, for instance).
pub fn date_time_in(t: i64, offset_minutes: i32) -> String {
    datetime::format_date_time(t, offset_minutes)
}

pub use super::datetime::civil_from_days;

/// The results of an extended SEARCH (RFC 4731 §3.1, RFC 9051 §7.3.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Esearch<'a> {
    /// The command's tag, for `(TAG "…")`.
    pub tag: &'a str,
    pub uid: bool,
    pub min: Option<u32>,
    pub max: Option<u32>,
    /// Every match; written as a compressed sequence set, left out when
    /// empty (RFC 4731 §3.1: ALL is not returned for no match).
    pub all: Option<&'a [u32]>,
    pub count: Option<u32>,
    /// The highest mod-sequence of the matches (RFC 7162 §3.1.5).
    pub modseq: Option<u64>,
}

/// `* ESEARCH (TAG "A282") [UID] [MIN n] [MAX n] [ALL set] [COUNT n]
/// [MODSEQ n]` CRLF.
pub fn esearch(out: &mut Vec<u8>, e: &Esearch) {
    out.extend_from_slice(b"* ESEARCH (TAG ");
    imap_syntax::string(out, e.tag.as_bytes());
    out.push(b')');
    if e.uid {
        out.extend_from_slice(b" UID");
    }
    let mut item = |name: &str, value: String| {
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        out.extend_from_slice(value.as_bytes());
    };
    if let Some(n) = e.min {
        item("MIN", n.to_string());
    }
    if let Some(n) = e.max {
        item("MAX", n.to_string());
    }
    if let Some(all) = e.all.filter(|a| !a.is_empty()) {
        item("ALL", compress(all));
    }
    if let Some(n) = e.count {
        item("COUNT", n.to_string());
    }
    if let Some(n) = e.modseq {
        item("MODSEQ", n.to_string());
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests;
