//! Which part of a message a FETCH asks for: the `section` of
//! `BODY[section]<partial>` and `BINARY[section]` (RFC 9051 §6.4.5).

/// `BODY[<path>.<text>]`. An empty path with no text is the whole message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Part numbers, 1-based (`1.2.3` is `[1, 2, 3]`).
    pub path: Vec<u32>,
    pub text: Option<SectionText>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// `HEADER`: the header including the blank line that ends it.
    Header,
    /// `HEADER.FIELDS (..)` and, with `not`, `HEADER.FIELDS.NOT (..)`.
    /// Field names as the client sent them; matching ignores case.
    HeaderFields { not: bool, fields: Vec<String> },
    /// `TEXT`: the body without the header.
    Text,
    /// `MIME`: the MIME header of a part (only with a non-empty path).
    Mime,
}

/// `<origin.count>` of a FETCH item (RFC 9051 §6.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partial {
    pub origin: u64,
    pub count: u64,
}
