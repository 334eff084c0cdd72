use hickory_resolver::net::NetError;
use thiserror::Error;

/// Why a lookup gave no answer.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum DnsError {
    /// The resolver could not be set up (an unreadable /etc/resolv.conf).
    #[error("DNS resolver: {0}")]
    Setup(String),
    /// The name cannot be asked about (empty, spaces, a label too long).
    #[error("{0:?} is not a domain name")]
    BadName(String),
    /// The name does not exist (NXDOMAIN, RFC 1035 §4.1.1 RCODE 3): a
    /// permanent answer.
    #[error("{0}: no such domain")]
    NoSuchDomain(String),
    /// No answer now: a timeout, SERVFAIL, REFUSED, a network error. Asking
    /// again later may work.
    #[error("{name}: DNS lookup failed: {reason}")]
    Temporary { name: String, reason: String },
}

impl DnsError {
    /// Whether asking again later may give an answer (RFC 8601 §2.7
    /// "temperror" rather than a result).
    pub fn is_temporary(&self) -> bool {
        matches!(self, DnsError::Temporary { .. } | DnsError::Setup(_))
    }
}

/// What a failed hickory lookup means.
pub(crate) enum Negative {
    /// NXDOMAIN: the name does not exist at all.
    NoSuchName,
    /// NOERROR without records of the type asked for ("NODATA").
    NoRecords,
}

/// Sorts a hickory error into a negative answer or a real failure.
pub(crate) fn classify(name: &str, e: NetError) -> Result<Negative, DnsError> {
    if e.is_nx_domain() {
        Ok(Negative::NoSuchName)
    } else if e.is_no_records_found() {
        Ok(Negative::NoRecords)
    } else {
        Err(DnsError::Temporary { name: name.to_string(), reason: e.to_string() })
    }
}
