//! Writing IMAP strings (RFC 9051 §4.3) and the byte container the stored
//! answers live in.
//!
//! Why bytes and not `String`: ENVELOPE and BODYSTRUCTURE carry header
//! values as sent, and real mail has raw 8-bit bytes in headers (Latin-1,
//! KOI8-R, or UTF-8 under RFC 6532). Those bytes must reach the client
//! unchanged, inside literals, so the stored answer is a byte string.
//! [`ImapBytes`] is stored in JSON as a plain string when it is valid UTF-8
//! (nearly always) and as `{"b64": "..."}` otherwise, so nothing is lost and
//! the common case stays readable in the database.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::transfer;

/// Appends `s` as an IMAP `string`: a quoted string when every byte may
/// appear in one, otherwise a literal `{n}\r\n...`.
///
/// Quoted strings may hold only 7-bit text without CR, LF or NUL (RFC 9051
/// `quoted`); 8-bit bytes go in a literal, which every client accepts (a
/// UTF-8 quoted string needs UTF8=ACCEPT, and the stored answers are shared
/// by all clients). NUL cannot be sent in a `string` at all (only in
/// `literal8`), so NUL bytes are dropped.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    if quotable(s) {
        quoted(out, s);
    } else {
        literal(out, s);
    }
}

/// Like [`string`], but for a client that enabled UTF8=ACCEPT (RFC 9051
/// §6.3.1 / RFC 6855): valid UTF-8 without CR/LF/NUL goes in a quoted string.
pub fn string_utf8(out: &mut Vec<u8>, s: &[u8]) {
    let ok = std::str::from_utf8(s).is_ok() && !s.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n'));
    if ok {
        quoted(out, s);
    } else {
        literal(out, s);
    }
}

/// Appends an IMAP `nstring`: `NIL` for `None`, else [`string`].
pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Appends a decimal `number`.
pub fn number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(n.to_string().as_bytes());
}

/// True when `s` can be sent as a 7-bit quoted string.
pub fn quotable(s: &[u8]) -> bool {
    s.iter().all(|&b| b != 0 && b != b'\r' && b != b'\n' && b < 0x80)
}

fn quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn literal(out: &mut Vec<u8>, s: &[u8]) {
    let nuls = s.iter().filter(|&&b| b == 0).count();
    out.push(b'{');
    number(out, (s.len() - nuls) as u64);
    out.extend_from_slice(b"}\r\n");
    if nuls == 0 {
        out.extend_from_slice(s);
    } else {
        out.extend(s.iter().copied().filter(|&b| b != 0));
    }
}

/// Protocol text ready to be written after `ENVELOPE `, `BODY ` or
/// `BODYSTRUCTURE `: bytes, usually but not always UTF-8 (see the module
/// comment).
#[derive(Clone, PartialEq, Eq, Default, Hash)]
pub struct ImapBytes(pub Vec<u8>);

impl ImapBytes {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// For logs and tests: the bytes as text, invalid UTF-8 replaced.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Deref for ImapBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for ImapBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for ImapBytes {
    fn from(v: Vec<u8>) -> Self {
        ImapBytes(v)
    }
}

impl PartialEq<str> for ImapBytes {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for ImapBytes {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Debug for ImapBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(&self.0), f)
    }
}

impl fmt::Display for ImapBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl Serialize for ImapBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("b64", &transfer::base64_encode(&self.0))?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for ImapBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ImapBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or {\"b64\": string}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ImapBytes, E> {
                Ok(ImapBytes(v.as_bytes().to_vec()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ImapBytes, A::Error> {
                let mut out = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "b64" {
                        let text: String = map.next_value()?;
                        out = Some(
                            transfer::base64_decode_strict(text.as_bytes())
                                .ok_or_else(|| de::Error::invalid_value(de::Unexpected::Str(&text), &"base64 text"))?,
                        );
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                out.map(ImapBytes).ok_or_else(|| de::Error::missing_field("b64"))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: fn(&mut Vec<u8>, &[u8]), input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut out, input);
        out
    }

    #[test]
    fn quoted_and_literal() {
        assert_eq!(s(string, b"hello"), b"\"hello\"");
        assert_eq!(s(string, b""), b"\"\"");
        assert_eq!(s(string, br#"a "b" \c"#), br#""a \"b\" \\c""#);
        assert_eq!(s(string, b"a\r\nb"), b"{4}\r\na\r\nb");
        assert_eq!(s(string, "J\u{f6}rg".as_bytes()), b"{5}\r\nJ\xc3\xb6rg");
        assert_eq!(s(string, b"J\xf6rg"), b"{4}\r\nJ\xf6rg");
        assert_eq!(s(string, b"a\0b"), b"{2}\r\nab");
        assert_eq!(s(string_utf8, "J\u{f6}rg".as_bytes()), "\"J\u{f6}rg\"".as_bytes());
        assert_eq!(s(string_utf8, b"J\xf6rg"), b"{4}\r\nJ\xf6rg");
        let mut out = Vec::new();
        nstring(&mut out, None);
        assert_eq!(out, b"NIL");
    }

    #[test]
    fn json_keeps_every_byte() {
        for bytes in [b"plain \"text\"".to_vec(), b"{4}\r\nJ\xf6rg".to_vec(), vec![0xff, 0, 0x80]] {
            let v = ImapBytes(bytes);
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(serde_json::from_str::<ImapBytes>(&json).unwrap(), v, "{json}");
        }
        assert_eq!(serde_json::to_string(&ImapBytes(b"ok".to_vec())).unwrap(), "\"ok\"");
        assert!(serde_json::to_string(&ImapBytes(vec![0xf6])).unwrap().contains("b64"));
    }
}
