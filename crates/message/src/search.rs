//! What IMAP SEARCH (RFC 9051 §6.4.4) matches against: decoded header values
//! and decoded body text, and the sent date. The caller does the
//! case-insensitive substring matching.
//!
//! Unlike FETCH, SEARCH on message text has to read the body, so this parses
//! the message (mail-parser decodes transfer encodings and converts
//! charsets to UTF-8).

use std::panic::{self, AssertUnwindSafe};

use mail_parser::parsers::MessageStream;
use mail_parser::{HeaderValue, Message, MessageParser, PartType};

use crate::analyse::MAX_DEPTH;
use crate::header;

/// The values of every field `name` in the message's top-level header,
/// unfolded, with RFC 2047 encoded words decoded. Raw 8-bit values that are
/// not UTF-8 are read as Latin-1, so they still match what the user typed.
pub fn header_values(raw: &[u8], name: &str) -> Vec<String> {
    let block = &raw[..header::header_len(raw)];
    header::split(block).fields.iter().filter(|f| f.is(name)).map(|f| decode_value(f.value)).collect()
}

/// Every field of the message's top-level header as (name in lowercase,
/// value as [`header_values`] gives it), in order: parsed once and kept,
/// so a SEARCH on several fields or repeated searches split nothing again.
pub fn header_fields(raw: &[u8]) -> Vec<(String, String)> {
    let block = &raw[..header::header_len(raw)];
    header::split(block)
        .fields
        .iter()
        .map(|f| (String::from_utf8_lossy(f.name).to_ascii_lowercase(), decode_value(f.value)))
        .collect()
}

fn decode_value(value: &[u8]) -> String {
    let text = match std::str::from_utf8(value) {
        Ok(s) => s.to_owned(),
        Err(_) => value.iter().map(|&b| char::from(b)).collect(),
    };
    let mut buf = text.into_bytes();
    // mail-parser reads a value up to the line break that ends the field.
    buf.push(b'\n');
    let decoded = panic::catch_unwind(AssertUnwindSafe(|| match MessageStream::new(&buf).parse_unstructured() {
        HeaderValue::Text(t) => t.into_owned(),
        _ => String::new(),
    }));
    decoded.unwrap_or_else(|_| String::from_utf8_lossy(header::trim(value)).into_owned())
}

/// The decoded text of every text/* part (and of parts mail-parser could
/// only read as text), transfer encoding undone and converted to UTF-8,
/// with the headers of encapsulated messages: what SEARCH BODY looks in.
/// SEARCH TEXT is the top-level header plus this.
pub fn search_text(raw: &[u8]) -> String {
    let parsed = panic::catch_unwind(AssertUnwindSafe(|| MessageParser::new().with_mime_headers().parse(raw)));
    let mut out = String::new();
    match parsed {
        Ok(Some(msg)) => collect(raw, &msg, &mut out, 0),
        _ => out.push_str(&String::from_utf8_lossy(&raw[header::header_len(raw)..])),
    }
    out
}

fn collect(raw: &[u8], msg: &Message<'_>, out: &mut String, depth: usize) {
    for p in &msg.parts {
        match &p.body {
            PartType::Text(t) | PartType::Html(t) => {
                out.push_str(t);
                out.push('\n');
            }
            PartType::Message(inner) if depth < MAX_DEPTH => {
                // An unencoded encapsulated message shares offsets with `raw`;
                // an encoded one was parsed from its decoded bytes.
                let source: &[u8] = if p.encoding == mail_parser::Encoding::None { raw } else { &inner.raw_message };
                if let Some(top) = inner.parts.first() {
                    let block = source.get(top.offset_header as usize..top.offset_body as usize).unwrap_or_default();
                    for f in header::split(block).fields {
                        out.push_str(&String::from_utf8_lossy(f.name));
                        out.push_str(": ");
                        out.push_str(&decode_value(f.value));
                        out.push('\n');
                    }
                }
                collect(raw, inner, out, depth + 1);
            }
            _ => {}
        }
    }
}

/// The Date: field as seconds since the epoch (SEARCH SENTBEFORE, SENTON,
/// SENTSINCE), None when absent or not a date.
pub(crate) fn sent_date(block: &[u8]) -> Option<i64> {
    let h = header::split(block);
    let mut buf = header::unfold(h.first("Date")?.value);
    buf.push(b'\n');
    let parsed = panic::catch_unwind(AssertUnwindSafe(|| MessageStream::new(&buf).parse_date())).ok()?;
    match parsed {
        HeaderValue::DateTime(dt) if dt.is_valid() => Some(dt.to_timestamp()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_agree_with_header_values() {
        let raw = b"From: =?utf-8?q?J=C3=B6rg?= <j@example.org>\r\nSubject: one\r\n two\r\nX-A: 1\r\nx-a: 2\r\n\r\nFrom: not a header\r\n";
        let fields = header_fields(raw);
        assert_eq!(fields.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["from", "subject", "x-a", "x-a"]);
        for name in ["From", "SUBJECT", "x-A", "Missing"] {
            let from_fields: Vec<String> =
                fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()).collect();
            assert_eq!(from_fields, header_values(raw, name), "{name}");
        }
    }

    #[test]
    fn header_values_are_decoded_and_unfolded() {
        let raw = b"Subject: =?utf-8?q?J=C3=B6rg?=\r\n says hi\r\nTo: a@b\r\nsubject: caf\xe9\r\n\r\nSubject: body\r\n";
        assert_eq!(header_values(raw, "SUBJECT"), ["J\u{f6}rg says hi", "caf\u{e9}"]);
        assert_eq!(header_values(raw, "to"), ["a@b"]);
        assert!(header_values(raw, "cc").is_empty());
    }

    #[test]
    fn dates() {
        let d = |s: &[u8]| sent_date(s);
        assert_eq!(d(b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\n"), Some(760_686_745));
        assert_eq!(d(b"Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n\r\n"), Some(0));
        assert_eq!(d(b"Date: soon\r\n\r\n"), None);
        assert_eq!(d(b"Subject: x\r\n\r\n"), None);
    }

    #[test]
    fn text_of_every_text_part() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9\r\n--b\r\nContent-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nnested text\r\n--b--\r\n";
        let t = search_text(raw);
        assert!(t.contains("caf\u{e9}"), "{t}");
        assert!(t.contains("Subject: inner"), "{t}");
        assert!(t.contains("nested text"), "{t}");
    }
}
