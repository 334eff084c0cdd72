//! ENABLE (RFC 5161 §3.1, RFC 9051 §6.3.1) and ID (RFC 2971 §3.1).

use super::{Cursor, PResult};
use crate::proto::command::CommandKind;

/// RFC 2971 §3.3: at most 30 field-value pairs, fields of 30 octets and
/// values of 1024; a client that sends more is broken or hostile.
const ID_MAX_PAIRS: usize = 30;
const ID_MAX_FIELD: usize = 30;
const ID_MAX_VALUE: usize = 1024;

/// `ENABLE 1*(SP capability)`: names upper-cased; unknown ones are the
/// session's to ignore (RFC 5161 §3.1).
pub(super) fn enable(c: &mut Cursor) -> PResult<CommandKind> {
    let mut caps = Vec::new();
    loop {
        c.sp()?;
        caps.push(c.atom_upper()?);
        if c.at_end() {
            return Ok(CommandKind::Enable(caps));
        }
    }
}

/// `ID ("(" string SP nstring *(SP string SP nstring) ")" / NIL)`.
pub(super) fn id(c: &mut Cursor) -> PResult<CommandKind> {
    c.sp()?;
    if c.keyword("NIL") {
        return Ok(CommandKind::Id(None));
    }
    let pairs = c.paren_list(true, |c| {
        let field = c.string()?;
        c.sp()?;
        let value = c.nstring()?;
        if field.len() > ID_MAX_FIELD || value.as_ref().is_some_and(|v| v.len() > ID_MAX_VALUE) {
            return Err(c.err("ID field or value too long (RFC 2971 §3.3)"));
        }
        Ok((field, value))
    })?;
    if pairs.len() > ID_MAX_PAIRS {
        return Err(c.err("more than 30 ID pairs (RFC 2971 §3.3)"));
    }
    Ok(CommandKind::Id(Some(pairs)))
}
