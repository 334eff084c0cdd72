//! Addresses and TXT records.

use std::net::IpAddr;

use hickory_resolver::proto::rr::RData;

use crate::error::classify;
use crate::{DnsError, Resolver, absolute};

impl Resolver {
    /// The IPv4 and IPv6 addresses of `host` (A and AAAA, asked at the same
    /// time), IPv4 first. Empty when the name has neither or does not
    /// exist; an error only when no answer could be had for one of them.
    pub async fn ips(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let name = absolute(host)?;
        let (v4, v6) = tokio::join!(self.inner.ipv4_lookup(name.clone()), self.inner.ipv6_lookup(name));
        let mut out = Vec::new();
        for lookup in [v4, v6] {
            match lookup {
                Ok(lookup) => out.extend(lookup.answers().iter().filter_map(|r| match &r.data {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                    _ => None,
                })),
                Err(e) => {
                    classify(host, e)?;
                }
            }
        }
        Ok(out)
    }

    /// The TXT records at `name`, each one's strings joined without
    /// anything in between (how SPF, RFC 7208 §3.3, and DKIM, RFC 6376
    /// §3.6.2.2, read a record split into strings of 255 octets). Bytes
    /// that are not UTF-8 are replaced. Empty when there are none or the
    /// name does not exist.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        let fqdn = absolute(name)?;
        match self.inner.txt_lookup(fqdn).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => Some(txt.txt_data.iter().map(|s| String::from_utf8_lossy(s)).collect()),
                    _ => None,
                })
                .collect()),
            Err(e) => classify(name, e).map(|_| Vec::new()),
        }
    }
}
