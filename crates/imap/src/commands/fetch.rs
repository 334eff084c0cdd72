//! FETCH and UID FETCH (RFC 9051 §6.4.5, §7.5.2): every item, sections
//! and partials, BINARY (RFC 3516), MODSEQ and CHANGEDSINCE/VANISHED
//! (RFC 7162). ENVELOPE, BODY and BODYSTRUCTURE come from the analysis
//! stored at delivery; the body file is read only for items that need its
//! bytes.

use std::collections::HashMap;
use std::sync::Arc;

use atoll_message::{Analysis, Section, SectionText};
use atoll_store::{Flags, StoreOp, system};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::proto::{FetchItem, SequenceSet, response, sequence};
use crate::session::{CmdResult, Next, Session};

fn needs_analysis(i: &FetchItem) -> bool {
    matches!(
        i,
        FetchItem::Envelope
            | FetchItem::Body
            | FetchItem::BodyStructure
            | FetchItem::BodySection { .. }
            | FetchItem::Binary { .. }
            | FetchItem::BinarySize { .. }
            | FetchItem::Rfc822Header
            | FetchItem::Rfc822Text
    )
}

fn needs_raw(i: &FetchItem) -> bool {
    matches!(
        i,
        FetchItem::BodySection { .. }
            | FetchItem::Binary { .. }
            | FetchItem::BinarySize { .. }
            | FetchItem::Rfc822
            | FetchItem::Rfc822Header
            | FetchItem::Rfc822Text
    )
}

/// Items served from the message header alone, which the island keeps in
/// memory: BODY[HEADER], BODY[HEADER.FIELDS …] of the message itself and
/// RFC822.HEADER.
fn header_only(i: &FetchItem) -> bool {
    match i {
        FetchItem::Rfc822Header => true,
        FetchItem::BodySection { section, .. } => {
            section.path.is_empty()
                && matches!(section.text, Some(SectionText::Header) | Some(SectionText::HeaderFields { .. }))
        }
        _ => false,
    }
}

/// Items that set \Seen (RFC 9051 §6.4.5: BODY[…] and RFC822/RFC822.TEXT
/// without PEEK).
fn sets_seen(i: &FetchItem) -> bool {
    matches!(
        i,
        FetchItem::BodySection { peek: false, .. }
            | FetchItem::Binary { peek: false, .. }
            | FetchItem::Rfc822
            | FetchItem::Rfc822Text
    )
}

pub(super) async fn fetch<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    uid: bool,
    set: &SequenceSet,
    mut items: Vec<FetchItem>,
    changed_since: Option<u64>,
    vanished: bool,
) -> CmdResult {
    // RFC 7162 §3.1.4.1: CHANGEDSINCE and MODSEQ turn CONDSTORE on.
    if changed_since.is_some() || items.contains(&FetchItem::ModSeq) {
        s.condstore = true;
    }
    if changed_since.is_some() && !items.contains(&FetchItem::ModSeq) {
        items.push(FetchItem::ModSeq);
    }
    // RFC 9051 §6.4.8: UID FETCH answers always carry UID.
    if uid && !items.contains(&FetchItem::Uid) {
        items.insert(0, FetchItem::Uid);
    }
    s.refresh(uid).await?;
    let Some(user) = &s.user else { return Ok(Next::Continue) };
    let island = user.island.clone();
    let Some(sel) = &s.selected else { return Ok(Next::Continue) };
    let read_only = sel.read_only;
    let mailbox = sel.mailbox.clone();

    if vanished && let Some(since) = changed_since {
        // RFC 7162 §3.2.6: UIDs in the set expunged after `since`.
        let since = i64::try_from(since).unwrap_or(i64::MAX);
        match island.changes_since(&mailbox, since).await {
            Ok(ch) => {
                let max = sel.max_uid().max(u32::try_from(mailbox.uidnext - 1).unwrap_or(0));
                let gone: Vec<u32> = ch
                    .vanished
                    .iter()
                    .filter_map(|u| u32::try_from(*u).ok())
                    .filter(|u| set.contains(*u, max))
                    .collect();
                if !gone.is_empty() {
                    s.untagged(format!("VANISHED (EARLIER) {}", sequence::compress(&gone)).as_bytes());
                }
            }
            Err(e) => return super::no_store(s, tag, &e),
        }
    }

    let Some(sel) = &s.selected else { return Ok(Next::Continue) };
    let mut uids = super::resolve_uids(s, uid, set);
    if let Some(since) = changed_since {
        uids.retain(|u| sel.seq_of(*u).and_then(|q| sel.by_seq(q)).is_some_and(|m| m.modseq as u64 > since));
    }

    // \Seen first, so the FETCH answers show it (RFC 9051 §6.4.5).
    let mut seen_now: HashMap<u32, (Flags, i64)> = HashMap::new();
    if !read_only && items.iter().any(sets_seen) {
        let unseen: Vec<i64> = uids
            .iter()
            .filter(|u| sel.seq_of(**u).and_then(|q| sel.by_seq(q)).is_some_and(|m| !m.flags.has(system::SEEN)))
            .map(|u| i64::from(*u))
            .collect();
        if !unseen.is_empty() {
            let seen = Flags { system: system::SEEN, keywords: Vec::new() };
            match island.store_flags(&mailbox, &unseen, StoreOp::Add, &seen, None).await {
                Ok((changed, _)) => {
                    for m in changed {
                        seen_now.insert(u32::try_from(m.uid).unwrap_or(0), (m.flags, m.modseq));
                    }
                }
                Err(e) => return super::no_store(s, tag, &e),
            }
        }
    }
    let add_flags = !seen_now.is_empty() && !items.contains(&FetchItem::Flags);
    if let Some(sel) = s.selected.as_mut() {
        for (u, (f, m)) in &seen_now {
            sel.set_flags(*u, f.clone(), *m);
        }
    }

    let want_analysis = items.iter().any(needs_analysis);
    let want_raw = items.iter().any(needs_raw);
    let header_suffices = want_raw && items.iter().filter(|i| needs_raw(i)).all(header_only);
    let Some(sel) = &s.selected else { return Ok(Next::Continue) };
    // (seq, message, \Recent in this session)
    let targets: Vec<(u32, crate::session::selected::Known, bool)> = uids
        .iter()
        .filter_map(|u| sel.seq_of(*u).and_then(|q| sel.by_seq(q).map(|m| (q, m.clone(), sel.is_recent(*u)))))
        .collect();

    // Analyses in batches, so a FETCH 1:* ENVELOPE of a big mailbox is a
    // few queries, not one per message.
    for chunk in targets.chunks(500) {
        let analyses: HashMap<atoll_store::BlobId, Arc<Analysis>> = if want_analysis {
            let blobs: Vec<_> = chunk.iter().map(|(_, m, _)| m.blob).collect();
            match island.analyses(&blobs).await {
                Ok(a) => a,
                Err(e) => return super::no_store(s, tag, &e),
            }
        } else {
            HashMap::new()
        };
        for (seq, m, recent) in chunk {
            let analysis = analyses.get(&m.blob).cloned();
            let mut header = None;
            if header_suffices && let Ok(h) = island.header_block(m.blob).await {
                // The analysis's header range (mail-parser's split) must lie
                // within the cached block (RFC 5322's); else read it all.
                if analysis.as_ref().is_some_and(|a| a.root.header.1 as usize <= h.len()) {
                    header = Some(h);
                }
            }
            let raw: Option<std::borrow::Cow<'_, [u8]>> = if let Some(h) = &header {
                Some(std::borrow::Cow::Borrowed(&h[..]))
            } else if want_raw {
                match island.read(m.blob).await {
                    Ok(r) => Some(r.into()),
                    Err(e) => {
                        tracing::error!(uid = m.uid, error = %e, "imap: message body unreadable");
                        s.tagged(tag, "NO", "[SERVERBUG] a message body could not be read");
                        return Ok(Next::Continue);
                    }
                }
            } else {
                None
            };
            let mut line = format!("* {seq} FETCH (").into_bytes();
            let mut first = true;
            let mut unknown_cte = false;
            for item in &items {
                if !first {
                    line.push(b' ');
                }
                first = false;
                if !write_item(&mut line, item, (m, *recent), analysis.as_deref(), raw.as_deref(), &mut unknown_cte) {
                    line.truncate(line.len().saturating_sub(1));
                    first = line.ends_with(b"(");
                }
            }
            if add_flags && seen_now.contains_key(&m.uid) {
                line.extend_from_slice(b" FLAGS ");
                response::flags_recent(&mut line, &m.flags, *recent);
            }
            line.extend_from_slice(b")\r\n");
            if unknown_cte {
                s.tagged(tag, "NO", "[UNKNOWN-CTE] a part has a transfer encoding that cannot be decoded");
                return Ok(Next::Continue);
            }
            s.out.extend_from_slice(&line);
            s.maybe_flush().await?;
        }
    }
    s.refresh(false).await?;
    s.tagged(tag, "OK", if uid { "UID FETCH completed" } else { "FETCH completed" });
    Ok(Next::Continue)
}

/// Writes one item; false when it wrote nothing.
fn write_item(
    out: &mut Vec<u8>,
    item: &FetchItem,
    (m, recent): (&crate::session::selected::Known, bool),
    a: Option<&Analysis>,
    raw: Option<&[u8]>,
    unknown_cte: &mut bool,
) -> bool {
    let raw_bytes = raw.unwrap_or_default();
    match item {
        FetchItem::Uid => out.extend_from_slice(format!("UID {}", m.uid).as_bytes()),
        FetchItem::Flags => {
            out.extend_from_slice(b"FLAGS ");
            // RFC 3501 §2.3.2: \Recent is a flag of the message in this session.
            response::flags_recent(out, &m.flags, recent);
        }
        FetchItem::InternalDate => {
            out.extend_from_slice(b"INTERNALDATE ");
            out.extend_from_slice(response::date_time(m.internal_date).as_bytes());
        }
        FetchItem::Rfc822Size => out.extend_from_slice(format!("RFC822.SIZE {}", m.size).as_bytes()),
        FetchItem::ModSeq => out.extend_from_slice(format!("MODSEQ ({})", m.modseq).as_bytes()),
        FetchItem::SaveDate => {
            out.extend_from_slice(b"SAVEDATE ");
            if m.save_date > 0 {
                out.extend_from_slice(response::date_time(m.save_date).as_bytes());
            } else {
                out.extend_from_slice(response::date_time(m.internal_date).as_bytes());
            }
        }
        FetchItem::Envelope => {
            out.extend_from_slice(b"ENVELOPE ");
            match a {
                Some(a) => out.extend_from_slice(a.envelope.as_bytes()),
                None => out.extend_from_slice(b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"),
            }
        }
        FetchItem::Body => {
            out.extend_from_slice(b"BODY ");
            if let Some(a) = a {
                out.extend_from_slice(a.body.as_bytes());
            }
        }
        FetchItem::BodyStructure => {
            out.extend_from_slice(b"BODYSTRUCTURE ");
            if let Some(a) = a {
                out.extend_from_slice(a.bodystructure.as_bytes());
            }
        }
        FetchItem::Rfc822 => {
            out.extend_from_slice(b"RFC822 ");
            literal(out, raw_bytes);
        }
        FetchItem::Rfc822Header | FetchItem::Rfc822Text => {
            let (name, text) = if *item == FetchItem::Rfc822Header {
                ("RFC822.HEADER ", SectionText::Header)
            } else {
                ("RFC822.TEXT ", SectionText::Text)
            };
            out.extend_from_slice(name.as_bytes());
            let sec = Section { path: vec![], text: Some(text) };
            let bytes = a.and_then(|a| a.section(raw_bytes, &sec)).unwrap_or_default();
            literal(out, &bytes);
        }
        FetchItem::BodySection { section, partial, .. } => {
            out.extend_from_slice(b"BODY[");
            section_spec(out, section);
            out.push(b']');
            let bytes = a.and_then(|a| a.section(raw_bytes, section));
            match (bytes, partial) {
                (Some(b), Some(p)) => {
                    out.extend_from_slice(format!("<{}> ", p.origin).as_bytes());
                    literal(out, p.cut(&b));
                }
                (Some(b), None) => {
                    out.push(b' ');
                    literal(out, &b);
                }
                // RFC 9051 §6.4.5: a part that does not exist is empty.
                (None, _) => out.extend_from_slice(b" \"\""),
            }
        }
        FetchItem::Binary { path, partial, .. } => {
            out.extend_from_slice(b"BINARY[");
            out.extend_from_slice(dotted(path).as_bytes());
            out.push(b']');
            match a.map(|a| a.binary(raw_bytes, path)) {
                Some(Ok(Some(b))) => {
                    if let Some(p) = partial {
                        out.extend_from_slice(format!("<{}>", p.origin).as_bytes());
                    }
                    let b = match partial {
                        Some(p) => p.cut(&b).to_vec(),
                        None => b,
                    };
                    // RFC 3516 §4.3: literal8 when the bytes hold NUL.
                    out.push(b' ');
                    if b.contains(&0) {
                        out.push(b'~');
                    }
                    literal(out, &b);
                }
                Some(Err(_)) => {
                    *unknown_cte = true;
                    return false;
                }
                _ => out.extend_from_slice(b" NIL"),
            }
        }
        FetchItem::BinarySize { path } => {
            out.extend_from_slice(b"BINARY.SIZE[");
            out.extend_from_slice(dotted(path).as_bytes());
            out.extend_from_slice(b"] ");
            match a.map(|a| a.binary_size(raw_bytes, path)) {
                Some(Ok(Some(n))) => out.extend_from_slice(n.to_string().as_bytes()),
                Some(Err(_)) => {
                    *unknown_cte = true;
                    return false;
                }
                _ => out.extend_from_slice(b"0"),
            }
        }
    }
    true
}

fn dotted(path: &[u32]) -> String {
    path.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

/// The section as the client wrote it, for the answer's item name.
fn section_spec(out: &mut Vec<u8>, s: &Section) {
    out.extend_from_slice(dotted(&s.path).as_bytes());
    let Some(text) = &s.text else { return };
    if !s.path.is_empty() {
        out.push(b'.');
    }
    match text {
        SectionText::Header => out.extend_from_slice(b"HEADER"),
        SectionText::Text => out.extend_from_slice(b"TEXT"),
        SectionText::Mime => out.extend_from_slice(b"MIME"),
        SectionText::HeaderFields { not, fields } => {
            out.extend_from_slice(if *not { b"HEADER.FIELDS.NOT (" as &[u8] } else { b"HEADER.FIELDS (" });
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                response::string(out, f.as_bytes(), false);
            }
            out.push(b')');
        }
    }
}

fn literal(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
}
