//! Header fields as raw bytes (RFC 5322 §2.2): ENVELOPE wants values as
//! sent (encoded words left for the client), HEADER.FIELDS wants the field
//! lines themselves, so neither can use a parser's decoded values.

/// One header field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    /// The field name, without surrounding whitespace. A line with no colon
    /// (an mbox `From ` line, junk) is a field whose name is the whole line.
    pub name: &'a [u8],
    /// Everything after the colon, folding included, without the final line
    /// break.
    pub value: &'a [u8],
    /// The whole field with its final line break, as it is in the message.
    pub raw: &'a [u8],
}

impl Field<'_> {
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

/// A header block split into fields and the blank line that ends it.
#[derive(Debug)]
pub(crate) struct Header<'a> {
    pub fields: Vec<Field<'a>>,
    /// The line that ends the header (`\r\n` or `\n`), empty when the block
    /// has none (a message with no body).
    pub end: &'a [u8],
}

impl<'a> Header<'a> {
    /// The first field called `name`.
    pub fn first(&self, name: &str) -> Option<&Field<'a>> {
        self.fields.iter().find(|f| f.is(name))
    }

    /// The last field called `name`.
    pub fn last(&self, name: &str) -> Option<&Field<'a>> {
        self.fields.iter().rev().find(|f| f.is(name))
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Where the header of `raw` ends: just after the first empty line, or the
/// whole of `raw` when there is none. This is the rule of RFC 5322 §2.1; the
/// stored analysis uses mail-parser's (nearly identical) split instead.
pub fn header_len(raw: &[u8]) -> usize {
    let mut pos = 0;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        pos += line.len();
        if line == b"\n" || line == b"\r\n" {
            return pos;
        }
    }
    raw.len()
}

/// Splits a header block (a part's header range, blank line included).
/// A whitespace-only last line is the end of the header: mail-parser ends a
/// header there. Earlier lines that start with whitespace continue the field
/// before them (folding); such lines before any field are kept as nameless
/// fields, so that HEADER.FIELDS.NOT returns every byte it should.
pub(crate) fn split(block: &[u8]) -> Header<'_> {
    let mut body_end = block.len();
    let mut end: &[u8] = b"";
    if let Some(last_start) = last_line_start(block) {
        let last = &block[last_start..];
        if last.ends_with(b"\n") && is_blank(last) {
            body_end = last_start;
            end = last;
        }
    }
    let mut fields = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    while pos < body_end {
        let line_end = block[pos..body_end].iter().position(|&b| b == b'\n').map_or(body_end, |p| pos + p + 1);
        let continues = matches!(block[pos], b' ' | b'\t');
        if !continues && pos > start {
            fields.push(field(&block[start..pos]));
            start = pos;
        }
        pos = line_end;
    }
    if pos > start {
        fields.push(field(&block[start..pos]));
    }
    Header { fields, end }
}

fn last_line_start(block: &[u8]) -> Option<usize> {
    if block.is_empty() {
        return None;
    }
    let before_final_newline = block.len() - 1;
    Some(block[..before_final_newline].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1))
}

fn field(raw: &[u8]) -> Field<'_> {
    let without_eol = strip_eol(raw);
    match without_eol.iter().position(|&b| b == b':') {
        Some(colon) => Field { name: trim(&without_eol[..colon]), value: &without_eol[colon + 1..], raw },
        None => Field { name: trim(without_eol), value: b"", raw },
    }
}

fn strip_eol(s: &[u8]) -> &[u8] {
    let s = s.strip_suffix(b"\n").unwrap_or(s);
    s.strip_suffix(b"\r").unwrap_or(s)
}

/// Trims spaces, tabs and line breaks at both ends.
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|b| !ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !ws(b)).map_or(start, |p| p + 1);
    &s[start..end]
}

/// Unfolds a value (RFC 5322 §2.2.3): a line break followed by whitespace
/// is removed, the whitespace kept.
pub(crate) fn unfold(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'\r' if value.get(i + 1) == Some(&b'\n') => i += 2,
            b'\n' => i += 1,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The unfolded value with surrounding whitespace removed.
pub(crate) fn unfolded(value: &[u8]) -> Vec<u8> {
    trim(&unfold(value)).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_fields_and_end() {
        let h = split(b"From mbox line\nSubject: a\r\n  folded\r\nX-Empty:\r\nTo : b@c\r\n\r\n");
        let names: Vec<_> = h.fields.iter().map(|f| f.name).collect();
        assert_eq!(names, [&b"From mbox line"[..], b"Subject", b"X-Empty", b"To"]);
        assert_eq!(h.fields[1].raw, b"Subject: a\r\n  folded\r\n");
        assert_eq!(h.fields[1].value, b" a\r\n  folded");
        assert_eq!(unfolded(h.fields[1].value), b"a  folded");
        assert_eq!(h.fields[2].value, b"");
        assert_eq!(h.end, b"\r\n");

        let h = split(b"A: 1\nB: 2");
        assert_eq!(h.fields.len(), 2);
        assert_eq!(h.end, b"");
        assert_eq!(split(b"\r\n").fields.len(), 0);
        assert_eq!(split(b"").fields.len(), 0);
        assert_eq!(split(b" lead\r\nA: 1\r\n\r\n").fields[0].name, b"lead");
    }

    #[test]
    fn header_length() {
        assert_eq!(header_len(b"A: 1\r\n\r\nbody"), 8);
        assert_eq!(header_len(b"A: 1\n\nbody"), 6);
        assert_eq!(header_len(b"A: 1\r\n"), 6);
        assert_eq!(header_len(b"\r\nbody"), 2);
    }
}
