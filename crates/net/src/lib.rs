//! What every listener of a node shares: the accept loop ([`accept`]), TLS ([`tls`]), a connection that
//! can turn into TLS in the middle (STARTTLS, [`Stream`]) and the graceful
//! shutdown hook ([`Shutdown`]), and the client side of TLS for
//! connections out ([`ClientStream`]).

pub mod accept;
mod client;
pub mod line;
mod shutdown;
mod stream;
pub mod tls;

pub use accept::{OpenSession, SessionCount, serve_connections};
pub use client::{ClientStream, opportunistic_connector};
pub use shutdown::{Shutdown, ShutdownTrigger, shutdown_channel};
pub use stream::{Stream, write_pending};
pub use tls::TlsAcceptor;
pub use tokio_rustls::TlsConnector;
