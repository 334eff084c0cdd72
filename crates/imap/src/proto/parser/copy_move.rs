//! COPY (RFC 9051 §6.4.7) and MOVE (RFC 6851 §3.1, RFC 9051 §6.4.8),
//! with or without UID.

use super::{Cursor, PResult};
use crate::proto::command::CommandKind;

/// `sequence-set SP mailbox`.
pub(super) fn copy_move(c: &mut Cursor, uid: bool, is_move: bool) -> PResult<CommandKind> {
    c.sp()?;
    let set = c.sequence_set()?;
    c.sp()?;
    let mailbox = c.mailbox()?;
    Ok(if is_move { CommandKind::Move { uid, set, mailbox } } else { CommandKind::Copy { uid, set, mailbox } })
}
