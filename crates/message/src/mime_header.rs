//! The MIME header fields of one part (RFC 2045, RFC 2183, RFC 3066,
//! RFC 2557), read from raw bytes for BODYSTRUCTURE.
//!
//! Parameter values are kept as sent, not decoded: BODYSTRUCTURE passes them
//! to the client, which decodes RFC 2047 and RFC 2231 itself. RFC 2231
//! continuations (`name*0`, `name*1*`) are joined into one parameter (`name`
//! or `name*`) so a client sees one value, as Dovecot does.

use crate::header::{self, Header};

/// `type/subtype` in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MediaType {
    pub kind: String,
    pub subtype: String,
}

impl MediaType {
    pub fn new(kind: &str, subtype: &str) -> Self {
        MediaType { kind: kind.into(), subtype: subtype.into() }
    }

    /// message/rfc822 or message/global (RFC 6532): an encapsulated message.
    pub fn is_message(&self) -> bool {
        self.kind == "message" && (self.subtype == "rfc822" || self.subtype == "global")
    }

    pub fn text(&self) -> String {
        format!("{}/{}", self.kind, self.subtype)
    }

    pub fn parse(s: &str) -> Option<Self> {
        let (kind, subtype) = s.split_once('/')?;
        Some(MediaType::new(kind, subtype))
    }
}

/// A parameter: lower-case attribute name, value as sent (quoting removed).
pub(crate) type Param = (Vec<u8>, Vec<u8>);

#[derive(Debug, Default)]
pub(crate) struct MimeHeader {
    /// None when absent or not `type/subtype` (RFC 2045 §5.2: treat as the
    /// default).
    pub content_type: Option<MediaType>,
    pub params: Vec<Param>,
    pub id: Option<Vec<u8>>,
    pub description: Option<Vec<u8>>,
    /// Content-Transfer-Encoding, lower case.
    pub encoding: Option<String>,
    pub md5: Option<Vec<u8>>,
    /// Content-Disposition type (lower case) and parameters.
    pub disposition: Option<(Vec<u8>, Vec<Param>)>,
    pub language: Vec<Vec<u8>>,
    pub location: Option<Vec<u8>>,
}

impl MimeHeader {
    pub fn parse(block: &[u8]) -> Self {
        Self::from_header(&header::split(block))
    }

    pub fn from_header(h: &Header<'_>) -> Self {
        // The last of repeated fields counts, as in mail-parser, so that the
        // type shown agrees with the structure mail-parser found.
        let value = |name: &str| h.last(name).map(|f| header::unfolded(f.value));
        let mut out = MimeHeader::default();
        if let Some(v) = value("Content-Type") {
            let mut t = Tokens::new(&v);
            if let Some(kind) = t.token()
                && t.special(b'/')
                && let Some(subtype) = t.token()
            {
                out.content_type = Some(MediaType::new(&lower(&kind), &lower(&subtype)));
                out.params = params(&mut t);
            }
        }
        if let Some(v) = value("Content-Disposition") {
            let mut t = Tokens::new(&v);
            if let Some(kind) = t.token() {
                out.disposition = Some((lower(&kind).into_bytes(), params(&mut t)));
            }
        }
        if let Some(v) = value("Content-Transfer-Encoding") {
            out.encoding = Tokens::new(&v).token().map(|t| lower(&t)).filter(|t| !t.is_empty());
        }
        if let Some(v) = value("Content-Language") {
            let mut t = Tokens::new(&v);
            loop {
                if let Some(tag) = t.token() {
                    out.language.push(tag);
                }
                if !t.skip_to(b',') {
                    break;
                }
            }
        }
        out.id = value("Content-ID");
        out.description = value("Content-Description");
        out.md5 = value("Content-MD5");
        out.location = value("Content-Location");
        out
    }

    #[cfg(test)]
    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.params.iter().find(|(n, _)| n == name.as_bytes()).map(|(_, v)| v.as_slice())
    }
}

fn lower(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_lowercase()
}

/// `*(";" attribute "=" value)` after a type, then RFC 2231 joining.
fn params(t: &mut Tokens<'_>) -> Vec<Param> {
    let mut raw: Vec<Param> = Vec::new();
    while t.skip_to(b';') {
        let Some(name) = t.token() else { continue };
        if !t.special(b'=') {
            continue;
        }
        let Some(value) = t.value() else { continue };
        let name = lower(&name).into_bytes();
        if !raw.iter().any(|(n, _)| *n == name) {
            raw.push((name, value));
        }
    }
    join_continuations(raw)
}

/// RFC 2231 §3/§4: `name*0`, `name*1`, … (and `name*0*` for encoded
/// segments) become one parameter. The joined name ends in `*` when the
/// first segment is encoded (it carries `charset'language'`); plain
/// segments joined into an encoded value are %-encoded so the whole value
/// stays one valid extended value.
fn join_continuations(raw: Vec<Param>) -> Vec<Param> {
    struct Seg {
        index: u32,
        encoded: bool,
        value: Vec<u8>,
    }
    let mut out: Vec<Param> = Vec::new();
    let mut groups: Vec<(Vec<u8>, usize, Vec<Seg>)> = Vec::new();
    for (name, value) in raw {
        let split = name.iter().position(|&b| b == b'*').and_then(|star| {
            let rest = &name[star + 1..];
            let (digits, encoded) = match rest.strip_suffix(b"*") {
                Some(d) => (d, true),
                None => (rest, false),
            };
            let index: u32 = std::str::from_utf8(digits).ok().filter(|d| !d.is_empty())?.parse().ok()?;
            Some((name[..star].to_vec(), index, encoded))
        });
        match split {
            Some((base, index, encoded)) => {
                let seg = Seg { index, encoded, value };
                match groups.iter_mut().find(|(b, _, _)| *b == base) {
                    Some((_, _, segs)) => segs.push(seg),
                    None => {
                        // A placeholder keeps the parameter where it first appeared.
                        groups.push((base, out.len(), vec![seg]));
                        out.push((Vec::new(), Vec::new()));
                    }
                }
            }
            None => out.push((name, value)),
        }
    }
    for (base, slot, mut segs) in groups {
        segs.sort_by_key(|s| s.index);
        segs.dedup_by_key(|s| s.index);
        let encoded = segs.first().is_some_and(|s| s.encoded);
        let mut value = Vec::new();
        for s in &segs {
            if encoded && !s.encoded {
                percent_encode(&mut value, &s.value);
            } else {
                value.extend_from_slice(&s.value);
            }
        }
        let mut name = base;
        if encoded {
            name.push(b'*');
        }
        out[slot] = (name, value);
    }
    out
}

fn percent_encode(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        // RFC 2231 attribute-char: a token char other than "*", "'", "%".
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
}

/// A cursor over a structured field value (RFC 2045 §5.1 tokens, quoted
/// strings, comments).
struct Tokens<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn new(s: &'a [u8]) -> Self {
        Tokens { s, pos: 0 }
    }

    /// Skips whitespace and (nested) comments.
    fn cfws(&mut self) {
        while let Some(&b) = self.s.get(self.pos) {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'(' => {
                    let mut depth = 0usize;
                    while let Some(&c) = self.s.get(self.pos) {
                        self.pos += 1;
                        match c {
                            b'\\' => self.pos += 1,
                            b'(' => depth += 1,
                            b')' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => break,
            }
        }
    }

    /// An RFC 2045 token: anything but controls, space and tspecials.
    fn token(&mut self) -> Option<Vec<u8>> {
        self.cfws();
        let start = self.pos;
        while let Some(&b) = self.s.get(self.pos) {
            if b <= b' ' || b == 0x7f || b"()<>@,;:\\\"/[]?=".contains(&b) {
                break;
            }
            self.pos += 1;
        }
        (self.pos > start).then(|| self.s[start..self.pos].to_vec())
    }

    /// A parameter value: a quoted string, or (leniently) any run of bytes up
    /// to whitespace, `;` or a comment — unquoted values with `=`, `/` or `?`
    /// (boundaries, URLs) are common and harmless.
    fn value(&mut self) -> Option<Vec<u8>> {
        self.cfws();
        if self.s.get(self.pos) == Some(&b'"') {
            self.pos += 1;
            let mut out = Vec::new();
            while let Some(&b) = self.s.get(self.pos) {
                self.pos += 1;
                match b {
                    b'"' => return Some(out),
                    b'\\' => {
                        if let Some(&c) = self.s.get(self.pos) {
                            out.push(c);
                            self.pos += 1;
                        }
                    }
                    _ => out.push(b),
                }
            }
            return Some(out);
        }
        let start = self.pos;
        while let Some(&b) = self.s.get(self.pos) {
            if matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b'"') {
                break;
            }
            self.pos += 1;
        }
        (self.pos > start).then(|| self.s[start..self.pos].to_vec())
    }

    fn special(&mut self, c: u8) -> bool {
        self.cfws();
        if self.s.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Moves past the next `c` outside quoted strings and comments; false at
    /// the end of the value.
    fn skip_to(&mut self, c: u8) -> bool {
        loop {
            self.cfws();
            match self.s.get(self.pos) {
                None => return false,
                Some(&b) if b == c => {
                    self.pos += 1;
                    return true;
                }
                Some(b'"') => {
                    let _ = self.value();
                }
                Some(_) => self.pos += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[(&str, &str)]) -> Vec<Param> {
        v.iter().map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())).collect()
    }

    #[test]
    fn content_type_and_params() {
        let h = MimeHeader::parse(
            b"Content-Type: Text/HTML (comment); Charset = \"UTF-8\" ;\r\n format=flowed; x=\"a \\\"q\\\"\"\r\n\r\n",
        );
        assert_eq!(h.content_type, Some(MediaType::new("text", "html")));
        assert_eq!(h.params, p(&[("charset", "UTF-8"), ("format", "flowed"), ("x", "a \"q\"")]));

        let h = MimeHeader::parse(b"Content-Type: multipart/mixed; boundary=----=_Part_1_2.3\r\n\r\n");
        assert_eq!(h.param("boundary"), Some(&b"----=_Part_1_2.3"[..]));

        assert_eq!(MimeHeader::parse(b"Content-Type: garbage\r\n\r\n").content_type, None);
        assert_eq!(MimeHeader::parse(b"Content-Type: ;x=y\r\n\r\n").content_type, None);
    }

    #[test]
    fn rfc2231_continuations_are_joined() {
        let h = MimeHeader::parse(
            b"Content-Disposition: attachment; filename*1=\"b c.txt\"; filename*0*=utf-8''J%C3%B6rg;\r\n size=3\r\n\r\n",
        );
        let (kind, params) = h.disposition.unwrap();
        assert_eq!(kind, b"attachment");
        assert_eq!(params, p(&[("filename*", "utf-8''J%C3%B6rgb%20c.txt"), ("size", "3")]));

        let h = MimeHeader::parse(b"Content-Type: text/plain; name*0=\"a\"; name*1=\"b\"\r\n\r\n");
        assert_eq!(h.params, p(&[("name", "ab")]));
    }

    #[test]
    fn other_fields() {
        let h = MimeHeader::parse(
            b"Content-Transfer-Encoding: Base64 (x)\r\nContent-Language: en-GB, (c) de\r\nContent-ID: <a@b>\r\n\
              Content-Description: =?utf-8?q?x?=\r\n  more\r\nContent-Location: http://x/y\r\n\r\n",
        );
        assert_eq!(h.encoding.as_deref(), Some("base64"));
        assert_eq!(h.language, [b"en-GB".to_vec(), b"de".to_vec()]);
        assert_eq!(h.id.as_deref(), Some(&b"<a@b>"[..]));
        assert_eq!(h.description.as_deref(), Some(&b"=?utf-8?q?x?=  more"[..]));
        assert_eq!(h.location.as_deref(), Some(&b"http://x/y"[..]));
    }
}
