//! crypt(3) strings: SHA-512 crypt (`$6$`), SHA-256 crypt (`$5$`) and bcrypt
//! (`$2a$`, `$2b$`, `$2y$`).

use crate::{Error, Scheme};
use sha_crypt::{Params, PasswordVerifier, ShaCrypt, password_hash};

/// Returns whether `password` matches; `mcf` already carries the `$id$` that
/// selected `scheme`.
pub(crate) fn verify(scheme: Scheme, mcf: &str, password: &str) -> Result<bool, Error> {
    match scheme {
        // Malformed hashes (wrong length, bad base64, cost out of range) are
        // errors from the crate; a mismatch is Ok(false). Passwords over 72
        // bytes are truncated, as libxcrypt does.
        Scheme::Bcrypt => bcrypt::verify(password, mcf).map_err(|e| Error::Malformed(scheme, e.to_string())),
        _ => verify_sha(scheme, mcf, password),
    }
}

/// Checks the shape of a crypt string without hashing anything.
pub(crate) fn check(scheme: Scheme, mcf: &str) -> Result<(), Error> {
    match scheme {
        Scheme::Bcrypt => check_bcrypt(mcf),
        _ => check_sha(scheme, mcf),
    }
}

/// `$2b$NN$` + 22 characters of salt and 31 of hash in bcrypt's base64.
fn check_bcrypt(mcf: &str) -> Result<(), Error> {
    let malformed = |why: &str| Error::Malformed(Scheme::Bcrypt, why.to_owned());
    let fields: Vec<&str> = mcf.split('$').collect();
    let [_, _, cost, rest] = fields[..] else { return Err(malformed("expected $2b$NN$salthash")) };
    match cost.parse::<u32>() {
        Ok(c) if cost.len() == 2 && (4..=31).contains(&c) => {}
        _ => return Err(malformed("cost must be 04 to 31")),
    }
    if rest.len() != 53 || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"./".contains(&b)) {
        return Err(malformed("salt and hash are not 53 characters of bcrypt base64"));
    }
    Ok(())
}

fn verify_sha(scheme: Scheme, mcf: &str, password: &str) -> Result<bool, Error> {
    check_sha(scheme, mcf)?;
    match ShaCrypt::default().verify_password(password.as_bytes(), mcf) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(Error::Malformed(scheme, e.to_string())),
    }
}

fn check_sha(scheme: Scheme, mcf: &str) -> Result<(), Error> {
    let malformed = |why: &str| Error::Malformed(scheme, why.to_owned());
    let (id, hash_len) = if scheme == Scheme::Sha512Crypt { ("$6$", 86) } else { ("$5$", 43) };
    let rest = mcf.strip_prefix(id).ok_or_else(|| malformed("wrong $id$"))?;

    // Check the shape ourselves first: the crate's verifier reports some
    // malformed strings (e.g. a truncated hash) as a plain mismatch.
    let fields: Vec<&str> = rest.split('$').collect();
    let (rounds, salt, hash) = match fields[..] {
        [salt, hash] => (None, salt, hash),
        [rounds, salt, hash] => (Some(rounds), salt, hash),
        _ => return Err(malformed("expected [rounds=N$]salt$hash")),
    };
    if let Some(rounds) = rounds {
        let n: u32 = rounds
            .strip_prefix("rounds=")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| malformed("invalid rounds= field"))?;
        // glibc clamps out-of-range rounds and writes the clamped value into
        // its output, so a stored string outside the range can never match.
        if !(Params::ROUNDS_MIN..=Params::ROUNDS_MAX).contains(&n) {
            return Err(malformed("rounds out of range"));
        }
    }
    // glibc uses at most 16 salt characters and echoes only those, so a longer
    // stored salt never matches either. The character set is what the crate
    // accepts; real salts use only the crypt alphabet, a subset of it.
    if salt.is_empty() || salt.len() > 16 {
        return Err(malformed("salt must be 1 to 16 characters"));
    }
    if !salt.bytes().all(|b| b.is_ascii_alphanumeric() || b"./+=,-".contains(&b)) {
        return Err(malformed("unsupported character in salt"));
    }
    if hash.len() != hash_len || !hash.bytes().all(|b| b.is_ascii_alphanumeric() || b"./".contains(&b)) {
        return Err(malformed("hash is not the expected crypt base64"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{Error, Policy, Scheme, verify};

    const P: Policy = Policy { allow_plain: false };

    // `openssl passwd -6 -salt saltsalt secret` (OpenSSL 3).
    const SHA512_OPENSSL: &str =
        "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
    // Python 3.11 crypt (libxcrypt): crypt.crypt('secret', '$6$rounds=10000$roundsalt').
    const SHA512_ROUNDS: &str = "$6$rounds=10000$roundsalt$FF8gTAPk6fDkzddgXk3ExQY6VseKRuyJ8JlMjEybiRw9QL9Gu2AWV/IurQRsdk76m.WslkHULDeqF37ILdYlb/";
    // Python crypt with crypt.mksalt(crypt.METHOD_SHA512): a full 16-character salt.
    const SHA512_MKSALT: &str =
        "$6$gGfmj78yCZwtbYlY$SKaSVudJh2rqccDm.7q6aYqocA37qVW5htp4PJen52nxtMALjOVTI1GoLyog1RD1TwgYZ.Ff1Prt8Zjx3TZly1";
    // `openssl passwd -5 -salt saltsalt secret`.
    const SHA256_OPENSSL: &str = "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";
    // Python crypt: crypt.crypt('secret', '$5$rounds=7000$roundsalt').
    const SHA256_ROUNDS: &str = "$5$rounds=7000$roundsalt$hcuFXezhvlHNN7mEB5ORiBSqm4UioDQp/zOf5rgiiH9";
    // Python crypt with crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16) (cost 04).
    const BCRYPT_2B: &str = "$2b$04$7bz1R232r6vB3bMtEogcKe0pv4EozbgHAPuN7VhWZ2q73nwf3BoP6";

    fn assert_vector(stored: &str, scheme: Scheme) {
        let v = verify(stored, "secret", &P).unwrap_or_else(|e| panic!("{stored}: {e}"));
        let v = v.unwrap_or_else(|| panic!("{stored}: did not match"));
        assert_eq!(v.scheme, scheme, "{stored}");
        assert!(v.needs_rehash, "{stored}");
        assert!(verify(stored, "wrong", &P).unwrap().is_none(), "{stored}");
        assert!(verify(stored, "", &P).unwrap().is_none(), "{stored}");
    }

    fn with_prefixes(bare: &str, name: &str) -> [String; 4] {
        let lower = name.to_ascii_lowercase();
        [bare.to_owned(), format!("{{{name}}}{bare}"), format!("{{{lower}}}{bare}"), format!("{{CRYPT}}{bare}")]
    }

    #[test]
    fn sha512_crypt_vectors() {
        for bare in [SHA512_OPENSSL, SHA512_ROUNDS, SHA512_MKSALT] {
            for stored in with_prefixes(bare, "SHA512-CRYPT") {
                assert_vector(&stored, Scheme::Sha512Crypt);
            }
        }
    }

    #[test]
    fn sha256_crypt_vectors() {
        for bare in [SHA256_OPENSSL, SHA256_ROUNDS] {
            for stored in with_prefixes(bare, "SHA256-CRYPT") {
                assert_vector(&stored, Scheme::Sha256Crypt);
            }
        }
    }

    #[test]
    fn bcrypt_vectors() {
        // $2a$, $2b$ and $2y$ are the same algorithm for these passwords.
        for id in ["$2b$", "$2y$", "$2a$"] {
            let bare = format!("{id}{}", &BCRYPT_2B[4..]);
            for stored in with_prefixes(&bare, "BLF-CRYPT") {
                assert_vector(&stored, Scheme::Bcrypt);
            }
        }
    }

    #[test]
    fn malformed_crypt() {
        let h86 = &SHA512_OPENSSL[12..];
        let cases = [
            "$6$".to_owned(),
            "$6$saltsalt".to_owned(),
            "$6$saltsalt$".to_owned(),
            "$6$$".to_owned(),
            format!("$6$${h86}"),
            SHA512_OPENSSL[..60].to_owned(),
            format!("{SHA512_OPENSSL}x"),
            format!("{SHA512_OPENSSL}$"),
            format!("$6$saltsalt$*{}", &h86[1..]),
            format!("$6$rounds=10$saltsalt${h86}"),
            format!("$6$rounds=abc$saltsalt${h86}"),
            format!("$6$rounds=$saltsalt${h86}"),
            format!("$6$rounds=10000${h86}"),
            format!("$6$a$b$c${h86}"),
            format!("$6$saltsaltsaltsalt1${h86}"),
            format!("$6$salt*$${h86}"),
            format!("$6$salt\u{e9}${h86}"),
            format!("{{SHA512-CRYPT}}$6$saltsalt${}", &h86[..85]),
            "$5$saltsalt$0IyaXrmV7".to_owned(),
            format!("$5$saltsalt${h86}"),
        ];
        for stored in &cases {
            let scheme = if stored.contains("$5$") { Scheme::Sha256Crypt } else { Scheme::Sha512Crypt };
            match verify(stored, "secret", &P) {
                Err(Error::Malformed(s, _)) if s == scheme => {}
                other => panic!("{stored}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_bcrypt() {
        let tail = &BCRYPT_2B[7..];
        let cases = [
            "$2y$".to_owned(),
            "$2y$04$".to_owned(),
            BCRYPT_2B[..40].to_owned(),
            format!("{BCRYPT_2B}A"),
            format!("$2b$99${tail}"),
            format!("$2b$03${tail}"),
            format!("$2b$xx${tail}"),
            format!("$2b$04${}!", &tail[..52]),
            format!("$2b$04${}\u{e9}", &tail[..51]),
            format!("{{BLF-CRYPT}}$2b$04${}", &tail[..50]),
        ];
        for stored in &cases {
            match verify(stored, "secret", &P) {
                Err(Error::Malformed(Scheme::Bcrypt, _)) => {}
                other => panic!("{stored}: {other:?}"),
            }
        }
    }
}
