use thiserror::Error;

/// What ends a session other than QUIT, a timeout or a shutdown (those are
/// answered with a reply and are not errors). Protocol mistakes of the
/// client are never errors either: they get a reply and the session goes on.
#[derive(Debug, Error)]
pub enum Error {
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
