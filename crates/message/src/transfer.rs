//! Content-Transfer-Encoding (RFC 2045 §6): undoing base64 and
//! quoted-printable for BINARY (RFC 3516), and base64 for keeping non-UTF-8
//! bytes in the stored JSON.
//!
//! The decoders are lenient on purpose: a FETCH BINARY of a slightly broken
//! attachment should return what can be recovered, like the decoders of mail
//! clients do, rather than fail.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Standard base64 with padding.
pub(crate) fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes base64 as RFC 2045 §6.8 asks of a receiver: characters outside
/// the alphabet (line breaks, stray junk) are ignored; `=` ends a group, so
/// concatenated encodings still decode.
pub(crate) fn base64_decode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut n = 0;
    for &b in data {
        if let Some(v) = sextet(b) {
            acc = (acc << 6) | u32::from(v);
            n += 1;
            if n == 4 {
                out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
                acc = 0;
                n = 0;
            }
        } else if b == b'=' {
            flush(&mut out, acc, n);
            acc = 0;
            n = 0;
        }
    }
    flush(&mut out, acc, n);
    out
}

fn flush(out: &mut Vec<u8>, acc: u32, n: usize) {
    // 2 sextets carry one byte, 3 carry two; a lone sextet carries nothing.
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
}

/// Decodes base64 we wrote ourselves; anything else is refused.
pub(crate) fn base64_decode_strict(data: &[u8]) -> Option<Vec<u8>> {
    if !data.len().is_multiple_of(4) || data.iter().any(|&b| sextet(b).is_none() && b != b'=') {
        return None;
    }
    Some(base64_decode(data))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Decodes quoted-printable (RFC 2045 §6.7): `=XX` (lower-case hex is
/// accepted, as §6.7 rule 1 recommends), soft line breaks `=` + optional
/// whitespace + line end, trailing whitespace on a line dropped (it was added
/// in transport). An `=` that starts none of these stays as it is. Hard line
/// breaks are kept as they are in the message.
pub(crate) fn quoted_printable_decode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for line in data.split_inclusive(|&b| b == b'\n') {
        let (text, eol): (&[u8], &[u8]) = if let Some(t) = line.strip_suffix(b"\r\n") {
            (t, b"\r\n")
        } else if let Some(t) = line.strip_suffix(b"\n") {
            (t, b"\n")
        } else {
            (line, b"")
        };
        let end = text.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(0, |p| p + 1);
        let text = &text[..end];
        let (text, soft) = match text.strip_suffix(b"=") {
            Some(t) => (t, true),
            None => (text, false),
        };
        let mut i = 0;
        while i < text.len() {
            let b = text[i];
            if b == b'='
                && let (Some(h), Some(l)) =
                    (text.get(i + 1).copied().and_then(hex), text.get(i + 2).copied().and_then(hex))
            {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            out.push(b);
            i += 1;
        }
        if !soft {
            out.extend_from_slice(eol);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", &[0, 255, 128, 7]] {
            let enc = base64_encode(data);
            assert_eq!(base64_decode_strict(enc.as_bytes()).as_deref(), Some(data), "{enc}");
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fooba"), "Zm9vYmE=");
        assert_eq!(base64_decode(b"Zm9v\r\nYmFy\r\n"), b"foobar");
        assert_eq!(base64_decode(b"Zm8=Zm8="), b"fofo");
        assert_eq!(base64_decode(b"Zm9v YmE!"), b"fooba");
        assert_eq!(base64_decode_strict(b"Zm9v!"), None);
    }

    #[test]
    fn quoted_printable() {
        assert_eq!(
            quoted_printable_decode(b"J=C3=B6rg=\r\n M=c3=bcller  \r\nend"),
            "J\u{f6}rg M\u{fc}ller\r\nend".as_bytes()
        );
        assert_eq!(quoted_printable_decode(b"a=3Db =zz =\n"), b"a=b =zz ");
        assert_eq!(quoted_printable_decode(b"x="), b"x");
    }
}
