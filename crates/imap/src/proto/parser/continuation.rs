//! Lines the client sends that are not commands: IDLE's `DONE` (RFC 9051
//! §6.3.13) and the responses inside AUTHENTICATE (RFC 9051 §6.2.2). The
//! session reads them with `framing::read_line`.

use base64::Engine;

use super::{ParseError, ParseErrorKind};

/// Whether `line` (without its CRLF) ends IDLE. RFC 9051 §9: `idle =
/// "IDLE" CRLF "DONE"`; case does not matter for a keyword.
pub fn is_idle_done(line: &[u8]) -> bool {
    line.eq_ignore_ascii_case(b"DONE")
}

/// One client answer to a SASL challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslResponse {
    /// `*`: the client gives up; the server answers `tag BAD`.
    Cancel,
    /// The decoded response (empty for an empty line).
    Data(Vec<u8>),
}

/// Parses a line sent after a `+` challenge (without its CRLF): base64 or
/// `*` (RFC 9051 §6.2.2). An error carries no tag: the caller has it.
pub fn parse_sasl_response(line: &[u8]) -> Result<SaslResponse, ParseError> {
    if line == b"*" {
        return Ok(SaslResponse::Cancel);
    }
    base64::engine::general_purpose::STANDARD.decode(line).map(SaslResponse::Data).map_err(|_| ParseError {
        tag: None,
        kind: ParseErrorKind::Syntax("invalid base64 in the SASL response".into()),
    })
}
