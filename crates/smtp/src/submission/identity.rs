//! Which addresses an authenticated user may send as (RFC 6409 §6.1: the
//! submission server may check the sender, and should for a platform that
//! signs mail as its domains): the account's own address, every address
//! that delivers to it (aliases, sub-addresses), and what the account's
//! `send_as` preference allows on top (a comma-separated list of
//! addresses, `@domain` for a whole domain, or `*` for any, for accounts
//! that send on behalf of others, such as a helpdesk).

use atoll_directory::{Destination, Directory, Resolution};

/// The preference that widens what an account may send as.
pub const SEND_AS: &str = "send_as";

/// Whether `user` (an account's address) may use `address` as sender.
pub async fn may_send_as(directory: &Directory, user: &str, address: &str) -> Result<bool, atoll_directory::Error> {
    if address.eq_ignore_ascii_case(user) {
        return Ok(true);
    }
    match directory.resolve(address).await {
        Ok(r) => {
            if let Resolution::Deliver { destinations } = &*r
                && destinations.iter().any(
                    |d| matches!(d, Destination::Mailbox { address: owner, .. } if owner.eq_ignore_ascii_case(user)),
                )
            {
                return Ok(true);
            }
        }
        Err(atoll_directory::Error::InvalidAddress(..)) => return Ok(false),
        Err(e) => return Err(e),
    }
    let prefs = directory.preferences(user).await?;
    Ok(prefs.iter().filter(|(name, _)| name == SEND_AS).any(|(_, value)| allowed_by(value, address)))
}

/// Whether a `send_as` value allows `address`.
fn allowed_by(value: &str, address: &str) -> bool {
    let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    value.split(',').map(str::trim).filter(|v| !v.is_empty()).any(|v| {
        v == "*"
            || v.strip_prefix('@').is_some_and(|d| d.eq_ignore_ascii_case(domain))
            || v.eq_ignore_ascii_case(address)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_as_values() {
        assert!(allowed_by("*", "anyone@anywhere.net"));
        assert!(allowed_by("help@example.org, @example.net", "x@Example.NET"));
        assert!(allowed_by("help@example.org, @example.net", "Help@example.org"));
        assert!(!allowed_by("help@example.org, @example.net", "x@example.org"));
        assert!(!allowed_by("", "x@example.org"));
        assert!(!allowed_by("@example.net", "x@sub.example.net"));
    }
}
