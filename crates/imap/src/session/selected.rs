//! The selected mailbox as one session sees it: message sequence numbers,
//! the flags the client was last told, and the mod-sequence up to which it
//! is in step with the database.
//!
//! This is a cache. The island's database is the truth (several store
//! nodes may serve one island), so before a command's tagged answer the
//! session asks the database what changed since `highestmodseq` and turns
//! the difference into the untagged updates the RFC allows at that point
//! (RFC 9051 §5.2, §7.4.1, §7.5.1).

use std::collections::HashSet;
use std::sync::Arc;

use atoll_store::{Changes, Flags, Mailbox, Message};

/// Views of a mailbox shared by the sessions that have it selected at the
/// same state, so that a thousand sessions idling on one big mailbox hold
/// one copy of its message list, not a thousand. A session changes its
/// view copy-on-write and, once it is back in step with the database (no
/// expunge held back), trades its copy for the shared one if they are
/// equal, or offers its own.
#[derive(Clone)]
pub struct Views(moka::sync::Cache<ViewKey, (i64, Arc<Vec<Known>>)>);

/// (mailbox id, UIDVALIDITY): what a view is kept under.
type ViewKey = (i64, i64);

/// Bytes the views may hold; views no session uses are dropped first.
const VIEWS_BYTES: u64 = 256 << 20;

impl Default for Views {
    fn default() -> Self {
        Views(
            moka::sync::Cache::builder()
                .max_capacity(VIEWS_BYTES)
                .weigher(|_: &(i64, i64), v: &(i64, Arc<Vec<Known>>)| {
                    u32::try_from(v.1.len() * std::mem::size_of::<Known>() + 64).unwrap_or(u32::MAX)
                })
                .build(),
        )
    }
}

impl Views {
    /// The shared view of `mailbox` if it is as of the mailbox's current
    /// HIGHESTMODSEQ: every change takes a new mod-sequence, so that view
    /// is the mailbox as it is, and SELECT needs to read no message list.
    pub fn current(&self, mailbox: &Mailbox) -> Option<Arc<Vec<Known>>> {
        self.0
            .get(&(mailbox.id, mailbox.uidvalidity))
            .and_then(|(modseq, view)| (modseq == mailbox.highestmodseq).then_some(view))
    }
}

/// One untagged update for the client, in the order it must be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// `* n EXPUNGE`: the message that had sequence number n is gone; the
    /// numbers above it move down at once (RFC 9051 §7.5.1).
    Expunge(u32),
    /// `* VANISHED uid-set` instead, when the client enabled QRESYNC
    /// (RFC 7162 §3.2.10).
    Vanished(Vec<u32>),
    /// `* n EXISTS`.
    Exists(u32),
    /// `* n FETCH (UID u FLAGS (..) [MODSEQ (m)])`: flags changed elsewhere.
    Flags { seq: u32, uid: u32, flags: Flags, modseq: i64 },
}

/// A message as this session knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub uid: u32,
    pub flags: Flags,
    pub modseq: i64,
    pub internal_date: i64,
    pub save_date: i64,
    pub size: i64,
    pub blob: atoll_store::BlobId,
}

impl From<Message> for Known {
    fn from(m: Message) -> Known {
        Known {
            uid: to_u32(m.uid),
            flags: m.flags,
            modseq: m.modseq,
            internal_date: m.internal_date,
            save_date: m.save_date,
            size: m.size,
            blob: m.blob,
        }
    }
}

/// UIDs are allocated from 1 and a mailbox cannot reach 2^32 of them
/// (RFC 9051 §2.3.1.1), so the conversion saturates only on a corrupt row.
fn to_u32(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

#[derive(Debug, Clone)]
pub struct Selected {
    pub mailbox: Mailbox,
    /// EXAMINE, or SELECT of a mailbox the user may not change.
    pub read_only: bool,
    /// By sequence number: messages[n - 1] has sequence number n. Shared
    /// with other sessions (see [`Views`]); changed copy-on-write.
    pub messages: Arc<Vec<Known>>,
    /// The database state this view reflects.
    pub highestmodseq: i64,
    /// Expunges seen in the database but not yet told to the client,
    /// because the command in progress does not allow EXPUNGE responses.
    pending_expunges: HashSet<u32>,
    /// UIDs that are \Recent in this session (RFC 3501 §2.3.2), as
    /// half-open ranges `from..upto`.
    recent: Vec<(u32, u32)>,
    /// UIDs below this have been looked at for \Recent.
    recent_upto: u32,
    /// The keywords the client was told of in FLAGS and PERMANENTFLAGS.
    keywords: Vec<String>,
}

impl Selected {
    /// A selected mailbox on a shared view (see [`Views::current`]).
    pub fn with_view(mailbox: Mailbox, read_only: bool, messages: Arc<Vec<Known>>) -> Selected {
        let highestmodseq = mailbox.highestmodseq;
        Selected {
            mailbox,
            read_only,
            messages,
            highestmodseq,
            pending_expunges: HashSet::new(),
            recent: Vec::new(),
            recent_upto: 0,
            keywords: Vec::new(),
        }
    }

    pub fn new(mailbox: Mailbox, read_only: bool, messages: Vec<Message>) -> Selected {
        // highestmodseq from the same read as the messages would be ideal;
        // the mailbox row was read first, so any change in between shows up
        // again at the first refresh (messages are compared, not trusted).
        let mut messages: Vec<Known> = messages.into_iter().map(Known::from).collect();
        messages.sort_by_key(|m| m.uid);
        Selected::with_view(mailbox, read_only, Arc::new(messages))
    }

    /// Adds the keywords of `flags` the client has not been told of; true
    /// when there were any, and the FLAGS and PERMANENTFLAGS responses
    /// must be sent again before a FETCH shows them (RFC 9051 §7.3.5).
    pub fn learn_keywords<'a>(&mut self, flags: impl IntoIterator<Item = &'a Flags>) -> bool {
        let mut learnt = false;
        for f in flags {
            for k in &f.keywords {
                if !self.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                    self.keywords.push(k.clone());
                    learnt = true;
                }
            }
        }
        learnt
    }

    /// Learns the keywords of every message in the view (see
    /// [`Selected::learn_keywords`]).
    pub fn learn_all_keywords(&mut self) -> bool {
        let messages = Arc::clone(&self.messages);
        self.learn_keywords(messages.iter().map(|m| &m.flags))
    }

    /// The untagged `FLAGS` and `OK [PERMANENTFLAGS]` lines (RFC 9051
    /// §7.3.5, §7.1): the system flags, the keywords in use, and `\*` when
    /// the client may create more.
    pub fn flags_lines(&self) -> [Vec<u8>; 2] {
        let mut kw = String::new();
        for k in &self.keywords {
            kw.push(' ');
            kw.push_str(k);
        }
        let flags = format!("FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft{kw})").into_bytes();
        let permanent = if self.read_only {
            b"OK [PERMANENTFLAGS ()] read-only".to_vec()
        } else {
            format!("OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft{kw} \\*)] flags permitted")
                .into_bytes()
        };
        [flags, permanent]
    }

    /// Where the next look for \Recent must reach: past every message in
    /// the view and, right after SELECT, up to the mailbox's UIDNEXT.
    /// None when nothing new has come since the last look.
    pub fn recent_to_claim(&self) -> Option<u32> {
        let upto = (self.max_uid().saturating_add(1)).max(u32::try_from(self.mailbox.uidnext).unwrap_or(0));
        (upto > self.recent_upto).then_some(upto)
    }

    /// Records that UIDs `from..upto` are \Recent in this session (RFC 3501
    /// §2.3.2) and that everything below `upto` has been looked at.
    pub fn add_recent(&mut self, from: i64, upto: u32) {
        let from = u32::try_from(from.max(0)).unwrap_or(u32::MAX);
        if from < upto {
            self.recent.push((from, upto));
        }
        self.recent_upto = self.recent_upto.max(upto);
    }

    pub fn is_recent(&self, uid: u32) -> bool {
        self.recent.iter().any(|(from, upto)| (*from..*upto).contains(&uid))
    }

    /// The RECENT count: messages in the view that are \Recent here.
    pub fn recent_count(&self) -> usize {
        if self.recent.is_empty() {
            return 0;
        }
        // The ranges may overlap (EXAMINE looks without claiming); count
        // each UID once, by binary search over the UID-ordered view.
        let mut ranges = self.recent.clone();
        ranges.sort_unstable();
        let mut count = 0;
        let mut covered = 0u32;
        for (from, upto) in ranges {
            let from = from.max(covered);
            if from < upto {
                let at = |uid: u32| self.messages.partition_point(|m| m.uid < uid);
                count += at(upto) - at(from);
                covered = upto;
            }
        }
        count
    }

    /// Trades this view for an equal shared one, or shares it. Not while
    /// expunges are held back: then the view is this session's own.
    pub fn share(&mut self, views: &Views) {
        if !self.pending_expunges.is_empty() {
            return;
        }
        let key = (self.mailbox.id, self.mailbox.uidvalidity);
        if let Some((modseq, shared)) = views.0.get(&key) {
            if Arc::ptr_eq(&shared, &self.messages) {
                return;
            }
            if modseq == self.highestmodseq && *shared == *self.messages {
                self.messages = shared;
                return;
            }
            if modseq > self.highestmodseq {
                return;
            }
        }
        views.0.insert(key, (self.highestmodseq, self.messages.clone()));
    }

    pub fn exists(&self) -> u32 {
        u32::try_from(self.messages.len()).unwrap_or(u32::MAX)
    }

    pub fn max_uid(&self) -> u32 {
        self.messages.last().map(|m| m.uid).unwrap_or(0)
    }

    /// Sequence number of a UID.
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok().map(|i| i as u32 + 1)
    }

    pub fn by_seq(&self, seq: u32) -> Option<&Known> {
        self.messages.get((seq as usize).checked_sub(1)?)
    }

    /// Records flags this session itself changed (STORE answers with its own
    /// FETCH responses, so the refresh must not repeat them).
    pub fn set_flags(&mut self, uid: u32, flags: Flags, modseq: i64) {
        if let Some(i) = self.seq_of(uid) {
            let m = &mut Arc::make_mut(&mut self.messages)[i as usize - 1];
            m.flags = flags;
            m.modseq = modseq;
        }
    }

    /// Applies what changed in the database and returns the updates to send.
    ///
    /// `allow_expunge` is false while answering FETCH, STORE or SEARCH by
    /// sequence number: those must not renumber messages under the client
    /// (RFC 9051 §7.5.1), so expunges wait for the next command that may
    /// carry them. `qresync` reports them as VANISHED (RFC 7162 §3.2.10).
    pub fn apply(&mut self, changes: Changes, allow_expunge: bool, qresync: bool) -> Vec<Update> {
        let mut out = Vec::new();
        for uid in changes.vanished {
            let uid = to_u32(uid);
            if self.seq_of(uid).is_some() {
                self.pending_expunges.insert(uid);
            }
        }
        if allow_expunge && !self.pending_expunges.is_empty() {
            let mut gone: Vec<u32> = self.pending_expunges.drain().collect();
            gone.sort_unstable();
            if qresync {
                Arc::make_mut(&mut self.messages).retain(|m| gone.binary_search(&m.uid).is_err());
                out.push(Update::Vanished(gone));
            } else {
                // Highest first: each EXPUNGE renumbers the messages above
                // it at once, so going down keeps every later number the
                // same as in the client's current view.
                for uid in gone.into_iter().rev() {
                    if let Some(seq) = self.seq_of(uid) {
                        Arc::make_mut(&mut self.messages).remove(seq as usize - 1);
                        out.push(Update::Expunge(seq));
                    }
                }
            }
        }

        let before = self.messages.len();
        let mut max = self.max_uid();
        for m in changes.changed {
            let uid = to_u32(m.uid);
            if uid > max {
                max = uid;
                Arc::make_mut(&mut self.messages).push(Known::from(m));
                continue;
            }
            let Some(seq) = self.seq_of(uid) else { continue };
            let current = &self.messages[seq as usize - 1];
            if current.flags == m.flags && current.modseq >= m.modseq {
                continue;
            }
            let known = &mut Arc::make_mut(&mut self.messages)[seq as usize - 1];
            if known.flags != m.flags {
                known.flags = m.flags.clone();
                known.modseq = m.modseq;
                out.push(Update::Flags { seq, uid, flags: m.flags, modseq: m.modseq });
            } else {
                known.modseq = known.modseq.max(m.modseq);
            }
        }
        if self.messages.len() != before || out.iter().any(|u| matches!(u, Update::Expunge(_) | Update::Vanished(_))) {
            out.push(Update::Exists(self.exists()));
        }
        // Expunges held back are remembered in `pending_expunges`, so the
        // mark may advance past them.
        self.highestmodseq = self.highestmodseq.max(changes.highestmodseq);
        out
    }

    /// UIDs of the messages with \Deleted (for EXPUNGE and CLOSE).
    pub fn deleted_uids(&self) -> Vec<i64> {
        self.messages.iter().filter(|m| m.flags.has(atoll_store::system::DELETED)).map(|m| i64::from(m.uid)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atoll_store::BlobId;

    fn mailbox() -> Mailbox {
        Mailbox {
            id: 1,
            account_id: 1,
            name: "INBOX".into(),
            guid: "g".into(),
            uidvalidity: 7,
            uidnext: 4,
            highestmodseq: 3,
            special_use: None,
            selectable: true,
        }
    }

    fn msg(uid: i64, modseq: i64, flags: &[&str]) -> Message {
        Message {
            uid,
            flags: Flags::parse(flags.iter().copied()).expect("flags"),
            internal_date: 0,
            save_date: 0,
            size: 10,
            modseq,
            blob: BlobId::of(b"x"),
        }
    }

    fn three() -> Selected {
        Selected::new(mailbox(), false, vec![msg(1, 1, &[]), msg(2, 2, &[]), msg(3, 3, &[])])
    }

    #[test]
    fn recent_count_counts_each_uid_once() {
        let mut sel = three();
        sel.add_recent(2, 4);
        sel.add_recent(1, 3);
        assert_eq!(sel.recent_count(), 3);
        let mut sel = three();
        sel.add_recent(3, 10);
        assert_eq!(sel.recent_count(), 1);
        assert_eq!(three().recent_count(), 0);
    }

    #[test]
    fn a_shared_view_serves_select_only_at_the_current_modseq() {
        let views = Views::default();
        let mut a = three();
        a.share(&views);
        let mut mb = mailbox();
        assert!(views.current(&mb).is_some_and(|v| Arc::ptr_eq(&v, &a.messages)));
        mb.highestmodseq += 1;
        assert!(views.current(&mb).is_none(), "a change since: the view is stale");
    }

    #[test]
    fn recent_ranges() {
        // RFC 3501 §2.3.2: the uids this session claimed, and only those.
        let mut sel = three();
        let upto = sel.recent_to_claim().unwrap();
        assert!(upto > sel.max_uid());
        sel.add_recent(i64::from(sel.max_uid()), upto);
        assert!(sel.recent_to_claim().is_none());
        assert!(sel.is_recent(sel.max_uid()) && !sel.is_recent(sel.max_uid() - 1));
        assert_eq!(sel.recent_count(), 1);
        // Claimed by another session first: nothing recent, but looked at.
        let mut other = three();
        let upto = other.recent_to_claim().unwrap();
        other.add_recent(i64::from(upto), upto);
        assert_eq!((other.recent_count(), other.recent_to_claim()), (0, None));
    }

    /// Sessions at the same state share one message list; a change makes a
    /// private copy, and the sessions that catch up share again.
    #[test]
    fn views_are_shared_copy_on_write() {
        let views = Views::default();
        let (mut a, mut b) = (three(), three());
        a.share(&views);
        b.share(&views);
        assert!(Arc::ptr_eq(&a.messages, &b.messages));
        let change = || Changes { changed: vec![msg(2, 4, &["\\Seen"])], vanished: vec![], highestmodseq: 4 };
        a.apply(change(), true, false);
        assert!(!Arc::ptr_eq(&a.messages, &b.messages));
        assert!(b.messages[1].flags.keywords.is_empty() && b.messages[1].flags.system == 0, "b is untouched");
        a.share(&views);
        b.apply(change(), true, false);
        b.share(&views);
        assert!(Arc::ptr_eq(&a.messages, &b.messages));
        // Held-back expunges keep a view private.
        a.apply(Changes { changed: vec![], vanished: vec![3], highestmodseq: 5 }, false, false);
        a.share(&views);
        assert_eq!(a.exists(), 3);
        assert!(Arc::ptr_eq(&views.0.get(&(1, 7)).unwrap().1, &b.messages));
    }

    #[test]
    fn new_messages_flag_changes_and_expunges() {
        let mut s = three();
        let changes =
            Changes { changed: vec![msg(2, 4, &["\\Seen"]), msg(4, 5, &[])], vanished: vec![1, 99], highestmodseq: 5 };
        let updates = s.apply(changes, true, false);
        assert_eq!(
            updates,
            vec![
                Update::Expunge(1),
                Update::Flags { seq: 1, uid: 2, flags: Flags::parse(["\\Seen"]).expect("flags"), modseq: 4 },
                Update::Exists(3),
            ]
        );
        assert_eq!(s.messages.iter().map(|m| m.uid).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(s.highestmodseq, 5);
    }

    #[test]
    fn expunges_wait_while_not_allowed() {
        let mut s = three();
        let updates = s.apply(Changes { changed: vec![], vanished: vec![2], highestmodseq: 4 }, false, false);
        assert!(updates.is_empty(), "{updates:?}");
        assert_eq!(s.exists(), 3, "numbers must not move during FETCH/STORE/SEARCH");
        let updates = s.apply(Changes { changed: vec![], vanished: vec![], highestmodseq: 4 }, true, false);
        assert_eq!(updates, vec![Update::Expunge(2), Update::Exists(2)]);
    }

    #[test]
    fn qresync_reports_vanished() {
        let mut s = three();
        let updates = s.apply(Changes { changed: vec![], vanished: vec![1, 3], highestmodseq: 4 }, true, true);
        assert_eq!(updates, vec![Update::Vanished(vec![1, 3]), Update::Exists(1)]);
    }

    #[test]
    fn own_changes_are_not_repeated() {
        let mut s = three();
        let seen = Flags::parse(["\\Seen"]).expect("flags");
        s.set_flags(2, seen.clone(), 4);
        let updates =
            s.apply(Changes { changed: vec![msg(2, 4, &["\\Seen"])], vanished: vec![], highestmodseq: 4 }, true, false);
        assert!(updates.is_empty(), "{updates:?}");
    }
}
