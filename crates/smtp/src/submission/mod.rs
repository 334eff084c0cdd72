//! Message submission (RFC 6409) for the platform's own users: port 587
//! with STARTTLS and 465 with implicit TLS (RFC 8314).
//!
//! Nothing is taken before AUTH (RFC 4954), and passwords only over TLS.
//! The envelope sender and the From header must be the user's own
//! addresses (`identity.rs`); the message gets the Date and Message-ID it
//! lacks (RFC 6409 §8), a DKIM signature for its domain when the
//! directory has a key, and goes into the node's queue: local recipients
//! into their islands, the others out over SMTP. A per-user limit on
//! recipients per hour (`rate.rs`) keeps a stolen password from turning
//! the platform into a spam source.
//!
//! - `mod.rs` (this file): configuration and the listeners;
//! - `protocol.rs`: submission's side of the shared session state machine;
//! - `identity.rs`: who may send as which address;
//! - `rate.rs`: the rate limit;
//! - `header.rs`: the header fields submission completes.

mod header;
mod identity;
mod protocol;
mod rate;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use atoll_directory::Directory;
use atoll_net::{Stream, TlsAcceptor};
use atoll_store::Island;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

pub use identity::{SEND_AS, may_send_as};

use crate::queue::Queue;
use crate::session::{Limits, Session};
use crate::{Result, Shutdown};

/// The implicit-TLS handshake on port 465 must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// How submission behaves.
#[derive(Debug, Clone)]
pub struct SubmissionConfig {
    /// This node's name, in the greeting, Received lines and Message-IDs.
    pub hostname: String,
    pub max_message_size: usize,
    pub max_recipients: usize,
    /// How long the server waits for the client.
    pub timeout: Duration,
    /// Recipients one user may send to per `rate_window`; 0 for no limit.
    pub rate_limit: u32,
    pub rate_window: Duration,
    /// Passwords in cleartext (before STARTTLS); for tests and trusted
    /// networks only.
    pub allow_plaintext_auth: bool,
    /// The wait before answering a failed AUTH.
    pub auth_failure_delay: Duration,
    /// Store a copy of each sent message in the sender's Sent mailbox
    /// (for clients that do not do it themselves).
    pub save_sent: bool,
}

impl Default for SubmissionConfig {
    fn default() -> Self {
        SubmissionConfig {
            hostname: "localhost".into(),
            max_message_size: 50 << 20,
            max_recipients: 100,
            timeout: Duration::from_secs(300),
            rate_limit: 500,
            rate_window: Duration::from_secs(3600),
            allow_plaintext_auth: false,
            auth_failure_delay: Duration::from_secs(2),
            save_sent: false,
        }
    }
}

/// The submission service of one node. Cheap to clone.
#[derive(Clone)]
pub struct Submission {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: SubmissionConfig,
    pub(crate) limits: Limits,
    pub(crate) directory: Directory,
    /// Islands served by this node: quota checks and Sent copies.
    pub(crate) islands: HashMap<String, Island>,
    pub(crate) queue: Queue,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) rate: rate::RateLimit,
    pub(crate) signer: Option<Arc<dyn Signer>>,
}

/// Signs outgoing mail (DKIM); given the message and the domain of its
/// From address, returns the header field(s) to prepend, or None when
/// there is no key for the domain.
pub trait Signer: Send + Sync + 'static {
    fn sign<'a>(
        &'a self,
        domain: &'a str,
        message: &'a [u8],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send + 'a>>;
}

impl Submission {
    pub fn new(
        config: SubmissionConfig,
        directory: Directory,
        islands: impl IntoIterator<Item = Island>,
        queue: Queue,
        tls: Option<TlsAcceptor>,
        signer: Option<Arc<dyn Signer>>,
    ) -> Submission {
        let limits = Limits {
            max_message_size: config.max_message_size,
            max_recipients: config.max_recipients,
            timeout: config.timeout,
        };
        let islands = islands.into_iter().map(|i| (i.name().to_string(), i)).collect();
        let rate = rate::RateLimit::new(config.rate_limit, config.rate_window);
        Submission { inner: Arc::new(Inner { config, limits, directory, islands, queue, tls, rate, signer }) }
    }

    /// Accepts connections on `listener` until `shutdown` fires; with
    /// `implicit_tls` every connection starts with the TLS handshake
    /// (port 465, RFC 8314 §3.3).
    pub async fn serve(&self, listener: TcpListener, shutdown: Shutdown, grace: Duration, implicit_tls: bool) {
        let service = if implicit_tls { "submissions" } else { "submission" };
        atoll_net::serve_connections(service, listener, shutdown, grace, |tcp, peer, shutdown| {
            let sub = self.clone();
            async move {
                let stream = match Stream::open(tcp, implicit_tls, sub.inner.tls.as_ref(), HANDSHAKE_TIMEOUT).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "submissions: TLS handshake failed");
                        return;
                    }
                };
                if let Err(e) = sub.session(stream, Some(peer.ip()), shutdown).await {
                    tracing::debug!(%peer, error = %e, "submission session ended");
                }
            }
        })
        .await
    }

    async fn session<S>(&self, stream: Stream<S>, peer: Option<IpAddr>, shutdown: Shutdown) -> Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        Session::new(&*self.inner, stream, peer, shutdown).run().await
    }
}
