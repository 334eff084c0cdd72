//! SEARCH (RFC 9051 §6.4.4): CHARSET, ESEARCH's RETURN (RFC 4731), every
//! RFC 3501 key, MODSEQ (RFC 7162 §3.1.5), OLDER/YOUNGER (RFC 5032) and `$`
//! (RFC 5182). Nesting is capped so a hostile command cannot exhaust the
//! stack.

use super::{Cursor, PResult};
use crate::proto::command::{CommandKind, Search, SearchKey, SearchReturn};

const MAX_DEPTH: usize = 32;

pub(super) fn search(c: &mut Cursor, uid: bool) -> PResult<CommandKind> {
    let mut s = Search { charset: None, returns: None, keys: Vec::new() };
    c.sp()?;
    if c.keyword("RETURN") {
        c.sp()?;
        c.expect(b'(')?;
        let mut returns = Vec::new();
        while !c.eat(b')') {
            c.eat(b' ');
            let r = c.atom()?.to_ascii_uppercase();
            returns.push(match r.as_str() {
                "MIN" => SearchReturn::Min,
                "MAX" => SearchReturn::Max,
                "ALL" => SearchReturn::All,
                "COUNT" => SearchReturn::Count,
                "SAVE" => SearchReturn::Save,
                other => return Err(format!("unknown SEARCH RETURN option {other}")),
            });
        }
        s.returns = Some(returns);
        c.sp()?;
    }
    if c.keyword("CHARSET") {
        c.sp()?;
        let cs = c.astring()?.to_ascii_uppercase();
        // RFC 9051 §6.4.4: UTF-8 and US-ASCII must be supported; others may
        // be refused with [BADCHARSET].
        if !matches!(cs.as_str(), "UTF-8" | "US-ASCII") {
            return Err(format!("[BADCHARSET (UTF-8 US-ASCII)] charset {cs} is not supported"));
        }
        s.charset = Some(cs);
        c.sp()?;
    }
    loop {
        s.keys.push(key(c, 0)?);
        if !c.eat(b' ') {
            break;
        }
    }
    Ok(CommandKind::Search { uid, search: s })
}

fn key(c: &mut Cursor, depth: usize) -> PResult<SearchKey> {
    if depth > MAX_DEPTH {
        return Err("search keys nested too deep".into());
    }
    if c.eat(b'(') {
        let mut keys = Vec::new();
        loop {
            keys.push(key(c, depth + 1)?);
            if c.eat(b')') {
                break;
            }
            c.sp()?;
        }
        return Ok(SearchKey::And(keys));
    }
    if c.peek().is_some_and(|b| b.is_ascii_digit() || b == b'*' || b == b'$') {
        return Ok(SearchKey::Seq(c.sequence_set()?));
    }
    let name = c.atom()?.to_ascii_uppercase();
    let flag = |f: &str, set: bool| Ok(SearchKey::Flag { flag: f.to_string(), set });
    let header = |c: &mut Cursor, name: &str| -> PResult<SearchKey> {
        c.sp()?;
        Ok(SearchKey::Header { name: name.to_string(), value: c.astring()? })
    };
    match name.as_str() {
        "ALL" => Ok(SearchKey::All),
        "ANSWERED" => flag("\\Answered", true),
        "DELETED" => flag("\\Deleted", true),
        "DRAFT" => flag("\\Draft", true),
        "FLAGGED" => flag("\\Flagged", true),
        "SEEN" => flag("\\Seen", true),
        "UNANSWERED" => flag("\\Answered", false),
        "UNDELETED" => flag("\\Deleted", false),
        "UNDRAFT" => flag("\\Draft", false),
        "UNFLAGGED" => flag("\\Flagged", false),
        "UNSEEN" => flag("\\Seen", false),
        "NEW" => {
            Ok(SearchKey::And(vec![SearchKey::Recent(true), SearchKey::Flag { flag: "\\Seen".into(), set: false }]))
        }
        "OLD" => Ok(SearchKey::Recent(false)),
        "RECENT" => Ok(SearchKey::Recent(true)),
        "KEYWORD" | "UNKEYWORD" => {
            c.sp()?;
            let k = c.atom()?.to_string();
            Ok(SearchKey::Flag { flag: k, set: name == "KEYWORD" })
        }
        "BCC" | "CC" | "FROM" | "SUBJECT" | "TO" => header(c, &name),
        "HEADER" => {
            c.sp()?;
            let field = c.astring()?;
            header(c, &field)
        }
        "BODY" | "TEXT" => {
            c.sp()?;
            let v = c.astring()?;
            Ok(if name == "BODY" { SearchKey::Body(v) } else { SearchKey::Text(v) })
        }
        "BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE" => {
            c.sp()?;
            let d = c.date()?;
            Ok(match name.as_str() {
                "BEFORE" => SearchKey::Before(d),
                "ON" => SearchKey::On(d),
                "SINCE" => SearchKey::Since(d),
                "SENTBEFORE" => SearchKey::SentBefore(d),
                "SENTON" => SearchKey::SentOn(d),
                _ => SearchKey::SentSince(d),
            })
        }
        "LARGER" | "SMALLER" => {
            c.sp()?;
            let n = c.number()?;
            Ok(if name == "LARGER" { SearchKey::Larger(n) } else { SearchKey::Smaller(n) })
        }
        "OLDER" | "YOUNGER" => {
            c.sp()?;
            let n = c.number()?;
            Ok(if name == "OLDER" { SearchKey::Older(n) } else { SearchKey::Younger(n) })
        }
        "UID" => {
            c.sp()?;
            Ok(SearchKey::Uid(c.sequence_set()?))
        }
        "MODSEQ" => {
            // RFC 7162 §3.1.5: MODSEQ [entry-name entry-type] modseq.
            c.sp()?;
            if c.peek() == Some(b'"') {
                c.string()?;
                c.sp()?;
                c.atom()?;
                c.sp()?;
            }
            Ok(SearchKey::ModSeq(c.number()?))
        }
        "NOT" => {
            c.sp()?;
            Ok(SearchKey::Not(Box::new(key(c, depth + 1)?)))
        }
        "OR" => {
            c.sp()?;
            let a = key(c, depth + 1)?;
            c.sp()?;
            let b = key(c, depth + 1)?;
            Ok(SearchKey::Or(Box::new(a), Box::new(b)))
        }
        other => Err(format!("unknown search key {other}")),
    }
}
