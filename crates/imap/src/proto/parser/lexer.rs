//! The lexical layer of RFC 9051 §9 shared by every command: atoms,
//! numbers, quoted strings, literals, astring/nstring, flags, mailbox names,
//! sequence sets and dates. A [`Cursor`] walks one command's bytes (from
//! `framing`, literals inline as `{n}\r\n<n bytes>`); every method either
//! consumes what it recognised or returns an error, and none can panic on
//! any input: all indexing goes through `get`.

use std::borrow::Cow;

use super::{PResult, ParseErrorKind, ParseOptions};
use crate::proto::datetime;
use crate::proto::mutf7;
use crate::proto::sequence::SequenceSet;

/// RFC 9051 `ATOM-CHAR`: any 7-bit CHAR except atom-specials
/// (`(`, `)`, `{`, SP, CTL, `%`, `*`, `"`, `\`, `]`).
pub fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// RFC 9051 `ASTRING-CHAR`: ATOM-CHAR or `]`.
pub fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// RFC 9051 `tag`: 1*<any ASTRING-CHAR except "+">.
pub fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

pub(crate) struct Cursor<'a> {
    b: &'a [u8],
    pub(crate) i: usize,
    opts: ParseOptions,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(b: &'a [u8], opts: ParseOptions) -> Self {
        Cursor { b, i: 0, opts }
    }

    /// A syntax error at the current position.
    pub(crate) fn err(&self, what: impl std::fmt::Display) -> ParseErrorKind {
        ParseErrorKind::Syntax(format!("{what} at byte {}", self.i))
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.i.checked_add(k)?).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    pub(crate) fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, c: u8) -> PResult<()> {
        if self.eat(c) { Ok(()) } else { Err(self.err(format_args!("expected {:?}", c as char))) }
    }

    pub(crate) fn sp(&mut self) -> PResult<()> {
        if self.eat(b' ') {
            Ok(())
        } else if self.at_end() {
            Err(self.err("missing argument"))
        } else {
            Err(self.err("expected a space"))
        }
    }

    pub(crate) fn end(&self) -> PResult<()> {
        if self.at_end() { Ok(()) } else { Err(self.err("unexpected characters")) }
    }

    /// Bytes from `start` to the cursor.
    fn since(&self, start: usize) -> &'a [u8] {
        self.b.get(start..self.i).unwrap_or_default()
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        self.since(start)
    }

    /// A case-insensitive keyword that ends where an atom would: followed
    /// by a non-atom character or `[` (so that `BODY` matches in `BODY[`).
    /// Consumes it only on a match.
    pub(crate) fn keyword(&mut self, kw: &str) -> bool {
        let k = kw.as_bytes();
        let Some(end) = self.i.checked_add(k.len()) else { return false };
        let matches = self.b.get(self.i..end).is_some_and(|s| s.eq_ignore_ascii_case(k))
            && self.b.get(end).is_none_or(|&c| !is_atom_char(c) || c == b'[');
        if matches {
            self.i = end;
        }
        matches
    }

    pub(crate) fn atom(&mut self) -> PResult<&'a str> {
        let s = self.take_while(is_atom_char);
        if s.is_empty() {
            return Err(self.err("expected an atom"));
        }
        // Atom characters are ASCII, so this cannot fail.
        std::str::from_utf8(s).map_err(|_| self.err("atom is not ASCII"))
    }

    /// An atom, upper-cased (command names, options, keywords).
    pub(crate) fn atom_upper(&mut self) -> PResult<String> {
        Ok(self.atom()?.to_ascii_uppercase())
    }

    pub(crate) fn tag(&mut self) -> PResult<String> {
        let s = self.take_while(is_tag_char);
        if s.is_empty() {
            return Err(self.err("missing or invalid tag"));
        }
        Ok(String::from_utf8_lossy(s).into_owned())
    }

    /// `1*DIGIT` as a u64; None past u64 (callers narrow further).
    fn digits(&mut self) -> PResult<u64> {
        let start = self.i;
        let d = self.take_while(|c| c.is_ascii_digit());
        if d.is_empty() {
            self.i = start;
            return Err(self.err("expected a number"));
        }
        d.iter()
            .try_fold(0u64, |n, &c| n.checked_mul(10)?.checked_add(u64::from(c - b'0')))
            .ok_or_else(|| ParseErrorKind::Syntax(format!("number too large at byte {start}")))
    }

    /// RFC 9051 `number`: an unsigned 32-bit integer.
    pub(crate) fn number32(&mut self) -> PResult<u32> {
        let start = self.i;
        let n = self.digits()?;
        u32::try_from(n).map_err(|_| ParseErrorKind::Syntax(format!("number too large at byte {start}")))
    }

    /// RFC 9051 `nz-number`.
    pub(crate) fn nz_number32(&mut self) -> PResult<u32> {
        let n = self.number32()?;
        if n == 0 { Err(self.err("expected a non-zero number")) } else { Ok(n) }
    }

    /// RFC 9051 `number64` (and RFC 7162 `mod-sequence-valzer`): an
    /// unsigned 63-bit integer, so that it fits a signed SQL integer.
    pub(crate) fn number64(&mut self) -> PResult<u64> {
        let start = self.i;
        let n = self.digits()?;
        if n > i64::MAX as u64 {
            return Err(ParseErrorKind::Syntax(format!("number too large at byte {start}")));
        }
        Ok(n)
    }

    /// RFC 9051 `nz-number64` (and RFC 7162 `mod-sequence-value`).
    pub(crate) fn nz_number64(&mut self) -> PResult<u64> {
        let n = self.number64()?;
        if n == 0 { Err(self.err("expected a non-zero number")) } else { Ok(n) }
    }

    /// A quoted string starts here, or a literal (`{n}`; `~{n}` only when
    /// `literal8` is allowed).
    pub(crate) fn at_string(&self, literal8: bool) -> bool {
        match self.peek() {
            Some(b'"' | b'{') => true,
            Some(b'~') => literal8 && self.peek_at(1) == Some(b'{'),
            _ => false,
        }
    }

    /// RFC 9051 `quoted`: `\` escapes only `"` and `\`; no NUL, CR or LF.
    /// 8-bit bytes are let through (UTF-8 is checked by the callers that
    /// need text).
    fn quoted(&mut self) -> PResult<Vec<u8>> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated quoted string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(c);
                            self.i += 1;
                        }
                        _ => return Err(self.err("bad escape in quoted string")),
                    }
                }
                Some(0 | b'\r' | b'\n') => return Err(self.err("NUL or line break in quoted string")),
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// `{n}` / `{n+}` / `~{n}` CRLF and n bytes. Returns the bytes and
    /// whether it was a literal8 (RFC 3516 §4.4).
    pub(crate) fn literal(&mut self) -> PResult<(&'a [u8], bool)> {
        let binary = self.eat(b'~');
        self.expect(b'{')?;
        let n = self.number64()?;
        self.eat(b'+'); // LITERAL+ (RFC 7888 §3): the same bytes follow.
        self.expect(b'}')?;
        if !(self.eat(b'\r') && self.eat(b'\n')) {
            return Err(self.err("expected CRLF after a literal's length"));
        }
        let start = self.i;
        let end = usize::try_from(n).ok().and_then(|n| start.checked_add(n)).filter(|&e| e <= self.b.len());
        let Some(end) = end else { return Err(self.err("literal is cut short")) };
        self.i = end;
        Ok((self.b.get(start..end).unwrap_or_default(), binary))
    }

    /// RFC 9051 `string` (quoted or literal; no literal8) as bytes.
    /// `literal` is `*CHAR8`, which leaves out NUL.
    pub(crate) fn string_bytes(&mut self) -> PResult<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"') => self.quoted().map(Cow::Owned),
            Some(b'{') => {
                let (bytes, _) = self.literal()?;
                if bytes.contains(&0) {
                    return Err(self.err("NUL in a literal"));
                }
                Ok(Cow::Borrowed(bytes))
            }
            _ => Err(self.err("expected a string")),
        }
    }

    fn utf8(&self, bytes: Cow<'a, [u8]>) -> PResult<String> {
        match bytes {
            Cow::Borrowed(b) => std::str::from_utf8(b).map(str::to_owned).map_err(|_| self.err("string is not UTF-8")),
            Cow::Owned(v) => String::from_utf8(v).map_err(|_| self.err("string is not UTF-8")),
        }
    }

    /// A string as text; it must be UTF-8 (which includes US-ASCII).
    pub(crate) fn string(&mut self) -> PResult<String> {
        let b = self.string_bytes()?;
        self.utf8(b)
    }

    /// RFC 9051 `astring`: 1*ASTRING-CHAR or a string, as bytes.
    pub(crate) fn astring_bytes(&mut self) -> PResult<Cow<'a, [u8]>> {
        if self.at_string(false) {
            return self.string_bytes();
        }
        let s = self.take_while(is_astring_char);
        if s.is_empty() {
            return Err(self.err("expected an atom or a string"));
        }
        Ok(Cow::Borrowed(s))
    }

    pub(crate) fn astring(&mut self) -> PResult<String> {
        let b = self.astring_bytes()?;
        self.utf8(b)
    }

    /// RFC 9051 `nstring`: NIL or a string.
    pub(crate) fn nstring(&mut self) -> PResult<Option<String>> {
        if self.keyword("NIL") { Ok(None) } else { self.string().map(Some) }
    }

    /// RFC 9051 `flag`: `\Atom` (system flag or flag-extension) or a
    /// keyword atom. `\*` (flag-perm) only where `star` allows it.
    pub(crate) fn flag(&mut self, star: bool) -> PResult<String> {
        if self.eat(b'\\') {
            if star && self.eat(b'*') {
                return Ok("\\*".into());
            }
            return Ok(format!("\\{}", self.atom()?));
        }
        Ok(self.atom()?.to_string())
    }

    /// `"(" [flag *(SP flag)] ")"`.
    pub(crate) fn flag_list(&mut self) -> PResult<Vec<String>> {
        self.paren_list(true, |c| c.flag(false))
    }

    /// `"(" item *(SP item) ")"`, empty only when `allow_empty`.
    pub(crate) fn paren_list<T>(
        &mut self,
        allow_empty: bool,
        mut item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<Vec<T>> {
        self.expect(b'(')?;
        let mut out = Vec::new();
        if self.eat(b')') {
            if !allow_empty {
                return Err(self.err("empty list"));
            }
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            if self.eat(b')') {
                return Ok(out);
            }
            self.sp()?;
        }
    }

    /// Decodes a name as sent: as is for a UTF-8 client (UTF8=ACCEPT or
    /// IMAP4rev2), else from modified UTF-7 (RFC 3501 §5.1.3). 8-bit names
    /// from an IMAP4rev1 client are not legal, but when they are valid
    /// UTF-8 they are taken as such: what else could they mean?
    fn decode_name(&self, raw: String) -> Result<String, String> {
        if self.opts.utf8 || !raw.is_ascii() {
            return Ok(raw);
        }
        mutf7::decode(&raw).ok_or(raw)
    }

    /// RFC 9051 `mailbox`: `INBOX` in any case, or an astring.
    pub(crate) fn mailbox(&mut self) -> PResult<String> {
        let raw = self.astring()?;
        if raw.eq_ignore_ascii_case("INBOX") {
            return Ok("INBOX".into());
        }
        self.decode_name(raw).map_err(ParseErrorKind::BadName)
    }

    /// RFC 9051 `list-mailbox`: 1*list-char (ATOM-CHAR, `%`, `*`, `]`) or a
    /// string. A pattern that is not valid modified UTF-7 is used as sent:
    /// wildcards may cut an encoded part.
    pub(crate) fn list_mailbox(&mut self) -> PResult<String> {
        let raw = if self.at_string(false) {
            self.string()?
        } else {
            let s = self.take_while(|c| is_astring_char(c) || matches!(c, b'%' | b'*'));
            if s.is_empty() {
                return Err(self.err("expected a mailbox pattern"));
            }
            String::from_utf8_lossy(s).into_owned()
        };
        Ok(self.decode_name(raw).unwrap_or_else(|raw| raw))
    }

    /// RFC 9051 `sequence-set`, or `$` (RFC 5182 `seq-last-command`).
    pub(crate) fn sequence_set(&mut self) -> PResult<SequenceSet> {
        let start = self.i;
        let s = self.take_while(|c| c.is_ascii_digit() || matches!(c, b':' | b',' | b'*' | b'$'));
        let parsed = std::str::from_utf8(s).ok().and_then(SequenceSet::parse);
        parsed.ok_or_else(|| {
            ParseErrorKind::Syntax(format!("bad sequence set {:?} at byte {start}", String::from_utf8_lossy(s)))
        })
    }

    /// RFC 9051 `date`: date-text, bare or quoted; midnight UTC.
    pub(crate) fn date(&mut self) -> PResult<i64> {
        let quoted = self.eat(b'"');
        let start = self.i;
        let s = self.take_while(|c| c.is_ascii_alphanumeric() || c == b'-');
        if quoted {
            self.expect(b'"')?;
        }
        datetime::parse_date(s)
            .ok_or_else(|| ParseErrorKind::Syntax(format!("bad date {:?} at byte {start}", String::from_utf8_lossy(s))))
    }

    /// RFC 9051 `date-time`: `"dd-Mon-yyyy hh:mm:ss +zzzz"`, quoted.
    pub(crate) fn date_time(&mut self) -> PResult<i64> {
        let start = self.i;
        let s = self.quoted()?;
        datetime::parse_date_time(&s).ok_or_else(|| {
            ParseErrorKind::Syntax(format!("bad date-time {:?} at byte {start}", String::from_utf8_lossy(&s)))
        })
    }

    /// Base64 as RFC 9051 `base64` (groups of four, `=` padding at the
    /// end), returned undecoded. Empty when there is none.
    pub(crate) fn base64(&mut self) -> PResult<&'a str> {
        let start = self.i;
        let s = self.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='));
        let pad = s.iter().rev().take_while(|&&c| c == b'=').count();
        if !s.len().is_multiple_of(4) || pad > 2 || s.get(..s.len() - pad).is_some_and(|body| body.contains(&b'=')) {
            self.i = start;
            return Err(self.err("bad base64"));
        }
        std::str::from_utf8(s).map_err(|_| self.err("bad base64"))
    }
}
