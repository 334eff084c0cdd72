//! The node's DNS resolver: one for the whole node, so that every lookup
//! (the MX's reverse DNS at connect, SPF/DKIM/DMARC, and later the
//! outbound queue's MX lookups) goes to the same servers and shares one
//! cache.
//!
//! - `lib.rs` (this file): configuration and the [`Resolver`];
//! - `error.rs`: what a lookup can fail with, and which failures are
//!   temporary;
//! - `records.rs`: addresses (A/AAAA) and TXT records;
//! - `reverse.rs`: PTR and forward-confirmed reverse DNS (RFC 8601 §2.7.3,
//!   "iprev");
//! - `mx.rs`: the mail exchangers of a domain (RFC 5321 §5.1, RFC 7505).
//!
//! The resolver is hickory-resolver's, in the version that mail-auth 0.13.0
//! (DKIM, SPF, DMARC) is built on: 0.26. mail-auth's `MessageAuthenticator`
//! is a thin wrapper around a hickory `TokioResolver`, and
//! [`Resolver::authenticator`] hands it a clone of ours (hickory's
//! resolver is a handle to shared state), so the mail checks use exactly
//! the configured servers, options and cache. Two hickory versions in one
//! binary would mean two caches and two configurations that could drift.
//!
//! The hosts file (`/etc/hosts`) is never consulted: SPF, DKIM, DMARC and
//! iprev are defined on the DNS, and a hosts entry such as
//! `127.0.0.1 localhost` must not turn into a "verified" client name.

mod error;
mod mx;
mod records;
mod reverse;

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use mail_auth::MessageAuthenticator;

pub use error::DnsError;
pub use mx::{Mx, MxHost};
pub use reverse::{ReverseName, canonical_ip};

/// Where the node's DNS questions go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Recursive name servers, asked over UDP and TCP (for truncated
    /// answers). Empty: the servers of the system's /etc/resolv.conf.
    pub nameservers: Vec<SocketAddr>,
    /// How long one query may take before it counts as failed.
    pub timeout: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig { nameservers: Vec::new(), timeout: Duration::from_secs(5) }
    }
}

/// The node's resolver. Cheap to clone: clones share servers and cache.
#[derive(Clone)]
pub struct Resolver {
    inner: TokioResolver,
    timeout: Duration,
}

impl Resolver {
    /// A resolver for `config`. Reads /etc/resolv.conf when no name server
    /// is configured; fails when it cannot be read.
    pub fn new(config: &DnsConfig) -> Result<Resolver, DnsError> {
        let (resolver_config, mut opts) = if config.nameservers.is_empty() {
            let (system, opts) = hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| DnsError::Setup(format!("cannot read /etc/resolv.conf: {e}")))?;
            // Search domains would turn a lookup of "example" into
            // "example.<local domain>": every name asked here is absolute.
            let (_, _, servers) = system.into_parts();
            (ResolverConfig::from_parts(None, Vec::new(), servers), opts)
        } else {
            let servers = config.nameservers.iter().map(|addr| name_server(*addr)).collect();
            (ResolverConfig::from_parts(None, Vec::new(), servers), ResolverOpts::default())
        };
        opts.timeout = config.timeout;
        opts.use_hosts_file = ResolveHosts::Never;
        opts.ndots = 0;
        let inner = TokioResolver::builder_with_config(resolver_config, TokioRuntimeProvider::default())
            .with_options(opts)
            .build()
            .map_err(|e| DnsError::Setup(e.to_string()))?;
        Ok(Resolver { inner, timeout: config.timeout })
    }

    /// mail-auth's checker (SPF, DKIM, DMARC) on this very resolver.
    pub fn authenticator(&self) -> MessageAuthenticator {
        MessageAuthenticator(self.inner.clone())
    }

    /// How long one query may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// A name server on any port, UDP first and TCP for truncated answers.
fn name_server(addr: SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
}

/// `name` as an absolute domain name (a trailing dot), so that no search
/// list applies.
fn absolute(name: &str) -> Result<hickory_resolver::proto::rr::Name, DnsError> {
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(DnsError::BadName(name.to_string()));
    }
    let fqdn = if name.ends_with('.') { name.to_string() } else { format!("{name}.") };
    hickory_resolver::proto::rr::Name::from_str_relaxed(&fqdn).map_err(|_| DnsError::BadName(name.to_string()))
}

/// A name as text without the root's trailing dot, lowercased (DNS names
/// compare case-insensitively, RFC 4343).
fn display(name: &hickory_resolver::proto::rr::Name) -> String {
    let mut s = name.to_ascii();
    if s.len() > 1 && s.ends_with('.') {
        s.pop();
    }
    s.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_absolute() {
        assert!(absolute("Example.ORG").unwrap().to_ascii().eq_ignore_ascii_case("example.org."));
        assert_eq!(absolute("example.org.").unwrap().to_ascii(), "example.org.");
        assert!(matches!(absolute(""), Err(DnsError::BadName(_))));
        assert!(matches!(absolute("a b.example"), Err(DnsError::BadName(_))));
        assert_eq!(display(&absolute("MX1.Example.org").unwrap()), "mx1.example.org");
        assert_eq!(display(&absolute(".").unwrap()), ".");
    }

    #[test]
    fn configured_servers_keep_their_ports() {
        let ns = name_server("127.0.0.1:5353".parse().unwrap());
        assert_eq!(ns.connections.len(), 2);
        assert!(ns.connections.iter().all(|c| c.port == 5353));
    }
}
