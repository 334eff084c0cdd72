//! The part tree: mail-parser finds the MIME structure and its offsets; this
//! turns them into [`Part`]s with byte ranges that always lie inside the
//! message and inside their parent, and decides what IMAP calls each part.
//!
//! Ranges follow RFC 2046 §5.1.1 as mail-parser does: the line break before a
//! boundary delimiter belongs to the delimiter, not to the part before it.

use std::panic::{self, AssertUnwindSafe};

use mail_parser::{Encoding, Message, MessageParser, PartType};

use crate::Part;
use crate::header;
use crate::mime_header::{MediaType, MimeHeader};

/// Deeper nesting is shown as a leaf. Besides guarding the recursion here,
/// this keeps the stored JSON under serde_json's nesting limit (128; a level
/// costs at most two).
pub(crate) const MAX_DEPTH: usize = 50;
/// Parts beyond this many are left out of the tree (their bytes stay in the
/// parent's body), like Dovecot's mime part limit.
pub(crate) const MAX_PARTS: usize = 10_000;

/// The part tree of a whole message.
pub(crate) fn tree(raw: &[u8]) -> Part {
    let len = raw.len() as u64;
    let mut b = Builder { raw, parts: 0 };
    // mail-parser's offsets are u32.
    if u32::try_from(raw.len()).is_ok() {
        // mail-parser is written not to panic, but it has debug assertions
        // and index arithmetic on hostile input; a message must be stored
        // whatever it holds, so a panic there falls back to a flat analysis.
        let parsed = panic::catch_unwind(AssertUnwindSafe(|| MessageParser::new().with_mime_headers().parse(raw)));
        if let Ok(Some(msg)) = parsed
            && !msg.parts.is_empty()
        {
            return b.message(&msg, (0, len), 0);
        }
    }
    b.flat_message((0, len), 0)
}

struct Builder<'r> {
    raw: &'r [u8],
    parts: usize,
}

fn clamp(v: u32, lo: u64, hi: u64) -> u64 {
    u64::from(v).max(lo).min(hi.max(lo))
}

fn count_lines(body: &[u8]) -> u64 {
    let newlines = body.iter().filter(|&&b| b == b'\n').count() as u64;
    newlines + u64::from(!body.is_empty() && !body.ends_with(b"\n"))
}

/// What IMAP calls a part mail-parser did not split or descend into.
fn leaf_type(declared: Option<MediaType>, in_digest: bool, encoding: &str) -> MediaType {
    // RFC 2046 §5.1.5: in a digest the default is message/rfc822.
    let t = declared.unwrap_or_else(|| {
        if in_digest { MediaType::new("message", "rfc822") } else { MediaType::new("text", "plain") }
    });
    if t.kind == "multipart" {
        // No boundary, or none found: the body is read as text, and a
        // multipart in BODYSTRUCTURE must have parts.
        return MediaType::new("text", "plain");
    }
    if t.is_message() && matches!(encoding, "base64" | "quoted-printable") {
        // RFC 2046 §5.2.1 forbids encoding message/rfc822; encoded, its parts
        // have no offsets in the raw message, and RFC 9051's grammar gives
        // MESSAGE/RFC822 only the envelope form. Show it as opaque data.
        return MediaType::new("application", "octet-stream");
    }
    t
}

impl Builder<'_> {
    fn slice(&self, r: (u64, u64)) -> &[u8] {
        self.raw.get(r.0 as usize..r.1 as usize).unwrap_or_default()
    }

    /// A message (the whole one, or one encapsulated in a message/rfc822
    /// part) filling `range`, whose top part is `msg.parts[0]`.
    fn message(&mut self, msg: &Message<'_>, range: (u64, u64), depth: usize) -> Part {
        let header_end = msg.parts.first().map_or(range.1, |top| clamp(top.offset_body, range.0, range.1));
        self.part(msg, 0, (range.0, header_end), range.1, depth, false)
    }

    fn part(
        &mut self,
        msg: &Message<'_>,
        id: usize,
        header: (u64, u64),
        end: u64,
        depth: usize,
        in_digest: bool,
    ) -> Part {
        self.parts += 1;
        let body = (header.1, end.max(header.1));
        let mime = MimeHeader::parse(self.slice(header));
        let encoding = mime.encoding.clone().unwrap_or_else(|| "7bit".into());
        let mut part =
            Part { header, body, content_type: String::new(), encoding, lines: 0, parts: Vec::new(), message: None };
        let deeper = depth < MAX_DEPTH && self.parts < MAX_PARTS;
        let Some(mp) = msg.parts.get(id) else {
            return self.finish_leaf(part, mime.content_type, in_digest, depth);
        };
        match &mp.body {
            PartType::Multipart(ids) if deeper && !ids.is_empty() => {
                let subtype = match &mime.content_type {
                    Some(t) if t.kind == "multipart" => t.subtype.clone(),
                    _ => "mixed".to_string(),
                };
                let digest = subtype == "digest";
                let mut prev = body.0;
                for &cid in ids {
                    let cid = cid as usize;
                    // Children come after their parent in mail-parser's list;
                    // anything else would be a loop.
                    if cid <= id || self.parts >= MAX_PARTS {
                        continue;
                    }
                    let Some(c) = msg.parts.get(cid) else { continue };
                    let start = clamp(c.offset_header, prev, body.1);
                    let header_end = clamp(c.offset_body, start, body.1);
                    let c_end =
                        if c.offset_end >= c.offset_body { clamp(c.offset_end, header_end, body.1) } else { body.1 };
                    let child = self.part(msg, cid, (start, header_end), c_end, depth + 1, digest);
                    part.parts.push(child);
                    prev = c_end;
                }
                if part.parts.is_empty() {
                    return self.finish_leaf(part, mime.content_type, in_digest, depth);
                }
                part.content_type = format!("multipart/{subtype}");
                part
            }
            // Only an unencoded message/rfc822 is parsed in place, with offsets
            // into the raw message; an encoded one is parsed from its decoded
            // bytes (leaf_type shows it as opaque).
            PartType::Message(inner) if deeper && mp.encoding == Encoding::None && !inner.parts.is_empty() => {
                let t = mime.content_type.filter(MediaType::is_message).unwrap_or(MediaType::new("message", "rfc822"));
                part.content_type = t.text();
                part.lines = count_lines(self.slice(body));
                part.message = Some(Box::new(self.message(inner, body, depth + 1)));
                part
            }
            _ => self.finish_leaf(part, mime.content_type, in_digest, depth),
        }
    }

    /// Types a part that has no children in the tree. A message/rfc822 that
    /// mail-parser did not descend into still gets an encapsulated message
    /// (split at its first blank line), as BODYSTRUCTURE needs one.
    fn finish_leaf(&mut self, mut part: Part, declared: Option<MediaType>, in_digest: bool, depth: usize) -> Part {
        part.parts.clear();
        let mut t = leaf_type(declared, in_digest, &part.encoding);
        if t.is_message() {
            if depth < MAX_DEPTH && self.parts < MAX_PARTS {
                part.message = Some(Box::new(self.flat_message(part.body, depth + 1)));
            } else {
                t = MediaType::new("application", "octet-stream");
            }
        }
        if t.kind == "text" || t.is_message() {
            part.lines = count_lines(self.slice(part.body));
        }
        part.content_type = t.text();
        part
    }

    /// A message split at its first blank line and not parsed further: the
    /// fallback when mail-parser cannot or did not parse it.
    fn flat_message(&mut self, range: (u64, u64), depth: usize) -> Part {
        self.parts += 1;
        let header_end = range.0 + header::header_len(self.slice(range)) as u64;
        let header = (range.0, header_end.min(range.1));
        let mime = MimeHeader::parse(self.slice(header));
        let part = Part {
            header,
            body: (header.1, range.1),
            content_type: String::new(),
            encoding: mime.encoding.clone().unwrap_or_else(|| "7bit".into()),
            lines: 0,
            parts: Vec::new(),
            message: None,
        };
        self.finish_leaf(part, mime.content_type, false, depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_counts() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a"), 1);
        assert_eq!(count_lines(b"a\r\n"), 1);
        assert_eq!(count_lines(b"a\r\nb"), 2);
        assert_eq!(count_lines(b"\r\n\r\n"), 2);
    }

    #[test]
    fn flat_fallback() {
        let p = Builder { raw: b"Subject: x\r\n\r\nbody", parts: 0 }.flat_message((0, 18), 0);
        assert_eq!((p.header, p.body, p.content_type.as_str(), p.lines), ((0, 14), (14, 18), "text/plain", 1));
    }
}
