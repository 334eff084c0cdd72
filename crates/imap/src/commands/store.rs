//! STORE and UID STORE (RFC 9051 §6.4.6) with UNCHANGEDSINCE (RFC 7162
//! §3.1.3).

use atoll_store::{Flags, StoreOp};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::proto::{SequenceSet, Store, StoreMode, response, sequence};
use crate::session::{CmdResult, Next, Session};

pub(super) async fn store<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    uid: bool,
    set: &SequenceSet,
    st: Store,
) -> CmdResult {
    if st.unchanged_since.is_some() {
        s.enable_condstore();
    }
    s.refresh(uid).await?;
    let (Some(user), Some(sel)) = (&s.user, &s.selected) else { return Ok(Next::Continue) };
    if sel.read_only {
        s.tagged(tag, "NO", "[READ-ONLY] mailbox is read-only");
        return Ok(Next::Continue);
    }
    // \Recent cannot be stored (RFC 3501 §2.3.2); drop it rather than fail.
    let names: Vec<&str> =
        st.flags.iter().map(String::as_str).filter(|f| !f.eq_ignore_ascii_case("\\Recent")).collect();
    let flags = match Flags::parse(names) {
        Ok(f) => f,
        Err(e) => {
            s.tagged(tag, "BAD", &e.to_string());
            return Ok(Next::Continue);
        }
    };
    let op = match st.mode {
        StoreMode::Add => StoreOp::Add,
        StoreMode::Remove => StoreOp::Remove,
        StoreMode::Replace => StoreOp::Replace,
    };
    let island = user.island.clone();
    let mailbox = sel.mailbox.clone();
    let uids = super::resolve_uids(s, uid, set);
    let wanted: Vec<i64> = uids.iter().map(|u| i64::from(*u)).collect();
    let since = st.unchanged_since.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    let (changed, failed) = match island.store_flags(&mailbox, &wanted, op, &flags, since).await {
        Ok(r) => r,
        Err(e) => return super::no_store(s, tag, &e),
    };
    let Some(sel) = s.selected.as_mut() else { return Ok(Next::Continue) };
    for m in &changed {
        sel.set_flags(u32::try_from(m.uid).unwrap_or(0), m.flags.clone(), m.modseq);
    }
    let mut lines = Vec::new();
    if sel.learn_keywords(changed.iter().map(|m| &m.flags)) {
        lines.extend(sel.flags_lines());
    }
    // RFC 9051 §6.4.6: the new flags of every message in the set, unless
    // .SILENT; with CONDSTORE, changed ones also under .SILENT (RFC 7162
    // §3.1.3 wants MODSEQ reported).
    for u in &uids {
        if failed.contains(&i64::from(*u)) {
            continue;
        }
        let was_changed = changed.iter().any(|m| m.uid == i64::from(*u));
        if st.silent && !(s.condstore && was_changed && st.unchanged_since.is_some()) {
            continue;
        }
        let Some(seq) = sel.seq_of(*u) else { continue };
        let Some(m) = sel.by_seq(seq) else { continue };
        let mut line = format!("{seq} FETCH (").into_bytes();
        if uid {
            line.extend_from_slice(format!("UID {} ", m.uid).as_bytes());
        }
        line.extend_from_slice(b"FLAGS ");
        response::flags_recent(&mut line, &m.flags, sel.is_recent(m.uid));
        if s.condstore {
            line.extend_from_slice(format!(" MODSEQ ({})", m.modseq).as_bytes());
        }
        line.push(b')');
        lines.push(line);
    }
    for l in lines {
        s.untagged(&l);
    }
    s.refresh(false).await?;
    if failed.is_empty() {
        s.tagged(tag, "OK", "STORE completed");
    } else {
        let failed: Vec<u32> = if uid {
            failed.iter().filter_map(|u| u32::try_from(*u).ok()).collect()
        } else {
            let sel = s.selected.as_ref();
            failed.iter().filter_map(|u| sel.and_then(|x| x.seq_of(u32::try_from(*u).ok()?))).collect()
        };
        s.tagged(tag, "OK", &format!("[MODIFIED {}] conditional STORE failed", sequence::compress(&failed)));
    }
    Ok(Next::Continue)
}
