//! Email addresses as the directory stores them: lowercased local part and
//! domain, dot-atom local parts only (RFC 5321 §4.1.2; quoted local parts are
//! legal on the wire but no directory entry needs one).

use std::fmt;

use crate::{Error, Result};

/// A normalised address. The catch-all of a domain has an empty local part
/// and is written `@domain`, as in Postfix's virtual tables.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    pub local: String,
    pub domain: String,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl Address {
    /// Parses `local@domain` (surrounding `<>` and blanks allowed).
    pub fn parse(input: &str) -> Result<Address> {
        let s = input.trim();
        let s = s.strip_prefix('<').and_then(|s| s.strip_suffix('>')).unwrap_or(s);
        let bad = |why| Error::InvalidAddress(input.to_string(), why);
        let (local, domain) = s.rsplit_once('@').ok_or_else(|| bad("no @"))?;
        if local.is_empty() {
            return Err(bad("empty local part"));
        }
        let local = normalise_local(local).map_err(bad)?;
        let domain = normalise_domain(domain).map_err(bad)?;
        Ok(Address { local, domain })
    }

    /// Like [`Address::parse`], but also accepts `@domain` for a catch-all.
    pub fn parse_alias_source(input: &str) -> Result<Address> {
        let s = input.trim();
        if let Some(domain) = s.strip_prefix('@') {
            let domain = normalise_domain(domain).map_err(|why| Error::InvalidAddress(input.to_string(), why))?;
            return Ok(Address { local: String::new(), domain });
        }
        Address::parse(s)
    }

    pub fn is_catch_all(&self) -> bool {
        self.local.is_empty()
    }

    /// Splits off a sub-address: with separators "+", `bob+lists` gives
    /// (`bob`, `lists`). A separator at the start is part of the name.
    pub fn split_detail<'a>(&'a self, separators: &str) -> Option<(&'a str, &'a str)> {
        if separators.is_empty() {
            return None;
        }
        let at = self.local.char_indices().skip(1).find(|(_, c)| separators.contains(*c))?.0;
        let sep_len = self.local[at..].chars().next().map(char::len_utf8).unwrap_or(1);
        Some((&self.local[..at], &self.local[at + sep_len..]))
    }
}

fn is_atext(c: char) -> bool {
    // RFC 5322 §3.2.3 atext, plus UTF-8 (RFC 6531 §3.3).
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (!c.is_ascii() && !c.is_control() && !c.is_whitespace())
}

fn normalise_local(local: &str) -> std::result::Result<String, &'static str> {
    if local.len() > 64 {
        return Err("local part longer than 64 octets");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("misplaced dot in local part");
    }
    if let Some(c) = local.chars().find(|c| *c != '.' && !is_atext(*c)) {
        return Err(if c == '"' {
            "quoted local parts are not supported"
        } else if c.is_whitespace() {
            "white space in local part"
        } else {
            "character not allowed in local part"
        });
    }
    Ok(local.to_lowercase())
}

/// Lowercases a domain name and checks its labels (RFC 1035 §2.3.1 as relaxed
/// by RFC 1123 §2.1). Internationalised names are stored as A-labels
/// (RFC 5891 §4), so `école.fr` and `xn--cole-9oa.fr` are one domain, as they
/// are in DNS.
pub fn normalise_domain(domain: &str) -> std::result::Result<String, &'static str> {
    let d = domain.trim().strip_suffix('.').unwrap_or(domain.trim());
    if d.is_empty() {
        return Err("empty domain");
    }
    if d.starts_with('[') {
        return Err("address literals are not supported");
    }
    if d.len() > 253 {
        return Err("domain longer than 253 octets");
    }
    for label in d.split('.') {
        if label.is_empty() {
            return Err("empty label in domain");
        }
        if label.len() > 63 {
            return Err("domain label longer than 63 octets");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("domain label starts or ends with '-'");
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && c.is_alphanumeric())) {
            return Err("character not allowed in domain");
        }
    }
    if d.is_ascii() {
        return Ok(d.to_ascii_lowercase());
    }
    idna::domain_to_ascii(d).map_err(|_| "invalid internationalised domain name")
}

/// A listing's optional domain filter: the normalised name, or "" for all.
pub(crate) fn domain_filter(domain: Option<&str>) -> crate::Result<String> {
    match domain {
        Some(d) => normalise_domain(d).map_err(|why| Error::InvalidName(d.to_string(), why)),
        None => Ok(String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_folds_case() {
        let a = Address::parse(" <Bob.Smith+Tag@Example.ORG.> ").unwrap();
        assert_eq!(a.local, "bob.smith+tag");
        assert_eq!(a.domain, "example.org");
        assert_eq!(a.to_string(), "bob.smith+tag@example.org");
        let u = Address::parse("Élève@École.fr").unwrap();
        assert_eq!(u.to_string(), "élève@xn--cole-9oa.fr");
        assert_eq!(Address::parse("élève@XN--cole-9oa.fr").unwrap(), u);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "bob",
            "@example.org",
            "bob@",
            "bob@@example.org",
            ".bob@example.org",
            "bo..b@example.org",
            "bob.@example.org",
            "b ob@example.org",
            "\"bob\"@example.org",
            "bob@exa mple.org",
            "bob@-example.org",
            "bob@example..org",
            "bob@[127.0.0.1]",
            "bob@exa_mple.org",
            "a,b@example.org",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let long = format!("{}@example.org", "a".repeat(65));
        assert!(Address::parse(&long).is_err());
    }

    #[test]
    fn catch_all_source() {
        let a = Address::parse_alias_source("@Example.org").unwrap();
        assert!(a.is_catch_all());
        assert_eq!(a.domain, "example.org");
        assert!(Address::parse("@example.org").is_err());
    }

    #[test]
    fn sub_address_split() {
        let a = Address::parse("bob+lists+rust@example.org").unwrap();
        assert_eq!(a.split_detail("+"), Some(("bob", "lists+rust")));
        assert_eq!(a.split_detail(""), None);
        let b = Address::parse("bob-x@example.org").unwrap();
        assert_eq!(b.split_detail("+"), None);
        assert_eq!(b.split_detail("+-"), Some(("bob", "x")));
        let c = Address::parse("+bob@example.org").unwrap();
        assert_eq!(c.split_detail("+"), None);
    }
}
