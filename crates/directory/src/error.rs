use thiserror::Error;

/// What can go wrong in the directory. Messages are written for the operator
/// who typed the command: one line, naming the thing that is wrong.
#[derive(Debug, Error)]
pub enum Error {
    #[error("invalid address {0:?}: {1}")]
    InvalidAddress(String, &'static str),
    #[error("invalid name {0:?}: {1}")]
    InvalidName(String, &'static str),
    #[error("unknown domain {0}")]
    UnknownDomain(String),
    #[error("domain {0} already exists")]
    DomainExists(String),
    #[error("domain {name} is not empty ({accounts} accounts, {aliases} aliases, {lists} lists); remove those first")]
    DomainNotEmpty { name: String, accounts: i64, aliases: i64, lists: i64 },
    #[error("{0} is already used by {1}")]
    AddressTaken(String, &'static str),
    #[error("no account {0}")]
    UnknownAccount(String),
    #[error("no alias {0}")]
    UnknownAlias(String),
    #[error("no forward from {0}")]
    UnknownForward(String),
    #[error("no mailing list {0}")]
    UnknownList(String),
    #[error("{0} is not a member of {1}")]
    NotAMember(String, String),
    #[error("{0} is already a member of {1}")]
    AlreadyMember(String, String),
    #[error("{0} is not a moderator of {1}")]
    NotAModerator(String, String),
    #[error("{0} is already a moderator of {1}")]
    AlreadyModerator(String, String),
    #[error("{0} already exists")]
    Duplicate(String),
    #[error("unknown island {0}")]
    UnknownIsland(String),
    #[error("island {0} already exists")]
    IslandExists(String),
    #[error("island {0} is {1} and takes no new accounts")]
    IslandNotOpen(String, String),
    #[error("no island is open for new accounts")]
    NoOpenIsland,
    #[error("alias loop: {0}")]
    AliasLoop(String),
    #[error("{0}")]
    Invalid(String),
    #[error("batch rejected: {} bad rows", .0.len())]
    BatchRejected(Vec<(usize, String)>),
    #[error("password: {0}")]
    Password(#[from] atoll_password::Error),
    #[error("directory database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("directory migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Error {
    /// A conflict another writer caused (Galera certification failure,
    /// PostgreSQL serialization failure or deadlock, SQLite busy): the whole
    /// transaction is worth running again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Db(e) => atoll_sql::retryable(e),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl atoll_sql::TxError for Error {
    fn is_retryable(&self) -> bool {
        Error::is_retryable(self)
    }
}
