//! STORE (RFC 9051 §6.4.6) with CONDSTORE's UNCHANGEDSINCE (RFC 7162
//! §3.1.3).

use super::{Cursor, PResult};
use crate::proto::command::{CommandKind, Store, StoreMode};

/// `sequence-set [SP "(" store-modifier *(SP store-modifier) ")"] SP
/// store-att-flags`, where `store-att-flags = (["+" / "-"] "FLAGS"
/// [".SILENT"]) SP (flag-list / (flag *(SP flag)))`.
pub(super) fn store(c: &mut Cursor, uid: bool) -> PResult<CommandKind> {
    c.sp()?;
    let set = c.sequence_set()?;
    c.sp()?;
    let mut unchanged_since = None;
    if c.peek() == Some(b'(') {
        // RFC 4466 §2.5 store-modifiers; UNCHANGEDSINCE takes
        // mod-sequence-valzer (0 allowed: "only if never changed").
        let mods = c.paren_list(false, |c| {
            if !c.keyword("UNCHANGEDSINCE") {
                return Err(c.err("unknown STORE modifier"));
            }
            c.sp()?;
            c.number64()
        })?;
        unchanged_since = mods.last().copied();
        c.sp()?;
    }
    let mode = if c.eat(b'+') {
        StoreMode::Add
    } else if c.eat(b'-') {
        StoreMode::Remove
    } else {
        StoreMode::Replace
    };
    let silent = if c.keyword("FLAGS.SILENT") {
        true
    } else if c.keyword("FLAGS") {
        false
    } else {
        return Err(c.err("expected FLAGS, +FLAGS or -FLAGS"));
    };
    c.sp()?;
    let flags = if c.peek() == Some(b'(') {
        c.flag_list()?
    } else {
        let mut v = vec![c.flag(false)?];
        while c.eat(b' ') {
            v.push(c.flag(false)?);
        }
        v
    };
    Ok(CommandKind::Store { uid, set, store: Store { mode, silent, flags, unchanged_since } })
}
