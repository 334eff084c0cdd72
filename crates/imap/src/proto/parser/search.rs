//! SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4): CHARSET, ESEARCH's RETURN
//! options (RFC 4731 §3.1), every RFC 3501 key, MODSEQ (RFC 7162 §3.1.5),
//! OLDER/YOUNGER (RFC 5032 §3), the SAVEDATE keys (RFC 8514 §4) and `$`
//! (RFC 5182 §2.1).

use super::{Cursor, PResult, ParseErrorKind, SEARCH_CHARSETS};
use crate::proto::command::{CommandKind, Search, SearchKey, SearchReturn};

/// How deep NOT, OR and parentheses may nest. Parsing, evaluating and
/// dropping a key all recurse, so a hostile `NOT NOT NOT …` or `((((…`
/// must not reach the stack's end; no real client nests this deep.
pub const MAX_SEARCH_DEPTH: usize = 32;

/// `SEARCH [SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"]
/// SP ["CHARSET" SP charset SP] search-key *(SP search-key)`.
pub(super) fn search(c: &mut Cursor, uid: bool) -> PResult<CommandKind> {
    let mut s = Search { charset: None, returns: None, keys: Vec::new() };
    c.sp()?;
    if c.keyword("RETURN") {
        c.sp()?;
        s.returns = Some(c.paren_list(true, |c| {
            let opt = c.atom_upper()?;
            Ok(match opt.as_str() {
                "MIN" => SearchReturn::Min,
                "MAX" => SearchReturn::Max,
                "ALL" => SearchReturn::All,
                "COUNT" => SearchReturn::Count,
                "SAVE" => SearchReturn::Save,
                _ => return Err(c.err(format_args!("unknown SEARCH RETURN option {opt}"))),
            })
        })?);
        c.sp()?;
    }
    if c.keyword("CHARSET") {
        c.sp()?;
        let cs = c.astring()?.to_ascii_uppercase();
        // RFC 9051 §6.4.4: an unsupported charset is NO [BADCHARSET].
        if !SEARCH_CHARSETS.contains(&cs.as_str()) {
            return Err(ParseErrorKind::BadCharset(cs));
        }
        s.charset = Some(cs);
        c.sp()?;
    }
    loop {
        s.keys.push(key(c, 0)?);
        if !c.eat(b' ') {
            return Ok(CommandKind::Search { uid, search: s });
        }
    }
}

fn flag(name: &str, set: bool) -> SearchKey {
    SearchKey::Flag { flag: name.to_string(), set }
}

fn key(c: &mut Cursor, depth: usize) -> PResult<SearchKey> {
    if depth >= MAX_SEARCH_DEPTH {
        return Err(ParseErrorKind::TooDeep);
    }
    if c.peek() == Some(b'(') {
        return Ok(SearchKey::And(c.paren_list(false, |c| key(c, depth + 1))?));
    }
    if c.peek().is_some_and(|b| b.is_ascii_digit() || b == b'*' || b == b'$') {
        return Ok(SearchKey::Seq(c.sequence_set()?));
    }
    let name = c.atom_upper()?;
    let key = match name.as_str() {
        "ALL" => SearchKey::All,
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
        // RFC 3501 §6.4.4: NEW is RECENT UNSEEN.
        "NEW" => SearchKey::And(vec![SearchKey::Recent(true), flag("\\Seen", false)]),
        "OLD" => SearchKey::Recent(false),
        "RECENT" => SearchKey::Recent(true),
        "KEYWORD" | "UNKEYWORD" => {
            c.sp()?;
            // flag-keyword is an atom: no `\`.
            SearchKey::Flag { flag: c.atom()?.to_string(), set: name == "KEYWORD" }
        }
        "BCC" | "CC" | "FROM" | "SUBJECT" | "TO" => {
            c.sp()?;
            SearchKey::Header { name, value: c.astring()? }
        }
        "HEADER" => {
            c.sp()?;
            let field = c.astring()?;
            c.sp()?;
            SearchKey::Header { name: field, value: c.astring()? }
        }
        "BODY" | "TEXT" => {
            c.sp()?;
            let v = c.astring()?;
            if name == "BODY" { SearchKey::Body(v) } else { SearchKey::Text(v) }
        }
        "BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE" | "SAVEDBEFORE" | "SAVEDON"
        | "SAVEDSINCE" => {
            c.sp()?;
            let d = c.date()?;
            match name.as_str() {
                "BEFORE" => SearchKey::Before(d),
                "ON" => SearchKey::On(d),
                "SINCE" => SearchKey::Since(d),
                "SENTBEFORE" => SearchKey::SentBefore(d),
                "SENTON" => SearchKey::SentOn(d),
                "SENTSINCE" => SearchKey::SentSince(d),
                "SAVEDBEFORE" => SearchKey::SavedBefore(d),
                "SAVEDON" => SearchKey::SavedOn(d),
                _ => SearchKey::SavedSince(d),
            }
        }
        "SAVEDATESUPPORTED" => SearchKey::SaveDateSupported,
        "LARGER" | "SMALLER" => {
            c.sp()?;
            let n = c.number64()?;
            if name == "LARGER" { SearchKey::Larger(n) } else { SearchKey::Smaller(n) }
        }
        "OLDER" | "YOUNGER" => {
            c.sp()?;
            // RFC 5032 §4: interval = nz-number.
            let n = u64::from(c.nz_number32()?);
            if name == "OLDER" { SearchKey::Older(n) } else { SearchKey::Younger(n) }
        }
        "UID" => {
            c.sp()?;
            SearchKey::Uid(c.sequence_set()?)
        }
        "MODSEQ" => {
            // RFC 7162 §3.1.5: MODSEQ [SP entry-name SP entry-type-req]
            // SP mod-sequence-valzer, entry-name a quoted "/flags/…".
            c.sp()?;
            if c.peek() == Some(b'"') {
                c.string()?;
                c.sp()?;
                let t = c.atom_upper()?;
                if !matches!(t.as_str(), "PRIV" | "SHARED" | "ALL") {
                    return Err(c.err("MODSEQ entry type must be priv, shared or all"));
                }
                c.sp()?;
            }
            SearchKey::ModSeq(c.number64()?)
        }
        "NOT" => {
            c.sp()?;
            SearchKey::Not(Box::new(key(c, depth + 1)?))
        }
        "OR" => {
            c.sp()?;
            let a = key(c, depth + 1)?;
            c.sp()?;
            let b = key(c, depth + 1)?;
            SearchKey::Or(Box::new(a), Box::new(b))
        }
        _ => return Err(c.err(format_args!("unknown search key {name}"))),
    };
    Ok(key)
}
