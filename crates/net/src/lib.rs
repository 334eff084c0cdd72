//! What every listener of a node shares: the accept loop ([`accept`]), TLS ([`tls`]), a connection that
//! can turn into TLS in the middle (STARTTLS, [`Stream`]) and the graceful
//! shutdown hook ([`Shutdown`]).

pub mod accept;
mod shutdown;
mod stream;
pub mod tls;

pub use accept::serve_connections;
pub use shutdown::{Shutdown, ShutdownTrigger, shutdown_channel};
pub use stream::Stream;
pub use tls::TlsAcceptor;
