//! The inbound MX (RFC 5321): the front door for mail from the internet.
//!
//! Per recipient it asks the directory whether to refuse, defer or accept
//! (`rcpt.rs`); after the message it writes it to this node's queue, which
//! is on stable storage before the 250 (`protocol.rs`), and the queue
//! delivers it into the islands. The MX keeps no other state: any MX node
//! can take any message.
//!
//! - `mod.rs` (this file): configuration, the accept loop with its limit
//!   of connections per client address;
//! - `protocol.rs`: the MX's side of the shared session state machine
//!   (`crate::session`): extensions, and the message into the queue;
//! - `rcpt.rs`: recipient checks through the directory;
//! - `authentication.rs`: reverse DNS at connect, and SPF, DKIM and DMARC
//!   after DATA; `auth_results.rs`: the Authentication-Results header;
//! - `hold.rs`: posts to moderated lists, held for a moderator.

mod auth_results;
mod authentication;
mod hold;
mod protocol;
mod rcpt;

pub use authentication::{Authentication, AuthenticationConfig, DmarcAction};

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atoll_directory::Directory;
use atoll_net::{Stream, TlsAcceptor};
use atoll_store::Island;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::filter::Filters;
use crate::greylist::Greylist;
use crate::queue::Queue;
use crate::reply::Reply;
use crate::session::{Limits, Session};
use crate::{Result, Shutdown};

/// How the MX behaves.
#[derive(Debug, Clone)]
pub struct MxConfig {
    /// This node's name, in the greeting and in Received lines.
    pub hostname: String,
    /// Largest message accepted, in bytes (announced as SIZE, RFC 1870).
    pub max_message_size: usize,
    /// Recipients per message; more get 452 4.5.3 (RFC 5321 §4.5.3.1.8
    /// asks for at least 100).
    pub max_recipients: usize,
    /// How long the server waits for the client (RFC 5321 §4.5.3.2.7: at
    /// least 5 minutes).
    pub timeout: Duration,
    /// Open connections allowed from one client address; 0 for no limit.
    pub max_connections_per_ip: usize,
}

impl Default for MxConfig {
    fn default() -> Self {
        MxConfig {
            hostname: "localhost".into(),
            max_message_size: 50 << 20,
            max_recipients: 1000,
            timeout: Duration::from_secs(300),
            max_connections_per_ip: 20,
        }
    }
}

/// The MX service of one node. Cheap to clone.
#[derive(Clone)]
pub struct Mx {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: MxConfig,
    pub(crate) limits: Limits,
    pub(crate) directory: Directory,
    /// Islands served by this node, for the quota check at RCPT time.
    pub(crate) islands: HashMap<String, Island>,
    pub(crate) queue: Queue,
    pub(crate) tls: Option<TlsAcceptor>,
    /// Spam and virus scanners asked after DATA (none: not asked).
    pub(crate) filters: Filters,
    /// Asked at RCPT, after the directory accepted the recipient.
    pub(crate) greylist: Option<Greylist>,
    /// Reverse DNS at connect, SPF/DKIM/DMARC after DATA (None: none of
    /// it, and no Authentication-Results header).
    pub(crate) authentication: Option<Authentication>,
    connections: Mutex<HashMap<IpAddr, usize>>,
}

// RFC 5321 §4.5.3.2 and RFC 3463 §3.8: X.7.0, policy.
const TOO_MANY_CONNECTIONS: Reply = Reply::new(421, [4, 7, 0], "too many connections from your address, try later");

impl Mx {
    pub fn new(
        config: MxConfig,
        directory: Directory,
        islands: impl IntoIterator<Item = Island>,
        queue: Queue,
        tls: Option<TlsAcceptor>,
        filters: Filters,
        greylist: Option<Greylist>,
    ) -> Mx {
        let limits = Limits {
            max_message_size: config.max_message_size,
            max_recipients: config.max_recipients,
            timeout: config.timeout,
        };
        let islands = islands.into_iter().map(|i| (i.name().to_string(), i)).collect();
        let connections = Mutex::new(HashMap::new());
        let inner = Inner {
            config,
            limits,
            directory,
            islands,
            queue,
            tls,
            filters,
            greylist,
            authentication: None,
            connections,
        };
        Mx { inner: Arc::new(inner) }
    }

    /// Turns on the checks of where mail comes from (reverse DNS, SPF,
    /// DKIM, DMARC). Called while setting the MX up, before it serves.
    pub fn with_authentication(mut self, authentication: Authentication) -> Mx {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.authentication = Some(authentication),
            // The MX was cloned already: a mistake in the set-up code.
            None => tracing::error!("smtp: authentication set on an MX that is already serving; not used"),
        }
        self
    }

    pub fn queue(&self) -> &Queue {
        &self.inner.queue
    }

    /// Accepts connections on `listener` until `shutdown` fires, one task
    /// per connection; then lets open sessions finish for up to `grace`.
    pub async fn serve(&self, listener: TcpListener, shutdown: Shutdown, grace: Duration) {
        atoll_net::serve_connections("smtp", listener, shutdown, grace, |mut tcp, peer, shutdown| {
            let mx = self.clone();
            async move {
                let Some(_slot) = Slot::take(&mx.inner, peer.ip()) else {
                    let mut out = Vec::new();
                    TOO_MANY_CONNECTIONS.write(&mut out);
                    let _ = tcp.write_all(&out).await;
                    tracing::info!(%peer, "smtp: connection refused, too many from this address");
                    return;
                };
                if let Err(e) = mx.session(tcp, Some(peer.ip()), shutdown).await {
                    tracing::debug!(%peer, error = %e, "smtp session ended");
                }
            }
        })
        .await
    }

    /// Runs one session on an accepted byte stream (cleartext; STARTTLS
    /// when a certificate is configured).
    pub async fn session<S>(&self, stream: S, peer: Option<IpAddr>, shutdown: Shutdown) -> Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        // Once per connection, before the greeting (RFC 8601 §2.7.3 iprev;
        // the name is also what greylisting and the Received line use).
        let reverse = match (&self.inner.authentication, peer) {
            (Some(auth), Some(ip)) => auth.reverse_dns(ip).await,
            _ => None,
        };
        Session::new(&*self.inner, Stream::Plain(stream), peer, shutdown).with_reverse(reverse).run().await
    }
}

/// One open connection counted against its address; released on drop.
struct Slot<'a> {
    inner: &'a Inner,
    ip: IpAddr,
}

impl<'a> Slot<'a> {
    fn take(inner: &'a Inner, ip: IpAddr) -> Option<Slot<'a>> {
        let max = inner.config.max_connections_per_ip;
        let mut open = inner.connections.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_default();
        if max > 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot { inner, ip })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut open = self.inner.connections.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}
