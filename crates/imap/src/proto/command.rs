//! The command AST: what a client asked for, after parsing (RFC 9051 §6,
//! RFC 3501 §6 and the extensions atoll announces).
//!
//! Conventions: mailbox names are UTF-8 (decoded from modified UTF-7 for
//! IMAP4rev1 clients), with INBOX in upper case whatever the client sent
//! (RFC 9051 §5.1); keywords and option names are upper-cased; flags keep
//! the client's spelling (`\Seen`, `$Forwarded`), since flags compare
//! without regard to case (RFC 9051 §2.3.2); times are seconds since the
//! epoch, UTC.

use atoll_message::{Partial, Section};

use super::sequence::SequenceSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub tag: String,
    pub kind: CommandKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandKind {
    // Any state (RFC 9051 §6.1).
    Capability,
    Noop,
    Logout,
    /// RFC 2971: the client's `(field value …)` pairs, or None for `NIL`.
    Id(Option<Vec<(String, Option<String>)>>),

    // Not authenticated (RFC 9051 §6.2).
    StartTls,
    /// SASL mechanism (upper case) and the base64 initial response of
    /// SASL-IR (RFC 4959 §3), not yet decoded; `Some("")` is the `=` that
    /// stands for an empty initial response.
    Authenticate {
        mechanism: String,
        initial: Option<String>,
    },
    Login {
        user: String,
        password: String,
    },

    // Authenticated (RFC 9051 §6.3).
    /// RFC 5161: capability names, upper case.
    Enable(Vec<String>),
    /// SELECT, or EXAMINE when `read_only`.
    Select {
        mailbox: String,
        read_only: bool,
        params: SelectParams,
    },
    /// `special_use` is CREATE-SPECIAL-USE's `(USE (\Drafts …))` (RFC 6154 §3).
    Create {
        mailbox: String,
        special_use: Vec<String>,
    },
    Delete(String),
    Rename {
        from: String,
        to: String,
    },
    Subscribe(String),
    Unsubscribe(String),
    List(ListCommand),
    /// IMAP4rev1 only (RFC 3501 §6.3.9); RFC 9051 replaced it with
    /// `LIST (SUBSCRIBED)`.
    Lsub {
        reference: String,
        pattern: String,
    },
    Namespace,
    Status {
        mailbox: String,
        items: Vec<StatusItem>,
    },
    Append(Append),
    /// The client ends IDLE with a `DONE` line, which is no command: see
    /// [`crate::proto::parser::is_idle_done`].
    Idle,
    /// RFC 9208 §4.3.
    GetQuotaRoot(String),
    /// RFC 9208 §4.2: the quota root name.
    GetQuota(String),

    // Selected (RFC 9051 §6.4).
    /// IMAP4rev1 only (RFC 3501 §6.4.1); a NOOP in effect.
    Check,
    Close,
    /// RFC 3691, part of RFC 9051.
    Unselect,
    Expunge,
    /// UIDPLUS (RFC 4315 §2.1), part of RFC 9051.
    UidExpunge(SequenceSet),
    Search {
        uid: bool,
        search: Search,
    },
    Fetch {
        uid: bool,
        set: SequenceSet,
        items: Vec<FetchItem>,
        /// CONDSTORE's `(CHANGEDSINCE n)` (RFC 7162 §3.1.4.1).
        changed_since: Option<u64>,
        /// QRESYNC's `VANISHED` modifier (RFC 7162 §3.2.6); only with UID
        /// FETCH and CHANGEDSINCE.
        vanished: bool,
    },
    Store {
        uid: bool,
        set: SequenceSet,
        store: Store,
    },
    Copy {
        uid: bool,
        set: SequenceSet,
        mailbox: String,
    },
    /// RFC 6851, part of RFC 9051.
    Move {
        uid: bool,
        set: SequenceSet,
        mailbox: String,
    },
}

impl CommandKind {
    /// The command's name, for logs and BAD/NO texts.
    pub fn name(&self) -> &'static str {
        use CommandKind::*;
        match self {
            Capability => "CAPABILITY",
            Noop => "NOOP",
            Logout => "LOGOUT",
            Id(_) => "ID",
            StartTls => "STARTTLS",
            Authenticate { .. } => "AUTHENTICATE",
            Login { .. } => "LOGIN",
            Enable(_) => "ENABLE",
            Select { read_only: false, .. } => "SELECT",
            Select { read_only: true, .. } => "EXAMINE",
            Create { .. } => "CREATE",
            Delete(_) => "DELETE",
            Rename { .. } => "RENAME",
            Subscribe(_) => "SUBSCRIBE",
            Unsubscribe(_) => "UNSUBSCRIBE",
            List(_) => "LIST",
            Lsub { .. } => "LSUB",
            Namespace => "NAMESPACE",
            Status { .. } => "STATUS",
            Append(_) => "APPEND",
            Idle => "IDLE",
            GetQuotaRoot(_) => "GETQUOTAROOT",
            GetQuota(_) => "GETQUOTA",
            Check => "CHECK",
            Close => "CLOSE",
            Unselect => "UNSELECT",
            Expunge => "EXPUNGE",
            UidExpunge(_) => "UID EXPUNGE",
            Search { uid: false, .. } => "SEARCH",
            Search { uid: true, .. } => "UID SEARCH",
            Fetch { uid: false, .. } => "FETCH",
            Fetch { uid: true, .. } => "UID FETCH",
            Store { uid: false, .. } => "STORE",
            Store { uid: true, .. } => "UID STORE",
            Copy { uid: false, .. } => "COPY",
            Copy { uid: true, .. } => "UID COPY",
            Move { uid: false, .. } => "MOVE",
            Move { uid: true, .. } => "UID MOVE",
        }
    }
}

/// SELECT/EXAMINE parameters (RFC 7162 §3.1.8 CONDSTORE, §3.2.5 QRESYNC).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectParams {
    pub condstore: bool,
    pub qresync: Option<Qresync>,
}

/// `QRESYNC (uidvalidity modseq [known-uids [seq-match-data]])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qresync {
    pub uidvalidity: u32,
    pub modseq: u64,
    pub known_uids: Option<SequenceSet>,
    /// `(known-sequence-set known-uid-set)`: message numbers and the UIDs
    /// the client had at them, so the server can tell it where its view
    /// went wrong (RFC 7162 §3.2.5.2).
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
}

/// LIST with the LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819) parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListCommand {
    /// The reference name (may be empty), decoded like a mailbox name.
    pub reference: String,
    /// One or more patterns with `%` and `*` (RFC 5258 §3 allows a list).
    pub patterns: Vec<String>,
    /// Selection options, upper case: SUBSCRIBED, REMOTE, RECURSIVEMATCH,
    /// SPECIAL-USE (RFC 6154 §5.1).
    pub select: Vec<String>,
    /// Return options, upper case: SUBSCRIBED, CHILDREN, SPECIAL-USE.
    pub returns: Vec<String>,
    /// `RETURN (STATUS (...))` of RFC 5819.
    pub return_status: Option<Vec<StatusItem>>,
}

impl ListCommand {
    /// RFC 5258 §3: a LIST with no selection or return option and one
    /// pattern answers like the basic LIST of RFC 3501.
    pub fn is_extended(&self) -> bool {
        !self.select.is_empty() || !self.returns.is_empty() || self.return_status.is_some() || self.patterns.len() > 1
    }
}

/// STATUS data items (RFC 9051 §6.3.11, RFC 3501 RECENT, RFC 7162
/// HIGHESTMODSEQ, RFC 7889 APPENDLIMIT, RFC 8438 SIZE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    UidNext,
    UidValidity,
    Unseen,
    Deleted,
    Size,
    Recent,
    HighestModSeq,
    AppendLimit,
}

impl StatusItem {
    pub fn name(self) -> &'static str {
        match self {
            StatusItem::Messages => "MESSAGES",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
            StatusItem::Deleted => "DELETED",
            StatusItem::Size => "SIZE",
            StatusItem::Recent => "RECENT",
            StatusItem::HighestModSeq => "HIGHESTMODSEQ",
            StatusItem::AppendLimit => "APPENDLIMIT",
        }
    }
}

/// APPEND of one message (RFC 9051 §6.3.12; MULTIAPPEND is not offered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    pub mailbox: String,
    pub flags: Vec<String>,
    /// INTERNALDATE as epoch seconds.
    pub date: Option<i64>,
    pub message: Vec<u8>,
    /// Sent as `literal8` (`~{n}`, RFC 3516 §4.4): the message may hold
    /// binary content, NUL included.
    pub binary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItem {
    Envelope,
    Flags,
    InternalDate,
    /// RFC822, RFC822.HEADER, RFC822.TEXT: IMAP4rev1 (RFC 3501 §6.4.5).
    Rfc822,
    Rfc822Header,
    Rfc822Size,
    Rfc822Text,
    /// `BODY` without a section: the non-extensible BODYSTRUCTURE.
    Body,
    BodyStructure,
    Uid,
    /// RFC 7162 §3.1.4.
    ModSeq,
    /// RFC 8514.
    SaveDate,
    /// `BODY[section]<partial>` and `BODY.PEEK[…]`.
    BodySection {
        section: Section,
        partial: Option<Partial>,
        peek: bool,
    },
    /// `BINARY[part]<partial>` and `BINARY.PEEK[…]` (RFC 3516 §4.2).
    Binary {
        path: Vec<u32>,
        partial: Option<Partial>,
        peek: bool,
    },
    /// `BINARY.SIZE[part]` (RFC 3516 §4.2).
    BinarySize {
        path: Vec<u32>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
    /// `FLAGS`
    Replace,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub mode: StoreMode,
    /// `.SILENT`: no untagged FETCH for the changes (RFC 9051 §6.4.6).
    pub silent: bool,
    pub flags: Vec<String>,
    /// CONDSTORE's `(UNCHANGEDSINCE n)` (RFC 7162 §3.1.3); 0 is allowed.
    pub unchanged_since: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// Upper case; only UTF-8 and US-ASCII get this far (others are
    /// refused with `NO [BADCHARSET]`, RFC 9051 §6.4.4).
    pub charset: Option<String>,
    /// ESEARCH's `RETURN (…)` (RFC 4731 §3.1, RFC 9051 §6.4.4); None is a
    /// plain SEARCH, `Some([])` is `RETURN ()`, which means ALL.
    pub returns: Option<Vec<SearchReturn>>,
    /// The keys, ANDed.
    pub keys: Vec<SearchKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchReturn {
    Min,
    Max,
    All,
    Count,
    /// SEARCHRES (RFC 5182 §2.1): keep the result for `$`.
    Save,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    /// A sequence set of message numbers (or `$`).
    Seq(SequenceSet),
    Uid(SequenceSet),
    /// ANSWERED, DELETED, … (as `\Answered` …) and KEYWORD k; `set` false
    /// for the UN- forms.
    Flag {
        flag: String,
        set: bool,
    },
    /// NEW = RECENT UNSEEN, OLD, RECENT (RFC 3501 only): \Recent is not
    /// kept (IMAP4rev2 dropped it), so RECENT matches nothing and OLD all.
    Recent(bool),
    /// HEADER name value, and BCC/CC/FROM/SUBJECT/TO as headers of that
    /// name (upper case).
    Header {
        name: String,
        value: String,
    },
    Body(String),
    Text(String),
    /// INTERNALDATE comparisons, day granularity: the epoch second of the
    /// day's midnight, UTC.
    Before(i64),
    On(i64),
    Since(i64),
    /// Date: header comparisons, same granularity.
    SentBefore(i64),
    SentOn(i64),
    SentSince(i64),
    Larger(u64),
    Smaller(u64),
    /// RFC 7162 §3.1.5 (the optional entry name and type are read and
    /// ignored: atoll keeps one mod-sequence per message).
    ModSeq(u64),
    /// RFC 5032 WITHIN: seconds.
    Older(u64),
    Younger(u64),
    /// RFC 8514 §4: save-date comparisons, day granularity like BEFORE.
    SavedBefore(i64),
    SavedOn(i64),
    SavedSince(i64),
    /// RFC 8514 §4: the mailbox keeps save dates.
    SaveDateSupported,
    Not(Box<SearchKey>),
    Or(Box<SearchKey>, Box<SearchKey>),
    /// A parenthesised list (and NEW).
    And(Vec<SearchKey>),
}
