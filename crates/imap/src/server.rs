//! The IMAP service of a node: its configuration, the directory, the
//! islands it serves, TLS, and the accept loops (one tokio task per
//! connection) for cleartext-with-STARTTLS (143) and implicit TLS (993).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use atoll_directory::Directory;
use atoll_net::{SessionCount, Shutdown, Stream, TlsAcceptor};
use atoll_store::Island;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

/// How the IMAP server behaves.
#[derive(Debug, Clone)]
pub struct ImapConfig {
    /// This node's name, in the greeting.
    pub hostname: String,
    /// Longest command line, literals not counted.
    pub max_line_length: usize,
    /// Largest APPEND (APPENDLIMIT, RFC 7889).
    pub max_message_size: usize,
    /// How long a client may stay silent, IDLE included (RFC 9051 §5.4:
    /// at least 30 minutes once authenticated). Before login a shorter one
    /// applies (`login_timeout`).
    pub idle_timeout: Duration,
    pub login_timeout: Duration,
    /// Passwords on a connection without TLS.
    pub allow_plaintext_auth: bool,
    /// Wait before answering a failed login.
    pub auth_failure_delay: Duration,
    /// How often a session in IDLE re-reads its mailbox from the database,
    /// to see changes made through other store nodes of the island. Changes
    /// made through this node wake it at once; the re-read costs queries
    /// per idle session, so it is slow by default.
    pub idle_poll: Duration,
}

impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            hostname: "localhost".into(),
            max_line_length: 64 << 10,
            max_message_size: 50 << 20,
            idle_timeout: Duration::from_secs(30 * 60),
            login_timeout: Duration::from_secs(60),
            allow_plaintext_auth: false,
            auth_failure_delay: Duration::from_secs(2),
            idle_poll: Duration::from_secs(30),
        }
    }
}

/// The IMAP server of one node. Cheap to clone.
#[derive(Clone)]
pub struct Imap {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: ImapConfig,
    pub(crate) directory: Directory,
    /// The islands this node serves, by name.
    pub(crate) islands: HashMap<String, Island>,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) sessions: SessionCount,
    /// Mailbox views shared between sessions.
    pub(crate) views: crate::session::selected::Views,
}

impl Imap {
    pub fn new(
        config: ImapConfig,
        directory: Directory,
        islands: impl IntoIterator<Item = Island>,
        tls: Option<TlsAcceptor>,
    ) -> Imap {
        let islands = islands.into_iter().map(|i| (i.name().to_string(), i)).collect();
        Imap {
            inner: Arc::new(Inner {
                config,
                directory,
                islands,
                tls,
                sessions: SessionCount::default(),
                views: Default::default(),
            }),
        }
    }

    pub fn config(&self) -> &ImapConfig {
        &self.inner.config
    }

    /// Sessions open now.
    pub fn sessions(&self) -> usize {
        self.inner.sessions.get()
    }

    /// Accepts connections until `shutdown` fires; `implicit_tls` for the
    /// IMAPS port (RFC 8314). Then open sessions are told BYE and given
    /// `grace` to finish the command they are in.
    pub async fn serve(&self, listener: TcpListener, implicit_tls: bool, shutdown: Shutdown, grace: Duration) {
        atoll_net::serve_connections("imap", listener, shutdown, grace, |tcp, peer, shutdown| {
            let imap = self.clone();
            async move {
                if let Err(e) = imap.connection(tcp, Some(peer.ip()), implicit_tls, shutdown).await {
                    tracing::debug!(%peer, error = %e, "imap session ended");
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
