//! TLS for every listener (IMAP STARTTLS and IMAPS, later POP3, submission
//! and SMTP STARTTLS): one rustls server configuration per node.
//!
//! The certificate chain and key come from PEM files named in the
//! configuration. When none are configured, a self-signed certificate for
//! the node's name is made at first start and kept under the data
//! directory, so the embedded default speaks TLS out of the box and clients
//! see the same certificate after a restart (they can pin it).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use tokio_rustls::TlsAcceptor;
pub use tokio_rustls::server::TlsStream;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("making a self-signed certificate: {0}")]
    Generate(String),
}

pub type Result<T> = std::result::Result<T, Error>;

fn file_error(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::File { path: path.to_path_buf(), reason: reason.to_string() }
}

/// Reads a certificate chain and its private key from PEM files.
pub fn load(certificate: &Path, key: &Path) -> Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certificate)
        .map_err(|e| file_error(certificate, e))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| file_error(certificate, e))?;
    if certs.is_empty() {
        return Err(file_error(certificate, "no CERTIFICATE block in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e))?;
    acceptor(certs, key)
}

/// The configured certificate, or the node's self-signed one under `dir`
/// (made on first use).
pub fn load_or_generate(
    certificate: Option<&Path>,
    key: Option<&Path>,
    dir: &Path,
    hostname: &str,
) -> Result<TlsAcceptor> {
    match (certificate, key) {
        (Some(c), Some(k)) => load(c, k),
        (Some(c), None) | (None, Some(c)) => Err(file_error(c, "tls.certificate and tls.key must be given together")),
        (None, None) => {
            let cert = dir.join("self-signed.crt");
            let key = dir.join("self-signed.key");
            if !cert.exists() || !key.exists() {
                generate(&cert, &key, hostname)?;
                tracing::warn!(
                    certificate = %cert.display(),
                    "no tls.certificate configured: made a self-signed certificate; clients will not trust it"
                );
            }
            load(&cert, &key)
        }
    }
}

/// Writes a self-signed certificate for `hostname` (and localhost) and its
/// key, the key readable by the owner only.
pub fn generate(cert_path: &Path, key_path: &Path, hostname: &str) -> Result<()> {
    let mut names = vec![hostname.to_string()];
    if hostname != "localhost" {
        names.push("localhost".into());
    }
    let made = rcgen::generate_simple_self_signed(names).map_err(|e| Error::Generate(e.to_string()))?;
    if let Some(dir) = cert_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    }
    write_private(key_path, made.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert_path, made.cert.pem()).map_err(|e| file_error(cert_path, e))?;
    Ok(())
}

fn write_private(path: &Path, content: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(|e| file_error(path, e))?;
    f.write_all(content).map_err(|e| file_error(path, e))?;
    Ok(())
}

fn acceptor(certs: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<TlsAcceptor> {
    let config = ServerConfig::builder().with_no_client_auth().with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_is_kept_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        load_or_generate(None, None, dir.path(), "mail.example").expect("first start");
        let first = std::fs::read(dir.path().join("self-signed.crt")).expect("certificate written");
        load_or_generate(None, None, dir.path(), "mail.example").expect("second start");
        let second = std::fs::read(dir.path().join("self-signed.crt")).expect("certificate kept");
        assert_eq!(first, second, "a restart must not change the certificate");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("self-signed.key")).expect("key").permissions().mode();
            assert_eq!(mode & 0o077, 0, "the key must not be readable by others");
        }
    }

    #[test]
    fn missing_or_garbage_files_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.pem");
        let e = load(&missing, &missing).err().expect("must fail").to_string();
        assert!(e.contains("nope.pem"), "{e}");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "hello").expect("write");
        let e = load(&garbage, &garbage).err().expect("must fail").to_string();
        assert!(e.contains("no CERTIFICATE"), "{e}");
        let e = load_or_generate(Some(&garbage), None, dir.path(), "x").err().expect("must fail").to_string();
        assert!(e.contains("together"), "{e}");
    }

    #[tokio::test]
    async fn handshake_with_generated_certificate() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().expect("tempdir");
        let acceptor = load_or_generate(None, None, dir.path(), "localhost").expect("acceptor");
        let pem = std::fs::read(dir.path().join("self-signed.crt")).expect("cert");
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&pem) {
            roots.add(c.expect("pem")).expect("root");
        }
        let client = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let (a, b) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(async move {
            let mut s = acceptor.accept(a).await.expect("server handshake");
            s.write_all(b"hello").await.expect("write");
            s.shutdown().await.expect("shutdown");
        });
        let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
        let mut c = connector.connect(name, b).await.expect("client handshake");
        let mut got = Vec::new();
        c.read_to_end(&mut got).await.expect("read");
        assert_eq!(got, b"hello");
        server.await.expect("server task");
    }
}
