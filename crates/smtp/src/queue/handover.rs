//! Delivery into an island this node does not serve: over LMTP (RFC 2033)
//! to a live store node of that island, found in the directory's node
//! registry (nodes register their roles, islands and listeners, and
//! heartbeat).
//!
//! The hop between nodes carries what the island needs to store the
//! message exactly as an in-process delivery would, in the ENVID parameter
//! (RFC 3461 §4.4) of MAIL FROM: `atoll-delivery:<key>` (the queue's
//! delivery key, so a retry after a crash is stored once) and `:junk` when
//! a content filter said spam. Delivery status notifications are the
//! queue's job on this node, so the original ENVID is not needed on that
//! hop; the store node's LMTP server takes such an ENVID only on its
//! internal listener (LMTP is never exposed to the outside).

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use atoll_directory::{Directory, Node};

use crate::client::{ClientConfig, Connection, Outgoing, OutgoingRecipient, Protocol};

/// What ENVID on the internal LMTP hop starts with.
pub const ENVID_PREFIX: &str = "atoll-delivery:";

/// The key and the Junk choice, as ENVID carries them.
pub fn encode_envid(key: &str, junk: bool) -> String {
    if junk { format!("{ENVID_PREFIX}{key}:junk") } else { format!("{ENVID_PREFIX}{key}") }
}

/// The reverse of [`encode_envid`]: (key, junk), or None for an ENVID of
/// another kind.
pub fn decode_envid(envid: &str) -> Option<(String, bool)> {
    let rest = envid.strip_prefix(ENVID_PREFIX)?;
    let (key, junk) = match rest.strip_suffix(":junk") {
        Some(k) => (k, true),
        None => (rest, false),
    };
    (!key.is_empty()).then(|| (key.to_string(), junk))
}

/// One message for one island.
pub struct HandoverItem<'a> {
    pub sender: &'a str,
    /// The message as accepted (no Return-Path: the store node adds it).
    pub body: &'a [u8],
    /// The mailboxes' own addresses.
    pub addresses: Vec<String>,
    pub key: &'a str,
    pub junk: bool,
}

/// Finds store nodes and hands messages to them.
pub struct Handover {
    directory: Directory,
    client: ClientConfig,
    /// A node whose last heartbeat is older than this is taken as down.
    stale_after: Duration,
    /// The node registry, read at most every few seconds.
    nodes: Mutex<Option<(Instant, Vec<Node>)>>,
}

const REGISTRY_TTL: Duration = Duration::from_secs(5);

impl Handover {
    pub fn new(directory: Directory, client: ClientConfig, stale_after: Duration) -> Handover {
        Handover { directory, client, stale_after, nodes: Mutex::new(None) }
    }

    /// The LMTP addresses of live store nodes of `island`.
    async fn targets(&self, island: &str) -> Result<Vec<(String, SocketAddr)>, String> {
        let cached = {
            let guard = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
            guard.as_ref().filter(|(at, _)| at.elapsed() < REGISTRY_TTL).map(|(_, n)| n.clone())
        };
        let nodes = match cached {
            Some(n) => n,
            None => {
                let n =
                    self.directory.list_nodes().await.map_err(|e| format!("4.3.0 node registry unavailable: {e}"))?;
                *self.nodes.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), n.clone()));
                n
            }
        };
        let now = crate::trace::now_epoch();
        let fresh = self.stale_after.as_secs() as i64;
        let mut out = Vec::new();
        for n in nodes {
            if !n.roles.iter().any(|r| r == "store") || !n.islands.iter().any(|i| i == island) {
                continue;
            }
            if now - n.heartbeat_at > fresh {
                continue;
            }
            for a in &n.addresses {
                let Some(addr) = a.strip_prefix("lmtp=").and_then(|s| s.parse::<SocketAddr>().ok()) else { continue };
                // A wildcard listener says nothing about where to connect.
                if addr.ip().is_unspecified() {
                    continue;
                }
                out.push((n.name.clone(), addr));
            }
        }
        if out.is_empty() {
            return Err(format!("4.4.1 no live store node of island {island} has an LMTP address"));
        }
        // Spread islands' traffic over their nodes: start at a place that
        // depends on the minute, so a dead first node is not hit first
        // forever, but one batch stays on one node.
        let start = (now / 60) as usize % out.len();
        out.rotate_left(start);
        Ok(out)
    }

    /// Hands `items` to a store node of `island`: one result per item,
    /// `Err` with the reason when it must be tried again.
    pub async fn deliver(&self, island: &str, items: &[HandoverItem<'_>]) -> Vec<Result<(), String>> {
        let targets = match self.targets(island).await {
            Ok(t) => t,
            Err(e) => return vec![Err(e); items.len()],
        };
        let mut results: Vec<Option<Result<(), String>>> = (0..items.len()).map(|_| None).collect();
        let mut last_error = String::new();
        'nodes: for (name, addr) in &targets {
            let mut conn = match Connection::open(*addr, name, Protocol::Lmtp, &self.client, None).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(island, node = %name, %addr, error = %e, "handover: store node unreachable");
                    last_error = format!("4.4.1 {e}");
                    continue;
                }
            };
            for (item, slot) in items.iter().zip(results.iter_mut()) {
                if slot.is_some() {
                    continue;
                }
                let envid = encode_envid(item.key, item.junk);
                let m = Outgoing {
                    sender: item.sender,
                    recipients: item
                        .addresses
                        .iter()
                        .map(|a| OutgoingRecipient { address: a, notify: 0, orcpt: None })
                        .collect(),
                    envid: Some(&envid),
                    ret: None,
                    body: item.body,
                };
                match conn.send(&m).await {
                    Ok(replies) => {
                        // Every mailbox must have it; the keyed delivery
                        // makes a retry of the others store nothing twice.
                        *slot = Some(match replies.iter().find(|r| !r.is_positive()) {
                            None => Ok(()),
                            Some(r) => Err(format!("{name} said: {r}")),
                        });
                    }
                    Err(e) => {
                        // The connection is in an unknown state: the rest
                        // goes to the next node.
                        tracing::warn!(island, node = %name, error = %e, "handover: transaction failed");
                        last_error = format!("4.4.2 {e}");
                        continue 'nodes;
                    }
                }
            }
            conn.quit().await;
            break;
        }
        results.into_iter().map(|r| r.unwrap_or_else(|| Err(last_error.clone()))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envid_carries_the_key_and_junk() {
        assert_eq!(encode_envid("mx1:00AB", false), "atoll-delivery:mx1:00AB");
        assert_eq!(decode_envid("atoll-delivery:mx1:00AB"), Some(("mx1:00AB".to_string(), false)));
        assert_eq!(decode_envid(&encode_envid("mx1:00AB", true)), Some(("mx1:00AB".to_string(), true)));
        assert_eq!(decode_envid("QQ314159"), None);
        assert_eq!(decode_envid("atoll-delivery:"), None);
    }
}
