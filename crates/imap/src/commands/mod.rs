//! The commands, one file per group:
//!
//! - `any.rs`: CAPABILITY, NOOP, LOGOUT, ID, ENABLE, NAMESPACE
//! - `auth.rs`: STARTTLS, LOGIN, AUTHENTICATE
//! - `mailboxes.rs`: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST,
//!   LSUB, STATUS, GETQUOTA(ROOT)
//! - `select.rs`: SELECT, EXAMINE, CLOSE, UNSELECT, CHECK, EXPUNGE, UID EXPUNGE
//! - `fetch.rs`: FETCH, UID FETCH
//! - `store.rs`: STORE, UID STORE
//! - `search.rs`: SEARCH, UID SEARCH (ESEARCH, SEARCHRES)
//! - `copy_move.rs`: COPY, MOVE and their UID forms
//! - `append.rs`: APPEND
//! - `idle.rs`: IDLE
//! - `pattern.rs`: LIST wildcards

mod any;
mod append;
mod auth;
mod copy_move;
mod fetch;
mod idle;
mod mailboxes;
pub mod pattern;
mod search;
mod select;
mod store;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::proto::{CommandKind, SequenceSet};
use crate::session::{CmdResult, Next, Session};

pub(crate) async fn run<S>(s: &mut Session<S>, tag: String, kind: CommandKind) -> CmdResult
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    use CommandKind as K;
    match kind {
        K::Capability => any::capability(s, &tag),
        K::Noop | K::Check => any::noop(s, &tag).await,
        K::Logout => any::logout(s, &tag),
        K::Id(_) => any::id(s, &tag),
        K::Enable(caps) => any::enable(s, &tag, &caps),
        K::Namespace => any::namespace(s, &tag),
        K::StartTls => auth::starttls(s, &tag).await,
        K::Login { user, password } => auth::login(s, &tag, &user, &password).await,
        K::Authenticate { mechanism, initial } => auth::authenticate(s, &tag, &mechanism, initial).await,
        K::Select { mailbox, read_only, params } => select::select(s, &tag, &mailbox, read_only, params).await,
        K::Close => select::close(s, &tag, true).await,
        K::Unselect => select::close(s, &tag, false).await,
        K::Expunge => select::expunge(s, &tag, None).await,
        K::UidExpunge(set) => select::expunge(s, &tag, Some(set)).await,
        K::Create { mailbox, special_use } => mailboxes::create(s, &tag, &mailbox, &special_use).await,
        K::Delete(m) => mailboxes::delete(s, &tag, &m).await,
        K::Rename { from, to } => mailboxes::rename(s, &tag, &from, &to).await,
        K::Subscribe(m) => mailboxes::subscribe(s, &tag, &m, true).await,
        K::Unsubscribe(m) => mailboxes::subscribe(s, &tag, &m, false).await,
        K::List(l) => mailboxes::list(s, &tag, l).await,
        K::Lsub { reference, pattern } => mailboxes::lsub(s, &tag, &reference, &pattern).await,
        K::Status { mailbox, items } => mailboxes::status(s, &tag, &mailbox, &items).await,
        K::GetQuotaRoot(m) => mailboxes::quota(s, &tag, Some(&m)).await,
        K::GetQuota(_) => mailboxes::quota(s, &tag, None).await,
        K::Append(a) => append::append(s, &tag, a).await,
        K::Idle => idle::idle(s, &tag).await,
        K::Fetch { uid, set, items, changed_since, vanished } => {
            // RFC 7162 §3.1.4.1: CHANGEDSINCE and MODSEQ turn CONDSTORE on.
            if changed_since.is_some() || items.contains(&crate::proto::FetchItem::ModSeq) {
                s.enable_condstore();
            }
            fetch::fetch(s, &tag, uid, &set, items, changed_since, vanished).await
        }
        K::Store { uid, set, store } => store::store(s, &tag, uid, &set, store).await,
        K::Search { uid, search } => search::search(s, &tag, uid, search).await,
        K::Copy { uid, set, mailbox } => copy_move::copy_move(s, &tag, uid, &set, &mailbox, false).await,
        K::Move { uid, set, mailbox } => copy_move::copy_move(s, &tag, uid, &set, &mailbox, true).await,
    }
}

/// The UIDs a set names in the selected mailbox, ascending. `$` is the
/// saved search result (RFC 5182).
pub(crate) fn resolve_uids<S>(s: &Session<S>, uid: bool, set: &SequenceSet) -> Vec<u32> {
    let Some(sel) = &s.selected else { return Vec::new() };
    if matches!(set, SequenceSet::Saved) {
        return s.saved.iter().copied().filter(|u| sel.seq_of(*u).is_some()).collect();
    }
    if uid {
        let uids: Vec<u32> = sel.messages.iter().map(|m| m.uid).collect();
        set.select(&uids)
    } else {
        let n = sel.exists();
        (1..=n).filter(|seq| set.contains(*seq, n)).filter_map(|seq| sel.by_seq(seq).map(|m| m.uid)).collect()
    }
}

/// A store error as the client should see it.
pub(crate) fn store_error_text(e: &atoll_store::Error) -> (String, bool) {
    use atoll_store::Error as E;
    match e {
        E::NoSuchMailbox(m) => (format!("[NONEXISTENT] no mailbox {m}"), true),
        E::MailboxExists(m) => (format!("[ALREADYEXISTS] mailbox {m} already exists"), true),
        E::InvalidName(n, why) => (format!("[CANNOT] invalid mailbox name {n:?}: {why}"), true),
        E::NotSelectable(m) => (format!("[NONEXISTENT] mailbox {m} cannot be selected"), true),
        E::HasChildren(m) => (format!("[HASCHILDREN] mailbox {m} has children"), true),
        E::InboxDelete => ("[CANNOT] INBOX cannot be deleted".to_string(), true),
        E::InvalidFlag(f) => (format!("invalid flag {f}"), true),
        other => {
            tracing::error!(error = %other, "imap: store failure");
            ("[SERVERBUG] the mail store failed; try again".to_string(), false)
        }
    }
}

pub(crate) fn no_store<S>(s: &mut Session<S>, tag: &str, e: &atoll_store::Error) -> CmdResult
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (text, _) = store_error_text(e);
    s.tagged(tag, "NO", &text);
    Ok(Next::Continue)
}
