//! What IMAP SEARCH (RFC 9051 §6.4.4) matches against: decoded header values
//! and decoded body text (see also [`crate::SearchHeader`]). The caller does
//! the case-insensitive substring matching.
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

pub(crate) fn decode_value(value: &[u8]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_decoded_and_unfolded() {
        let raw = b"Subject: =?utf-8?q?J=C3=B6rg?=\r\n says hi\r\nTo: a@b\r\nsubject: caf\xe9\r\n\r\nSubject: body\r\n";
        assert_eq!(header_values(raw, "SUBJECT"), ["J\u{f6}rg says hi", "caf\u{e9}"]);
        assert_eq!(header_values(raw, "to"), ["a@b"]);
        assert!(header_values(raw, "cc").is_empty());
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
