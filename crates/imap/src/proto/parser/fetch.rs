//! FETCH items (RFC 9051 §6.4.5), the macros ALL/FAST/FULL, BODY[section]
//! <partial>, BINARY (RFC 3516) and the CONDSTORE/QRESYNC modifiers
//! (RFC 7162 §3.1.4, §3.2.6).

use atoll_message::{Partial, Section, SectionText};

use super::{Cursor, PResult};
use crate::proto::command::{CommandKind, FetchItem};

pub(super) fn fetch(c: &mut Cursor, uid: bool) -> PResult<CommandKind> {
    c.sp()?;
    let set = c.sequence_set()?;
    c.sp()?;
    let mut items = Vec::new();
    if c.keyword("ALL") {
        items = vec![FetchItem::Flags, FetchItem::InternalDate, FetchItem::Rfc822Size, FetchItem::Envelope];
    } else if c.keyword("FAST") {
        items = vec![FetchItem::Flags, FetchItem::InternalDate, FetchItem::Rfc822Size];
    } else if c.keyword("FULL") {
        items = vec![
            FetchItem::Flags,
            FetchItem::InternalDate,
            FetchItem::Rfc822Size,
            FetchItem::Envelope,
            FetchItem::Body,
        ];
    } else if c.eat(b'(') {
        while !c.eat(b')') {
            if !items.is_empty() {
                c.sp()?;
            }
            items.push(item(c)?);
        }
        if items.is_empty() {
            return Err("empty FETCH item list".into());
        }
    } else {
        items.push(item(c)?);
    }
    let mut changed_since = None;
    let mut vanished = false;
    if c.eat(b' ') {
        c.expect(b'(')?;
        while !c.eat(b')') {
            c.eat(b' ');
            if c.keyword("CHANGEDSINCE") {
                c.sp()?;
                changed_since = Some(c.number()?);
            } else if c.keyword("VANISHED") {
                vanished = true;
            } else {
                return Err("unknown FETCH modifier".into());
            }
        }
        // RFC 7162 §3.2.6: VANISHED only with UID FETCH and CHANGEDSINCE.
        if vanished && (!uid || changed_since.is_none()) {
            return Err("VANISHED needs UID FETCH with CHANGEDSINCE".into());
        }
    }
    Ok(CommandKind::Fetch { uid, set, items, changed_since, vanished })
}

fn item(c: &mut Cursor) -> PResult<FetchItem> {
    // Longer names first: "BODY" is a prefix of "BODY.PEEK" and "BODYSTRUCTURE".
    if c.keyword("BODY.PEEK") {
        let (section, partial) = section(c)?;
        return Ok(FetchItem::BodySection { section, partial, peek: true });
    }
    if c.keyword("BINARY.PEEK") {
        let (path, partial) = binary_section(c)?;
        return Ok(FetchItem::Binary { path, partial, peek: true });
    }
    if c.keyword("BINARY.SIZE") {
        let (path, _) = binary_section(c)?;
        return Ok(FetchItem::BinarySize { path });
    }
    if c.keyword("BINARY") {
        let (path, partial) = binary_section(c)?;
        return Ok(FetchItem::Binary { path, partial, peek: false });
    }
    if c.keyword("BODYSTRUCTURE") {
        return Ok(FetchItem::BodyStructure);
    }
    if c.keyword("BODY") {
        if c.peek() == Some(b'[') {
            let (section, partial) = section(c)?;
            return Ok(FetchItem::BodySection { section, partial, peek: false });
        }
        return Ok(FetchItem::Body);
    }
    let name = c.atom()?.to_ascii_uppercase();
    Ok(match name.as_str() {
        "ENVELOPE" => FetchItem::Envelope,
        "FLAGS" => FetchItem::Flags,
        "INTERNALDATE" => FetchItem::InternalDate,
        "RFC822" => FetchItem::Rfc822,
        "RFC822.HEADER" => FetchItem::Rfc822Header,
        "RFC822.SIZE" => FetchItem::Rfc822Size,
        "RFC822.TEXT" => FetchItem::Rfc822Text,
        "UID" => FetchItem::Uid,
        "MODSEQ" => FetchItem::ModSeq,
        "SAVEDATE" => FetchItem::SaveDate,
        other => return Err(format!("unknown FETCH item {other}")),
    })
}

fn partial(c: &mut Cursor) -> PResult<Option<Partial>> {
    if !c.eat(b'<') {
        return Ok(None);
    }
    let origin = c.number()?;
    c.expect(b'.')?;
    let count = c.number()?;
    if count == 0 {
        return Err("partial length must be non-zero".into());
    }
    c.expect(b'>')?;
    Ok(Some(Partial { origin, count }))
}

fn part_path(c: &mut Cursor) -> PResult<Vec<u32>> {
    let mut path = Vec::new();
    while c.peek().is_some_and(|b| b.is_ascii_digit()) {
        let n = c.number32()?;
        if n == 0 {
            return Err("part numbers start at 1".into());
        }
        path.push(n);
        if path.len() > 100 {
            return Err("part path too deep".into());
        }
        if !c.eat(b'.') {
            break;
        }
    }
    Ok(path)
}

fn section(c: &mut Cursor) -> PResult<(Section, Option<Partial>)> {
    c.expect(b'[')?;
    let path = part_path(c)?;
    let dotted = path.is_empty() || c.b.get(c.i.wrapping_sub(1)) == Some(&b'.');
    let mut text = None;
    if c.peek() != Some(b']') {
        if !dotted {
            return Err("expected '.' after the part number".into());
        }
        let name = c.atom()?.to_ascii_uppercase();
        text = Some(match name.as_str() {
            "HEADER" => SectionText::Header,
            "TEXT" => SectionText::Text,
            "MIME" if !path.is_empty() => SectionText::Mime,
            "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
                c.sp()?;
                c.expect(b'(')?;
                let mut fields = Vec::new();
                while !c.eat(b')') {
                    if !fields.is_empty() {
                        c.sp()?;
                    }
                    fields.push(c.astring()?);
                }
                if fields.is_empty() {
                    return Err("HEADER.FIELDS needs a field name".into());
                }
                SectionText::HeaderFields { not: name.ends_with(".NOT"), fields }
            }
            other => return Err(format!("unknown section {other}")),
        });
    } else if !path.is_empty() && c.b.get(c.i.wrapping_sub(1)) == Some(&b'.') {
        return Err("section ends with '.'".into());
    }
    c.expect(b']')?;
    Ok((Section { path, text }, partial(c)?))
}

fn binary_section(c: &mut Cursor) -> PResult<(Vec<u32>, Option<Partial>)> {
    c.expect(b'[')?;
    let path = part_path(c)?;
    c.expect(b']')?;
    Ok((path, partial(c)?))
}
