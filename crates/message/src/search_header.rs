//! A message header in the form SEARCH matches against (RFC 9051 §6.4.4):
//! every field decoded once and lowercased once, so matching a key against
//! a mailbox of 10,000 messages allocates nothing and lowercases nothing
//! per message. The island keeps one per body in memory.

use crate::header;
use crate::search::decode_value;

/// The top-level header of a message, ready for SEARCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHeader {
    fields: Vec<Field>,
    sent_day: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    /// The field name in ASCII lowercase, with a tag to compare first.
    name: FieldName,
    /// The value unfolded, RFC 2047 words decoded (raw 8-bit read as
    /// Latin-1 when not UTF-8), in lowercase.
    value: Box<str>,
    /// For address fields, the value without comments and without white
    /// space outside quoted strings, when that differs from `value`.
    bare: Option<Box<str>>,
}

impl SearchHeader {
    /// Splits and decodes the header block at the start of `raw` (a whole
    /// message or just its header).
    pub fn parse(raw: &[u8]) -> SearchHeader {
        let block = &raw[..header::header_len(raw)];
        let split = header::split(block);
        let mut sent_day = None;
        let mut fields = Vec::with_capacity(split.fields.len());
        for f in &split.fields {
            let name = String::from_utf8_lossy(f.name).to_ascii_lowercase();
            if name == "date" && sent_day.is_none() {
                sent_day = crate::date::written_day(f.value);
            }
            let value = decode_value(f.value).to_lowercase();
            let bare = if is_address_field(&name) {
                let b = strip_cfws(&value);
                (b != value).then(|| b.into_boxed_str())
            } else {
                None
            };
            fields.push(Field { name: FieldName::new(&name), value: value.into_boxed_str(), bare });
        }
        SearchHeader { fields, sent_day }
    }

    /// HEADER, FROM, SUBJECT and the like: whether a field called `name`
    /// holds `needle`. An empty needle matches every message that has the
    /// field (RFC 9051 §6.4.4). FROM, TO, CC and BCC also match the address
    /// with its comments and folding removed (RFC 5322 §3.2.2: they may sit
    /// between the tokens, so `<user (c)@ (c) example.org>` holds
    /// `user@example.org`).
    pub fn matches(&self, name: &FieldName, needle: &Needle) -> bool {
        self.fields.iter().any(|f| {
            f.name == *name && (needle.found_in(&f.value) || f.bare.as_deref().is_some_and(|b| needle.found_in(b)))
        })
    }

    /// Every searchable text of the fields called `name`, in order: each
    /// value, and for address fields also its bare form (see
    /// [`SearchHeader::matches`]); what a column of one field holds.
    pub fn texts<'a>(&'a self, name: &'a FieldName) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |f| f.name == *name)
            .flat_map(|f| std::iter::once(&*f.value).chain(f.bare.as_deref()))
    }

    /// The calendar day of the first Date: field as written, as
    /// [`crate::date::written_day`] gives it (SENTBEFORE, SENTON,
    /// SENTSINCE).
    pub fn sent_day(&self) -> Option<i64> {
        self.sent_day
    }

    /// Roughly the bytes this takes in memory, for cache weights.
    pub fn weight(&self) -> usize {
        64 + self
            .fields
            .iter()
            .map(|f| 64 + f.name.name.len() + f.value.len() + f.bare.as_ref().map_or(0, |b| b.len()))
            .sum::<usize>()
    }
}

/// A header field name made ready for comparing with many: ASCII
/// lowercase, and its first bytes and length packed in a number that
/// settles most comparisons without looking at the bytes.
#[derive(Debug, Clone, Eq)]
pub struct FieldName {
    tag: u64,
    name: Box<str>,
}

impl PartialEq for FieldName {
    /// The tag holds the first seven bytes and the length: for the common
    /// short names (from, to, cc, subject) equal tags are equal names and
    /// the bytes are never compared.
    fn eq(&self, other: &FieldName) -> bool {
        self.tag == other.tag && (self.name.len() <= 7 || self.name == other.name)
    }
}

impl FieldName {
    /// The name, lowercase.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub fn new(name: &str) -> FieldName {
        let name = name.to_ascii_lowercase();
        let mut tag = [0u8; 8];
        for (t, b) in tag.iter_mut().zip(name.bytes()) {
            *t = b;
        }
        // The length goes in the low byte (names are never that long that
        // wrapping it would matter: a mismatch only costs the full compare).
        let tag = (u64::from_be_bytes(tag) & !0xff) | (name.len() as u64 & 0xff);
        FieldName { tag, name: name.into_boxed_str() }
    }
}

/// A search string made ready for matching many values: lowercased with
/// [`str::to_lowercase`] (SEARCH is case-insensitive, RFC 9051 §6.4.4),
/// with a substring searcher built once.
#[derive(Debug, Clone)]
pub struct Needle {
    finder: memchr::memmem::Finder<'static>,
}

impl Needle {
    pub fn new(s: &str) -> Needle {
        Needle { finder: memchr::memmem::Finder::new(s.to_lowercase().as_bytes()).into_owned() }
    }

    /// The needle's bytes, lowercased.
    pub fn bytes(&self) -> &[u8] {
        self.finder.needle()
    }

    /// Every place `hay` holds the needle (not overlapping).
    pub fn find_iter<'h>(&'h self, hay: &'h [u8]) -> impl Iterator<Item = usize> + 'h {
        self.finder.find_iter(hay)
    }

    /// Whether `hay`, already lowercased, holds the needle.
    pub fn found_in(&self, hay: &str) -> bool {
        self.finder.find(hay.as_bytes()).is_some()
    }

    /// Whether `text` holds the needle, ignoring case.
    pub fn found_in_text(&self, text: &str) -> bool {
        self.finder.needle().is_empty() || self.found_in(&text.to_lowercase())
    }
}

fn is_address_field(name: &str) -> bool {
    matches!(name, "from" | "to" | "cc" | "bcc" | "sender" | "reply-to")
}

/// An address header value without its RFC 5322 §3.2.2 comments and
/// without white space outside quoted strings.
fn strip_cfws(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut depth = 0u32;
    let mut quoted = false;
    let mut chars = v.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                let next = chars.next();
                if depth == 0 {
                    out.push(ch);
                    out.extend(next);
                }
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            '"' => {
                quoted = !quoted;
                out.push(ch);
            }
            c if c.is_whitespace() && !quoted => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_decoded_and_lowercased() {
        let h = SearchHeader::parse(
            b"Subject: =?utf-8?q?J=C3=B6RG?=\r\n Says Hi\r\nX-A: 1\r\nx-a: Two\r\nsubject: Caf\xc9\r\n\r\nSubject: body\r\n",
        );
        let m = |name: &str, needle: &str| h.matches(&FieldName::new(name), &Needle::new(needle));
        assert!(m("Subject", "J\u{f6}RG says HI"));
        assert!(m("subject", "CAF\u{c9}"), "Latin-1 read and lowercased");
        assert!(m("x-a", "two") && m("X-A", "1"));
        assert!(m("subject", ""), "empty needle: the field exists");
        assert!(!m("cc", ""), "no such field");
        assert!(!m("subject", "body"), "the body is not the header");
        assert!(!m("subjec", "") && !m("subjects", ""), "names compare whole");
    }

    #[test]
    fn addresses_match_without_comments() {
        let h = SearchHeader::parse(b"From: <user-from (comment)@ (comment) domain.org>\r\nSubject: a (b) c\r\n\r\n");
        assert!(h.matches(&FieldName::new("from"), &Needle::new("user-from@domain.org")));
        assert!(!h.matches(&FieldName::new("subject"), &Needle::new("ac")), "only address fields are stripped");
        assert_eq!(strip_cfws("a@b (x (nested) \\) y) , c@d"), "a@b,c@d");
        assert_eq!(strip_cfws("\"J (not) Doe\" <j@d>"), "\"J (not) Doe\"<j@d>");
    }

    #[test]
    fn sent_day_is_the_first_date_as_written() {
        let day = crate::date::days_from_civil(2007, 3, 24) * 86_400;
        let h = SearchHeader::parse(
            b"Date: Sat, 24 Mar 2007 23:00:00 +0200\r\nDate: Sun, 1 Apr 2007 00:00:00 +0000\r\n\r\n",
        );
        assert_eq!(h.sent_day(), Some(day));
        assert_eq!(SearchHeader::parse(b"Date: soon\r\n\r\n").sent_day(), None);
        assert_eq!(SearchHeader::parse(b"Subject: x\r\n\r\n").sent_day(), None);
    }
}
