//! Password hashing for new accounts (argon2id) and verification of the
//! hash formats that Dovecot and Postfix sites export, so imported users can
//! log in with their existing password and be migrated to argon2id on the way.
//!
//! Stored hashes may carry Dovecot's `{SCHEME}` prefix (case-insensitive) or be
//! bare modular-crypt strings such as `$6$...` or `$argon2id$...`.

mod argon;
mod crypt;
mod salted;

use std::fmt;

/// Hash scheme a stored password uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Argon2id,
    Argon2i,
    /// `$6$`, SHA-512 crypt.
    Sha512Crypt,
    /// `$5$`, SHA-256 crypt.
    Sha256Crypt,
    /// `$2a$`, `$2b$`, `$2y$` (Dovecot's `BLF-CRYPT`).
    Bcrypt,
    /// The SHA-1 family: `{SSHA}` and unsalted `{SHA}`.
    Ssha,
    /// The SHA-2 family: `{SSHA512}`, `{SSHA256}` and unsalted `{SHA512}`,
    /// `{SHA256}`. They share a variant because callers only need to know that
    /// the hash is a fast digest that must be replaced.
    Ssha512,
    /// `{PLAIN}` / `{CLEARTEXT}`.
    Plain,
}

impl fmt::Display for Scheme {
    /// Dovecot's name for the scheme, as used in `{SCHEME}` prefixes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Argon2id => "ARGON2ID",
            Scheme::Argon2i => "ARGON2I",
            Scheme::Sha512Crypt => "SHA512-CRYPT",
            Scheme::Sha256Crypt => "SHA256-CRYPT",
            Scheme::Bcrypt => "BLF-CRYPT",
            Scheme::Ssha => "SSHA",
            Scheme::Ssha512 => "SSHA512",
            Scheme::Plain => "PLAIN",
        })
    }
}

/// What [`verify`] accepts beyond real hashes.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Accept `{PLAIN}` / `{CLEARTEXT}` stored passwords. Off by default so a
    /// plaintext export cannot slip in unnoticed.
    pub allow_plain: bool,
}

/// A successful verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub scheme: Scheme,
    /// The caller should store [`hash`] of the password it just checked.
    pub needs_rehash: bool,
}

/// Why a stored hash could not be used. Messages name the scheme but never
/// include the stored hash, so they are safe to log.
#[derive(thiserror::Error, Debug)]
pub enum Error {
    #[error("stored password is empty")]
    Empty,
    #[error("unsupported password scheme: {0}")]
    UnknownScheme(String),
    #[error("malformed {0} hash: {1}")]
    Malformed(Scheme, String),
    #[error("plaintext passwords are not allowed by policy")]
    PlainNotAllowed,
    #[error("hashing failed: {0}")]
    Hashing(String),
}

/// Hash `password` with argon2id at the argon2 crate's default cost and a
/// random salt from the OS, returning a PHC string.
pub fn hash(password: &str) -> Result<String, Error> {
    argon::hash(password)
}

/// Check `password` against a stored hash.
///
/// `Ok(None)` means the password is wrong; `Err` means the stored hash cannot
/// be used at all (unknown scheme, malformed, or plaintext refused by policy).
pub fn verify(stored: &str, password: &str, policy: &Policy) -> Result<Option<Verified>, Error> {
    let (scheme, matched, strong) = match parse(stored)? {
        Parsed::Argon(phc) => argon::verify(phc, password)?,
        Parsed::Crypt(scheme, mcf) => (scheme, crypt::verify(scheme, mcf, password)?, false),
        Parsed::Salted(kind, payload) => (kind.scheme(), kind.verify(payload, password)?, false),
        Parsed::Plain(plain) => {
            if !policy.allow_plain {
                return Err(Error::PlainNotAllowed);
            }
            if plain.is_empty() {
                // An empty stored password would let anyone in with an empty one.
                return Err(Error::Malformed(Scheme::Plain, "empty password".into()));
            }
            (Scheme::Plain, ct_eq(plain.as_bytes(), password.as_bytes()), false)
        }
    };
    Ok(matched.then_some(Verified { scheme, needs_rehash: !strong }))
}

/// Checks that a stored hash can be used — a known scheme, well formed,
/// allowed by `policy` — without computing any hash, so that importing many
/// thousands of accounts costs no hashing time.
pub fn check(stored: &str, policy: &Policy) -> Result<Scheme, Error> {
    match parse(stored)? {
        Parsed::Argon(phc) => argon::check(phc),
        Parsed::Crypt(scheme, mcf) => crypt::check(scheme, mcf).map(|()| scheme),
        Parsed::Salted(kind, payload) => kind.decode(payload).map(|_| kind.scheme()),
        Parsed::Plain(_) if !policy.allow_plain => Err(Error::PlainNotAllowed),
        Parsed::Plain("") => Err(Error::Malformed(Scheme::Plain, "empty password".into())),
        Parsed::Plain(_) => Ok(Scheme::Plain),
    }
}

/// Identify the scheme of a stored hash without checking a password.
pub fn scheme_of(stored: &str) -> Result<Scheme, Error> {
    Ok(match parse(stored)? {
        Parsed::Argon(phc) => argon::scheme_of(phc),
        Parsed::Crypt(scheme, _) => scheme,
        Parsed::Salted(kind, _) => kind.scheme(),
        Parsed::Plain(_) => Scheme::Plain,
    })
}

enum Parsed<'a> {
    Argon(&'a str),
    Crypt(Scheme, &'a str),
    Salted(salted::Kind, &'a str),
    Plain(&'a str),
}

fn parse(stored: &str) -> Result<Parsed<'_>, Error> {
    if stored.is_empty() {
        return Err(Error::Empty);
    }
    let Some(rest) = stored.strip_prefix('{') else {
        return if stored.starts_with('$') {
            parse_mcf(stored, None)
        } else {
            // Dovecot would apply its configured default scheme here; we have
            // no such setting, so refuse rather than guess.
            Err(Error::UnknownScheme("none (no {SCHEME} prefix)".into()))
        };
    };
    let Some((name, payload)) = rest.split_once('}') else {
        return Err(Error::UnknownScheme("unterminated {SCHEME} prefix".into()));
    };
    let upper = name.to_ascii_uppercase();
    // The crypt-style prefixes only say "pass this to crypt()"; like Dovecot we
    // let the `$id$` of the hash decide the algorithm.
    let implied = match upper.as_str() {
        "CRYPT" => None,
        "SHA512-CRYPT" => Some(Scheme::Sha512Crypt),
        "SHA256-CRYPT" => Some(Scheme::Sha256Crypt),
        "BLF-CRYPT" => Some(Scheme::Bcrypt),
        "ARGON2ID" => Some(Scheme::Argon2id),
        "ARGON2I" => Some(Scheme::Argon2i),
        "PLAIN" | "CLEARTEXT" => return Ok(Parsed::Plain(payload)),
        _ => match salted::Kind::from_name(&upper) {
            Some(kind) => return Ok(Parsed::Salted(kind, payload)),
            None => return Err(Error::UnknownScheme(printable_name(name))),
        },
    };
    if payload.starts_with('$') {
        return parse_mcf(payload, implied);
    }
    Err(match implied {
        Some(scheme) => Error::Malformed(scheme, "expected a $id$ crypt string".into()),
        None if payload.is_empty() => Error::Empty,
        // Traditional 13-character DES crypt has no `$id$`.
        None => Error::UnknownScheme("DES-CRYPT".into()),
    })
}

/// Dispatch a modular-crypt string (`$id$...`) on its id.
fn parse_mcf(s: &str, implied: Option<Scheme>) -> Result<Parsed<'_>, Error> {
    let id = s[1..].split('$').next().unwrap_or_default();
    Ok(match id {
        "argon2id" | "argon2i" => Parsed::Argon(s),
        "6" => Parsed::Crypt(Scheme::Sha512Crypt, s),
        "5" => Parsed::Crypt(Scheme::Sha256Crypt, s),
        "2a" | "2b" | "2y" => Parsed::Crypt(Scheme::Bcrypt, s),
        "" => {
            return Err(match implied {
                Some(scheme) => Error::Malformed(scheme, "empty $id$".into()),
                None => Error::UnknownScheme("crypt with empty $id$".into()),
            });
        }
        "1" => return Err(Error::UnknownScheme("MD5-CRYPT".into())),
        "argon2d" => return Err(Error::UnknownScheme("ARGON2D".into())),
        // `$2x$` is crypt_blowfish's compatibility mode for its old sign
        // extension bug; the bcrypt crate would silently treat it as `$2a$`.
        "2x" => return Err(Error::UnknownScheme("BLF-CRYPT $2x$".into())),
        other => {
            return Err(Error::UnknownScheme(format!("crypt ${}$", printable_name(other))));
        }
    })
}

/// A scheme name for an error message; anything that does not look like a name
/// may be hash material, so it is replaced.
fn printable_name(name: &str) -> String {
    let looks_like_name =
        !name.is_empty() && name.len() <= 32 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if looks_like_name { name.to_owned() } else { "<unprintable>".to_owned() }
}

/// Compare secrets without an early exit, so timing does not reveal how many
/// leading bytes matched. Lengths are public (digest sizes), so they may leak.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod check_tests {
    use super::*;

    #[test]
    fn check_accepts_what_verify_accepts_without_hashing() {
        let p = Policy::default();
        let good = [
            "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1",
            "{SHA256-CRYPT}$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA",
            "{SSHA}",
        ];
        assert_eq!(check(good[0], &p).unwrap(), Scheme::Sha512Crypt);
        assert_eq!(check(good[1], &p).unwrap(), Scheme::Sha256Crypt);
        assert!(check(good[2], &p).is_err());
        let h = hash("x").unwrap();
        assert_eq!(check(&h, &p).unwrap(), Scheme::Argon2id);
        let b = crypt_vector_bcrypt();
        assert_eq!(check(&b, &p).unwrap(), Scheme::Bcrypt);
        assert!(check("$2b$05$abcdefghijklmnopqrstuu", &p).is_err());
        assert!(check("$2b$99$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuuabcdefghi", &p).is_err());
        assert!(check("$6$saltsalt$short", &p).is_err());
        assert!(check("{PLAIN}pw", &p).is_err());
        assert_eq!(check("{PLAIN}pw", &Policy { allow_plain: true }).unwrap(), Scheme::Plain);
        assert!(check("{SSHA}c2hvcnQ=", &p).is_err());
        assert!(check("$argon2id$v=19$m=19456,t=2,p=1", &p).is_err());
    }

    fn crypt_vector_bcrypt() -> String {
        bcrypt::hash_with_result("secret", 4).unwrap().format_for_version(bcrypt::Version::TwoB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW: Policy = Policy { allow_plain: true };

    #[test]
    fn plain_respects_policy() {
        assert!(matches!(verify("{PLAIN}secret", "secret", &Policy::default()), Err(Error::PlainNotAllowed)));
        let v = verify("{PLAIN}secret", "secret", &ALLOW).unwrap().unwrap();
        assert_eq!(v, Verified { scheme: Scheme::Plain, needs_rehash: true });
        assert!(verify("{plain}secret", "wrong", &ALLOW).unwrap().is_none());
        assert!(verify("{CLEARTEXT}secret", "secret", &ALLOW).unwrap().is_some());
        assert!(matches!(verify("{PLAIN}", "", &ALLOW), Err(Error::Malformed(Scheme::Plain, _))));
        assert_eq!(scheme_of("{Cleartext}x").unwrap(), Scheme::Plain);
    }

    #[test]
    fn scheme_detection() {
        let cases = [
            ("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA", Scheme::Argon2id),
            ("{ARGON2I}$argon2i$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaA", Scheme::Argon2i),
            ("{SHA512-CRYPT}$6$salt$hash", Scheme::Sha512Crypt),
            ("{crypt}$5$salt$hash", Scheme::Sha256Crypt),
            ("$2y$04$hash", Scheme::Bcrypt),
            ("{BLF-CRYPT}$2b$04$hash", Scheme::Bcrypt),
            ("{ssha}AAAA", Scheme::Ssha),
            ("{SHA}AAAA", Scheme::Ssha),
            ("{SSHA256}AAAA", Scheme::Ssha512),
            ("{SSHA512}AAAA", Scheme::Ssha512),
        ];
        for (stored, scheme) in cases {
            assert_eq!(scheme_of(stored).unwrap(), scheme, "{stored}");
        }
    }

    #[test]
    fn unknown_schemes_name_the_scheme_not_the_hash() {
        for (stored, name) in [
            ("{MD5}Xr4ilOzQ4PCOq3aQ0qbuaQ==", "MD5"),
            ("{CRAM-MD5}abcdef", "CRAM-MD5"),
            ("$1$saltsalt$hashhashhashhashhash", "MD5-CRYPT"),
            ("{CRYPT}abJnggxhB/yWI", "DES-CRYPT"),
            ("$argon2d$v=19$m=4096,t=3,p=1$c2FsdA$aGFzaA", "ARGON2D"),
            ("$2x$04$abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopq", "$2x$"),
            ("hunter2", "no {SCHEME} prefix"),
            ("{SSHA", "unterminated"),
        ] {
            match scheme_of(stored) {
                Err(Error::UnknownScheme(msg)) => {
                    assert!(msg.contains(name), "{stored}: {msg}");
                    assert!(!Error::UnknownScheme(msg.clone()).to_string().contains("hunter2"));
                }
                other => panic!("{stored}: {other:?}"),
            }
        }
        match scheme_of("{secret hash material}x") {
            Err(Error::UnknownScheme(msg)) => assert!(!msg.contains("secret")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_or_empty_never_panics() {
        assert!(matches!(verify("", "x", &ALLOW), Err(Error::Empty)));
        assert!(matches!(verify("{CRYPT}", "x", &ALLOW), Err(Error::Empty)));
        for stored in [
            "$",
            "$$",
            "$$$",
            "{}",
            "{}$6$",
            "{SHA512-CRYPT}",
            "{SHA512-CRYPT}abc",
            "{ARGON2ID}",
            "{BLF-CRYPT}$",
            "\u{e9}\u{e9}",
            "{\u{e9}}x",
            "$\u{e9}$",
            "{CRYPT}$\u{e9}",
        ] {
            assert!(verify(stored, "x", &ALLOW).is_err(), "{stored:?}");
            assert!(scheme_of(stored).is_err(), "{stored:?}");
        }
    }

    #[test]
    fn every_truncation_is_handled_without_panic() {
        let vectors = [
            "{ARGON2ID}$argon2id$v=19$m=4096,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$/EhSXILfiWjLx1bzFOH2+zZypiifuy6fa0JHaAQDx9E",
            "{SHA512-CRYPT}$6$rounds=10000$roundsalt$FF8gTAPk6fDkzddgXk3ExQY6VseKRuyJ8JlMjEybiRw9QL9Gu2AWV/IurQRsdk76m.WslkHULDeqF37ILdYlb/",
            "{SHA256-CRYPT}$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA",
            "{BLF-CRYPT}$2y$04$7bz1R232r6vB3bMtEogcKe0pv4EozbgHAPuN7VhWZ2q73nwf3BoP6",
            "{SSHA512}eXQB85Ku9669ZoNdT01Y5akkJJIZbzzBXO+Uf13wA6tzPhMMADy9H78toCtiqttfGeWnfSEFU6irxAzxu9vXMHNhbHR5U2Fs",
        ];
        for full in vectors {
            for end in 0..full.len() {
                let stored = &full[..end];
                // Only the result's existence matters: no panic, and a prefix
                // of a hash never verifies the password.
                let result = verify(stored, "secret", &ALLOW);
                assert!(!matches!(result, Ok(Some(_))), "{stored}");
                let _ = scheme_of(stored);
            }
            assert!(verify(full, "secret", &ALLOW).unwrap().is_some(), "{full}");
        }
    }

    #[test]
    fn ct_eq_compares_whole_slices() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }
}
