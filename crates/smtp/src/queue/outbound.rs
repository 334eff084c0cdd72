//! The outbound path: messages whose recipients are outside this platform
//! (forwards, list members elsewhere, bounces to outside senders) go to
//! each recipient domain's mail exchanger over SMTP (RFC 5321 §5), or to
//! a configured relay host.
//!
//! Per destination domain one transaction carries every recipient of that
//! domain. The number of connections to one domain at once is limited (a
//! big list post must not look like an attack to the receiving side), and
//! so is the total.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use atoll_net::{TlsConnector, opportunistic_connector};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::deliver::Outcome;
use super::record::Envelope;
use crate::client::{ClientConfig, ClientError, Connection, Outgoing, OutgoingRecipient, Protocol};

/// How the outbound path works.
#[derive(Clone)]
pub struct OutboundConfig {
    /// Send everything to this host ("host:port" or "[ip]:port") instead
    /// of looking up MX records (a smarthost).
    pub relay: Option<String>,
    /// Port of the destination MX hosts (25; other values for tests and
    /// special set-ups).
    pub port: u16,
    /// Connections to one destination domain at once.
    pub per_destination: usize,
    /// Outbound connections at once, in total.
    pub max_connections: usize,
    pub client: ClientConfig,
    /// For MX lookups; without it, only a relay host can be used.
    pub resolver: Option<atoll_dns::Resolver>,
}

impl OutboundConfig {
    pub fn new(helo: impl Into<String>) -> OutboundConfig {
        OutboundConfig {
            relay: None,
            port: 25,
            per_destination: 20,
            max_connections: 100,
            client: ClientConfig::new(helo),
            resolver: None,
        }
    }
}

/// The outbound transport; cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    inner: Arc<OutboundInner>,
}

struct OutboundInner {
    config: OutboundConfig,
    tls: TlsConnector,
    total: Arc<Semaphore>,
    per_domain: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A connection slot to a destination (and one of the total). Kept until
/// the queue has recorded what the transaction did, so that the next
/// transaction to that destination starts only when a crash can no longer
/// make this one be sent again.
pub struct Permit {
    _domain: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
}

/// The domain of an address (after the last `@`: a quoted local part may
/// hold one too), lower-cased.
pub fn domain_of(address: &str) -> String {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or("").trim_end_matches('.').to_ascii_lowercase()
}

/// A destination to connect to.
struct Target {
    /// The name for logs, SNI and Remote-MTA.
    host: String,
    addrs: Vec<SocketAddr>,
}

impl Outbound {
    pub fn new(config: OutboundConfig) -> Outbound {
        let total = Arc::new(Semaphore::new(config.max_connections.max(1)));
        Outbound {
            inner: Arc::new(OutboundInner {
                config,
                tls: opportunistic_connector(),
                total,
                per_domain: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A connection slot for `domain`; waits while the destination or the
    /// total is at its limit. None when the outbound path is closing.
    pub async fn permit(&self, domain: &str) -> Option<Permit> {
        let limit = {
            let mut map = self.inner.per_domain.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(domain.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.inner.config.per_destination.max(1))))
                .clone()
        };
        let d = limit.acquire_owned().await.ok()?;
        let t = self.inner.total.clone().acquire_owned().await.ok()?;
        Some(Permit { _domain: d, _total: t })
    }

    /// Sends `body` to `recipients` (indexes into the envelope's), all of
    /// one `domain`, holding a [`Permit`] for it. One outcome per
    /// recipient, in order; the second value names the server that
    /// answered.
    pub async fn deliver(
        &self,
        domain: &str,
        envelope: &Envelope,
        body: &[u8],
        recipients: &[usize],
    ) -> (Vec<Outcome>, Option<String>) {
        let all = |o: Outcome| (vec![o; recipients.len()], None);
        let targets = match self.targets(domain).await {
            Ok(t) => t,
            Err(o) => return all(o),
        };
        let message = Outgoing {
            sender: &envelope.sender,
            recipients: recipients
                .iter()
                .map(|&i| {
                    let r = &envelope.recipients[i];
                    OutgoingRecipient { address: &r.address, notify: r.notify, orcpt: r.orcpt.as_deref() }
                })
                .collect(),
            envid: envelope.envid.as_deref(),
            ret: envelope.ret,
            body,
        };
        let mut last_error = String::from("4.4.1 no mail exchanger could be reached");
        for target in &targets {
            for addr in &target.addrs {
                match self.try_host(target, *addr, &message).await {
                    Ok(outcomes) => return (outcomes, Some(target.host.clone())),
                    Err(e) => {
                        // RFC 5321 §5.1: a host that cannot be reached or
                        // does not greet is skipped for the next one.
                        tracing::info!(domain, host = %target.host, %addr, error = %e, "outbound: host failed");
                        last_error = format!("4.4.1 {e}");
                    }
                }
            }
        }
        all(Outcome::Deferred(last_error))
    }

    /// One host: connect (STARTTLS when offered; in cleartext again when
    /// the handshake fails, as RFC 7435 opportunistic TLS allows) and send.
    /// `Err` means: try the next host.
    async fn try_host(&self, target: &Target, addr: SocketAddr, m: &Outgoing<'_>) -> Result<Vec<Outcome>, String> {
        let config = &self.inner.config.client;
        let mut conn = match Connection::open(addr, &target.host, Protocol::Smtp, config, Some(&self.inner.tls)).await {
            Ok(c) => c,
            Err(ClientError::Tls { .. }) => {
                Connection::open(addr, &target.host, Protocol::Smtp, config, None).await.map_err(|e| e.to_string())?
            }
            Err(e @ ClientError::Refused { .. }) if e.is_permanent() => {
                // A 554 greeting is an answer, not an outage (RFC 5321 §3.1).
                let why = e.to_string();
                return Ok(vec![Outcome::Failed(why); m.recipients.len()]);
            }
            Err(e) => return Err(e.to_string()),
        };
        let dsn = conn.has(smtp_proto::EXT_DSN);
        let result = conn.send(m).await;
        let outcomes = match result {
            Ok(replies) => replies
                .into_iter()
                .map(|r| {
                    if r.is_positive() {
                        if dsn { Outcome::Delivered } else { Outcome::Relayed }
                    } else if r.code >= 500 {
                        Outcome::Failed(format!("{} said: {}", target.host, r))
                    } else {
                        Outcome::Deferred(format!("{} said: {}", target.host, r))
                    }
                })
                .collect(),
            Err(e) => {
                let o =
                    if e.is_permanent() { Outcome::Failed(e.to_string()) } else { Outcome::Deferred(e.to_string()) };
                vec![o; m.recipients.len()]
            }
        };
        conn.quit().await;
        Ok(outcomes)
    }

    /// Where `domain`'s mail goes: the relay host, or its MX hosts with
    /// their addresses. `Err` is the outcome for every recipient.
    async fn targets(&self, domain: &str) -> Result<Vec<Target>, Outcome> {
        let config = &self.inner.config;
        if let Some(relay) = &config.relay {
            let addrs: Vec<SocketAddr> = match tokio::net::lookup_host(relay.as_str()).await {
                Ok(a) => a.collect(),
                Err(e) => return Err(Outcome::Deferred(format!("4.4.3 relay host {relay}: {e}"))),
            };
            let host = relay.rsplit_once(':').map_or(relay.as_str(), |(h, _)| h);
            return Ok(vec![Target { host: host.trim_matches(['[', ']']).to_string(), addrs }]);
        }
        // An address literal (RFC 5321 §4.1.3): no lookup.
        if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
            let ip = literal.strip_prefix("ipv6:").unwrap_or(literal);
            return match ip.parse::<IpAddr>() {
                Ok(ip) => Ok(vec![Target { host: literal.to_string(), addrs: vec![SocketAddr::new(ip, config.port)] }]),
                Err(_) => Err(Outcome::Failed(format!("5.1.2 bad address literal [{literal}]"))),
            };
        }
        let Some(resolver) = &config.resolver else {
            return Err(Outcome::Deferred("4.4.3 no DNS resolver and no relay host configured".into()));
        };
        let hosts = match resolver.mx(domain).await {
            Ok(atoll_dns::Mx::Hosts { hosts, .. }) => hosts,
            Ok(atoll_dns::Mx::NullMx) => {
                // RFC 7505 §4.2.
                return Err(Outcome::Failed(format!("5.1.10 {domain} accepts no mail (null MX)")));
            }
            Err(atoll_dns::DnsError::NoSuchDomain(_)) => {
                return Err(Outcome::Failed(format!("5.1.2 domain {domain} does not exist")));
            }
            Err(e) => return Err(Outcome::Deferred(format!("4.4.3 DNS lookup of {domain} failed: {e}"))),
        };
        let mut targets = Vec::new();
        let mut errors = Vec::new();
        for h in hosts {
            match resolver.ips(&h.host).await {
                Ok(ips) if !ips.is_empty() => targets.push(Target {
                    addrs: ips.into_iter().map(|ip| SocketAddr::new(ip, config.port)).collect(),
                    host: h.host,
                }),
                Ok(_) => errors.push(format!("{} has no address", h.host)),
                Err(e) => errors.push(format!("{}: {e}", h.host)),
            }
        }
        if targets.is_empty() {
            return Err(Outcome::Deferred(format!(
                "4.4.3 no address for the mail exchangers of {domain}: {}",
                errors.join("; ")
            )));
        }
        Ok(targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_taken_after_the_last_at() {
        assert_eq!(domain_of("Bob@Example.ORG"), "example.org");
        assert_eq!(domain_of("\"a@b\"@example.net."), "example.net");
        assert_eq!(domain_of("postmaster"), "");
    }
}
