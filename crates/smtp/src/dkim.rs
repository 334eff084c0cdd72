//! DKIM signing (RFC 6376; Ed25519 per RFC 8463) of mail that leaves
//! through submission, with the keys the directory keeps per domain; and
//! the making of those keys (`atoll domain dkim generate`).
//!
//! Keys are RSA-2048 by default: every verifier knows them, while Ed25519
//! is still ignored by some large receivers (RFC 8463 suggests signing
//! with both during the transition; a domain may hold one key of each, and
//! the newest signs). Header and body use relaxed canonicalization, which
//! survives the whitespace changes mail systems make on the way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};

use atoll_directory::{Directory, DkimKey};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The header fields signed when present (RFC 6376 §5.4.1's
/// recommendations); From is required.
const SIGNED_HEADERS: &[&str] = &[
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Id",
    "List-Unsubscribe",
];

#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("cannot make a key: {0}")]
    Generate(String),
    #[error("the stored key of {domain} (selector {selector}) is unusable: {why}")]
    BadKey { domain: String, selector: String, why: String },
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A key algorithm `atoll domain dkim generate` can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Rsa2048,
    Ed25519,
}

impl Algorithm {
    /// The `a=` value (RFC 6376 §3.3, RFC 8463 §3).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rsa2048 => "rsa-sha256",
            Algorithm::Ed25519 => "ed25519-sha256",
        }
    }
}

/// A new key: the private half for the directory, the public half as the
/// DNS record to publish.
pub struct NewKey {
    pub algorithm: Algorithm,
    /// PKCS#8 DER, base64.
    pub private_key: String,
    /// The TXT record's value: `v=DKIM1; k=rsa; p=...` (RFC 6376 §3.6.1).
    pub record: String,
}

/// Makes a key pair.
pub fn generate(algorithm: Algorithm) -> Result<NewKey, DkimError> {
    let err = |e: aws_lc_rs::error::Unspecified| DkimError::Generate(e.to_string());
    match algorithm {
        Algorithm::Rsa2048 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(err)?;
            let private: Pkcs8V1Der<'static> = pair.as_der().map_err(err)?;
            // RFC 6376 §3.6.1: p= is the DER public key; SubjectPublicKeyInfo
            // is what every verifier reads.
            let public: PublicKeyX509Der<'static> = pair.public_key().as_der().map_err(err)?;
            Ok(NewKey {
                algorithm,
                private_key: B64.encode(private.as_ref()),
                record: format!("v=DKIM1; k=rsa; p={}", B64.encode(public.as_ref())),
            })
        }
        Algorithm::Ed25519 => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).map_err(err)?;
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                .map_err(|e| DkimError::Generate(format!("the new key does not load: {e}")))?;
            // RFC 8463 §4: p= is the raw 32-byte public key.
            Ok(NewKey {
                algorithm,
                private_key: B64.encode(pkcs8.as_ref()),
                record: format!("v=DKIM1; k=ed25519; p={}", B64.encode(pair.public_key().as_ref())),
            })
        }
    }
}

/// The DNS record value for a stored private key (`atoll domain dkim
/// list` shows it again).
pub fn public_record(algorithm: &str, private_key: &str) -> Result<String, DkimError> {
    let bad = |why: String| DkimError::Generate(why);
    let der = B64.decode(private_key.as_bytes()).map_err(|e| bad(e.to_string()))?;
    match algorithm {
        "rsa-sha256" => {
            let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).map_err(|e| bad(e.to_string()))?;
            let public: PublicKeyX509Der<'static> = pair.public_key().as_der().map_err(|e| bad(e.to_string()))?;
            Ok(format!("v=DKIM1; k=rsa; p={}", B64.encode(public.as_ref())))
        }
        "ed25519-sha256" => {
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|e| bad(e.to_string()))?;
            Ok(format!("v=DKIM1; k=ed25519; p={}", B64.encode(pair.public_key().as_ref())))
        }
        other => Err(bad(format!("unknown algorithm {other}"))),
    }
}

/// A TXT record value cut into the character-strings DNS holds (at most
/// 255 octets each, RFC 1035 §3.3.14; RFC 6376 §3.6.2.2 joins them).
pub fn txt_strings(value: &str) -> Vec<String> {
    value.as_bytes().chunks(255).map(|c| String::from_utf8_lossy(c).into_owned()).collect()
}

/// A domain's signer, ready: key loaded, domain, selector and headers set.
enum Ready {
    Rsa(Box<DkimSigner<RsaKey<Sha256>, Done>>),
    Ed25519(Box<DkimSigner<Ed25519Key, Done>>),
}

fn load(k: &DkimKey) -> Result<Ready, DkimError> {
    let bad = |why: String| DkimError::BadKey { domain: k.domain.clone(), selector: k.selector.clone(), why };
    let der = B64.decode(k.private_key.as_bytes()).map_err(|e| bad(e.to_string()))?;
    Ok(match k.algorithm.as_str() {
        "rsa-sha256" => {
            let der =
                rustls_pki_types::PrivateKeyDer::Pkcs8(rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_slice()));
            let key = RsaKey::<Sha256>::from_key_der(der).map_err(|e| bad(e.to_string()))?;
            Ready::Rsa(Box::new(signer(key, k)))
        }
        "ed25519-sha256" => {
            let key = Ed25519Key::from_pkcs8_maybe_unchecked_der(&der).map_err(|e| bad(e.to_string()))?;
            Ready::Ed25519(Box::new(signer(key, k)))
        }
        other => return Err(bad(format!("unknown algorithm {other}"))),
    })
}

/// A signer for `key` as every domain's is set up.
fn signer<T: mail_auth::common::crypto::SigningKey>(key: T, k: &DkimKey) -> DkimSigner<T, Done> {
    DkimSigner::from_key(key)
        .domain(&k.domain)
        .selector(&k.selector)
        .headers(SIGNED_HEADERS.iter().copied())
        .header_canonicalization(Canonicalization::Relaxed)
        .body_canonicalization(Canonicalization::Relaxed)
}

impl Ready {
    /// The DKIM-Signature header field for `message`, CRLF included.
    fn sign(&self, message: &[u8]) -> Result<String, DkimError> {
        let signature = match self {
            Ready::Rsa(s) => s.sign(message),
            Ready::Ed25519(s) => s.sign(message),
        };
        let mut h = signature.map_err(|e| DkimError::Sign(e.to_string()))?.to_header();
        if !h.ends_with("\r\n") {
            h.push_str("\r\n");
        }
        Ok(h)
    }
}

/// How long a domain's key (or its absence) is remembered: a new key
/// signs within this time on every node.
const KEY_TTL: Duration = Duration::from_secs(60);

type Cached = (Instant, Option<Arc<Ready>>);

/// Signs with the directory's keys, each loaded once a minute at most.
pub struct DirectorySigner {
    directory: Directory,
    /// Per domain: when it was read, and its signer (None: no key).
    keys: Mutex<HashMap<String, Cached>>,
}

impl DirectorySigner {
    pub fn new(directory: Directory) -> DirectorySigner {
        DirectorySigner { directory, keys: Mutex::new(HashMap::new()) }
    }

    async fn key(&self, domain: &str) -> Option<Arc<Ready>> {
        if let Some((at, k)) = self.keys.lock().unwrap_or_else(|p| p.into_inner()).get(domain)
            && at.elapsed() < KEY_TTL
        {
            return k.clone();
        }
        let loaded = match self.directory.signing_key(domain).await {
            Ok(Some(k)) => match load(&k) {
                Ok(r) => Some(Arc::new(r)),
                Err(e) => {
                    tracing::error!(error = %e, "dkim: key unusable; mail goes unsigned");
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                // Unsigned mail is better than no mail; not remembered, so
                // the next message tries again.
                tracing::warn!(domain, error = %e, "dkim: directory unavailable; this message goes unsigned");
                return None;
            }
        };
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(domain.to_string(), (Instant::now(), loaded.clone()));
        loaded
    }
}

impl crate::submission::Signer for DirectorySigner {
    fn sign<'a>(
        &'a self,
        domain: &'a str,
        message: &'a [u8],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send + 'a>> {
        Box::pin(async move {
            let key = self.key(domain).await?;
            match key.sign(message) {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::error!(domain, error = %e, "dkim: signing failed; the message goes unsigned");
                    None
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_made_and_sign() {
        for algorithm in [Algorithm::Rsa2048, Algorithm::Ed25519] {
            let k = generate(algorithm).unwrap();
            let stored = DkimKey {
                domain: "example.org".into(),
                selector: "s1".into(),
                algorithm: algorithm.name().into(),
                private_key: k.private_key.clone(),
                created_at: 0,
            };
            let ready = load(&stored).unwrap();
            let h = ready.sign(b"From: ann@example.org\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nbody\r\n").unwrap();
            assert!(h.starts_with("DKIM-Signature: v=1; a="), "{h}");
            assert!(h.contains(&format!("a={}", algorithm.name())), "{h}");
            assert!(h.contains("d=example.org") && h.contains("s=s1"), "{h}");
            assert!(h.ends_with("\r\n"), "{h:?}");
            assert!(k.record.starts_with("v=DKIM1; k="), "{}", k.record);
            assert_eq!(public_record(algorithm.name(), &k.private_key).unwrap(), k.record);
        }
        let rsa = generate(Algorithm::Rsa2048).unwrap();
        let strings = txt_strings(&rsa.record);
        assert!(strings.len() >= 2 && strings.iter().all(|s| s.len() <= 255));
        assert_eq!(strings.concat(), rsa.record);
    }
}
