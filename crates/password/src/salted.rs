//! LDAP-style digests: `{SSHA}`, `{SSHA256}`, `{SSHA512}` are
//! base64(digest(password || salt) || salt); `{SHA}`, `{SHA256}`, `{SHA512}`
//! are the unsalted digest.

use crate::{Error, Scheme, ct_eq};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algo {
    Sha1,
    Sha256,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Kind {
    algo: Algo,
    salted: bool,
}

impl Kind {
    /// `name` is the upper-cased `{SCHEME}` name.
    pub(crate) fn from_name(name: &str) -> Option<Kind> {
        let (algo, salted) = match name {
            "SSHA" => (Algo::Sha1, true),
            "SSHA256" => (Algo::Sha256, true),
            "SSHA512" => (Algo::Sha512, true),
            "SHA" | "SHA1" => (Algo::Sha1, false),
            "SHA256" => (Algo::Sha256, false),
            "SHA512" => (Algo::Sha512, false),
            _ => return None,
        };
        Some(Kind { algo, salted })
    }

    pub(crate) fn scheme(self) -> Scheme {
        match self.algo {
            Algo::Sha1 => Scheme::Ssha,
            Algo::Sha256 | Algo::Sha512 => Scheme::Ssha512,
        }
    }

    pub(crate) fn verify(self, payload: &str, password: &str) -> Result<bool, Error> {
        let (raw, len) = self.decode(payload)?;
        // The salt is whatever follows the digest; Dovecot and OpenLDAP use
        // various lengths, so any non-empty length is accepted.
        let (digest, salt) = raw.split_at(len);
        let computed = match self.algo {
            Algo::Sha1 => Sha1::new().chain_update(password).chain_update(salt).finalize().to_vec(),
            Algo::Sha256 => Sha256::new().chain_update(password).chain_update(salt).finalize().to_vec(),
            Algo::Sha512 => Sha512::new().chain_update(password).chain_update(salt).finalize().to_vec(),
        };
        Ok(ct_eq(&computed, digest))
    }

    /// Decodes and checks the payload: (digest || salt, digest length).
    pub(crate) fn decode(self, payload: &str) -> Result<(Vec<u8>, usize), Error> {
        let malformed = |why: &str| Error::Malformed(self.scheme(), why.to_owned());
        let len = match self.algo {
            Algo::Sha1 => 20,
            Algo::Sha256 => 32,
            Algo::Sha512 => 64,
        };
        // Dovecot also accepts hex for fixed-length (unsalted) digests, told
        // apart from base64 by length.
        let raw = if !self.salted && payload.len() == 2 * len {
            decode_hex(payload).ok_or_else(|| malformed("invalid hex"))?
        } else {
            STANDARD_PAD_INDIFFERENT.decode(payload).map_err(|_| malformed("invalid base64"))?
        };
        if self.salted && raw.len() <= len {
            return Err(malformed("too short for digest plus salt"));
        }
        if !self.salted && raw.len() != len {
            return Err(malformed("wrong digest length"));
        }
        Ok((raw, len))
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let nibble = |c: u8| (c as char).to_digit(16);
    s.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some((nibble(*hi)? * 16 + nibble(*lo)?) as u8),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::{Error, Policy, Scheme, verify};

    const P: Policy = Policy { allow_plain: false };

    // Python 3.11 hashlib + base64, password "secret":
    // '{SSHA}' + b64encode(sha1(b'secret' + salt).digest() + salt), salt = b'\x01\x02\x03\x04'
    const SSHA_SALT4: &str = "{SSHA}uJDd0BIdJ9Z7yDCZNWdgYeb33+cBAgME";
    // salt = b'saltySal'
    const SSHA_SALT8: &str = "{SSHA}rYqVGikE8vN/VFJEO+pi04QBjVJzYWx0eVNhbA==";
    // sha256, salt = b'\xde\xad\xbe\xef' and b'saltySal'
    const SSHA256_SALT4: &str = "{SSHA256}gOTxtOARaY2XSv3HUPstUucQoALexasmfPW5DHc2GMTerb7v";
    const SSHA256_SALT8: &str = "{SSHA256}C95tk5DWoIn0dXjMJhhq/tbblHn0H0TtknkJDbYSyu5zYWx0eVNhbA==";
    // sha512, salt = b'\xde\xad\xbe\xef' and b'saltySal'
    const SSHA512_SALT4: &str =
        "{SSHA512}kyIpdsrB2UF03DzitElS0NGmohog+mUda8e85iz133KrvQqIlqhBs4BNJSgY+ck0UhODqgYSl+u98MN5uyzqtN6tvu8=";
    const SSHA512_SALT8: &str =
        "{SSHA512}eXQB85Ku9669ZoNdT01Y5akkJJIZbzzBXO+Uf13wA6tzPhMMADy9H78toCtiqttfGeWnfSEFU6irxAzxu9vXMHNhbHR5U2Fs";
    // Unsalted: '{SHA}' + b64encode(sha1(b'secret').digest()), likewise sha256/sha512.
    const SHA: &str = "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=";
    const SHA256: &str = "{SHA256}K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=";
    const SHA512: &str =
        "{SHA512}vSsar3708Jvp9Szi2NWZZ02Bqp1qRCFpbcTZPdBhnWgs5WtNZKnvCXdhztmeD2cmW192CF5bDufKRpayrW/isg==";
    // hashlib.sha1(b'secret').hexdigest()
    const SHA_HEX: &str = "{SHA}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4";

    fn assert_vector(stored: &str, scheme: Scheme) {
        let v = verify(stored, "secret", &P).unwrap_or_else(|e| panic!("{stored}: {e}"));
        let v = v.unwrap_or_else(|| panic!("{stored}: did not match"));
        assert_eq!(v.scheme, scheme, "{stored}");
        assert!(v.needs_rehash);
        assert!(verify(stored, "wrong", &P).unwrap().is_none(), "{stored}");
        assert!(verify(stored, "", &P).unwrap().is_none(), "{stored}");
    }

    #[test]
    fn ssha_vectors() {
        for stored in [SSHA_SALT4, SSHA_SALT8, SHA, SHA_HEX, "{ssha}uJDd0BIdJ9Z7yDCZNWdgYeb33+cBAgME"] {
            assert_vector(stored, Scheme::Ssha);
        }
        // Some exporters drop base64 padding.
        assert_vector(SSHA_SALT8.trim_end_matches('='), Scheme::Ssha);
    }

    #[test]
    fn ssha256_vectors() {
        for stored in [SSHA256_SALT4, SSHA256_SALT8, SHA256] {
            assert_vector(stored, Scheme::Ssha512);
        }
    }

    #[test]
    fn ssha512_vectors() {
        for stored in [SSHA512_SALT4, SSHA512_SALT8, SHA512] {
            assert_vector(stored, Scheme::Ssha512);
        }
    }

    #[test]
    fn malformed_salted() {
        for stored in [
            "{SSHA}",
            "{SSHA}uJDd0BIdJ9Z7yDCZ",              // truncated: shorter than the digest
            "{SSHA}5en6G6MezRroT3XKqkdPOmY/BfQ=",  // exactly a digest, no salt
            "{SSHA}uJDd0BIdJ9Z7yDCZNWdgYeb33+cBA", // truncated to an impossible base64 length
            "{SSHA}uJDd0BIdJ9Z7yDCZNWdgYeb33+cBAgME!",
            "{SSHA}uJDd0BIdJ9Z7yDCZNWdgYeb33+cBAgME=\n",
            "{SHA}5en6G6MezRroT3XKqkdPOmY/Bf==",
            "{SHA}uJDd0BIdJ9Z7yDCZNWdgYeb33+cBAgME", // digest plus salt under an unsalted name
            "{SHA}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05fg",
            "{SHA}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05\u{e9}",
            "{SSHA512}kyIpdsrB2UF03DzitElS0NGmohog",
            "{SSHA256}gOTxtOARaY2XSv3HUPstUucQoALexasmfPW5DHc2GMQ=",
            "{SHA512}vSsar3708Jvp9Szi2NWZZ02Bqp1qRCFpbcTZPdBhnWgs5WtNZKnvCXdhztmeD2cmW192CF5bDufKRpayrW/i",
        ] {
            match verify(stored, "secret", &P) {
                Err(Error::Malformed(Scheme::Ssha | Scheme::Ssha512, _)) => {}
                other => panic!("{stored:?}: {other:?}"),
            }
        }
    }
}
