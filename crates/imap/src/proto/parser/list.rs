//! LIST with LIST-EXTENDED (RFC 5258 §3, part of RFC 9051 §6.3.9),
//! LIST-STATUS (RFC 5819 §2) and SPECIAL-USE (RFC 6154 §5.1), and the
//! IMAP4rev1 LSUB (RFC 3501 §6.3.9).

use super::mailbox::status_items;
use super::{Cursor, PResult};
use crate::proto::command::{CommandKind, ListCommand};

const SELECT_OPTIONS: [&str; 4] = ["SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"];
const RETURN_OPTIONS: [&str; 3] = ["SUBSCRIBED", "CHILDREN", "SPECIAL-USE"];

/// `LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]`.
pub(super) fn list(c: &mut Cursor) -> PResult<CommandKind> {
    let mut l = ListCommand::default();
    c.sp()?;
    if c.peek() == Some(b'(') {
        l.select = c.paren_list(true, |c| {
            let opt = c.atom_upper()?;
            if !SELECT_OPTIONS.contains(&opt.as_str()) {
                return Err(c.err(format_args!("unknown LIST selection option {opt}")));
            }
            Ok(opt)
        })?;
        // RFC 5258 §3: RECURSIVEMATCH only modifies a base option
        // (SUBSCRIBED, or SPECIAL-USE by RFC 6154 §5.1); alone, or with
        // REMOTE only, it is an error.
        let has_base = l.select.iter().any(|s| s == "SUBSCRIBED" || s == "SPECIAL-USE");
        if l.select.iter().any(|s| s == "RECURSIVEMATCH") && !has_base {
            return Err(c.err("RECURSIVEMATCH needs SUBSCRIBED or SPECIAL-USE"));
        }
        c.sp()?;
    }
    // The reference is an astring; `list_mailbox` reads that (and lets a
    // stray wildcard through, which matching then takes literally).
    l.reference = reference(c)?;
    c.sp()?;
    if c.peek() == Some(b'(') {
        l.patterns = c.paren_list(false, Cursor::list_mailbox)?;
    } else {
        l.patterns.push(c.list_mailbox()?);
    }
    if c.eat(b' ') {
        if !c.keyword("RETURN") {
            return Err(c.err("expected RETURN"));
        }
        c.sp()?;
        let mut status = None;
        let opts = c.paren_list(true, |c| {
            if c.keyword("STATUS") {
                c.sp()?;
                status = Some(status_items(c)?);
                return Ok(None);
            }
            let opt = c.atom_upper()?;
            if !RETURN_OPTIONS.contains(&opt.as_str()) {
                return Err(c.err(format_args!("unknown LIST return option {opt}")));
            }
            Ok(Some(opt))
        })?;
        l.returns = opts.into_iter().flatten().collect();
        l.return_status = status;
    }
    Ok(CommandKind::List(l))
}

/// `LSUB SP mailbox SP list-mailbox`.
pub(super) fn lsub(c: &mut Cursor) -> PResult<CommandKind> {
    c.sp()?;
    let reference = reference(c)?;
    c.sp()?;
    let pattern = c.list_mailbox()?;
    Ok(CommandKind::Lsub { reference, pattern })
}

/// The reference name. Python's imaplib sends an empty one as nothing at
/// all (`LIST  pattern`, two spaces); that is taken as `""` rather than
/// refusing a client this common.
fn reference(c: &mut Cursor) -> PResult<String> {
    if c.peek() == Some(b' ') {
        return Ok(String::new());
    }
    c.list_mailbox()
}
