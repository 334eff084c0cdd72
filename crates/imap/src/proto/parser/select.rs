//! SELECT and EXAMINE (RFC 9051 §6.3.2-3) with the CONDSTORE and QRESYNC
//! parameters (RFC 7162 §3.1.8, §3.2.5).

use super::{Cursor, PResult};
use crate::proto::command::{CommandKind, Qresync, SelectParams};
use crate::proto::sequence::{Bound, SequenceSet};

/// `mailbox [SP "(" select-param *(SP select-param) ")"]`.
pub(super) fn select(c: &mut Cursor, read_only: bool) -> PResult<CommandKind> {
    c.sp()?;
    let mailbox = c.mailbox()?;
    let mut params = SelectParams::default();
    if c.eat(b' ') {
        c.paren_list(false, |c| {
            if c.keyword("CONDSTORE") {
                params.condstore = true;
            } else if c.keyword("QRESYNC") {
                c.sp()?;
                params.qresync = Some(qresync(c)?);
            } else {
                return Err(c.err("unknown SELECT parameter"));
            }
            Ok(())
        })?;
    }
    Ok(CommandKind::Select { mailbox, read_only, params })
}

/// RFC 7162 §7: `"(" uidvalidity SP mod-sequence-value [SP known-uids]
/// [SP seq-match-data] ")"`, `seq-match-data = "(" known-sequence-set SP
/// known-uid-set ")"`.
fn qresync(c: &mut Cursor) -> PResult<Qresync> {
    c.expect(b'(')?;
    let uidvalidity = c.nz_number32()?;
    c.sp()?;
    let modseq = c.nz_number64()?;
    let mut q = Qresync { uidvalidity, modseq, known_uids: None, seq_match: None };
    if c.eat(b' ') {
        if c.peek() == Some(b'(') {
            q.seq_match = Some(seq_match(c)?);
        } else {
            q.known_uids = Some(uid_set(c)?);
            if c.eat(b' ') {
                q.seq_match = Some(seq_match(c)?);
            }
        }
    }
    c.expect(b')')?;
    Ok(q)
}

fn seq_match(c: &mut Cursor) -> PResult<(SequenceSet, SequenceSet)> {
    c.expect(b'(')?;
    let seqs = uid_set(c)?;
    c.sp()?;
    let uids = uid_set(c)?;
    c.expect(b')')?;
    Ok((seqs, uids))
}

/// RFC 7162 §7: the sets of QRESYNC are explicit numbers ("*" is not
/// allowed, and `$` means nothing here).
fn uid_set(c: &mut Cursor) -> PResult<SequenceSet> {
    let set = c.sequence_set()?;
    match &set {
        SequenceSet::Ranges(r) if r.iter().all(|(a, b)| !matches!(a, Bound::Star) && !matches!(b, Bound::Star)) => {
            Ok(set)
        }
        _ => Err(c.err("QRESYNC sets must not contain * or $")),
    }
}
