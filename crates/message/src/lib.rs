//! A message's IMAP view, computed once at delivery and stored with its blob.
//!
//! [`analyse`] reads a raw message and returns an [`Analysis`]: RFC822.SIZE,
//! ENVELOPE, BODY and BODYSTRUCTURE ready to write to the wire, the sent
//! date, and the part tree with byte offsets. The store keeps it as JSON
//! ([`Analysis::to_json`]); at FETCH time the server has the raw bytes and
//! the analysis and cuts sections out by offset ([`Analysis::section`],
//! [`Analysis::binary`]) without parsing the body again.
//!
//! ENVELOPE, BODY and BODYSTRUCTURE are [`ImapBytes`], not `String`: header
//! values are passed on as sent, and raw 8-bit header bytes (Latin-1 and
//! the like) must reach the client unchanged inside literals. In JSON they
//! are strings when valid UTF-8 and `{"b64": …}` otherwise.

mod address;
mod analyse;
mod binary;
mod bodystructure;
pub mod date;
mod envelope;
mod header;
pub mod imap_syntax;
mod mime_header;
mod search;
mod search_header;
pub mod section;
mod sections;
mod transfer;

use serde::{Deserialize, Serialize};

pub use address::header_addresses;
pub use binary::encode_binary_parts;
pub use header::header_len;
pub use imap_syntax::ImapBytes;
pub use search::{header_values, search_text};
pub use search_header::{FieldName, Needle, SearchHeader};
pub use section::{Partial, Section, SectionText};

/// Bumped whenever the analysis changes in a way stored analyses should not
/// be trusted across; [`Analysis::from_json`] refuses other versions so the
/// store computes them again.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Content-Transfer-Encoding BINARY cannot undo (RFC 3516 §4.3: the
    /// server answers `NO [UNKNOWN-CTE]`).
    #[error("unknown Content-Transfer-Encoding")]
    UnknownEncoding,
    #[error("stored analysis is not valid: {0}")]
    Json(#[from] serde_json::Error),
    #[error("stored analysis has format version {0}, this build reads version {FORMAT_VERSION}")]
    Version(u32),
}

/// A message's IMAP view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// RFC822.SIZE: the raw length in bytes.
    pub size: u64,
    /// The ENVELOPE list, to write after `ENVELOPE ` (RFC 9051 §7.5.2).
    pub envelope: ImapBytes,
    /// The non-extensible BODY form.
    pub body: ImapBytes,
    /// BODYSTRUCTURE, with extension data.
    pub bodystructure: ImapBytes,
    /// The part tree with byte offsets into the raw message.
    pub root: Part,
}

/// A MIME part, or a message (the whole one, or the one a message/rfc822
/// part holds). A message and its body part are the same `Part`: for the
/// whole message, `header` is the message header and `content_type` that of
/// its body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// Byte range of the header, including the blank line that ends it. For
    /// a part of a multipart this is its MIME header.
    pub header: (u64, u64),
    /// Byte range of the body, after the blank line. In a multipart, the line
    /// break before the next boundary belongs to the boundary (RFC 2046
    /// §5.1.1), not to the body.
    pub body: (u64, u64),
    /// Lower-case `type/subtype` as IMAP shows it: text/plain by default,
    /// message/rfc822 by default inside multipart/digest.
    pub content_type: String,
    /// Content-Transfer-Encoding, lower case, "7bit" by default.
    pub encoding: String,
    /// Lines in the body, for text/* and message/rfc822 (else 0).
    pub lines: u64,
    /// The children of a multipart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
    /// The message a message/rfc822 part holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Box<Part>>,
}

/// Analyses a raw message. Never fails: broken MIME gets a best-effort
/// analysis, at worst a single text/plain part.
pub fn analyse(raw: &[u8]) -> Analysis {
    let root = analyse::tree(raw);
    let header = raw.get(root.header.0 as usize..root.header.1 as usize).unwrap_or_default();
    Analysis {
        size: raw.len() as u64,
        envelope: envelope::envelope(header).into(),
        body: bodystructure::write(raw, &root, false).into(),
        bodystructure: bodystructure::write(raw, &root, true).into(),
        root,
    }
}

/// The stored form: `{"v": FORMAT_VERSION, "a": {…}}`.
#[derive(Serialize)]
struct StoredRef<'a> {
    v: u32,
    a: &'a Analysis,
}

#[derive(Deserialize)]
struct Stored {
    v: u32,
    a: Analysis,
}

impl Analysis {
    /// The stored form.
    pub fn to_json(&self) -> String {
        // Serialising plain structs and strings into a String cannot fail; an
        // empty result would only make the store analyse the message again.
        serde_json::to_string(&StoredRef { v: FORMAT_VERSION, a: self }).unwrap_or_default()
    }

    pub fn from_json(s: &str) -> Result<Analysis, Error> {
        let Stored { v, a } = serde_json::from_str(s)?;
        if v != FORMAT_VERSION {
            return Err(Error::Version(v));
        }
        Ok(a)
    }
}

impl Partial {
    /// The `<origin.count>` slice of a section's bytes (RFC 9051 §6.4.5):
    /// empty when `origin` is past the end, shorter when `count` is.
    pub fn cut<'b>(&self, data: &'b [u8]) -> &'b [u8] {
        let start = usize::try_from(self.origin).unwrap_or(usize::MAX).min(data.len());
        let len = usize::try_from(self.count).unwrap_or(usize::MAX);
        &data[start..start.saturating_add(len).min(data.len())]
    }
}
