//! TLS for the console's listener (`stormdesk serve --tls-cert PEM --tls-key PEM`):
//! rustls with its `ring` provider, TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1
//! offered by ALPN.
//!
//! The certificate file holds the server's certificate first, then any
//! intermediates (a chain, PEM); the key file one private key (PKCS#8, PKCS#1
//! or SEC1, PEM). Every problem with them is an error naming the file and
//! what to do.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Where the listener's certificate chain and key are (PEM files).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--tls-cert {path}: {message}")]
    Cert { path: PathBuf, message: String },
    #[error("--tls-key {path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error(
        "--tls-cert {cert} and --tls-key {key} do not make a usable server identity: {message} \
         (the key must be the private key of the first certificate in the chain)"
    )]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |message: String| TlsError::Cert {
        path: path.to_path_buf(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(format!("cannot read it: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(err(
            "no certificate in it: it must hold the server's certificate (`-----BEGIN CERTIFICATE-----`), \
             then any intermediates"
                .into(),
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Key {
        path: path.to_path_buf(),
        message: format!(
            "no usable private key ({e}): it must hold one PEM private key \
             (`-----BEGIN PRIVATE KEY-----`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`)"
        ),
    })
}

impl TlsFiles {
    /// The rustls server configuration for these files.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let certs = read_certs(&self.cert)?;
        let key = read_key(&self.key)?;
        let pair = |message: String| TlsError::Pair {
            cert: self.cert.clone(),
            key: self.key.clone(),
            message,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| pair(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| pair(e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let files = TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        };
        let e = files.server_config().unwrap_err().to_string();
        assert!(e.contains("cert.pem") && e.contains("cannot read"), "{e}");
        std::fs::write(&cert, "not pem\n").unwrap();
        let e = files.server_config().unwrap_err().to_string();
        assert!(e.contains("no certificate in it"), "{e}");
    }

    #[test]
    fn a_key_that_does_not_match_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let one = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, one.cert.pem()).unwrap();
        std::fs::write(&key, other.serialize_pem()).unwrap();
        let files = TlsFiles { cert, key };
        let e = files.server_config().unwrap_err().to_string();
        assert!(e.contains("do not make a usable server identity"), "{e}");
        std::fs::write(&files.key, one.key_pair.serialize_pem()).unwrap();
        files.server_config().unwrap();
    }
}
