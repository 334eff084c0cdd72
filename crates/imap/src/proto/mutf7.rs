//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3), used with clients
//! that enabled neither UTF8=ACCEPT nor IMAP4rev2 (RFC 9051 §5.1 and its
//! appendix A keep it for IMAP4rev1 clients only).
//!
//! Printable ASCII stands for itself, `&` is `&-`, everything else is
//! UTF-16 in base64 (with `,` for `/`) between `&` and `-`. Decoding is
//! strict about the canonical form, so that one name has one spelling on
//! the wire and `encode(decode(x)) == x` for every accepted `x`.

use base64::Engine;
use base64::alphabet::IMAP_MUTF7;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// No padding; non-zero bits after the last UTF-16 unit are an error (the
/// crate's default), as the RFC's canonical form has them zero.
const B64: GeneralPurpose = GeneralPurpose::new(
    &IMAP_MUTF7,
    GeneralPurposeConfig::new().with_encode_padding(false).with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

fn is_direct(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// Decodes a name to UTF-8; None when it is not canonical modified UTF-7:
/// 8-bit or control characters, an unterminated or empty shift (other than
/// `&-`), base64 that is not whole UTF-16 (or a lone surrogate), a
/// printable ASCII character that was encoded, or two shifts in a row
/// (RFC 3501 §5.1.3: "&U,BTFw-&ZeVnLIqe-" must be "&U,BTF2XlZyyKng-").
pub fn decode(s: &str) -> Option<String> {
    if !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    if !s.contains('&') {
        return Some(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut after_shift = false;
    while let Some(i) = rest.find('&') {
        if i > 0 {
            after_shift = false;
        }
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let end = tail.find('-')?;
        let chunk = &tail[..end];
        if chunk.is_empty() {
            out.push('&');
            after_shift = false;
        } else {
            if after_shift {
                return None;
            }
            let bytes = B64.decode(chunk).ok()?;
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units = bytes.chunks_exact(2).map(|p| u16::from_be_bytes([p[0], p[1]]));
            for c in char::decode_utf16(units) {
                let c = c.ok()?;
                if is_direct(c) {
                    return None;
                }
                out.push(c);
            }
            after_shift = true;
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Encodes a UTF-8 name in canonical modified UTF-7.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending: Vec<u16> = Vec::new();
    for ch in s.chars() {
        if is_direct(ch) {
            flush(&mut pending, &mut out);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(ch.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

fn flush(pending: &mut Vec<u16>, out: &mut String) {
    if pending.is_empty() {
        return;
    }
    let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    out.push_str(&B64.encode(bytes));
    out.push('-');
    pending.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3501_examples() {
        // RFC 3501 §5.1.3.
        assert_eq!(decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-").as_deref(), Some("~peter/mail/台北/日本語"));
        assert_eq!(encode("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(decode("&U,BTF2XlZyyKng-").as_deref(), Some("台北日本語"));
        assert!(decode("&U,BTFw-&ZeVnLIqe-").is_none(), "superfluous shift");
        assert!(decode("&Jjo!").is_none(), "no shift back to ASCII");
        assert_eq!(decode("&Jjo-!").as_deref(), Some("☺!"));
    }

    #[test]
    fn ampersand_and_errors() {
        assert_eq!(encode("A&B"), "A&-B");
        assert_eq!(decode("A&-B").as_deref(), Some("A&B"));
        assert_eq!(decode("&-&-").as_deref(), Some("&&"));
        assert_eq!(decode("Entw&APw-rfe").as_deref(), Some("Entwürfe"));
        assert_eq!(decode("INBOX").as_deref(), Some("INBOX"));
        assert_eq!(decode("").as_deref(), Some(""));
        for bad in [
            "&Jjo",      // unterminated
            "&Jj-",      // odd byte count
            "&AGE-",     // "a" encoded
            "&2D0-",     // lone high surrogate
            "&AP-",      // non-zero trailing bits
            "caf\u{e9}", // 8-bit
            "tab\there", // control character
            "&A-",       // not base64 of whole bytes
            "&,,,,-",    // three bytes: not whole UTF-16 units
        ] {
            assert!(decode(bad).is_none(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn round_trips() {
        for name in ["Entwürfe", "日本語/台北", "a&b&&c", "😀 emoji 😀", "Ünïcödé & ASCII", "x\u{7f}y", "tab\t", ""]
        {
            let wire = encode(name);
            assert!(wire.bytes().all(|b| (0x20..0x7f).contains(&b)), "{wire:?}");
            assert_eq!(decode(&wire).as_deref(), Some(name), "{wire:?}");
        }
    }
}
