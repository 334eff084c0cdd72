//! The command parser: bytes of one whole command (from `framing`, with
//! literals inline) to a [`Command`]. Hand-written after RFC 9051 §9's
//! grammar; never panics, and every error carries the tag when one was
//! read so the session can answer `tag BAD …` and go on.
//!
//! - `mod.rs`: the lexer (atoms, strings, literals, numbers, dates) and
//!   the dispatch on the command name;
//! - `fetch.rs`, `search.rs`, `mailbox.rs`: the larger argument grammars.

mod fetch;
mod mailbox;
mod search;

use super::command::{Command, CommandKind, Store, StoreMode};
use super::sequence::SequenceSet;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    pub tag: Option<String>,
    pub reason: String,
}

pub(crate) type PResult<T> = Result<T, String>;

/// RFC 9051 `tag`: astring chars except `+`.
pub fn is_tag_char(b: u8) -> bool {
    is_atom_char(b) && b != b'+' || b == b']'
}

/// RFC 9051 `ATOM-CHAR`: any CHAR except atom-specials.
pub fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

pub(crate) struct Cursor<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) i: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Cursor { b, i: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// A quoted string or a literal (`{n}`, `~{n}`) starts here.
    pub(crate) fn at_string(&self) -> bool {
        match self.peek() {
            Some(b'"' | b'{') => true,
            Some(b'~') => self.b.get(self.i + 1) == Some(&b'{'),
            _ => false,
        }
    }

    pub(crate) fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    pub(crate) fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, c: u8) -> PResult<()> {
        if self.eat(c) { Ok(()) } else { Err(format!("expected {:?} at position {}", c as char, self.i)) }
    }

    pub(crate) fn sp(&mut self) -> PResult<()> {
        self.expect(b' ')
    }

    pub(crate) fn end(&self) -> PResult<()> {
        if self.at_end() { Ok(()) } else { Err(format!("unexpected characters at position {}", self.i)) }
    }

    /// Case-insensitive keyword followed by a non-atom character.
    pub(crate) fn keyword(&mut self, kw: &str) -> bool {
        let k = kw.as_bytes();
        if self.b.len() >= self.i + k.len()
            && self.b[self.i..self.i + k.len()].eq_ignore_ascii_case(k)
            && self.b.get(self.i + k.len()).is_none_or(|&c| !is_atom_char(c) || matches!(c, b'.' | b'['))
        {
            // "BODY" must not match the start of "BODY.PEEK"/"BODY[": callers
            // try the longer forms first.
            self.i += k.len();
            true
        } else {
            false
        }
    }

    pub(crate) fn atom(&mut self) -> PResult<&'a str> {
        let start = self.i;
        while self.peek().is_some_and(is_atom_char) {
            self.i += 1;
        }
        if start == self.i {
            return Err(format!("expected an atom at position {start}"));
        }
        std::str::from_utf8(&self.b[start..self.i]).map_err(|_| "atom is not ASCII".into())
    }

    /// A flag: `\Seen`, `\*` or a keyword atom.
    pub(crate) fn flag(&mut self) -> PResult<String> {
        if self.eat(b'\\') {
            if self.eat(b'*') {
                return Ok("\\*".into());
            }
            return Ok(format!("\\{}", self.atom()?));
        }
        Ok(self.atom()?.to_string())
    }

    pub(crate) fn flag_list(&mut self) -> PResult<Vec<String>> {
        self.expect(b'(')?;
        let mut out = Vec::new();
        while !self.eat(b')') {
            if !out.is_empty() {
                self.sp()?;
            }
            out.push(self.flag()?);
        }
        Ok(out)
    }

    /// Flags as `(a b)` or, in STORE, as bare `a b`.
    pub(crate) fn flags_maybe_bare(&mut self) -> PResult<Vec<String>> {
        if self.peek() == Some(b'(') {
            return self.flag_list();
        }
        let mut out = vec![self.flag()?];
        while self.eat(b' ') {
            out.push(self.flag()?);
        }
        Ok(out)
    }

    pub(crate) fn number(&mut self) -> PResult<u64> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let s = std::str::from_utf8(&self.b[start..self.i]).map_err(|_| "bad number")?;
        s.parse::<u64>().map_err(|_| format!("expected a number at position {start}"))
    }

    pub(crate) fn number32(&mut self) -> PResult<u32> {
        u32::try_from(self.number()?).map_err(|_| "number too large".to_string())
    }

    /// quoted / literal, as raw bytes.
    pub(crate) fn string_bytes(&mut self) -> PResult<Vec<u8>> {
        match self.peek() {
            Some(b'"') => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    match self.peek() {
                        None => return Err("unterminated quoted string".into()),
                        Some(b'"') => {
                            self.i += 1;
                            return Ok(out);
                        }
                        Some(b'\\') => {
                            self.i += 1;
                            match self.peek() {
                                Some(c @ (b'"' | b'\\')) => {
                                    out.push(c);
                                    self.i += 1;
                                }
                                _ => return Err("bad escape in quoted string".into()),
                            }
                        }
                        Some(b'\r' | b'\n') => return Err("line break in quoted string".into()),
                        Some(c) => {
                            out.push(c);
                            self.i += 1;
                        }
                    }
                }
            }
            Some(b'{') | Some(b'~') => {
                self.eat(b'~');
                self.expect(b'{')?;
                let n = self.number()?;
                self.eat(b'+');
                self.expect(b'}')?;
                self.expect(b'\r')?;
                self.expect(b'\n')?;
                let n = usize::try_from(n).map_err(|_| "literal too large")?;
                let end = self.i.checked_add(n).filter(|&e| e <= self.b.len()).ok_or("literal is cut short")?;
                let out = self.b[self.i..end].to_vec();
                self.i = end;
                Ok(out)
            }
            _ => Err(format!("expected a string at position {}", self.i)),
        }
    }

    pub(crate) fn string(&mut self) -> PResult<String> {
        String::from_utf8(self.string_bytes()?).map_err(|_| "string is not UTF-8".into())
    }

    /// astring: an atom (`]` allowed) or a string.
    pub(crate) fn astring(&mut self) -> PResult<String> {
        if self.at_string() {
            return self.string();
        }
        let start = self.i;
        while self.peek().is_some_and(|c| is_atom_char(c) || c == b']') {
            self.i += 1;
        }
        if start == self.i {
            return Err(format!("expected a string or atom at position {start}"));
        }
        String::from_utf8(self.b[start..self.i].to_vec()).map_err(|_| "not UTF-8".into())
    }

    pub(crate) fn nstring(&mut self) -> PResult<Option<String>> {
        if self.keyword("NIL") { Ok(None) } else { self.string().map(Some) }
    }

    /// A mailbox name: astring, decoded from modified UTF-7 unless it is
    /// valid UTF-8 already with non-ASCII (UTF8=ACCEPT clients send that).
    pub(crate) fn mailbox(&mut self) -> PResult<String> {
        let raw = self.astring()?;
        if raw.eq_ignore_ascii_case("INBOX") {
            return Ok("INBOX".into());
        }
        if raw.is_ascii() {
            return super::mutf7::decode(&raw).ok_or_else(|| format!("bad modified UTF-7 in mailbox name {raw:?}"));
        }
        Ok(raw)
    }

    /// A list-mailbox (LIST pattern): `%` and `*` allowed in atoms.
    pub(crate) fn list_mailbox(&mut self) -> PResult<String> {
        if self.at_string() {
            let s = self.string()?;
            return Ok(if s.is_ascii() { super::mutf7::decode(&s).unwrap_or(s) } else { s });
        }
        let start = self.i;
        while self.peek().is_some_and(|c| is_atom_char(c) || matches!(c, b'%' | b'*' | b']')) {
            self.i += 1;
        }
        if start == self.i {
            return Err("expected a mailbox pattern".into());
        }
        let s = String::from_utf8_lossy(&self.b[start..self.i]).into_owned();
        Ok(super::mutf7::decode(&s).unwrap_or(s))
    }

    pub(crate) fn sequence_set(&mut self) -> PResult<SequenceSet> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit() || matches!(c, b':' | b',' | b'*' | b'$')) {
            self.i += 1;
        }
        let s = std::str::from_utf8(&self.b[start..self.i]).map_err(|_| "bad sequence set")?;
        SequenceSet::parse(s).ok_or_else(|| format!("bad sequence set {s:?}"))
    }

    /// `d-Mon-yyyy`, quoted or not (RFC 9051 `date`): epoch seconds of
    /// that day's midnight, UTC.
    pub(crate) fn date(&mut self) -> PResult<i64> {
        let quoted = self.eat(b'"');
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'-') {
            self.i += 1;
        }
        let s = std::str::from_utf8(&self.b[start..self.i]).map_err(|_| "bad date")?;
        if quoted {
            self.expect(b'"')?;
        }
        let mut it = s.split('-');
        let (d, m, y) = (it.next(), it.next(), it.next());
        let (Some(d), Some(m), Some(y), None) = (d, m, y, it.next()) else {
            return Err(format!("bad date {s:?}"));
        };
        let day: u32 = d.parse().map_err(|_| format!("bad day in {s:?}"))?;
        let month = month_number(m).ok_or_else(|| format!("bad month in {s:?}"))?;
        let year: i64 = y.parse().map_err(|_| format!("bad year in {s:?}"))?;
        if !(1..=31).contains(&day) || !(1..=9999).contains(&year) {
            return Err(format!("bad date {s:?}"));
        }
        Ok(days_from_civil(year, month, day) * 86400)
    }

    /// `"dd-Mon-yyyy hh:mm:ss +zzzz"` (RFC 9051 `date-time`): epoch seconds.
    pub(crate) fn date_time(&mut self) -> PResult<i64> {
        let s = self.string()?;
        parse_date_time(&s).ok_or_else(|| format!("bad date-time {s:?}"))
    }
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

fn month_number(m: &str) -> Option<u32> {
    MONTHS.iter().position(|x| x.eq_ignore_ascii_case(m)).map(|i| i as u32 + 1)
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn parse_date_time(s: &str) -> Option<i64> {
    let s = s.trim_start();
    let (date, rest) = s.split_once(' ')?;
    let (time, zone) = rest.split_once(' ')?;
    let mut it = date.split('-');
    let day: u32 = it.next()?.parse().ok()?;
    let month = month_number(it.next()?)?;
    let year: i64 = it.next()?.parse().ok()?;
    let t: Vec<i64> = time.split(':').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    if t.len() != 3 || zone.len() != 5 || !(1..=31).contains(&day) {
        return None;
    }
    let sign = match zone.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let zh: i64 = zone.get(1..3)?.parse().ok()?;
    let zm: i64 = zone.get(3..5)?.parse().ok()?;
    let local = days_from_civil(year, month, day) * 86400 + t[0] * 3600 + t[1] * 60 + t[2];
    Some(local - sign * (zh * 3600 + zm * 60))
}

/// Parses one command. `bytes` is what `framing::read_command` returned.
pub fn parse_command(bytes: &[u8]) -> Result<Command, ParseError> {
    let tag = super::framing::tag_of(bytes);
    let Some(t) = tag.clone() else {
        return Err(ParseError { tag: None, reason: "missing or invalid tag".into() });
    };
    let mut c = Cursor::new(bytes);
    c.i = t.len();
    let kind = (|| {
        c.sp()?;
        let kind = command(&mut c)?;
        c.end()?;
        Ok(kind)
    })()
    .map_err(|reason: String| ParseError { tag: tag.clone(), reason })?;
    Ok(Command { tag: t, kind })
}

fn command(c: &mut Cursor) -> PResult<CommandKind> {
    let name = c.atom()?.to_ascii_uppercase();
    let kind = match name.as_str() {
        "CAPABILITY" => CommandKind::Capability,
        "NOOP" => CommandKind::Noop,
        "LOGOUT" => CommandKind::Logout,
        "STARTTLS" => CommandKind::StartTls,
        "CHECK" => CommandKind::Check,
        "CLOSE" => CommandKind::Close,
        "UNSELECT" => CommandKind::Unselect,
        "EXPUNGE" => CommandKind::Expunge,
        "IDLE" => CommandKind::Idle,
        "NAMESPACE" => CommandKind::Namespace,
        "LOGIN" => {
            c.sp()?;
            let user = c.astring()?;
            c.sp()?;
            let password = c.astring()?;
            CommandKind::Login { user, password }
        }
        "AUTHENTICATE" => {
            c.sp()?;
            let mechanism = c.atom()?.to_ascii_uppercase();
            let initial = if c.eat(b' ') {
                if c.eat(b'=') {
                    Some(String::new())
                } else {
                    let start = c.i;
                    while c.peek().is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) {
                        c.i += 1;
                    }
                    Some(String::from_utf8_lossy(&c.b[start..c.i]).into_owned())
                }
            } else {
                None
            };
            CommandKind::Authenticate { mechanism, initial }
        }
        "ENABLE" => {
            let mut caps = Vec::new();
            while c.eat(b' ') {
                caps.push(c.atom()?.to_ascii_uppercase());
            }
            if caps.is_empty() {
                return Err("ENABLE needs a capability".into());
            }
            CommandKind::Enable(caps)
        }
        "ID" => {
            c.sp()?;
            if c.keyword("NIL") {
                CommandKind::Id(None)
            } else {
                c.expect(b'(')?;
                let mut params = Vec::new();
                while !c.eat(b')') {
                    if !params.is_empty() {
                        c.sp()?;
                    }
                    let k = c.string()?;
                    c.sp()?;
                    let v = c.nstring()?;
                    params.push((k, v));
                    if params.len() > 30 {
                        return Err("too many ID parameters (RFC 2971 allows 30)".into());
                    }
                }
                CommandKind::Id(Some(params))
            }
        }
        "SELECT" | "EXAMINE" => mailbox::select(c, name == "EXAMINE")?,
        "CREATE" => mailbox::create(c)?,
        "DELETE" => {
            c.sp()?;
            CommandKind::Delete(c.mailbox()?)
        }
        "RENAME" => {
            c.sp()?;
            let from = c.mailbox()?;
            c.sp()?;
            let to = c.mailbox()?;
            CommandKind::Rename { from, to }
        }
        "SUBSCRIBE" => {
            c.sp()?;
            CommandKind::Subscribe(c.mailbox()?)
        }
        "UNSUBSCRIBE" => {
            c.sp()?;
            CommandKind::Unsubscribe(c.mailbox()?)
        }
        "LIST" => mailbox::list(c)?,
        "LSUB" => {
            c.sp()?;
            let reference = c.mailbox().or_else(|_| Ok::<_, String>(String::new()))?;
            c.sp()?;
            let pattern = c.list_mailbox()?;
            CommandKind::Lsub { reference, pattern }
        }
        "STATUS" => mailbox::status(c)?,
        "APPEND" => mailbox::append(c)?,
        "GETQUOTAROOT" => {
            c.sp()?;
            CommandKind::GetQuotaRoot(c.mailbox()?)
        }
        "GETQUOTA" => {
            c.sp()?;
            CommandKind::GetQuota(c.astring()?)
        }
        "SEARCH" => search::search(c, false)?,
        "FETCH" => fetch::fetch(c, false)?,
        "STORE" => store(c, false)?,
        "COPY" | "MOVE" => copy_move(c, false, name == "MOVE")?,
        "UID" => {
            c.sp()?;
            let sub = c.atom()?.to_ascii_uppercase();
            match sub.as_str() {
                "SEARCH" => search::search(c, true)?,
                "FETCH" => fetch::fetch(c, true)?,
                "STORE" => store(c, true)?,
                "COPY" | "MOVE" => copy_move(c, true, sub == "MOVE")?,
                "EXPUNGE" => {
                    c.sp()?;
                    CommandKind::UidExpunge(c.sequence_set()?)
                }
                _ => return Err(format!("unknown command UID {sub}")),
            }
        }
        _ => return Err(format!("unknown command {name}")),
    };
    Ok(kind)
}

fn store(c: &mut Cursor, uid: bool) -> PResult<CommandKind> {
    c.sp()?;
    let set = c.sequence_set()?;
    c.sp()?;
    // RFC 7162 §3.1.3: STORE set (UNCHANGEDSINCE n) +FLAGS ...
    let mut unchanged_since = None;
    if c.eat(b'(') {
        if !c.keyword("UNCHANGEDSINCE") {
            return Err("unknown STORE modifier".into());
        }
        c.sp()?;
        unchanged_since = Some(c.number()?);
        c.expect(b')')?;
        c.sp()?;
    }
    let mode = if c.eat(b'+') {
        StoreMode::Add
    } else if c.eat(b'-') {
        StoreMode::Remove
    } else {
        StoreMode::Replace
    };
    let item = c.atom()?.to_ascii_uppercase();
    let silent = match item.as_str() {
        "FLAGS" => false,
        "FLAGS.SILENT" => true,
        _ => return Err(format!("unknown STORE item {item}")),
    };
    c.sp()?;
    let flags = c.flags_maybe_bare()?;
    Ok(CommandKind::Store { uid, set, store: Store { mode, silent, flags, unchanged_since } })
}

fn copy_move(c: &mut Cursor, uid: bool, is_move: bool) -> PResult<CommandKind> {
    c.sp()?;
    let set = c.sequence_set()?;
    c.sp()?;
    let mailbox = c.mailbox()?;
    Ok(if is_move { CommandKind::Move { uid, set, mailbox } } else { CommandKind::Copy { uid, set, mailbox } })
}

#[cfg(test)]
mod tests;
