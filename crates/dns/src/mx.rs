//! The mail exchangers of a domain, by the rules of RFC 5321 §5.1 and
//! RFC 7505 (null MX).

use hickory_resolver::proto::rr::RData;

use crate::error::{Negative, classify};
use crate::{DnsError, Resolver, absolute, display};

/// One host to deliver to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    /// Lower is tried first (RFC 5321 §5.1).
    pub preference: u16,
    /// Lowercased, without the trailing dot.
    pub host: String,
}

/// Where mail for a domain goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mx {
    /// The hosts, by preference, lowest first. Hosts of equal preference
    /// keep the order of the answer; RFC 5321 §5.1 asks the client to
    /// spread its load over them, which is the client's choice to make.
    /// A domain without MX records has the implicit MX: the domain itself
    /// with preference 0, and `implicit` is set.
    Hosts { hosts: Vec<MxHost>, implicit: bool },
    /// "Null MX" (RFC 7505 §3): the domain says that it accepts no mail.
    NullMx,
}

impl Resolver {
    /// The mail exchangers of `domain` (RFC 5321 §5.1). A domain that does
    /// not exist is [`DnsError::NoSuchDomain`]; an MX lookup that fails is a
    /// temporary error, never the implicit MX (that would send the mail to
    /// the wrong host while the DNS is down).
    pub async fn mx(&self, domain: &str) -> Result<Mx, DnsError> {
        let name = absolute(domain)?;
        let lookup = match self.inner.mx_lookup(name.clone()).await {
            Ok(lookup) => lookup,
            Err(e) => {
                return match classify(domain, e)? {
                    Negative::NoSuchName => Err(DnsError::NoSuchDomain(display(&name))),
                    // RFC 5321 §5.1: no MX records, the domain itself is
                    // the implicit MX with preference 0.
                    Negative::NoRecords => Ok(implicit(&display(&name))),
                };
            }
        };
        let mut records: Vec<(u16, bool, String)> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some((mx.preference, mx.exchange.is_root(), display(&mx.exchange))),
                _ => None,
            })
            .collect();
        if records.is_empty() {
            return Ok(implicit(&display(&name)));
        }
        // RFC 7505 §3: one MX record with an empty exchange ("."); the
        // preference should be 0 but any value means the same.
        if records.iter().all(|(_, root, _)| *root) {
            return Ok(Mx::NullMx);
        }
        // A null MX among real ones breaks RFC 7505 §3 ("MUST NOT advertise
        // any other MX RR"); "." is no host to deliver to, the others are.
        records.retain(|(_, root, _)| !root);
        records.sort_by_key(|(preference, _, _)| *preference);
        let hosts = records.into_iter().map(|(preference, _, host)| MxHost { preference, host }).collect();
        Ok(Mx::Hosts { hosts, implicit: false })
    }
}

fn implicit(domain: &str) -> Mx {
    Mx::Hosts { hosts: vec![MxHost { preference: 0, host: domain.to_string() }], implicit: true }
}
