//! The greylisting whitelists: clients and recipients that are never
//! greylisted, in the syntax of Postgrey's `whitelist_clients` and
//! `whitelist_recipients` files (a Postfix access(5) look-alike), so an
//! operator can bring the entries of an existing Postgrey installation.
//!
//! Clients, matched against the client's address and its verified reverse
//! DNS name:
//!
//! | entry | matches |
//! | --- | --- |
//! | `192.0.2.7`, `2001:db8::7` | that address |
//! | `192.0.2.0/24`, `2001:db8::/32` | that network (host bits in the entry are ignored) |
//! | `192.0.2` / `10.1` | the /24 / the /16 (an IPv4 address with numbers left off) |
//! | `example.org` | the host `example.org` and every host under it |
//! | `/^mx\d+\.example\.net$/` | host names the regular expression finds a match in, case-insensitively |
//!
//! Recipients:
//!
//! | entry | matches |
//! | --- | --- |
//! | `bob@example.org` | that address and its `+extension`s (`bob+x@example.org`) |
//! | `postmaster@` | that local part (and its `+extension`s) in every domain |
//! | `example.org` | every address in the domain and its subdomains |
//! | `/^abuse-.*@example\.org$/` | addresses the regular expression finds a match in, case-insensitively |
//!
//! Postgrey warns about a line it cannot read and goes on without it; here
//! the entries come from atoll's configuration, and a bad one is refused
//! with an error that names it, so a typo never silently greylists a
//! client the operator meant to spare. Regular expressions are the `regex`
//! crate's, not Perl's: look-around and back-references are refused. An
//! entry that Postgrey would accept but that can never match there (a
//! domain with a leading dot, `@example.org`) is refused with a hint.

use std::net::IpAddr;

use regex::{Regex, RegexBuilder};

use super::GreylistError;
use super::key::{bare, canonical_ip};

const CLIENTS: &str = "whitelist_clients";
const RECIPIENTS: &str = "whitelist_recipients";

fn bad(list: &'static str, entry: &str, reason: impl Into<String>) -> GreylistError {
    GreylistError::BadEntry { list, entry: entry.to_string(), reason: reason.into() }
}

/// The entries of a Postgrey whitelist file: one per line, `#` starts a
/// comment, blank lines are skipped (Postgrey's `s/#.*$//; s/^\s+//;
/// s/\s+$//`).
pub fn read_list(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split_once('#').map_or(line, |(entry, _)| entry).trim())
        .filter(|entry| !entry.is_empty())
        .map(str::to_string)
        .collect()
}

/// `/…/`: the regular expression between the slashes.
fn slashed(entry: &str) -> Option<&str> {
    entry.strip_prefix('/')?.strip_suffix('/')
}

/// A regular expression matched case-insensitively and unanchored, as
/// Postgrey's `qr{$1}i`.
fn regex(list: &'static str, entry: &str, pattern: &str) -> Result<Regex, GreylistError> {
    if pattern.is_empty() {
        return Err(bad(list, entry, "empty regular expression"));
    }
    RegexBuilder::new(pattern).case_insensitive(true).build().map_err(|e| {
        // The regex crate's syntax errors span several lines with a caret
        // diagram; an operator's message is one line.
        let text = e.to_string();
        let why = match text.lines().find_map(|l| l.trim().strip_prefix("error: ")) {
            Some(why) => why.to_string(),
            None => text.split_whitespace().collect::<Vec<_>>().join(" "),
        };
        bad(list, entry, format!("bad regular expression: {why}"))
    })
}

/// A domain entry: lowercased, without a trailing dot.
fn domain(list: &'static str, entry: &str) -> Result<String, GreylistError> {
    if entry.starts_with('.') {
        return Err(bad(list, entry, "write the domain without the leading dot (it matches its subdomains too)"));
    }
    let d = entry.strip_suffix('.').unwrap_or(entry);
    if d.is_empty() || d.contains("..") {
        return Err(bad(list, entry, "not a domain"));
    }
    Ok(d.to_ascii_lowercase())
}

/// An IP network: an address and how many of its leading bits matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn new(addr: IpAddr, prefix: u8) -> Network {
        // An IPv4-mapped network is the IPv4 network, since clients are
        // compared in their IPv4 form.
        if let IpAddr::V6(v6) = addr
            && let Some(v4) = v6.to_ipv4_mapped()
            && prefix >= 96
        {
            return Network { addr: IpAddr::V4(v4), prefix: prefix - 96 };
        }
        Network { addr, prefix }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical_ip(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix.min(32))).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix.min(128))).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// A prefix length: 1 to 3 digits, at most `max`.
fn prefix(list: &'static str, entry: &str, text: &str, max: u8) -> Result<u8, GreylistError> {
    match text.parse::<u8>() {
        Ok(p) if p <= max && !text.starts_with('+') => Ok(p),
        _ => Err(bad(list, entry, format!("prefix length {text:?} is not a number from 0 to {max}"))),
    }
}

/// An IPv4 entry: `a.b.c.d`, `a.b.c.d/n`, or with numbers left off
/// (`a.b.c` is the /24, `a.b` the /16).
fn ipv4_network(entry: &str) -> Result<Network, GreylistError> {
    let (addr, len) = match entry.split_once('/') {
        Some((addr, len)) => (addr, Some(prefix(CLIENTS, entry, len, 32)?)),
        None => (entry, None),
    };
    let mut octets = [0u8; 4];
    let parts: Vec<&str> = addr.split('.').collect();
    if !(2..=4).contains(&parts.len()) {
        return Err(bad(CLIENTS, entry, "not an IPv4 address or network"));
    }
    for (i, part) in parts.iter().enumerate() {
        octets[i] = match part.parse::<u8>() {
            Ok(n) if !part.is_empty() && part.len() <= 3 && part.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(bad(CLIENTS, entry, format!("{part:?} is not a number from 0 to 255"))),
        };
    }
    let implied = 8 * parts.len() as u8;
    let len = match len {
        Some(_) if parts.len() < 4 => {
            return Err(bad(CLIENTS, entry, "write a network with all four numbers (192.0.2.0/24)"));
        }
        Some(len) => len,
        None => implied,
    };
    Ok(Network::new(IpAddr::from(octets), len))
}

fn ipv6_network(entry: &str) -> Result<Network, GreylistError> {
    let (addr, len) = match entry.split_once('/') {
        Some((addr, len)) => (addr, prefix(CLIENTS, entry, len, 128)?),
        None => (entry, 128),
    };
    match addr.parse::<std::net::Ipv6Addr>() {
        Ok(a) => Ok(Network::new(IpAddr::V6(a), len)),
        Err(_) => Err(bad(CLIENTS, entry, "not an IPv6 address or network")),
    }
}

/// Clients that are never greylisted.
#[derive(Debug, Clone, Default)]
pub struct ClientWhitelist {
    networks: Vec<Network>,
    /// Lowercased, without a trailing dot.
    domains: Vec<String>,
    patterns: Vec<Regex>,
}

impl ClientWhitelist {
    /// Reads the entries (see the module documentation); the first bad one
    /// is the error.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<ClientWhitelist, GreylistError> {
        let mut list = ClientWhitelist::default();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                return Err(bad(CLIENTS, entry, "empty entry"));
            }
            if let Some(pattern) = slashed(entry) {
                list.patterns.push(regex(CLIENTS, entry, pattern)?);
            } else if entry.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'/') {
                // Postgrey's IPv4 shapes; anything else made of digits and
                // dots is a mistyped address, not a host name.
                list.networks.push(ipv4_network(entry)?);
            } else if entry.contains(':') {
                list.networks.push(ipv6_network(entry)?);
            } else if entry.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) {
                list.domains.push(domain(CLIENTS, entry)?);
            } else {
                return Err(bad(CLIENTS, entry, "not an IP address, a network, a host name or a /regular expression/"));
            }
        }
        Ok(list)
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty() && self.domains.is_empty() && self.patterns.is_empty()
    }

    /// Whether the client is whitelisted, by its address or by its name.
    /// `hostname` is the client's verified reverse DNS name, None when it
    /// has none (Postfix says `unknown` there): then only address entries
    /// can match.
    pub fn matches(&self, ip: IpAddr, hostname: Option<&str>) -> bool {
        if self.networks.iter().any(|n| n.contains(ip)) {
            return true;
        }
        let Some(host) = hostname.map(|h| h.strip_suffix('.').unwrap_or(h)).filter(|h| !h.is_empty()) else {
            return false;
        };
        let lower = host.to_ascii_lowercase();
        // Postgrey's qr{(?:^|\.)\Q$domain\E$}i: the domain or below it.
        self.domains
            .iter()
            .any(|d| lower.strip_suffix(d.as_str()).is_some_and(|rest| rest.is_empty() || rest.ends_with('.')))
            || self.patterns.iter().any(|p| p.is_match(host))
    }
}

#[derive(Debug, Clone)]
enum RecipientEntry {
    /// `user@domain`, lowercased.
    Address {
        user: String,
        domain: String,
    },
    /// `user@`, lowercased, without the `@`.
    User(String),
    /// `domain`, lowercased.
    Domain(String),
    Pattern(Regex),
}

/// Recipients that are never greylisted (`postmaster@` is a good one:
/// RFC 5321 §4.5.1 wants it reachable).
#[derive(Debug, Clone, Default)]
pub struct RecipientWhitelist {
    entries: Vec<RecipientEntry>,
}

/// After `user`, Postgrey's `(?:\+[^@]+)?\@`: nothing or `+extension`
/// (not empty, no `@`), then the `@`. Returns what follows the `@`.
fn after_user<'a>(address: &'a str, user: &str) -> Option<&'a str> {
    let rest = address.strip_prefix(user)?;
    if let Some(domain) = rest.strip_prefix('@') {
        return Some(domain);
    }
    let ext = rest.strip_prefix('+')?;
    let at = ext.find('@')?;
    (at > 0).then(|| &ext[at + 1..])
}

impl RecipientWhitelist {
    /// Reads the entries (see the module documentation); the first bad one
    /// is the error.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<RecipientWhitelist, GreylistError> {
        let mut list = RecipientWhitelist::default();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                return Err(bad(RECIPIENTS, entry, "empty entry"));
            }
            if let Some(pattern) = slashed(entry) {
                list.entries.push(RecipientEntry::Pattern(regex(RECIPIENTS, entry, pattern)?));
                continue;
            }
            if entry.chars().any(char::is_whitespace) {
                return Err(bad(RECIPIENTS, entry, "an address or domain has no white space"));
            }
            if entry.contains('/') {
                return Err(bad(RECIPIENTS, entry, "not an address, a domain or a /regular expression/"));
            }
            list.entries.push(match entry.split_once('@') {
                None => RecipientEntry::Domain(domain(RECIPIENTS, entry)?),
                Some((_, d)) if d.contains('@') => return Err(bad(RECIPIENTS, entry, "more than one @")),
                Some(("", _)) => {
                    return Err(bad(
                        RECIPIENTS,
                        entry,
                        "no local part before the @; write the domain alone to spare all of its addresses",
                    ));
                }
                Some((user, "")) => RecipientEntry::User(user.to_ascii_lowercase()),
                Some((user, d)) => {
                    RecipientEntry::Address { user: user.to_ascii_lowercase(), domain: d.to_ascii_lowercase() }
                }
            });
        }
        Ok(list)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether mail to `recipient` (as given in RCPT TO, with or without
    /// angle brackets) is never greylisted. Case does not matter.
    pub fn matches(&self, recipient: &str) -> bool {
        let raw = bare(recipient);
        let lower = raw.to_ascii_lowercase();
        self.entries.iter().any(|e| match e {
            RecipientEntry::Address { user, domain } => after_user(&lower, user).is_some_and(|d| d == domain),
            RecipientEntry::User(user) => after_user(&lower, user).is_some(),
            // Postgrey's qr{(?:\@|\.)\Q$domain\E$}i.
            RecipientEntry::Domain(domain) => {
                lower.strip_suffix(domain.as_str()).is_some_and(|rest| rest.ends_with('@') || rest.ends_with('.'))
            }
            RecipientEntry::Pattern(p) => p.is_match(raw),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn clients(entries: &[&str]) -> ClientWhitelist {
        ClientWhitelist::parse(entries).expect("valid entries")
    }

    fn recipients(entries: &[&str]) -> RecipientWhitelist {
        RecipientWhitelist::parse(entries).expect("valid entries")
    }

    #[test]
    fn ipv4_addresses_and_networks() {
        let w = clients(&["192.0.2.0/24", "198.51.100.7", "203.0.113.77/30", "10.1", "172.16.5"]);
        assert!(w.matches(ip("192.0.2.0"), None));
        assert!(w.matches(ip("192.0.2.255"), None));
        assert!(!w.matches(ip("192.0.3.1"), None));
        assert!(w.matches(ip("198.51.100.7"), None));
        assert!(!w.matches(ip("198.51.100.8"), None), "a single address is a /32");
        assert!(w.matches(ip("203.0.113.76"), None), "host bits of the entry are ignored");
        assert!(w.matches(ip("203.0.113.79"), None));
        assert!(!w.matches(ip("203.0.113.80"), None));
        assert!(w.matches(ip("10.1.255.254"), None), "a.b is the /16");
        assert!(!w.matches(ip("10.2.0.1"), None));
        assert!(w.matches(ip("172.16.5.9"), None), "a.b.c is the /24");
        assert!(!w.matches(ip("172.16.6.9"), None));
        assert!(w.matches(ip("::ffff:192.0.2.9"), None), "a mapped client is IPv4");
        assert!(!w.matches(ip("2001:db8::1"), None));
        assert!(clients(&["0.0.0.0/0"]).matches(ip("203.0.113.1"), None));
        assert!(!clients(&["0.0.0.0/0"]).matches(ip("2001:db8::1"), None), "IPv4 entries never match IPv6");
    }

    #[test]
    fn ipv6_addresses_and_networks() {
        let w = clients(&["2001:db8::/32", "2001:db9::25", "::ffff:198.51.100.0/120"]);
        assert!(w.matches(ip("2001:db8:ffff::1"), None));
        assert!(!w.matches(ip("2001:dba::1"), None));
        assert!(w.matches(ip("2001:db9::25"), None));
        assert!(!w.matches(ip("2001:db9::26"), None));
        assert!(w.matches(ip("198.51.100.200"), None), "a mapped network entry is the IPv4 network");
        assert!(!w.matches(ip("198.51.101.1"), None));
        assert!(!w.matches(ip("192.0.2.1"), None));
    }

    #[test]
    fn host_names_match_the_domain_and_below() {
        let w = clients(&["example.org", "Mail.Example.NET."]);
        assert!(w.matches(ip("192.0.2.1"), Some("example.org")));
        assert!(w.matches(ip("192.0.2.1"), Some("mx1.example.org")));
        assert!(w.matches(ip("192.0.2.1"), Some("MX1.Example.ORG")));
        assert!(w.matches(ip("192.0.2.1"), Some("mx1.example.org.")), "a trailing dot is the same name");
        assert!(w.matches(ip("192.0.2.1"), Some("a.mail.example.net")));
        assert!(!w.matches(ip("192.0.2.1"), Some("example.net")));
        assert!(!w.matches(ip("192.0.2.1"), Some("badexample.org")), "not a subdomain");
        assert!(!w.matches(ip("192.0.2.1"), Some("example.org.evil.test")));
        assert!(!w.matches(ip("192.0.2.1"), None), "no reverse DNS: only address entries");
        assert!(!w.matches(ip("192.0.2.1"), Some("")));
    }

    #[test]
    fn host_name_regular_expressions() {
        let w = clients(&[r"/^mail\d+\.example\.net$/", "/smtp/"]);
        assert!(w.matches(ip("192.0.2.1"), Some("mail12.example.net")));
        assert!(w.matches(ip("192.0.2.1"), Some("MAIL1.EXAMPLE.NET")), "case-insensitive, as qr{{}}i");
        assert!(!w.matches(ip("192.0.2.1"), Some("mail.example.net")));
        assert!(!w.matches(ip("192.0.2.1"), Some("xmail1.example.net")));
        assert!(w.matches(ip("192.0.2.1"), Some("out.smtp.example.com")), "unanchored: a match anywhere");
        assert!(!w.matches(ip("192.0.2.1"), None));
        // The shapes Postgrey's own list uses.
        let w = clients(&[r"/^(?:smtp\w*|postfix)[0-9]+-g[0-9]+\.free\.fr$/", r"/^.*?.server.example.de$/"]);
        assert!(w.matches(ip("192.0.2.1"), Some("smtpout12-g3.free.fr")));
        assert!(w.matches(ip("192.0.2.1"), Some("a.server.example.de")));
    }

    #[test]
    fn bad_client_entries_are_named() {
        for (entry, why) in [
            ("300.1.2.3", "not a number from 0 to 255"),
            ("192.0.2.0/33", "prefix length"),
            ("192.0.2.0/", "prefix length"),
            ("192.0.2.0/-1", "not an IP address"),
            ("1.2.3.4.5", "not an IPv4"),
            ("7", "not an IPv4"),
            ("192.0.2/24", "all four numbers"),
            ("192..2.1", "not a number"),
            ("2001:db8::/129", "prefix length"),
            ("2001:db8:::1", "not an IPv6"),
            ("/(unclosed/", "bad regular expression"),
            ("/(?<=a)b/", "look-around"),
            ("//", "empty regular expression"),
            (".example.org", "leading dot"),
            ("example..org", "not a domain"),
            ("exa mple.org", "not an IP address, a network, a host name"),
            ("example.org/24", "not an IP address, a network, a host name"),
            ("", "empty entry"),
        ] {
            let e = ClientWhitelist::parse(&[entry]).expect_err(entry).to_string();
            assert!(e.contains(&format!("{entry:?}")), "{e} names {entry:?}");
            assert!(e.contains("whitelist_clients"), "{e} names the list");
            assert!(e.contains(why), "{e} says {why}");
            assert!(!e.contains('\n'), "{e} is one line");
        }
        // The first bad entry of a list is the one named.
        let e = ClientWhitelist::parse(&["192.0.2.1", "999.0.0.1", "/(/"]).expect_err("bad").to_string();
        assert!(e.contains("999.0.0.1"), "{e}");
    }

    #[test]
    fn recipient_addresses_and_their_extensions() {
        let w = recipients(&["bob@example.org", "postmaster@"]);
        assert!(w.matches("bob@example.org"));
        assert!(w.matches("BOB+tag@Example.ORG"));
        assert!(w.matches("<bob@example.org>"));
        assert!(!w.matches("bob+@example.org"), "an extension is not empty");
        assert!(!w.matches("rbob@example.org"));
        assert!(!w.matches("bobby@example.org"));
        assert!(!w.matches("bob@sub.example.org"), "an address is in one domain");
        assert!(!w.matches("bob@example.org.evil.test"));
        assert!(w.matches("postmaster@example.org"));
        assert!(w.matches("Postmaster@other.test"));
        assert!(w.matches("postmaster+x@other.test"));
        assert!(!w.matches("postmasterx@other.test"));
        assert!(!w.matches("xpostmaster@other.test"));
        assert!(!w.matches("postmaster"), "no domain, no @");
    }

    #[test]
    fn recipient_domains_and_expressions() {
        let w = recipients(&["example.org", r"/^abuse-.*@example\.net$/"]);
        assert!(w.matches("anyone@example.org"));
        assert!(w.matches("anyone@lists.Example.org"), "subdomains too");
        assert!(!w.matches("anyone@badexample.org"));
        assert!(!w.matches("example.org@elsewhere.test"));
        assert!(w.matches("abuse-desk@example.net"));
        assert!(w.matches("ABUSE-desk@EXAMPLE.NET"), "case-insensitive");
        assert!(!w.matches("abuse@example.net"));
        assert!(!recipients(&[]).matches("bob@example.org"));
    }

    #[test]
    fn bad_recipient_entries_are_named() {
        for (entry, why) in [
            ("@example.org", "no local part"),
            ("@", "no local part"),
            ("a@b@example.org", "more than one @"),
            ("bob @example.org", "white space"),
            ("/[/", "bad regular expression"),
            ("example.org/", "not an address"),
            (".example.org", "leading dot"),
            ("", "empty entry"),
        ] {
            let e = RecipientWhitelist::parse(&[entry]).expect_err(entry).to_string();
            assert!(e.contains(&format!("{entry:?}")), "{e} names {entry:?}");
            assert!(e.contains("whitelist_recipients"), "{e} names the list");
            assert!(e.contains(why), "{e} says {why}");
        }
    }

    #[test]
    fn postgrey_files_read_as_entries() {
        let text = "# postgrey whitelist\n\npostmaster@\n  example.org   # a comment\n/^mx\\d+\\./\n\t\n";
        assert_eq!(read_list(text), ["postmaster@", "example.org", r"/^mx\d+\./"]);
        assert!(RecipientWhitelist::parse(&read_list(text)).is_ok());
    }
}
