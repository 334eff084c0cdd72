//! The POP3 service of a node: its configuration, the directory, the
//! islands it serves, TLS, the maildrop locks, and the accept loops (one
//! tokio task per connection) for cleartext-with-STLS (110) and implicit
//! TLS (995, RFC 8314).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use atoll_directory::Directory;
use atoll_net::{SessionCount, Shutdown, Stream, TlsAcceptor};
use atoll_store::Island;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use crate::lock::Locks;

/// How the POP3 server behaves.
#[derive(Debug, Clone)]
pub struct Pop3Config {
    /// This node's name, in the greeting.
    pub hostname: String,
    /// Longest command line, its CRLF included.
    pub max_line_length: usize,
    /// How long a client may stay silent (RFC 1939 §3: at least 10
    /// minutes).
    pub idle_timeout: Duration,
    /// How long the TLS handshake and each step of a SASL exchange may take.
    pub login_timeout: Duration,
    /// Passwords on a connection without TLS.
    pub allow_plaintext_auth: bool,
    /// Wait before answering a failed login.
    pub auth_failure_delay: Duration,
    /// Messages downloaded with RETR are marked \Seen at QUIT.
    pub mark_seen: bool,
}

impl Default for Pop3Config {
    fn default() -> Self {
        Pop3Config {
            hostname: "localhost".into(),
            max_line_length: 4 << 10,
            idle_timeout: Duration::from_secs(10 * 60),
            login_timeout: Duration::from_secs(60),
            allow_plaintext_auth: false,
            auth_failure_delay: Duration::from_secs(2),
            mark_seen: true,
        }
    }
}

/// The POP3 server of one node. Cheap to clone.
#[derive(Clone)]
pub struct Pop3 {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Pop3Config,
    pub(crate) directory: Directory,
    /// The islands this node serves, by name.
    pub(crate) islands: HashMap<String, Island>,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) sessions: SessionCount,
    pub(crate) locks: Locks,
}

impl Pop3 {
    pub fn new(
        config: Pop3Config,
        directory: Directory,
        islands: impl IntoIterator<Item = Island>,
        tls: Option<TlsAcceptor>,
    ) -> Pop3 {
        let islands = islands.into_iter().map(|i| (i.name().to_string(), i)).collect();
        Pop3 {
            inner: Arc::new(Inner {
                config,
                directory,
                islands,
                tls,
                sessions: SessionCount::default(),
                locks: Locks::default(),
            }),
        }
    }

    pub fn config(&self) -> &Pop3Config {
        &self.inner.config
    }

    /// Sessions open now.
    pub fn sessions(&self) -> usize {
        self.inner.sessions.get()
    }

    /// Accepts connections until `shutdown` fires; `implicit_tls` for the
    /// POP3S port. Open sessions then get `grace` to finish their command;
    /// a session cut off there deletes nothing (no UPDATE state).
    pub async fn serve(&self, listener: TcpListener, implicit_tls: bool, shutdown: Shutdown, grace: Duration) {
        atoll_net::serve_connections("pop3", listener, shutdown, grace, |tcp, peer, shutdown| {
            let pop3 = self.clone();
            async move {
                if let Err(e) = pop3.connection(tcp, Some(peer.ip()), implicit_tls, shutdown).await {
                    tracing::debug!(%peer, error = %e, "pop3 session ended");
                }
            }
        })
        .await
    }

    /// Runs one session over any byte stream (tests use in-memory duplex
    /// streams). With `implicit_tls` the TLS handshake comes first.
    pub async fn connection<S>(
        &self,
        io: S,
        peer: Option<IpAddr>,
        implicit_tls: bool,
        shutdown: Shutdown,
    ) -> std::io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let stream = Stream::open(io, implicit_tls, self.inner.tls.as_ref(), self.inner.config.login_timeout).await?;
        let _open = self.inner.sessions.enter();
        crate::session::Session::new(self.inner.clone(), stream, peer, shutdown).run().await
    }
}
