//! Arguments of the mailbox commands: SELECT/EXAMINE parameters (RFC 7162),
//! CREATE's USE (RFC 6154 §3), LIST-EXTENDED (RFC 5258) with LIST-STATUS
//! (RFC 5819), STATUS and APPEND.

use super::{Cursor, PResult};
use crate::proto::command::{Append, CommandKind, ListCommand, Qresync, SelectParams, StatusItem};

pub(super) fn select(c: &mut Cursor, read_only: bool) -> PResult<CommandKind> {
    c.sp()?;
    let mailbox = c.mailbox()?;
    let mut params = SelectParams::default();
    if c.eat(b' ') {
        c.expect(b'(')?;
        while !c.eat(b')') {
            c.eat(b' ');
            if c.keyword("CONDSTORE") {
                params.condstore = true;
            } else if c.keyword("QRESYNC") {
                // RFC 7162 §3.2.5: (uidvalidity modseq [known-uids [seq-match]])
                c.sp()?;
                c.expect(b'(')?;
                let uidvalidity = c.number32()?;
                c.sp()?;
                let modseq = c.number()?;
                let mut known_uids = None;
                if c.eat(b' ') {
                    if c.peek() != Some(b'(') {
                        known_uids = Some(c.sequence_set()?);
                        c.eat(b' ');
                    }
                    if c.eat(b'(') {
                        // Sequence match data only speeds up resync; skip it.
                        while c.peek().is_some_and(|b| b != b')') {
                            c.i += 1;
                        }
                        c.expect(b')')?;
                    }
                }
                c.expect(b')')?;
                params.qresync = Some(Qresync { uidvalidity, modseq, known_uids });
            } else {
                return Err("unknown SELECT parameter".into());
            }
        }
    }
    Ok(CommandKind::Select { mailbox, read_only, params })
}

pub(super) fn create(c: &mut Cursor) -> PResult<CommandKind> {
    c.sp()?;
    let mailbox = c.mailbox()?;
    let mut special_use = Vec::new();
    if c.eat(b' ') {
        c.expect(b'(')?;
        if !c.keyword("USE") {
            return Err("unknown CREATE parameter".into());
        }
        c.sp()?;
        special_use = c.flag_list()?;
        c.expect(b')')?;
    }
    Ok(CommandKind::Create { mailbox, special_use })
}

fn atom_list(c: &mut Cursor) -> PResult<Vec<String>> {
    c.expect(b'(')?;
    let mut out = Vec::new();
    while !c.eat(b')') {
        if !out.is_empty() {
            c.sp()?;
        }
        out.push(c.atom()?.to_ascii_uppercase());
    }
    Ok(out)
}

pub(super) fn status_items(c: &mut Cursor) -> PResult<Vec<StatusItem>> {
    let mut out = Vec::new();
    for a in atom_list(c)? {
        out.push(match a.as_str() {
            "MESSAGES" => StatusItem::Messages,
            "UIDNEXT" => StatusItem::UidNext,
            "UIDVALIDITY" => StatusItem::UidValidity,
            "UNSEEN" => StatusItem::Unseen,
            "DELETED" => StatusItem::Deleted,
            "SIZE" => StatusItem::Size,
            "RECENT" => StatusItem::Recent,
            "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
            "APPENDLIMIT" => StatusItem::AppendLimit,
            other => return Err(format!("unknown STATUS item {other}")),
        });
    }
    Ok(out)
}

pub(super) fn status(c: &mut Cursor) -> PResult<CommandKind> {
    c.sp()?;
    let mailbox = c.mailbox()?;
    c.sp()?;
    let items = status_items(c)?;
    Ok(CommandKind::Status { mailbox, items })
}

pub(super) fn list(c: &mut Cursor) -> PResult<CommandKind> {
    let mut l = ListCommand::default();
    c.sp()?;
    if c.peek() == Some(b'(') {
        l.select = atom_list(c)?;
        for s in &l.select {
            if !matches!(s.as_str(), "SUBSCRIBED" | "REMOTE" | "RECURSIVEMATCH" | "SPECIAL-USE") {
                return Err(format!("unknown LIST selection option {s}"));
            }
        }
        if l.select.iter().any(|s| s == "RECURSIVEMATCH") && l.select.len() == 1 {
            // RFC 5258 §3: RECURSIVEMATCH alone is an error.
            return Err("RECURSIVEMATCH needs another selection option".into());
        }
        c.sp()?;
    }
    l.reference = c.list_mailbox().or_else(|e| if c.peek() == Some(b' ') { Ok(String::new()) } else { Err(e) })?;
    c.sp()?;
    if c.eat(b'(') {
        while !c.eat(b')') {
            if !l.patterns.is_empty() {
                c.sp()?;
            }
            l.patterns.push(c.list_mailbox()?);
        }
    } else {
        l.patterns.push(c.list_mailbox()?);
    }
    if c.eat(b' ') {
        if !c.keyword("RETURN") {
            return Err("expected RETURN".into());
        }
        c.sp()?;
        c.expect(b'(')?;
        while !c.eat(b')') {
            c.eat(b' ');
            if c.keyword("STATUS") {
                c.sp()?;
                l.return_status = Some(status_items(c)?);
            } else {
                let opt = c.atom()?.to_ascii_uppercase();
                if !matches!(opt.as_str(), "SUBSCRIBED" | "CHILDREN" | "SPECIAL-USE") {
                    return Err(format!("unknown LIST return option {opt}"));
                }
                l.returns.push(opt);
            }
        }
    }
    Ok(CommandKind::List(l))
}

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
    // RFC 3516 §4.4: BINARY APPEND uses literal8 (~{n}); string_bytes takes
    // both forms. A quoted string is no message (RFC 9051 §6.3.12).
    if !c.at_string() || c.peek() == Some(b'"') {
        return Err("APPEND needs the message as a literal".into());
    }
    let message = c.string_bytes()?;
    if message.is_empty() {
        return Err("empty message".into());
    }
    Ok(CommandKind::Append(Append { mailbox, flags, date, message }))
}
