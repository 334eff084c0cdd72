//! The command AST: what a client asked for, after parsing (RFC 9051 §6,
//! RFC 3501 §6 and the extensions atoll announces).

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
    /// RFC 2971.
    Id(Option<Vec<(String, Option<String>)>>),
    // Not authenticated (RFC 9051 §6.2).
    StartTls,
    /// SASL mechanism and the initial response of SASL-IR (RFC 4959);
    /// `Some("")` is the `=` empty initial response.
    Authenticate {
        mechanism: String,
        initial: Option<String>,
    },
    Login {
        user: String,
        password: String,
    },
    // Authenticated (RFC 9051 §6.3).
    /// RFC 5161.
    Enable(Vec<String>),
    Select {
        mailbox: String,
        read_only: bool,
        params: SelectParams,
    },
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
    Idle,
    /// RFC 9208.
    GetQuotaRoot(String),
    GetQuota(String),
    // Selected (RFC 9051 §6.4).
    Check,
    Close,
    Unselect,
    Expunge,
    UidExpunge(SequenceSet),
    Search {
        uid: bool,
        search: Search,
    },
    Fetch {
        uid: bool,
        set: SequenceSet,
        items: Vec<FetchItem>,
        changed_since: Option<u64>,
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
            Search { .. } => "SEARCH",
            Fetch { .. } => "FETCH",
            Store { .. } => "STORE",
            Copy { .. } => "COPY",
            Move { .. } => "MOVE",
        }
    }
}

/// SELECT/EXAMINE parameters (RFC 7162 §3.1.8, §3.2.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectParams {
    pub condstore: bool,
    pub qresync: Option<Qresync>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qresync {
    pub uidvalidity: u32,
    pub modseq: u64,
    pub known_uids: Option<SequenceSet>,
}

/// LIST with the LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819) parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListCommand {
    pub reference: String,
    pub patterns: Vec<String>,
    /// SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE (upper case).
    pub select: Vec<String>,
    /// SUBSCRIBED, CHILDREN, SPECIAL-USE (upper case).
    pub returns: Vec<String>,
    pub return_status: Option<Vec<StatusItem>>,
}

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    pub mailbox: String,
    pub flags: Vec<String>,
    /// INTERNALDATE as epoch seconds.
    pub date: Option<i64>,
    pub message: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItem {
    Envelope,
    Flags,
    InternalDate,
    Rfc822,
    Rfc822Header,
    Rfc822Size,
    Rfc822Text,
    Body,
    BodyStructure,
    Uid,
    ModSeq,
    SaveDate,
    BodySection { section: Section, partial: Option<Partial>, peek: bool },
    Binary { path: Vec<u32>, partial: Option<Partial>, peek: bool },
    BinarySize { path: Vec<u32> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub mode: StoreMode,
    pub silent: bool,
    pub flags: Vec<String>,
    /// CONDSTORE (RFC 7162 §3.1.3).
    pub unchanged_since: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub charset: Option<String>,
    /// ESEARCH RETURN options (RFC 4731); None is a plain SEARCH.
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
    Save,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Seq(SequenceSet),
    Uid(SequenceSet),
    Flag {
        flag: String,
        set: bool,
    },
    /// NEW = RECENT UNSEEN, OLD, RECENT: \Recent is not kept (IMAP4rev2
    /// dropped it), so RECENT matches nothing and OLD everything.
    Recent(bool),
    Header {
        name: String,
        value: String,
    },
    Body(String),
    Text(String),
    Before(i64),
    On(i64),
    Since(i64),
    SentBefore(i64),
    SentOn(i64),
    SentSince(i64),
    Larger(u64),
    Smaller(u64),
    ModSeq(u64),
    /// RFC 5032 WITHIN: seconds.
    Older(u64),
    Younger(u64),
    Not(Box<SearchKey>),
    Or(Box<SearchKey>, Box<SearchKey>),
    And(Vec<SearchKey>),
}
