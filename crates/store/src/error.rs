use thiserror::Error;

use crate::blob::BlobError;

/// What can go wrong in an island's store. Protocol servers map these to
/// their own replies (IMAP NO [NONEXISTENT], LMTP 451 …).
#[derive(Debug, Error)]
pub enum Error {
    #[error("invalid mailbox name {0:?}: {1}")]
    InvalidName(String, &'static str),
    #[error("no mailbox {0}")]
    NoSuchMailbox(String),
    #[error("mailbox {0} already exists")]
    MailboxExists(String),
    #[error("mailbox {0} cannot be selected")]
    NotSelectable(String),
    #[error("mailbox {0} has no parent level that can hold it")]
    HasChildren(String),
    #[error("INBOX cannot be deleted")]
    InboxDelete,
    #[error("invalid flag {0:?}")]
    InvalidFlag(String),
    #[error("blob store: {0}")]
    Blob(#[from] BlobError),
    #[error("island database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("island migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored message data is unreadable: {0}")]
    Corrupt(String),
}

impl atoll_sql::TxError for Error {
    fn is_retryable(&self) -> bool {
        matches!(self, Error::Db(e) if atoll_sql::retryable(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
