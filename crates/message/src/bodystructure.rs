//! BODY and BODYSTRUCTURE (RFC 9051 §7.5.2, grammar in §9 `body`).
//!
//! Type, subtype, parameter names, encoding and disposition type are sent in
//! upper case, as in the RFC's examples (`("TEXT" "PLAIN" ("CHARSET"
//! "US-ASCII") NIL NIL "7BIT" 3028 92)`); parameter values are sent as they
//! are in the message (boundaries and file names are case-sensitive).
//! Sizes are octets of the body as stored, still transfer-encoded.

use crate::Part;
use crate::envelope::envelope;
use crate::imap_syntax::{nstring, number, string};
use crate::mime_header::{MediaType, MimeHeader, Param};

/// The parenthesised body structure of `part`: the non-extensible BODY form,
/// or with `extended` the BODYSTRUCTURE form with extension data.
pub(crate) fn write(raw: &[u8], part: &Part, extended: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    body(&mut out, raw, part, extended);
    out
}

fn slice(raw: &[u8], r: (u64, u64)) -> &[u8] {
    raw.get(r.0 as usize..r.1 as usize).unwrap_or_default()
}

fn upper(out: &mut Vec<u8>, s: &[u8]) {
    string(out, &s.to_ascii_uppercase());
}

fn body(out: &mut Vec<u8>, raw: &[u8], part: &Part, extended: bool) {
    let mime = MimeHeader::parse(slice(raw, part.header));
    let t = MediaType::parse(&part.content_type).unwrap_or_else(|| MediaType::new("text", "plain"));
    // The header's parameters describe the type it declares; when the part is
    // shown as another type (a multipart with no boundary shown as text), they
    // do not apply.
    let params: &[Param] = if mime.content_type.as_ref() == Some(&t) { &mime.params } else { &[] };
    out.push(b'(');
    if !part.parts.is_empty() {
        // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
        for child in &part.parts {
            body(out, raw, child, extended);
        }
        out.push(b' ');
        upper(out, t.subtype.as_bytes());
        if extended {
            out.push(b' ');
            param_list(out, params);
            extension_tail(out, &mime);
        }
    } else {
        // body-type-1part: type subtype params id description encoding size
        upper(out, t.kind.as_bytes());
        out.push(b' ');
        upper(out, t.subtype.as_bytes());
        out.push(b' ');
        if t.kind == "text" && !params.iter().any(|(n, _)| n == b"charset") {
            // RFC 2045 §5.2: text without a charset is US-ASCII.
            let mut with_default = vec![(b"charset".to_vec(), b"US-ASCII".to_vec())];
            with_default.extend_from_slice(params);
            param_list(out, &with_default);
        } else {
            param_list(out, params);
        }
        out.push(b' ');
        nstring(out, mime.id.as_deref());
        out.push(b' ');
        nstring(out, mime.description.as_deref());
        out.push(b' ');
        upper(out, part.encoding.as_bytes());
        out.push(b' ');
        number(out, part.body.1.saturating_sub(part.body.0));
        match &part.message {
            // body-type-msg: ... SP envelope SP body SP body-fld-lines
            Some(m) if t.is_message() => {
                out.push(b' ');
                out.extend_from_slice(&envelope(slice(raw, m.header)));
                out.push(b' ');
                body(out, raw, m, extended);
                out.push(b' ');
                number(out, part.lines);
            }
            // body-type-text: ... SP body-fld-lines
            _ if t.kind == "text" => {
                out.push(b' ');
                number(out, part.lines);
            }
            _ => {}
        }
        if extended {
            // body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
            out.push(b' ');
            nstring(out, mime.md5.as_deref());
            extension_tail(out, &mime);
        }
    }
    out.push(b')');
}

/// `SP body-fld-dsp SP body-fld-lang SP body-fld-loc`, common to both forms.
fn extension_tail(out: &mut Vec<u8>, mime: &MimeHeader) {
    out.push(b' ');
    match &mime.disposition {
        Some((kind, params)) => {
            out.push(b'(');
            upper(out, kind);
            out.push(b' ');
            param_list(out, params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    match mime.language.as_slice() {
        [] => out.extend_from_slice(b"NIL"),
        [one] => string(out, one),
        many => {
            out.push(b'(');
            for (n, tag) in many.iter().enumerate() {
                if n > 0 {
                    out.push(b' ');
                }
                string(out, tag);
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    nstring(out, mime.location.as_deref());
}

/// body-fld-param: `("NAME" "value" ...)`, or NIL when there are none.
fn param_list(out: &mut Vec<u8>, params: &[Param]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (n, (name, value)) in params.iter().enumerate() {
        if n > 0 {
            out.push(b' ');
        }
        upper(out, name);
        out.push(b' ');
        string(out, value);
    }
    out.push(b')');
}
