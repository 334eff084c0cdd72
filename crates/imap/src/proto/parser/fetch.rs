//! FETCH (RFC 9051 §6.4.5): the macros ALL/FAST/FULL, every item,
//! `BODY[section]<partial>`, BINARY (RFC 3516 §4.2), and the CONDSTORE /
//! QRESYNC modifiers (RFC 7162 §3.1.4.1, §3.2.6).

use atoll_message::{Partial, Section, SectionText};

use super::{Cursor, PResult};
use crate::proto::command::{CommandKind, FetchItem};

/// Part numbers nest as deep as MIME does; nobody needs 100 levels.
const MAX_PART_DEPTH: usize = 100;

/// `sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att
/// *(SP fetch-att) ")") [SP "(" fetch-modifier *(SP fetch-modifier) ")"]`.
pub(super) fn fetch(c: &mut Cursor, uid: bool) -> PResult<CommandKind> {
    use FetchItem::*;
    c.sp()?;
    let set = c.sequence_set()?;
    c.sp()?;
    // RFC 9051 §6.4.5: the macros stand alone, never inside a list.
    let items = if c.keyword("ALL") {
        vec![Flags, InternalDate, Rfc822Size, Envelope]
    } else if c.keyword("FAST") {
        vec![Flags, InternalDate, Rfc822Size]
    } else if c.keyword("FULL") {
        vec![Flags, InternalDate, Rfc822Size, Envelope, Body]
    } else if c.peek() == Some(b'(') {
        c.paren_list(false, item)?
    } else {
        vec![item(c)?]
    };
    let mut changed_since = None;
    let mut vanished = false;
    if c.eat(b' ') {
        c.paren_list(false, |c| {
            if c.keyword("CHANGEDSINCE") {
                c.sp()?;
                changed_since = Some(c.nz_number64()?);
            } else if c.keyword("VANISHED") {
                vanished = true;
            } else {
                return Err(c.err("unknown FETCH modifier"));
            }
            Ok(())
        })?;
        // RFC 7162 §3.2.6: VANISHED only with UID FETCH and CHANGEDSINCE.
        if vanished && (!uid || changed_since.is_none()) {
            return Err(c.err("VANISHED needs UID FETCH with CHANGEDSINCE"));
        }
    }
    Ok(CommandKind::Fetch { uid, set, items, changed_since, vanished })
}

fn item(c: &mut Cursor) -> PResult<FetchItem> {
    // Longer names first: "BODY" begins "BODY.PEEK" and "BODYSTRUCTURE".
    if c.keyword("BODY.PEEK") {
        let (section, partial) = section(c)?;
        return Ok(FetchItem::BodySection { section, partial, peek: true });
    }
    if c.keyword("BINARY.PEEK") {
        let (path, partial) = binary_section(c)?;
        return Ok(FetchItem::Binary { path, partial, peek: true });
    }
    if c.keyword("BINARY.SIZE") {
        let (path, partial) = binary_section(c)?;
        if partial.is_some() {
            return Err(c.err("BINARY.SIZE takes no partial"));
        }
        return Ok(FetchItem::BinarySize { path });
    }
    if c.keyword("BINARY") {
        let (path, partial) = binary_section(c)?;
        return Ok(FetchItem::Binary { path, partial, peek: false });
    }
    if c.keyword("BODY") {
        if c.peek() == Some(b'[') {
            let (section, partial) = section(c)?;
            return Ok(FetchItem::BodySection { section, partial, peek: false });
        }
        return Ok(FetchItem::Body);
    }
    let name = c.atom_upper()?;
    Ok(match name.as_str() {
        "BODYSTRUCTURE" => FetchItem::BodyStructure,
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
        _ => return Err(c.err(format_args!("unknown FETCH item {name}"))),
    })
}

/// `partial = "<" number64 "." nz-number64 ">"`.
fn partial(c: &mut Cursor) -> PResult<Option<Partial>> {
    if !c.eat(b'<') {
        return Ok(None);
    }
    let origin = c.number64()?;
    c.expect(b'.')?;
    let count = c.nz_number64()?;
    c.expect(b'>')?;
    Ok(Some(Partial { origin, count }))
}

/// `section-part = nz-number *("." nz-number)`; stops before a `.` that
/// is not followed by a digit (the start of a section-text).
fn part_path(c: &mut Cursor) -> PResult<Vec<u32>> {
    let mut path = Vec::new();
    if !c.peek().is_some_and(|b| b.is_ascii_digit()) {
        return Ok(path);
    }
    loop {
        path.push(c.nz_number32()?);
        if path.len() > MAX_PART_DEPTH {
            return Err(c.err("part path too deep"));
        }
        let save = c.i;
        if c.eat(b'.') && c.peek().is_some_and(|b| b.is_ascii_digit()) {
            continue;
        }
        c.i = save;
        return Ok(path);
    }
}

/// `section = "[" [section-spec] "]"`, `section-spec = section-msgtext /
/// (section-part ["." section-text])`, `section-text = section-msgtext /
/// "MIME"`.
fn section(c: &mut Cursor) -> PResult<(Section, Option<Partial>)> {
    c.expect(b'[')?;
    let path = part_path(c)?;
    let mut text = None;
    if c.peek() != Some(b']') {
        if !path.is_empty() {
            c.expect(b'.')?;
        }
        text = Some(if c.keyword("HEADER.FIELDS.NOT") {
            SectionText::HeaderFields { not: true, fields: header_list(c)? }
        } else if c.keyword("HEADER.FIELDS") {
            SectionText::HeaderFields { not: false, fields: header_list(c)? }
        } else if c.keyword("HEADER") {
            SectionText::Header
        } else if c.keyword("TEXT") {
            SectionText::Text
        } else if !path.is_empty() && c.keyword("MIME") {
            // RFC 9051 §6.4.5: MIME only follows a part number.
            SectionText::Mime
        } else {
            return Err(c.err("unknown section"));
        });
    }
    c.expect(b']')?;
    Ok((Section { path, text }, partial(c)?))
}

/// `header-list = "(" header-fld-name *(SP header-fld-name) ")"`.
fn header_list(c: &mut Cursor) -> PResult<Vec<String>> {
    c.sp()?;
    c.paren_list(false, Cursor::astring)
}

/// `section-binary = "[" [section-part] "]"` and its partial.
fn binary_section(c: &mut Cursor) -> PResult<(Vec<u32>, Option<Partial>)> {
    c.expect(b'[')?;
    let path = part_path(c)?;
    c.expect(b']')?;
    Ok((path, partial(c)?))
}
