//! The command parser: the bytes of one whole command (from `framing`,
//! literals inline) to a [`Command`]. Hand-written after RFC 9051 §9's
//! grammar, with RFC 3501's IMAP4rev1 forms and the extensions atoll
//! announces. It never panics, and every error carries the tag when one
//! was read, so the session can answer `tag BAD …` and go on.
//!
//! - `lexer.rs`: atoms, numbers, strings, literals, flags, mailbox names,
//!   sequence sets, dates;
//! - `any.rs`: ENABLE, ID; `auth.rs`: LOGIN, AUTHENTICATE;
//! - `mailbox.rs`: CREATE, DELETE, RENAME, (UN)SUBSCRIBE, STATUS, GETQUOTA*;
//! - `select.rs`, `list.rs`, `append.rs`, `fetch.rs`, `search.rs`,
//!   `store.rs`, `copy_move.rs`: one command (family) each;
//! - `continuation.rs`: the lines that are not commands (IDLE's DONE,
//!   AUTHENTICATE's responses).

mod any;
mod append;
mod auth;
mod continuation;
mod copy_move;
mod fetch;
mod lexer;
mod list;
mod mailbox;
mod search;
mod select;
mod store;

use super::command::{Command, CommandKind};
use super::response::{ResponseCode, Status, status_line};
pub use continuation::{SaslResponse, is_idle_done, parse_sasl_response};
pub(crate) use lexer::Cursor;
pub use lexer::{is_astring_char, is_atom_char, is_tag_char};
pub use search::MAX_SEARCH_DEPTH;

/// What the parser must know of the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// The client enabled UTF8=ACCEPT (RFC 6855 §3) or IMAP4rev2 (RFC 9051
    /// §6.3.1, appendix A): mailbox names are UTF-8 as sent. Otherwise they
    /// are decoded from modified UTF-7 (RFC 3501 §5.1.3).
    pub utf8: bool,
}

/// Why a command was refused. All but `BadCharset` and `BadName` are `BAD`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("missing or invalid tag")]
    Tag,
    #[error("unknown command {0}")]
    UnknownCommand(String),
    /// The grammar was not followed; the text says where.
    #[error("{0}")]
    Syntax(String),
    /// RFC 9051 §6.4.4: an unsupported SEARCH charset is `NO
    /// [BADCHARSET (…)]`, not BAD.
    #[error("charset {0} is not supported")]
    BadCharset(String),
    /// A mailbox name that is not valid modified UTF-7 (RFC 3501 §5.1.3)
    /// from a client that did not enable UTF-8. It is a well-formed
    /// astring, so the command is answered NO (no such mailbox / cannot
    /// be created), not BAD, as Dovecot does (imaptest `atoms`).
    #[error("mailbox name {0:?} is not valid modified UTF-7 (RFC 3501 §5.1.3)")]
    BadName(String),
    /// SEARCH keys nested deeper than [`MAX_SEARCH_DEPTH`].
    #[error("search keys are nested too deeply")]
    TooDeep,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    /// The command's tag, when one could be read.
    pub tag: Option<String>,
    pub kind: ParseErrorKind,
}

/// The charsets SEARCH takes (RFC 9051 §6.4.4 requires these two).
pub const SEARCH_CHARSETS: [&str; 2] = ["UTF-8", "US-ASCII"];

impl ParseError {
    /// The text for the client.
    pub fn reason(&self) -> String {
        self.kind.to_string()
    }

    /// BAD for syntax, NO for an unsupported charset or a mailbox name
    /// that is not modified UTF-7.
    pub fn status(&self) -> Status {
        match self.kind {
            ParseErrorKind::BadCharset(_) | ParseErrorKind::BadName(_) => Status::No,
            _ => Status::Bad,
        }
    }

    pub fn code(&self) -> Option<ResponseCode> {
        match self.kind {
            ParseErrorKind::BadCharset(_) => {
                Some(ResponseCode::BadCharset(SEARCH_CHARSETS.iter().map(|s| s.to_string()).collect()))
            }
            _ => None,
        }
    }

    /// The whole answer: `tag BAD text\r\n`, or `* BAD text\r\n` without a
    /// tag (RFC 9051 §7.1.3 allows an untagged BAD for an unreadable line).
    pub fn to_response(&self) -> Vec<u8> {
        let mut out = Vec::new();
        status_line(&mut out, self.tag.as_deref(), self.status(), self.code().as_ref(), &self.reason());
        out
    }
}

pub(crate) type PResult<T> = Result<T, ParseErrorKind>;

/// Parses one command for an IMAP4rev1 client that did not enable UTF-8.
pub fn parse_command(bytes: &[u8]) -> Result<Command, ParseError> {
    parse_command_with(bytes, ParseOptions::default())
}

/// Parses one command. `bytes` is a [`crate::proto::framing::Frame::Command`].
pub fn parse_command_with(bytes: &[u8], opts: ParseOptions) -> Result<Command, ParseError> {
    let mut c = Cursor::new(bytes, opts);
    let tag = c.tag().map_err(|_| ParseError { tag: None, kind: ParseErrorKind::Tag })?;
    if c.peek().is_some_and(|b| b != b' ') {
        return Err(ParseError { tag: None, kind: ParseErrorKind::Tag });
    }
    let kind = c.sp().and_then(|()| command(&mut c)).and_then(|k| c.end().map(|()| k));
    match kind {
        Ok(kind) => Ok(Command { tag, kind }),
        Err(kind) => Err(ParseError { tag: Some(tag), kind }),
    }
}

/// The tag at the start of `bytes`, when there is a well-formed one (for
/// answering a command that could not be read whole).
pub fn tag_of(bytes: &[u8]) -> Option<String> {
    let mut c = Cursor::new(bytes, ParseOptions::default());
    let tag = c.tag().ok()?;
    (c.at_end() || c.peek() == Some(b' ')).then_some(tag)
}

fn command(c: &mut Cursor) -> PResult<CommandKind> {
    let name = c.atom_upper().map_err(|_| c.err("expected a command name"))?;
    let kind = match name.as_str() {
        // RFC 9051 §6.1, §6.2.1, §6.3.10, §6.3.13, §6.4.1-3.
        "CAPABILITY" => CommandKind::Capability,
        "NOOP" => CommandKind::Noop,
        "LOGOUT" => CommandKind::Logout,
        "STARTTLS" => CommandKind::StartTls,
        "NAMESPACE" => CommandKind::Namespace,
        "IDLE" => CommandKind::Idle,
        "CHECK" => CommandKind::Check,
        "CLOSE" => CommandKind::Close,
        "UNSELECT" => CommandKind::Unselect,
        "EXPUNGE" => CommandKind::Expunge,
        "ID" => any::id(c)?,
        "ENABLE" => any::enable(c)?,
        "LOGIN" => auth::login(c)?,
        "AUTHENTICATE" => auth::authenticate(c)?,
        "SELECT" => select::select(c, false)?,
        "EXAMINE" => select::select(c, true)?,
        "CREATE" => mailbox::create(c)?,
        "DELETE" => CommandKind::Delete(mailbox::one_mailbox(c)?),
        "RENAME" => mailbox::rename(c)?,
        "SUBSCRIBE" => CommandKind::Subscribe(mailbox::one_mailbox(c)?),
        "UNSUBSCRIBE" => CommandKind::Unsubscribe(mailbox::one_mailbox(c)?),
        "STATUS" => mailbox::status(c)?,
        "GETQUOTAROOT" => CommandKind::GetQuotaRoot(mailbox::one_mailbox(c)?),
        "GETQUOTA" => mailbox::get_quota(c)?,
        "LIST" => list::list(c)?,
        "LSUB" => list::lsub(c)?,
        "APPEND" => append::append(c)?,
        "SEARCH" => search::search(c, false)?,
        "FETCH" => fetch::fetch(c, false)?,
        "STORE" => store::store(c, false)?,
        "COPY" => copy_move::copy_move(c, false, false)?,
        "MOVE" => copy_move::copy_move(c, false, true)?,
        // RFC 9051 §6.4.9.
        "UID" => {
            c.sp()?;
            let sub = c.atom_upper().map_err(|_| c.err("expected a command after UID"))?;
            match sub.as_str() {
                "SEARCH" => search::search(c, true)?,
                "FETCH" => fetch::fetch(c, true)?,
                "STORE" => store::store(c, true)?,
                "COPY" => copy_move::copy_move(c, true, false)?,
                "MOVE" => copy_move::copy_move(c, true, true)?,
                // RFC 4315 §2.1.
                "EXPUNGE" => {
                    c.sp()?;
                    CommandKind::UidExpunge(c.sequence_set()?)
                }
                _ => return Err(ParseErrorKind::UnknownCommand(format!("UID {sub}"))),
            }
        }
        _ => return Err(ParseErrorKind::UnknownCommand(name)),
    };
    Ok(kind)
}

#[cfg(test)]
mod tests;
