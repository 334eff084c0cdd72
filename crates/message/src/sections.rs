//! Cutting `BODY[section]` (RFC 9051 §6.4.5) and `BINARY[section]`
//! (RFC 3516) out of the raw message by the stored offsets, without parsing
//! the body again.

use std::borrow::Cow;

use crate::header;
use crate::section::{Section, SectionText};
use crate::transfer;
use crate::{Analysis, Error, Part};

/// Where a part path leads.
enum Found<'p> {
    /// The empty path: the message itself.
    Message(&'p Part),
    /// A numbered part.
    Part(&'p Part),
}

/// The parts numbered 1, 2, … inside `p`: the children of a multipart, the
/// parts of the message a message/rfc822 part holds, or, for a message whose
/// body is not multipart, its body as part 1 (RFC 9051 §6.4.5: "Every
/// message has at least one part number. Non-[MIME-IMB] messages, and
/// non-multipart [MIME-IMB] messages with no encapsulated message, only have
/// a part 1.").
fn numbered(p: &Part, n: u32, as_message: bool) -> Option<&Part> {
    let index = (n as usize).checked_sub(1)?;
    if !p.parts.is_empty() {
        return p.parts.get(index);
    }
    if as_message {
        return (n == 1).then_some(p);
    }
    numbered(p.message.as_deref()?, n, true)
}

/// Follows a part path from the message `root`.
pub(crate) fn resolve<'p>(root: &'p Part, path: &[u32]) -> Option<&'p Part> {
    match find(root, path)? {
        Found::Message(p) | Found::Part(p) => Some(p),
    }
}

fn find<'p>(root: &'p Part, path: &[u32]) -> Option<Found<'p>> {
    let Some((&first, rest)) = path.split_first() else {
        return Some(Found::Message(root));
    };
    let mut cur = numbered(root, first, true)?;
    for &n in rest {
        cur = numbered(cur, n, false)?;
    }
    Some(Found::Part(cur))
}

fn cut(raw: &[u8], r: (u64, u64)) -> Option<&[u8]> {
    raw.get(usize::try_from(r.0).ok()?..usize::try_from(r.1).ok()?)
}

impl Analysis {
    /// The part at `path` (1-based part numbers), as BODY[path] numbers them.
    pub fn part(&self, path: &[u32]) -> Option<&Part> {
        resolve(&self.root, path)
    }

    /// The bytes of `BODY[section]`, before any `<partial>`. None when the
    /// section does not exist in this message (a part number too high,
    /// `N.HEADER` of a part that is not a message, `MIME` without a part);
    /// the server decides what to answer then.
    pub fn section<'a>(&self, raw: &'a [u8], section: &Section) -> Option<Cow<'a, [u8]>> {
        let found = find(&self.root, &section.path)?;
        // The message whose HEADER/TEXT is meant: the whole message for an
        // empty path, else the message a message/rfc822 part holds (§6.4.5:
        // "provided that the numeric part specifier refers to a part of type
        // MESSAGE/RFC822 or MESSAGE/GLOBAL").
        let message = match found {
            Found::Message(m) => Some(m),
            Found::Part(p) => p.message.as_deref(),
        };
        match (&section.text, found) {
            (None, Found::Message(_)) => Some(Cow::Borrowed(raw)),
            (None, Found::Part(p)) => cut(raw, p.body).map(Cow::Borrowed),
            (Some(SectionText::Mime), Found::Part(p)) => cut(raw, p.header).map(Cow::Borrowed),
            (Some(SectionText::Mime), Found::Message(_)) => None,
            (Some(SectionText::Header), _) => cut(raw, message?.header).map(Cow::Borrowed),
            (Some(SectionText::Text), _) => cut(raw, message?.body).map(Cow::Borrowed),
            (Some(SectionText::HeaderFields { not, fields }), _) => {
                let block = cut(raw, message?.header)?;
                Some(Cow::Owned(header_fields(block, fields, *not)))
            }
        }
    }

    /// `BINARY[path]` (RFC 3516 §4.2): the part's body with its
    /// Content-Transfer-Encoding undone. The empty path is the whole message,
    /// returned as it is. `Ok(None)` when there is no such part;
    /// `Err(Error::UnknownEncoding)` for an encoding this cannot undo (the
    /// server answers `NO [UNKNOWN-CTE]`).
    pub fn binary(&self, raw: &[u8], path: &[u32]) -> Result<Option<Vec<u8>>, Error> {
        let Some(found) = find(&self.root, path) else { return Ok(None) };
        let p = match found {
            Found::Message(_) => return Ok(Some(raw.to_vec())),
            Found::Part(p) => p,
        };
        let Some(body) = cut(raw, p.body) else { return Ok(None) };
        if !p.parts.is_empty() {
            // A multipart is never encoded (RFC 2045 §6.4).
            return Ok(Some(body.to_vec()));
        }
        decode(body, &p.encoding).map(Some)
    }

    /// `BINARY.SIZE[path]`: the length of what [`Analysis::binary`] returns.
    pub fn binary_size(&self, raw: &[u8], path: &[u32]) -> Result<Option<u64>, Error> {
        // A multipart or an identity encoding needs no decoding to be measured.
        if let Some(p) = self.part(path).filter(|_| !path.is_empty())
            && (!p.parts.is_empty() || identity(&p.encoding))
        {
            return Ok(cut(raw, p.body).map(|b| b.len() as u64));
        }
        Ok(self.binary(raw, path)?.map(|b| b.len() as u64))
    }
}

fn identity(encoding: &str) -> bool {
    // RFC 2045 §6.1; an empty value is treated as absent.
    matches!(encoding, "7bit" | "8bit" | "binary" | "")
}

fn decode(body: &[u8], encoding: &str) -> Result<Vec<u8>, Error> {
    match encoding {
        e if identity(e) => Ok(body.to_vec()),
        "base64" => Ok(transfer::base64_decode(body)),
        "quoted-printable" => Ok(transfer::quoted_printable_decode(body)),
        _ => Err(Error::UnknownEncoding),
    }
}

/// HEADER.FIELDS / HEADER.FIELDS.NOT: the matching fields as they are, in
/// message order, then the blank line ("The delimiting blank line between
/// the header and the body is not affected by header line subsetting; the
/// blank line is always included in header data, except in the case of a
/// message which has no body and no blank line", §6.4.5).
fn header_fields(block: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let h = header::split(block);
    let mut out = Vec::new();
    for f in &h.fields {
        let listed = names.iter().any(|n| f.is(n));
        if listed != not {
            out.extend_from_slice(f.raw);
        }
    }
    out.extend_from_slice(h.end);
    out
}
