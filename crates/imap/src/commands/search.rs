//! SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH results
//! (RFC 4731), SEARCHRES (RFC 5182) and MODSEQ (RFC 7162 §3.1.5).
//!
//! Flags, dates, sizes, UIDs and mod-sequences come from the session's
//! view; header and body keys read the message (header values decoded
//! from RFC 2047, bodies from their transfer encoding and charset), and
//! match case-insensitively as substrings.

use std::collections::HashMap;
use std::sync::Arc;

use atoll_message::Analysis;
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
    /// The header fields (lowercase name, decoded value) when no key needs
    /// more than the header.
    fields: Option<&'a [(String, String)]>,
    analysis: Option<&'a Analysis>,
    saved: &'a [u32],
    now: i64,
}

fn needs_raw(k: &SearchKey) -> bool {
    match k {
        SearchKey::Header { .. } | SearchKey::Body(_) | SearchKey::Text(_) => true,
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

fn needs_analysis(k: &SearchKey) -> bool {
    match k {
        SearchKey::SentBefore(_) | SearchKey::SentOn(_) | SearchKey::SentSince(_) => true,
        SearchKey::Not(k) => needs_analysis(k),
        SearchKey::Or(a, b) => needs_analysis(a) || needs_analysis(b),
        SearchKey::And(v) => v.iter().any(needs_analysis),
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

fn contains_ci(hay: &str, needle: &str) -> bool {
    needle.is_empty() || hay.to_lowercase().contains(&needle.to_lowercase())
}

fn has_flag(f: &Flags, name: &str) -> bool {
    match Flags::parse([name]) {
        Ok(want) if want.system != 0 => f.system & want.system != 0,
        Ok(want) => want.keywords.iter().all(|k| f.keywords.iter().any(|x| x.eq_ignore_ascii_case(k))),
        Err(_) => false,
    }
}

const DAY: i64 = 86400;

fn day_of(t: i64) -> i64 {
    t.div_euclid(DAY) * DAY
}

fn saved_at(m: &crate::session::selected::Known) -> i64 {
    if m.save_date > 0 { m.save_date } else { m.internal_date }
}

fn eval(k: &SearchKey, c: &Ctx) -> bool {
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
        SearchKey::Flag { flag, set } => has_flag(&m.flags, flag) == *set,
        // \Recent is not kept: nothing is recent.
        SearchKey::Recent(recent) => !*recent,
        SearchKey::Header { name, value } => {
            let values = match c.fields {
                Some(fields) => {
                    fields.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()).collect()
                }
                None => atoll_message::header_values(c.raw.unwrap_or_default(), name),
            };
            // RFC 9051 §6.4.4: HEADER with an empty string matches every
            // message that has the field.
            values.iter().any(|v| contains_ci(v, value))
        }
        SearchKey::Body(s) => contains_ci(&atoll_message::search_text(c.raw.unwrap_or_default()), s),
        SearchKey::Text(s) => {
            let raw = c.raw.unwrap_or_default();
            contains_ci(&String::from_utf8_lossy(raw), s) || contains_ci(&atoll_message::search_text(raw), s)
        }
        SearchKey::Before(d) => day_of(m.internal_date) < *d,
        SearchKey::On(d) => day_of(m.internal_date) == *d,
        SearchKey::Since(d) => day_of(m.internal_date) >= *d,
        SearchKey::SentBefore(d) => c.analysis.and_then(|a| a.sent_date).is_some_and(|t| day_of(t) < *d),
        SearchKey::SentOn(d) => c.analysis.and_then(|a| a.sent_date).is_some_and(|t| day_of(t) == *d),
        SearchKey::SentSince(d) => c.analysis.and_then(|a| a.sent_date).is_some_and(|t| day_of(t) >= *d),
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
        SearchKey::Not(k) => !eval(k, c),
        SearchKey::Or(a, b) => eval(a, c) || eval(b, c),
        SearchKey::And(v) => v.iter().all(|k| eval(k, c)),
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
        s.condstore = true;
    }
    s.refresh(uid).await?;
    let (Some(user), Some(sel)) = (&s.user, &s.selected) else { return Ok(Next::Continue) };
    let island = user.island.clone();
    let want_raw = needs_raw(&all);
    let want_body = needs_body(&all);
    let want_analysis = needs_analysis(&all);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let messages: std::sync::Arc<Vec<Known>> = sel.messages.clone();
    let max_seq = sel.exists();
    let max_uid = sel.max_uid();
    let mut hits: Vec<(u32, u32, i64)> = Vec::new(); // (seq, uid, modseq)
    for (chunk_no, chunk) in messages.chunks(500).enumerate() {
        let analyses: HashMap<atoll_store::BlobId, Arc<Analysis>> = if want_analysis {
            let blobs: Vec<_> = chunk.iter().map(|m| m.blob).collect();
            match island.analyses(&blobs).await {
                Ok(a) => a,
                Err(e) => return super::no_store(s, tag, &e),
            }
        } else {
            HashMap::new()
        };
        for (i, m) in chunk.iter().enumerate() {
            let raw: Option<std::borrow::Cow<'_, [u8]>> = if want_body {
                match island.read(m.blob).await {
                    Ok(r) => Some(r.into()),
                    Err(e) => return super::no_store(s, tag, &e),
                }
            } else {
                None
            };
            let fields = if want_raw && !want_body {
                match island.header_fields(m.blob).await {
                    Ok(f) => Some(f),
                    Err(e) => return super::no_store(s, tag, &e),
                }
            } else {
                None
            };
            let seq = (chunk_no * 500 + i + 1) as u32;
            let ctx = Ctx {
                seq,
                max_seq,
                max_uid,
                m,
                raw: raw.as_deref(),
                fields: fields.as_deref(),
                analysis: analyses.get(&m.blob).map(|a| a.as_ref()),
                saved: &s.saved,
                now,
            };
            if eval(&all, &ctx) {
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
                && let Some(h) = highest
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
