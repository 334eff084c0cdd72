//! APPEND (RFC 9051 §6.3.12) of one message, with BINARY's literal8
//! (RFC 3516 §4.4). MULTIAPPEND (RFC 3502) is not offered, so a second
//! message is a syntax error.

use super::{Cursor, PResult};
use crate::proto::command::{Append, CommandKind};

/// `APPEND SP mailbox [SP flag-list] [SP date-time] SP (literal / literal8)`.
pub(super) fn append(c: &mut Cursor) -> PResult<CommandKind> {
    c.sp()?;
    let mailbox = c.mailbox()?;
    c.sp()?;
    let mut flags = Vec::new();
    let mut date = None;
    if c.peek() == Some(b'(') {
        flags = c.flag_list()?;
        c.sp()?;
    }
    if c.peek() == Some(b'"') {
        date = Some(c.date_time()?);
        c.sp()?;
    }
    // The message is a literal: a quoted string cannot carry a message's
    // line breaks (RFC 9051 §9 `append-data`).
    if !matches!(c.peek(), Some(b'{' | b'~')) {
        return Err(c.err("APPEND needs the message as a literal"));
    }
    // A `{n}` literal with NUL breaks `literal = *CHAR8`; it is taken
    // anyway (and marked not binary): refusing costs the client its
    // message, and the store keeps bytes as they are.
    let (message, binary) = c.literal()?;
    if message.is_empty() {
        return Err(c.err("empty message"));
    }
    Ok(CommandKind::Append(Append { mailbox, flags, date, message: message.to_vec(), binary }))
}
