//! Argon2 PHC strings: hashing new passwords and verifying `$argon2id$` /
//! `$argon2i$` imports.

use crate::{Error, Scheme};
use argon2::{Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, password_hash};

/// Argon2 version 1.3, the only one current tools produce.
const VERSION_0X13: u32 = 0x13;

/// Refuse memory costs above 1 GiB: the argon2 crate allocates `m` KiB up
/// front, and an allocation failure aborts the whole server, not just a login.
const MAX_M_COST: u32 = 1 << 20;

pub(crate) fn hash(password: &str) -> Result<String, Error> {
    // `Argon2::default()` is argon2id v19 at m=19456, t=2, p=1 (OWASP's
    // minimum); `hash_password` draws a 16-byte salt from the OS.
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Hashing(e.to_string()))
}

/// `phc` is known to start with `$argon2id$` or `$argon2i$`; the parse in
/// `verify` validates the rest.
pub(crate) fn scheme_of(phc: &str) -> Scheme {
    if phc.starts_with("$argon2id$") { Scheme::Argon2id } else { Scheme::Argon2i }
}

/// Returns the scheme, whether the password matched, and whether the hash is
/// argon2id at least as strong as our own defaults.
pub(crate) fn verify(phc: &str, password: &str) -> Result<(Scheme, bool, bool), Error> {
    let (scheme, parsed, params) = parse_checked(phc)?;
    let malformed = |e: password_hash::Error| Error::Malformed(scheme, e.to_string());
    let matched = match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => true,
        Err(password_hash::Error::PasswordInvalid) => false,
        Err(e) => return Err(malformed(e)),
    };
    let strong = scheme == Scheme::Argon2id
        && parsed.version == Some(VERSION_0X13)
        && params.m_cost() >= Params::DEFAULT_M_COST
        && params.t_cost() >= Params::DEFAULT_T_COST;
    Ok((scheme, matched, strong))
}

/// Checks a PHC string without hashing anything.
pub(crate) fn check(phc: &str) -> Result<Scheme, Error> {
    parse_checked(phc).map(|(scheme, _, _)| scheme)
}

fn parse_checked(phc: &str) -> Result<(Scheme, PasswordHash, Params), Error> {
    let scheme = scheme_of(phc);
    let malformed = |e: password_hash::Error| Error::Malformed(scheme, e.to_string());
    let parsed = PasswordHash::new(phc).map_err(|e| malformed(e.into()))?;
    // A PHC string may legally omit salt and hash, but then the verifier
    // would report a plain mismatch for what is really an unusable hash.
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(Error::Malformed(scheme, "missing salt or hash".into()));
    }
    let params = Params::try_from(&parsed).map_err(malformed)?;
    if params.m_cost() > MAX_M_COST {
        return Err(Error::Malformed(scheme, format!("memory cost {} KiB is too large", params.m_cost())));
    }
    Ok((scheme, parsed, params))
}

#[cfg(test)]
mod tests {
    use crate::{Error, Policy, Scheme, hash, verify};

    const P: Policy = Policy { allow_plain: false };

    // Generated with argon2-cffi 25.1.0 (libargon2), password "secret":
    // argon2.low_level.hash_secret(b"secret", b"somesaltsomesalt", time_cost=2,
    //     memory_cost=19456, parallelism=1, hash_len=32, type=Type.ID)
    const ARGON2ID_DEFAULT: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$14ukWqiThj4Xz77NYv01V28GbBZHY9AaZwsFswQFO0U";
    // Same, time_cost=1, memory_cost=4096.
    const ARGON2ID_WEAK: &str =
        "$argon2id$v=19$m=4096,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$/EhSXILfiWjLx1bzFOH2+zZypiifuy6fa0JHaAQDx9E";
    // argon2-cffi's PasswordHasher().hash("secret") (m=65536, t=3, p=4).
    const ARGON2ID_CFFI_DEFAULT: &str =
        "$argon2id$v=19$m=65536,t=3,p=4$K5MkocMz5NEu2URoVFK/yg$Ttpd4/nWtinJQWZcRdOQfiXIesqlixDtnbK1WjZf+qI";
    // Type.I, time_cost=3, memory_cost=4096.
    const ARGON2I: &str =
        "$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$GR6qAyHe5RRCMRGQCEF+7gWpAWyrb5rsLebwPRlY/go";

    #[test]
    fn hash_round_trip_is_current() {
        let stored = hash("secret").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        let v = verify(&stored, "secret", &P).unwrap().unwrap();
        assert_eq!(v.scheme, Scheme::Argon2id);
        assert!(!v.needs_rehash);
        assert!(verify(&stored, "Secret", &P).unwrap().is_none());
        // Fresh salt each time.
        assert_ne!(stored, hash("secret").unwrap());
    }

    #[test]
    fn argon2id_external_vectors() {
        for stored in [ARGON2ID_DEFAULT, ARGON2ID_CFFI_DEFAULT] {
            let v = verify(stored, "secret", &P).unwrap().unwrap();
            assert_eq!(v.scheme, Scheme::Argon2id);
            assert!(!v.needs_rehash, "{stored}");
            assert!(verify(stored, "wrong", &P).unwrap().is_none());
        }
        let prefixed = format!("{{ARGON2ID}}{ARGON2ID_DEFAULT}");
        assert!(verify(&prefixed, "secret", &P).unwrap().is_some());
    }

    #[test]
    fn weak_argon2id_needs_rehash() {
        let v = verify(ARGON2ID_WEAK, "secret", &P).unwrap().unwrap();
        assert_eq!(v.scheme, Scheme::Argon2id);
        assert!(v.needs_rehash);
        assert!(verify(ARGON2ID_WEAK, "wrong", &P).unwrap().is_none());
    }

    #[test]
    fn argon2i_vector_needs_rehash() {
        let prefixed = format!("{{ARGON2I}}{ARGON2I}");
        for stored in [ARGON2I, prefixed.as_str()] {
            let v = verify(stored, "secret", &P).unwrap().unwrap();
            assert_eq!(v.scheme, Scheme::Argon2i);
            assert!(v.needs_rehash);
            assert!(verify(stored, "wrong", &P).unwrap().is_none());
        }
    }

    #[test]
    fn malformed_argon2() {
        for stored in [
            "$argon2id$",
            "$argon2id$v=19",
            "$argon2id$v=19$m=19456,t=2,p=1",
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA",
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$",
            // Truncated output and invalid base64.
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$14u",
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$14ukWq!Thj4Xz77NYv01V28",
            "$argon2id$v=19$m=x,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$14ukWqiThj4Xz77NYv01V28GbBZHY9AaZwsFswQFO0U",
            "$argon2id$v=19$m=1,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$14ukWqiThj4Xz77NYv01V28GbBZHY9AaZwsFswQFO0U",
            "$argon2id$v=19$m=19456,t=0,p=1$c29tZXNhbHRzb21lc2FsdA$14ukWqiThj4Xz77NYv01V28GbBZHY9AaZwsFswQFO0U",
            "$argon2id$v=7$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$14ukWqiThj4Xz77NYv01V28GbBZHY9AaZwsFswQFO0U",
            // Salt shorter than the 8 bytes Argon2 requires.
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$14ukWqiThj4Xz77NYv01V28GbBZHY9AaZwsFswQFO0U",
            // Would allocate 4 GiB.
            "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$14ukWqiThj4Xz77NYv01V28GbBZHY9AaZwsFswQFO0U",
            "{ARGON2I}$argon2i$garbage",
        ] {
            match verify(stored, "secret", &P) {
                Err(Error::Malformed(Scheme::Argon2id | Scheme::Argon2i, msg)) => {
                    assert!(!msg.contains("c29tZXNhbHRz"), "{msg}");
                }
                other => panic!("{stored}: {other:?}"),
            }
        }
    }
}
