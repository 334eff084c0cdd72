//! The LMTP server of the `store` role (RFC 2033): final delivery into the
//! islands this node serves.
//!
//! The MX resolves every recipient, routes it to a store node of the
//! recipient's island and hands the message over here. LMTP differs from
//! SMTP in that the client greets with LHLO and, after the message, gets
//! one reply per accepted recipient (RFC 2033 §4.2), so a full mailbox does
//! not hold up the others and nothing is queued here: a 250 means the
//! message is on stable storage and committed.
//!
//! LMTP is an internal protocol: it has no STARTTLS and no AUTH, so bind it
//! to loopback or to an internal network only (the embedded default listens
//! on 127.0.0.1 and ::1).
//!
//! - `mod.rs` (this file): configuration, the accept loop (one tokio task
//!   per connection) and the graceful shutdown;
//! - `protocol.rs`: what LMTP decides in the shared session state machine
//!   (`crate::session`);
//! - `deliver.rs`: recipient checks and delivery into the islands.

mod deliver;
mod protocol;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use atoll_directory::Directory;
use atoll_store::Island;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use atoll_net::Stream;

use crate::session::{Limits, Session};
use crate::{Result, Shutdown};

/// How the LMTP server behaves.
#[derive(Debug, Clone)]
pub struct LmtpConfig {
    /// This node's name, in the greeting and in Received lines.
    pub hostname: String,
    /// Largest message accepted, in bytes (announced as SIZE, RFC 1870).
    /// A message is held in memory while it is received.
    pub max_message_size: usize,
    /// Recipients per transaction; more get 452 4.5.3 (RFC 5321 §4.5.3.1.8
    /// asks for at least 100).
    pub max_recipients: usize,
    /// How long the server waits for the client's next bytes before it
    /// closes the connection (RFC 5321 §4.5.3.2.7 suggests 5 minutes).
    pub timeout: Duration,
}

impl Default for LmtpConfig {
    fn default() -> Self {
        LmtpConfig {
            hostname: "localhost".into(),
            max_message_size: 50 << 20,
            max_recipients: 1000,
            timeout: Duration::from_secs(300),
        }
    }
}

/// The LMTP service of one node: its configuration, the directory and the
/// islands it serves. Cheap to clone.
#[derive(Clone)]
pub struct Lmtp {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: LmtpConfig,
    pub(crate) limits: Limits,
    pub(crate) directory: Directory,
    /// The islands this node serves, by name.
    pub(crate) islands: HashMap<String, Island>,
}

impl Lmtp {
    pub fn new(config: LmtpConfig, directory: Directory, islands: impl IntoIterator<Item = Island>) -> Lmtp {
        let islands = islands.into_iter().map(|i| (i.name().to_string(), i)).collect();
        let limits = Limits {
            max_message_size: config.max_message_size,
            max_recipients: config.max_recipients,
            timeout: config.timeout,
        };
        Lmtp { inner: Arc::new(Inner { config, limits, directory, islands }) }
    }

    pub fn config(&self) -> &LmtpConfig {
        &self.inner.config
    }

    /// Names of the islands this server delivers to.
    pub fn islands(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.inner.islands.keys().map(String::as_str).collect();
        v.sort();
        v
    }

    /// Accepts connections on `listener` until `shutdown` fires, one task
    /// per connection. Then it stops accepting, lets open sessions finish
    /// for up to `grace` (an idle session is told 421 and closed at once; a
    /// message being received or stored is finished), and aborts the rest:
    /// a session aborted before its replies were sent acknowledged nothing,
    /// so the client delivers again.
    pub async fn serve(&self, listener: TcpListener, shutdown: Shutdown, grace: Duration) {
        atoll_net::serve_connections("lmtp", listener, shutdown, grace, |tcp, peer, shutdown| {
            let lmtp = self.clone();
            async move {
                tracing::debug!(%peer, "lmtp connection");
                if let Err(e) = lmtp.session(tcp, Some(peer.ip()), shutdown).await {
                    tracing::debug!(%peer, error = %e, "lmtp session ended");
                }
            }
        })
        .await
    }

    /// Runs one session on an accepted byte stream until QUIT, the client
    /// closing, a timeout or the shutdown. Any stream will do (the tests use
    /// an in-memory duplex); `peer` goes into the Received line.
    pub async fn session<S>(&self, stream: S, peer: Option<IpAddr>, shutdown: Shutdown) -> Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        Session::new(&*self.inner, Stream::Plain(stream), peer, shutdown).run().await
    }
}
