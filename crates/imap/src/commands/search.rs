//! SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH results
//! (RFC 4731), SEARCHRES (RFC 5182) and MODSEQ (RFC 7162 §3.1.5).
//!
//! Flags, dates, sizes, UIDs and mod-sequences come from the session's
//! view; header and body keys read the message (header values decoded
//! from RFC 2047, bodies from their transfer encoding and charset), and
//! match case-insensitively as substrings.

use atoll_message::{FieldName, Needle, SearchHeader};
use atoll_store::Flags;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::proto::{Search, SearchKey, SearchReturn, SequenceSet, sequence};
use crate::session::selected::Known;
use crate::session::{CmdResult, Next, Session};

/// What evaluating one message needs besides the session's view.
struct Ctx<'a> {
    seq: u32,
    max_seq: u32,
    max_uid: u32,
    m: &'a Known,
    raw: Option<&'a [u8]>,
    /// The header as SEARCH matches it, when a key needs it.
    header: Option<&'a SearchHeader>,
    saved: &'a [u32],
    now: i64,
    /// \Recent in this session (RFC 3501 §2.3.2).
    recent: bool,
    /// The message's index in the view, and the header keys answered for
    /// every message at once from the island's header columns.
    index: usize,
    columns: &'a [Vec<bool>],
}

fn needs_raw(k: &SearchKey) -> bool {
    match k {
        SearchKey::Header { .. } | SearchKey::Body(_) | SearchKey::Text(_) => true,
        // The Date: field as written (see `sent_day`).
        SearchKey::SentBefore(_) | SearchKey::SentOn(_) | SearchKey::SentSince(_) => true,
        SearchKey::Not(k) => needs_raw(k),
        SearchKey::Or(a, b) => needs_raw(a) || needs_raw(b),
        SearchKey::And(v) => v.iter().any(needs_raw),
        _ => false,
    }
}

/// BODY and TEXT need the whole message; HEADER (and FROM, SUBJECT …) only
/// its header block, which the island keeps in memory.
fn needs_body(k: &SearchKey) -> bool {
    match k {
        SearchKey::Body(_) | SearchKey::Text(_) => true,
        SearchKey::Not(k) => needs_body(k),
        SearchKey::Or(a, b) => needs_body(a) || needs_body(b),
        SearchKey::And(v) => v.iter().any(needs_body),
        _ => false,
    }
}

fn uses_modseq(k: &SearchKey) -> bool {
    match k {
        SearchKey::ModSeq(_) => true,
        SearchKey::Not(k) => uses_modseq(k),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::And(v) => v.iter().any(uses_modseq),
        _ => false,
    }
}

/// A search key made ready once per command, so that evaluating it on
/// each message parses and lowercases nothing: flags parsed, needles
/// lowercased (matching is case-insensitive, RFC 9051 §6.4.4).
enum Key {
    /// None: not a valid flag name, which no message has.
    Flag {
        want: Option<Flags>,
        set: bool,
    },
    Header {
        name: FieldName,
        needle: Needle,
        /// Answered from a header column: the index of its hits.
        column: Option<usize>,
    },
    Body(Needle),
    Text(Needle),
    Not(Box<Key>),
    Or(Box<Key>, Box<Key>),
    And(Vec<Key>),
    /// The keys that need no preparation.
    Plain(SearchKey),
}

impl Key {
    fn prepare(k: SearchKey) -> Key {
        match k {
            SearchKey::Flag { flag, set } => Key::Flag { want: Flags::parse([flag.as_str()]).ok(), set },
            SearchKey::Header { name, value } => {
                Key::Header { name: FieldName::new(&name), needle: Needle::new(&value), column: None }
            }
            SearchKey::Body(s) => Key::Body(Needle::new(&s)),
            SearchKey::Text(s) => Key::Text(Needle::new(&s)),
            SearchKey::Not(k) => Key::Not(Box::new(Key::prepare(*k))),
            SearchKey::Or(a, b) => Key::Or(Box::new(Key::prepare(*a)), Box::new(Key::prepare(*b))),
            SearchKey::And(v) => Key::And(v.into_iter().map(Key::prepare).collect()),
            other => Key::Plain(other),
        }
    }
}

impl Key {
    /// The header keys, in tree order.
    fn header_keys(&self, out: &mut Vec<(FieldName, Needle)>) {
        match self {
            Key::Header { name, needle, .. } => out.push((name.clone(), needle.clone())),
            Key::Not(k) => k.header_keys(out),
            Key::Or(a, b) => {
                a.header_keys(out);
                b.header_keys(out);
            }
            Key::And(v) => v.iter().for_each(|k| k.header_keys(out)),
            _ => {}
        }
    }

    /// Points the header keys (tree order, as `header_keys` lists them)
    /// at their columns' hits; `answered[i]` says whether key i has them.
    fn use_columns(&mut self, next: &mut usize, answered: &[bool]) {
        match self {
            Key::Header { column, .. } => {
                if answered.get(*next).copied().unwrap_or(false) {
                    *column = Some(*next);
                }
                *next += 1;
            }
            Key::Not(k) => k.use_columns(next, answered),
            Key::Or(a, b) => {
                a.use_columns(next, answered);
                b.use_columns(next, answered);
            }
            Key::And(v) => v.iter_mut().for_each(|k| k.use_columns(next, answered)),
            _ => {}
        }
    }

    /// Whether evaluating needs each message's header: a header key not
    /// answered from a column, or a sent-date key.
    fn needs_header(&self) -> bool {
        match self {
            Key::Header { column, .. } => column.is_none(),
            Key::Plain(SearchKey::SentBefore(_) | SearchKey::SentOn(_) | SearchKey::SentSince(_)) => true,
            Key::Plain(_) | Key::Flag { .. } => false,
            Key::Body(_) | Key::Text(_) => true,
            Key::Not(k) => k.needs_header(),
            Key::Or(a, b) => a.needs_header() || b.needs_header(),
            Key::And(v) => v.iter().any(Key::needs_header),
        }
    }
}

fn has_flag(f: &Flags, want: Option<&Flags>) -> bool {
    match want {
        Some(want) if want.system != 0 => f.system & want.system != 0,
        Some(want) => want.keywords.iter().all(|k| f.keywords.iter().any(|x| x.eq_ignore_ascii_case(k))),
        None => false,
    }
}

const DAY: i64 = 86400;

fn day_of(t: i64) -> i64 {
    t.div_euclid(DAY) * DAY
}

/// The sent date for SENTBEFORE, SENTON and SENTSINCE: RFC 3501 §6.4.4 /
/// RFC 9051 §6.4.4 compare "the date-part of the Date: header", i.e. the
/// calendar day as written in the header's own zone (time and zone
/// ignored), not the instant converted to UTC.
fn sent_day(c: &Ctx) -> Option<i64> {
    c.header.and_then(SearchHeader::sent_day)
}

fn saved_at(m: &crate::session::selected::Known) -> i64 {
    if m.save_date > 0 { m.save_date } else { m.internal_date }
}

fn eval(k: &Key, c: &Ctx) -> bool {
    match k {
        Key::Flag { want, set } => has_flag(&c.m.flags, want.as_ref()) == *set,
        Key::Header { column: Some(i), .. } => {
            c.columns.get(*i).and_then(|hits| hits.get(c.index)).copied().unwrap_or(false)
        }
        Key::Header { name, needle, .. } => c.header.is_some_and(|h| h.matches(name, needle)),
        Key::Body(s) => s.found_in_text(&atoll_message::search_text(c.raw.unwrap_or_default())),
        Key::Text(s) => {
            let raw = c.raw.unwrap_or_default();
            s.found_in_text(&String::from_utf8_lossy(raw)) || s.found_in_text(&atoll_message::search_text(raw))
        }
        Key::Not(k) => !eval(k, c),
        Key::Or(a, b) => eval(a, c) || eval(b, c),
        Key::And(v) => v.iter().all(|k| eval(k, c)),
        Key::Plain(k) => eval_plain(k, c),
    }
}

/// The keys answered from the session's view alone.
fn eval_plain(k: &SearchKey, c: &Ctx) -> bool {
    let m = c.m;
    match k {
        SearchKey::All => true,
        SearchKey::Seq(set) => match set {
            SequenceSet::Saved => c.saved.contains(&m.uid),
            _ => set.contains(c.seq, c.max_seq),
        },
        SearchKey::Uid(set) => match set {
            SequenceSet::Saved => c.saved.contains(&m.uid),
            _ => set.contains(m.uid, c.max_uid),
        },
        // RFC 3501 §6.4.4 RECENT / OLD (NEW is RECENT UNSEEN): \Recent in
        // this session.
        SearchKey::Recent(recent) => c.recent == *recent,
        SearchKey::Before(d) => day_of(m.internal_date) < *d,
        SearchKey::On(d) => day_of(m.internal_date) == *d,
        SearchKey::Since(d) => day_of(m.internal_date) >= *d,
        SearchKey::SentBefore(d) => sent_day(c).is_some_and(|t| t < *d),
        SearchKey::SentOn(d) => sent_day(c).is_some_and(|t| t == *d),
        SearchKey::SentSince(d) => sent_day(c).is_some_and(|t| t >= *d),
        SearchKey::Larger(n) => m.size as u64 > *n,
        SearchKey::Smaller(n) => (m.size as u64) < *n,
        SearchKey::ModSeq(n) => m.modseq as u64 >= *n,
        SearchKey::Older(secs) => c.now - m.internal_date >= *secs as i64,
        SearchKey::Younger(secs) => c.now - m.internal_date <= *secs as i64,
        // RFC 8514 §4: as FETCH SAVEDATE does, a message without a save
        // date counts as saved when it arrived.
        SearchKey::SavedBefore(d) => day_of(saved_at(m)) < *d,
        SearchKey::SavedOn(d) => day_of(saved_at(m)) == *d,
        SearchKey::SavedSince(d) => day_of(saved_at(m)) >= *d,
        SearchKey::SaveDateSupported => true,
        // Prepared into `Key` and never here; kept exhaustive for the
        // compiler.
        SearchKey::Flag { .. } | SearchKey::Header { .. } | SearchKey::Body(_) | SearchKey::Text(_) => false,
        SearchKey::Not(k) => !eval_plain(k, c),
        SearchKey::Or(a, b) => eval_plain(a, c) || eval_plain(b, c),
        SearchKey::And(v) => v.iter().all(|k| eval_plain(k, c)),
    }
}

pub(super) async fn search<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    uid: bool,
    search: Search,
) -> CmdResult {
    let all = SearchKey::And(search.keys);
    if uses_modseq(&all) {
        s.enable_condstore();
    }
    s.refresh(uid).await?;
    let (Some(user), Some(sel)) = (&s.user, &s.selected) else { return Ok(Next::Continue) };
    let island = user.island.clone();
    let want_raw = needs_raw(&all);
    let want_body = needs_body(&all);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let mut key = Key::prepare(all.clone());
    let messages: std::sync::Arc<Vec<Known>> = sel.messages.clone();
    // Header keys are answered for the whole mailbox at once from the
    // island's header columns (one substring scan each); a message's own
    // header is read only for what columns do not answer.
    let mut wanted = Vec::new();
    key.header_keys(&mut wanted);
    let mut columns: Vec<Vec<bool>> = Vec::with_capacity(wanted.len());
    if !want_body && !wanted.is_empty() {
        let blobs: Vec<atoll_store::BlobId> = messages.iter().map(|m| m.blob).collect();
        let mailbox = (sel.mailbox.id, sel.mailbox.uidvalidity);
        for (name, needle) in &wanted {
            let hits = match island.header_column(mailbox, name, &blobs).await {
                Ok(c) => c.hits(needle),
                Err(e) => return super::no_store(s, tag, &e),
            };
            columns.push(hits.unwrap_or_default());
        }
        let answered: Vec<bool> = columns.iter().map(|c| c.len() == messages.len()).collect();
        key.use_columns(&mut 0, &answered);
    }
    let want_raw = want_raw && key.needs_header();
    let max_seq = sel.exists();
    let max_uid = sel.max_uid();
    let mut hits: Vec<(u32, u32, i64)> = Vec::new(); // (seq, uid, modseq)
    for (chunk_no, chunk) in messages.chunks(500).enumerate() {
        for (i, m) in chunk.iter().enumerate() {
            let raw: Option<std::borrow::Cow<'_, [u8]>> = if want_body {
                match island.read(m.blob).await {
                    Ok(r) => Some(r.into()),
                    Err(e) => return super::no_store(s, tag, &e),
                }
            } else {
                None
            };
            let header = match &raw {
                Some(raw) => Some(std::sync::Arc::new(SearchHeader::parse(raw))),
                None if want_raw => match island.search_header(m.blob).await {
                    Ok(f) => Some(f),
                    Err(e) => return super::no_store(s, tag, &e),
                },
                None => None,
            };
            let seq = (chunk_no * 500 + i + 1) as u32;
            let ctx = Ctx {
                seq,
                max_seq,
                max_uid,
                m,
                raw: raw.as_deref(),
                header: header.as_deref(),
                saved: &s.saved,
                now,
                recent: sel.is_recent(m.uid),
                index: chunk_no * 500 + i,
                columns: &columns,
            };
            if eval(&key, &ctx) {
                hits.push((seq, m.uid, m.modseq));
            }
        }
    }
    let numbers: Vec<u32> = hits.iter().map(|(seq, u, _)| if uid { *u } else { *seq }).collect();
    let highest = hits.iter().map(|(_, _, m)| *m).max();
    match &search.returns {
        None => {
            let mut line = String::from("SEARCH");
            for n in &numbers {
                line.push(' ');
                line.push_str(&n.to_string());
            }
            // RFC 7162 §3.1.5: with MODSEQ in the keys, the highest one.
            if uses_modseq(&all)
                && let Some(h) = highest
            {
                line.push_str(&format!(" (MODSEQ {h})"));
            }
            s.untagged(line.as_bytes());
        }
        Some(returns) => {
            // RFC 4731 §3.1: RETURN () means ALL.
            let returns: Vec<SearchReturn> = if returns.is_empty() { vec![SearchReturn::All] } else { returns.clone() };
            if returns.contains(&SearchReturn::Save) {
                s.saved = hits.iter().map(|(_, u, _)| *u).collect();
            }
            let mut line = format!("ESEARCH (TAG \"{tag}\")");
            if uid {
                line.push_str(" UID");
            }
            for r in &returns {
                match r {
                    SearchReturn::Min if !numbers.is_empty() => {
                        line.push_str(&format!(" MIN {}", numbers.iter().min().copied().unwrap_or(0)))
                    }
                    SearchReturn::Max if !numbers.is_empty() => {
                        line.push_str(&format!(" MAX {}", numbers.iter().max().copied().unwrap_or(0)))
                    }
                    SearchReturn::All if !numbers.is_empty() => {
                        line.push_str(&format!(" ALL {}", sequence::compress(&numbers)))
                    }
                    SearchReturn::Count => line.push_str(&format!(" COUNT {}", numbers.len())),
                    _ => {}
                }
            }
            if uses_modseq(&all)
                && let Some(h) = esearch_modseq(&hits, &returns)
            {
                line.push_str(&format!(" MODSEQ {h}"));
            }
            // SAVE alone returns no ESEARCH (RFC 5182 §2.4).
            if returns.iter().any(|r| *r != SearchReturn::Save) {
                s.untagged(line.as_bytes());
            }
        }
    }
    s.refresh(false).await?;
    s.tagged(tag, "OK", if uid { "UID SEARCH completed" } else { "SEARCH completed" });
    Ok(Next::Continue)
}

/// The MODSEQ of an ESEARCH answer (RFC 7162 §3.1.5, RFC 4731 §3.2): the
/// highest mod-sequence of the messages the answer returns. With ALL or
/// COUNT that is every match; with only MIN and/or MAX it is just those
/// messages. `hits` is (seq, uid, modseq) in mailbox order, so MIN is the
/// first and MAX the last.
fn esearch_modseq(hits: &[(u32, u32, i64)], returns: &[SearchReturn]) -> Option<i64> {
    if returns.iter().any(|r| matches!(r, SearchReturn::All | SearchReturn::Count)) {
        return hits.iter().map(|(_, _, m)| *m).max();
    }
    let min = hits.first().filter(|_| returns.contains(&SearchReturn::Min)).map(|h| h.2);
    let max = hits.last().filter(|_| returns.contains(&SearchReturn::Max)).map(|h| h.2);
    match (min, max) {
        (None, None) => hits.iter().map(|(_, _, m)| *m).max(),
        (a, b) => a.max(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esearch_modseq_of_returned_messages() {
        // RFC 7162 §3.1.5: MIN/MAX report the mod-sequence of that message,
        // ALL/COUNT the highest of all matches.
        let hits = [(1, 10, 6), (2, 11, 8), (3, 12, 7)];
        assert_eq!(esearch_modseq(&hits, &[SearchReturn::Min]), Some(6));
        assert_eq!(esearch_modseq(&hits, &[SearchReturn::Max]), Some(7));
        assert_eq!(esearch_modseq(&hits[1..], &[SearchReturn::Min, SearchReturn::Max]), Some(8));
        assert_eq!(esearch_modseq(&hits, &[SearchReturn::All]), Some(8));
        assert_eq!(esearch_modseq(&hits, &[SearchReturn::Min, SearchReturn::Count]), Some(8));
        assert_eq!(esearch_modseq(&[], &[SearchReturn::Min]), None);
    }
}
