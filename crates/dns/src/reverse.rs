//! Reverse DNS: PTR records, and the client names that the forward
//! lookup confirms ("iprev", RFC 8601 §2.7.3; Postfix's "verified" client
//! name).

use std::net::IpAddr;

use hickory_resolver::proto::rr::{Name, RData};

use crate::error::classify;
use crate::{DnsError, Resolver, display};

/// At most this many PTR names are checked forward; a client with more is
/// judged by the first ones (RFC 7208 §4.6.4 sets the same bound for SPF's
/// "ptr" mechanism).
const MAX_PTR_NAMES: usize = 10;

/// What the reverse DNS says about an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReverseName {
    /// A PTR name whose A or AAAA records include the address: iprev
    /// "pass".
    Verified(String),
    /// PTR names exist, but none of them leads back to the address: iprev
    /// "fail".
    Unverified(Vec<String>),
    /// No PTR record (NXDOMAIN or no data): iprev "permerror".
    NoPtr,
}

impl ReverseName {
    /// The verified host name, if there is one.
    pub fn verified(&self) -> Option<&str> {
        match self {
            ReverseName::Verified(name) => Some(name),
            _ => None,
        }
    }
}

impl Resolver {
    /// The names the PTR records of `ip` point to, lowercased, without the
    /// trailing dot. Empty when there are none.
    pub async fn ptr(&self, ip: IpAddr) -> Result<Vec<String>, DnsError> {
        let ip = canonical_ip(ip);
        let name = Name::from(ip);
        match self.inner.reverse_lookup(name).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::PTR(ptr) if !ptr.0.is_root() => Some(display(&ptr.0)),
                    _ => None,
                })
                .collect()),
            Err(e) => classify(&ip.to_string(), e).map(|_| Vec::new()),
        }
    }

    /// Forward-confirmed reverse DNS: the first PTR name of `ip` whose
    /// addresses include `ip` (RFC 8601 §2.7.3). An error when the PTR
    /// lookup failed, or when no name was confirmed and a forward lookup
    /// failed (the answer might have been "pass"): "temperror".
    pub async fn verified_hostname(&self, ip: IpAddr) -> Result<ReverseName, DnsError> {
        let ip = canonical_ip(ip);
        let names = self.ptr(ip).await?;
        if names.is_empty() {
            return Ok(ReverseName::NoPtr);
        }
        let mut failure = None;
        for name in names.iter().take(MAX_PTR_NAMES) {
            match self.ips(name).await {
                Ok(ips) if ips.contains(&ip) => return Ok(ReverseName::Verified(name.clone())),
                Ok(_) => {}
                Err(e) => failure = Some(e),
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(ReverseName::Unverified(names)),
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, a dual-stack socket's
/// view of an IPv4 client) as the IPv4 address it is: its PTR lives under
/// in-addr.arpa, SPF checks it as IPv4, and greylisting keys it so.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_addresses_are_ipv4() {
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(canonical_ip(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(canonical_ip(v6), v6);
        assert_eq!(ReverseName::Verified("a.example".into()).verified(), Some("a.example"));
        assert_eq!(ReverseName::NoPtr.verified(), None);
    }
}
