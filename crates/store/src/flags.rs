//! Message flags: the system flags as bits, keywords as sorted text.

use crate::{Error, Result};

/// System flags (RFC 9051 §2.3.2). `\Recent` is gone in IMAP4rev2 and is a
/// per-session notion in rev1, so it is not stored.
pub mod system {
    pub const SEEN: i64 = 1;
    pub const ANSWERED: i64 = 2;
    pub const FLAGGED: i64 = 4;
    pub const DELETED: i64 = 8;
    pub const DRAFT: i64 = 16;
    pub const ALL: [(i64, &str); 5] = [
        (SEEN, "\\Seen"),
        (ANSWERED, "\\Answered"),
        (FLAGGED, "\\Flagged"),
        (DELETED, "\\Deleted"),
        (DRAFT, "\\Draft"),
    ];
}

/// A message's flags: system bits and keywords.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    pub system: i64,
    /// Sorted, without duplicates (compared case-insensitively, RFC 9051 §2.3.2).
    pub keywords: Vec<String>,
}

impl Flags {
    /// Parses IMAP flag atoms such as `\Seen` or `$Forwarded`.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Flags> {
        let mut f = Flags::default();
        for name in names {
            if let Some(rest) = name.strip_prefix('\\') {
                let bit = system::ALL
                    .iter()
                    .find(|(_, n)| n[1..].eq_ignore_ascii_case(rest))
                    .map(|(b, _)| *b)
                    .ok_or_else(|| Error::InvalidFlag(name.to_string()))?;
                f.system |= bit;
            } else {
                check_keyword(name)?;
                f.add_keyword(name);
            }
        }
        Ok(f)
    }

    fn add_keyword(&mut self, k: &str) {
        if !self.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) {
            self.keywords.push(k.to_string());
            self.keywords.sort_by_key(|k| k.to_ascii_lowercase());
        }
    }

    pub fn union(&self, other: &Flags) -> Flags {
        let mut f = Flags { system: self.system | other.system, keywords: self.keywords.clone() };
        for k in &other.keywords {
            f.add_keyword(k);
        }
        f
    }

    pub fn minus(&self, other: &Flags) -> Flags {
        Flags {
            system: self.system & !other.system,
            keywords: self
                .keywords
                .iter()
                .filter(|k| !other.keywords.iter().any(|o| o.eq_ignore_ascii_case(k)))
                .cloned()
                .collect(),
        }
    }

    pub fn has(&self, bit: i64) -> bool {
        self.system & bit != 0
    }

    /// The flag names, system flags first, as IMAP writes them.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> =
            system::ALL.iter().filter(|(b, _)| self.system & b != 0).map(|(_, n)| n.to_string()).collect();
        v.extend(self.keywords.iter().cloned());
        v
    }

    pub(crate) fn keywords_text(&self) -> String {
        self.keywords.join(" ")
    }

    pub(crate) fn from_stored(system: i64, keywords: &str) -> Flags {
        Flags { system, keywords: keywords.split(' ').filter(|k| !k.is_empty()).map(str::to_string).collect() }
    }
}

/// A keyword is an IMAP atom without the characters flag-keyword excludes
/// (RFC 9051 §9: atom-specials, `]` and `\`).
fn check_keyword(k: &str) -> Result<()> {
    let ok = !k.is_empty() && k.len() <= 100 && k.bytes().all(|b| b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b));
    if ok { Ok(()) } else { Err(Error::InvalidFlag(k.to_string())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_render() {
        let f = Flags::parse(["\\seen", "$Forwarded", "\\Flagged", "$forwarded", "Work"]).unwrap();
        assert_eq!(f.system, system::SEEN | system::FLAGGED);
        assert_eq!(f.names(), ["\\Seen", "\\Flagged", "$Forwarded", "Work"]);
        assert!(Flags::parse(["\\Recent"]).is_err());
        assert!(Flags::parse(["\\Bogus"]).is_err());
        assert!(Flags::parse(["a b"]).is_err());
        assert!(Flags::parse(["x]"]).is_err());
    }

    #[test]
    fn union_and_minus() {
        let a = Flags::parse(["\\Seen", "a"]).unwrap();
        let b = Flags::parse(["\\Deleted", "A", "b"]).unwrap();
        assert_eq!(a.union(&b).names(), ["\\Seen", "\\Deleted", "a", "b"]);
        assert_eq!(a.union(&b).minus(&b).names(), ["\\Seen"]);
        let stored = a.union(&b);
        assert_eq!(Flags::from_stored(stored.system, &stored.keywords_text()), stored);
    }
}
