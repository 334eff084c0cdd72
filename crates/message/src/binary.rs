//! Binary content arriving through APPEND's literal8 (RFC 3516 §4.4).
//!
//! A message stored with NUL bytes in it could not be sent back in a plain
//! literal (RFC 9051 §4.3 forbids NUL there), so FETCH BODY[] would have no
//! valid answer. Like Dovecot, atoll re-encodes such parts to base64 when the
//! message is appended: BODY[] then shows a valid MIME message, and
//! BINARY[part] (which undoes the base64) gives back the very bytes the
//! client sent.

use crate::Part;
use crate::header;
use crate::transfer::base64_encode;

/// Base64 line length (RFC 2045 §6.8: at most 76 characters).
const LINE: usize = 76;

/// `raw` with every leaf part that holds NUL bytes under an identity
/// encoding (7bit, 8bit, binary, or none) re-encoded to base64, or None
/// when no part needs it.
pub fn encode_binary_parts(raw: &[u8]) -> Option<Vec<u8>> {
    if !raw.contains(&0) {
        return None;
    }
    let root = crate::analyse::tree(raw);
    let mut edits = Vec::new();
    collect(raw, &root, &mut edits);
    if edits.is_empty() {
        return None;
    }
    // Edits are disjoint and in message order; apply them front to back.
    edits.sort_by_key(|e| e.0);
    let mut out = Vec::with_capacity(raw.len() * 4 / 3 + 64);
    let mut pos = 0;
    for (start, end, replacement) in edits {
        if start < pos {
            continue;
        }
        out.extend_from_slice(&raw[pos..start]);
        out.extend_from_slice(&replacement);
        pos = end;
    }
    out.extend_from_slice(&raw[pos..]);
    Some(out)
}

type Edit = (usize, usize, Vec<u8>);

fn range(r: (u64, u64)) -> (usize, usize) {
    (usize::try_from(r.0).unwrap_or(usize::MAX), usize::try_from(r.1).unwrap_or(usize::MAX))
}

fn collect(raw: &[u8], part: &Part, edits: &mut Vec<Edit>) {
    if let Some(inner) = &part.message {
        // The encapsulated message's bytes are the body of this part; a
        // message/rfc822 part itself cannot be base64 (RFC 2046 §5.2.1).
        collect(raw, inner, edits);
        return;
    }
    if !part.parts.is_empty() {
        for child in &part.parts {
            collect(raw, child, edits);
        }
        return;
    }
    if !matches!(part.encoding.as_str(), "7bit" | "8bit" | "binary") {
        return;
    }
    let (hs, he) = range(part.header);
    let (bs, be) = range(part.body);
    let (Some(head), Some(body)) = (raw.get(hs..he), raw.get(bs..be)) else { return };
    if !body.contains(&0) {
        return;
    }
    let eol: &[u8] = if head.ends_with(b"\r\n") || head.is_empty() { b"\r\n" } else { b"\n" };
    // The header: the Content-Transfer-Encoding fields go, one saying base64
    // goes in just before the blank line.
    let split = header::split(head);
    let mut new_head = Vec::with_capacity(head.len() + 40);
    for f in &split.fields {
        if !f.is("Content-Transfer-Encoding") {
            new_head.extend_from_slice(f.raw);
        }
    }
    new_head.extend_from_slice(b"Content-Transfer-Encoding: base64");
    new_head.extend_from_slice(eol);
    new_head.extend_from_slice(if split.end.is_empty() { eol } else { split.end });
    edits.push((hs, he, new_head));

    let encoded = base64_encode(body);
    let mut new_body = Vec::with_capacity(encoded.len() + encoded.len() / LINE * 2 + 2);
    for line in encoded.as_bytes().chunks(LINE) {
        new_body.extend_from_slice(line);
        new_body.extend_from_slice(eol);
    }
    edits.push((bs, be, new_body));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyse;

    const HEAD: &[u8] = b"From: a@b.example\r\nMime-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n";

    #[test]
    fn a_message_without_nul_is_left_alone() {
        let mut m = HEAD.to_vec();
        m.extend_from_slice(b"\xe4\xf6\r\n");
        assert_eq!(encode_binary_parts(&m), None);
    }

    #[test]
    fn a_binary_body_becomes_base64_and_binary_fetch_returns_it() {
        let body = b"\x00-\xe4\n\r\n\n";
        let mut m = HEAD.to_vec();
        m.extend_from_slice(body);
        let out = encode_binary_parts(&m).expect("re-encoded");
        assert!(!out.contains(&0), "no NUL left");
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("Content-Transfer-Encoding: base64\r\n\r\n"), "{text}");
        assert!(!text.contains("binary"), "{text}");
        let a = analyse(&out);
        assert_eq!(a.binary(&out, &[1]).expect("decodes"), Some(body.to_vec()));
        assert_eq!(a.binary_size(&out, &[1]).expect("decodes"), Some(body.len() as u64));
    }

    #[test]
    fn only_the_part_with_nul_changes_in_a_multipart() {
        let m = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x\r\nContent-Type: application/octet-stream\r\n\r\nA\x00B\r\n--x--\r\n";
        let out = encode_binary_parts(m).expect("re-encoded");
        let a = analyse(&out);
        assert_eq!(a.binary(&out, &[1]).expect("decodes"), Some(b"hello".to_vec()));
        assert_eq!(a.binary(&out, &[2]).expect("decodes"), Some(b"A\x00B".to_vec()));
        assert!(String::from_utf8_lossy(&out).contains("Content-Type: text/plain\r\n\r\nhello\r\n--x"));
    }

    #[test]
    fn a_declared_base64_part_is_not_touched() {
        let m = b"Content-Transfer-Encoding: base64\r\n\r\nQUJD\x00\r\n";
        assert_eq!(encode_binary_parts(m), None);
    }
}
