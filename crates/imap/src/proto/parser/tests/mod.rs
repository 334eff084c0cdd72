//! Parser tests, by source: the examples of RFC 9051 §6 and §8, RFC 3501,
//! RFC 7162 (CONDSTORE/QRESYNC), RFC 5258/5819/6154 (LIST), RFC 4731
//! (ESEARCH), the other extensions, bad input, and a mutation run that
//! stands in for the fuzzer on stable Rust.

mod bad_input;
mod extensions;
mod rfc3501;
mod rfc4731;
mod rfc5258;
mod rfc7162;
mod rfc9051;
mod robustness;

use super::*;
use crate::proto::command::*;
use crate::proto::datetime::days_from_civil;
use crate::proto::sequence::SequenceSet;

/// Parses a command that must be valid (IMAP4rev1 client).
fn p(s: &str) -> CommandKind {
    p_bytes(s.as_bytes())
}

fn p_bytes(s: &[u8]) -> CommandKind {
    match parse_command(s) {
        Ok(c) => c.kind,
        Err(e) => panic!("{:?}: {e}", String::from_utf8_lossy(s)),
    }
}

/// Parses for a client that enabled UTF8=ACCEPT or IMAP4rev2.
fn p_utf8(s: &str) -> CommandKind {
    match parse_command_with(s.as_bytes(), ParseOptions { utf8: true }) {
        Ok(c) => c.kind,
        Err(e) => panic!("{s:?}: {e}"),
    }
}

/// A command that must be refused; returns the error.
fn bad(s: &[u8]) -> ParseError {
    match parse_command(s) {
        Ok(c) => panic!("{:?} parsed as {c:?}", String::from_utf8_lossy(s)),
        Err(e) => e,
    }
}

fn set(s: &str) -> SequenceSet {
    SequenceSet::parse(s).unwrap_or_else(|| panic!("{s:?} is a valid set"))
}

/// Midnight UTC of a day, as SEARCH dates come out.
fn day(y: i64, m: u32, d: u32) -> i64 {
    days_from_civil(y, m, d) * 86400
}

fn search_of(k: CommandKind) -> (bool, Search) {
    match k {
        CommandKind::Search { uid, search } => (uid, search),
        other => panic!("not a SEARCH: {other:?}"),
    }
}

fn fetch_of(k: CommandKind) -> (bool, SequenceSet, Vec<FetchItem>, Option<u64>, bool) {
    match k {
        CommandKind::Fetch { uid, set, items, changed_since, vanished } => (uid, set, items, changed_since, vanished),
        other => panic!("not a FETCH: {other:?}"),
    }
}

fn list_of(k: CommandKind) -> ListCommand {
    match k {
        CommandKind::List(l) => l,
        other => panic!("not a LIST: {other:?}"),
    }
}

fn from_smith() -> SearchKey {
    SearchKey::Not(Box::new(SearchKey::Header { name: "FROM".into(), value: "Smith".into() }))
}

fn flag(name: &str, set: bool) -> SearchKey {
    SearchKey::Flag { flag: name.into(), set }
}
