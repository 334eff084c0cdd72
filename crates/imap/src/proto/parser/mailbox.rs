//! Commands on one mailbox by name: CREATE with CREATE-SPECIAL-USE (RFC
//! 9051 §6.3.4, RFC 6154 §3), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (§6.3.5-8),
//! STATUS (§6.3.11) and GETQUOTA/GETQUOTAROOT (RFC 9208 §4.2-3).

use super::{Cursor, PResult};
use crate::proto::command::{CommandKind, StatusItem};

/// `SP mailbox`, for DELETE, SUBSCRIBE, UNSUBSCRIBE and GETQUOTAROOT.
pub(super) fn one_mailbox(c: &mut Cursor) -> PResult<String> {
    c.sp()?;
    c.mailbox()
}

/// `CREATE SP mailbox [SP "(" "USE" SP "(" [use-attr *(SP use-attr)] ")" ")"]`.
/// RFC 6154 §6: `use-attr` is a `\`-flag; unknown create-params are BAD.
pub(super) fn create(c: &mut Cursor) -> PResult<CommandKind> {
    let mailbox = one_mailbox(c)?;
    let mut special_use = Vec::new();
    if c.eat(b' ') {
        let params = c.paren_list(false, |c| {
            if !c.keyword("USE") {
                return Err(c.err("unknown CREATE parameter"));
            }
            c.sp()?;
            c.paren_list(true, |c| {
                if c.peek() != Some(b'\\') {
                    return Err(c.err("a special-use attribute starts with \\"));
                }
                c.flag(false)
            })
        })?;
        special_use = params.into_iter().flatten().collect();
    }
    Ok(CommandKind::Create { mailbox, special_use })
}

/// `RENAME SP mailbox SP mailbox`.
pub(super) fn rename(c: &mut Cursor) -> PResult<CommandKind> {
    let from = one_mailbox(c)?;
    let to = one_mailbox(c)?;
    Ok(CommandKind::Rename { from, to })
}

/// `"(" status-att *(SP status-att) ")"`, shared with LIST-STATUS.
pub(super) fn status_items(c: &mut Cursor) -> PResult<Vec<StatusItem>> {
    c.paren_list(false, |c| {
        let name = c.atom_upper()?;
        Ok(match name.as_str() {
            "MESSAGES" => StatusItem::Messages,
            "UIDNEXT" => StatusItem::UidNext,
            "UIDVALIDITY" => StatusItem::UidValidity,
            "UNSEEN" => StatusItem::Unseen,
            "DELETED" => StatusItem::Deleted,
            "SIZE" => StatusItem::Size,
            "RECENT" => StatusItem::Recent,
            "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
            "APPENDLIMIT" => StatusItem::AppendLimit,
            _ => return Err(c.err(format_args!("unknown STATUS item {name}"))),
        })
    })
}

/// `STATUS SP mailbox SP "(" status-att *(SP status-att) ")"`.
pub(super) fn status(c: &mut Cursor) -> PResult<CommandKind> {
    let mailbox = one_mailbox(c)?;
    c.sp()?;
    let items = status_items(c)?;
    Ok(CommandKind::Status { mailbox, items })
}

/// `GETQUOTA SP quota-root`: an astring naming a quota root, not a mailbox.
pub(super) fn get_quota(c: &mut Cursor) -> PResult<CommandKind> {
    c.sp()?;
    Ok(CommandKind::GetQuota(c.astring()?))
}
