//! Response codes, the `[…]` of a status response (RFC 9051 §7.1, and the
//! extensions' codes: UIDPLUS RFC 4315 §3, CONDSTORE/QRESYNC RFC 7162
//! §3.1.2, §3.2.11, RFC 7889 / RFC 4469 TOOBIG, RFC 6154 USEATTR).

use std::fmt;

use crate::proto::sequence::{compress, compress_in_order};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseCode {
    Alert,
    AlreadyExists,
    /// `APPENDUID uidvalidity uid` (RFC 4315 §3).
    AppendUid {
        uidvalidity: u32,
        uid: u32,
    },
    AuthenticationFailed,
    AuthorizationFailed,
    /// `BADCHARSET (UTF-8 US-ASCII)`; no list when empty.
    BadCharset(Vec<String>),
    Cannot,
    Capability(Vec<String>),
    ClientBug,
    /// RFC 7162 §3.2.11: the previous mailbox was closed by SELECT.
    Closed,
    ContactAdmin,
    /// `COPYUID uidvalidity source-uids dest-uids` (RFC 4315 §3): both sets
    /// keep their given order, pairwise corresponding.
    CopyUid {
        uidvalidity: u32,
        source: Vec<u32>,
        dest: Vec<u32>,
    },
    Corruption,
    Expired,
    ExpungeIssued,
    HasChildren,
    HighestModSeq(u64),
    InUse,
    Limit,
    /// RFC 7162 §3.1.3: the messages a conditional STORE left alone.
    Modified(Vec<u32>),
    NoModSeq,
    NonExistent,
    NoPerm,
    OverQuota,
    Parse,
    PermanentFlags(Vec<String>),
    PrivacyRequired,
    ReadOnly,
    ReadWrite,
    ServerBug,
    /// RFC 4469 §4 / RFC 7889 §4: a literal or message over the limit.
    TooBig,
    TryCreate,
    UidNext(u32),
    UidNotSticky,
    UidValidity(u32),
    Unavailable,
    /// RFC 3516 §4.3: BINARY cannot undo the part's transfer encoding.
    UnknownCte,
    /// IMAP4rev1 only (RFC 3501 §7.1): the first unseen message.
    Unseen(u32),
    /// RFC 6154 §6: CREATE's special-use attribute is not supported.
    UseAttr,
    /// Anything else: an atom and its optional text.
    Other(String, Option<String>),
}

impl fmt::Display for ResponseCode {
    /// What goes between the brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ResponseCode::*;
        match self {
            Alert => f.write_str("ALERT"),
            AlreadyExists => f.write_str("ALREADYEXISTS"),
            AppendUid { uidvalidity, uid } => write!(f, "APPENDUID {uidvalidity} {uid}"),
            AuthenticationFailed => f.write_str("AUTHENTICATIONFAILED"),
            AuthorizationFailed => f.write_str("AUTHORIZATIONFAILED"),
            BadCharset(list) if list.is_empty() => f.write_str("BADCHARSET"),
            BadCharset(list) => write!(f, "BADCHARSET ({})", list.join(" ")),
            Cannot => f.write_str("CANNOT"),
            Capability(caps) => write!(f, "CAPABILITY {}", caps.join(" ")),
            ClientBug => f.write_str("CLIENTBUG"),
            Closed => f.write_str("CLOSED"),
            ContactAdmin => f.write_str("CONTACTADMIN"),
            CopyUid { uidvalidity, source, dest } => {
                write!(f, "COPYUID {uidvalidity} {} {}", compress_in_order(source), compress_in_order(dest))
            }
            Corruption => f.write_str("CORRUPTION"),
            Expired => f.write_str("EXPIRED"),
            ExpungeIssued => f.write_str("EXPUNGEISSUED"),
            HasChildren => f.write_str("HASCHILDREN"),
            HighestModSeq(n) => write!(f, "HIGHESTMODSEQ {n}"),
            InUse => f.write_str("INUSE"),
            Limit => f.write_str("LIMIT"),
            Modified(set) => write!(f, "MODIFIED {}", compress(set)),
            NoModSeq => f.write_str("NOMODSEQ"),
            NonExistent => f.write_str("NONEXISTENT"),
            NoPerm => f.write_str("NOPERM"),
            OverQuota => f.write_str("OVERQUOTA"),
            Parse => f.write_str("PARSE"),
            PermanentFlags(flags) => write!(f, "PERMANENTFLAGS ({})", flags.join(" ")),
            PrivacyRequired => f.write_str("PRIVACYREQUIRED"),
            ReadOnly => f.write_str("READ-ONLY"),
            ReadWrite => f.write_str("READ-WRITE"),
            ServerBug => f.write_str("SERVERBUG"),
            TooBig => f.write_str("TOOBIG"),
            TryCreate => f.write_str("TRYCREATE"),
            UidNext(n) => write!(f, "UIDNEXT {n}"),
            UidNotSticky => f.write_str("UIDNOTSTICKY"),
            UidValidity(n) => write!(f, "UIDVALIDITY {n}"),
            Unavailable => f.write_str("UNAVAILABLE"),
            UnknownCte => f.write_str("UNKNOWN-CTE"),
            Unseen(n) => write!(f, "UNSEEN {n}"),
            UseAttr => f.write_str("USEATTR"),
            Other(atom, None) => f.write_str(atom),
            // resp-text-code text may not hold "]" (RFC 9051 §9).
            Other(atom, Some(text)) => write!(f, "{atom} {}", text.replace([']', '\r', '\n'], " ")),
        }
    }
}
