//! The desktop's own requests to a remote server (sign-in, renewal, checking
//! credentials), over HTTPS trusting the usual roots plus the connection's
//! CA certificate.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::Value;

use super::{Connection, ConnectionError};

/// The certificates of a PEM bundle; an error when there are none.
pub fn parse_ca(pem: &str) -> Result<Vec<CertificateDer<'static>>, ConnectionError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConnectionError::Invalid(format!("ca_cert: not a PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(ConnectionError::Invalid(
            "ca_cert: no certificate in it (`-----BEGIN CERTIFICATE-----`)".into(),
        ));
    }
    Ok(certs)
}

/// The TLS settings for `c`'s server: the web's roots (`webpki-roots`), the
/// system's trust store (what of it can be read: a CA installed there is
/// trusted as the webview would trust it) and `c`'s CA certificate, rustls
/// with the ring provider. Shared by the desktop's own requests and the
/// window's ([`super::remote`]).
pub fn tls_config(c: &Connection) -> Result<rustls::ClientConfig, ConnectionError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Unreadable or unparsable system certificates are skipped: the others,
    // the web's roots and the connection's CA still apply.
    let _ = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(pem) = c.ca_cert.as_deref().filter(|p| !p.trim().is_empty()) {
        for cert in parse_ca(pem)? {
            roots
                .add(cert)
                .map_err(|e| ConnectionError::Invalid(format!("ca_cert: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectionError::Invalid(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// An agent for `c`: the web's roots and `c`'s CA.
pub fn agent(c: &Connection) -> Result<ureq::Agent, ConnectionError> {
    Ok(ureq::AgentBuilder::new()
        .tls_config(Arc::new(tls_config(c)?))
        .timeout(Duration::from_secs(30))
        .build())
}

/// The message for a server whose certificate is not trusted: names the
/// connection and the field that fixes it. `detail` is the TLS library's words.
pub fn untrusted(c: &Connection, url: &str, detail: &str) -> ConnectionError {
    ConnectionError::Certificate(format!(
        "{}'s certificate at {url} is not trusted ({detail}): put the CA certificate that signed it (PEM) in the connection's CA certificate field (title bar, Manage connections…)",
        c.name
    ))
}

/// Whether a transport error's text is rustls refusing the peer's certificate.
pub fn is_certificate_error(text: &str) -> bool {
    text.contains("invalid peer certificate") || text.contains("UnknownIssuer")
}

fn failure(c: &Connection, url: &str, e: ureq::Error) -> ConnectionError {
    match e {
        ureq::Error::Status(status, resp) => {
            let text = resp.into_string().unwrap_or_default();
            let said = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["faultstring"].as_str().map(str::to_string))
                .unwrap_or(text);
            if status == 401 || status == 403 {
                ConnectionError::Refused(format!("{} refused the credentials: {said}", c.name))
            } else {
                ConnectionError::Unreachable(format!("{}: {status} from {url}: {said}", c.name))
            }
        }
        ureq::Error::Transport(t) if is_certificate_error(&t.to_string()) => {
            untrusted(c, url, &t.to_string())
        }
        ureq::Error::Transport(t) => {
            ConnectionError::Unreachable(format!("cannot reach {} at {url}: {t}", c.name))
        }
    }
}

/// A token issued by `POST {auth}/tokens`.
#[derive(Debug, Clone)]
pub struct Issued {
    pub user: String,
    pub token: String,
    pub expiry: String,
}

/// `POST {auth}/tokens` with HTTP basic auth (`ttl` seconds when given).
pub fn sign_in(
    c: &Connection,
    user: &str,
    password: &str,
    ttl: Option<u64>,
) -> Result<Issued, ConnectionError> {
    let url = format!("{}/tokens", c.auth());
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let body = match ttl {
        Some(t) => serde_json::json!({ "ttl": t }),
        None => serde_json::json!({}),
    };
    let resp: Value = agent(c)?
        .post(&url)
        .set("Authorization", &format!("Basic {basic}"))
        .send_json(body)
        .map_err(|e| failure(c, &url, e))?
        .into_json()
        .map_err(|e| ConnectionError::Unreachable(format!("{}: {url}: {e}", c.name)))?;
    let field = |k: &str| resp[k].as_str().map(str::to_string);
    match (field("token"), field("expiry")) {
        (Some(token), Some(expiry)) => Ok(Issued {
            user: field("user").unwrap_or_else(|| user.to_string()),
            token,
            expiry,
        }),
        _ => Err(ConnectionError::Unreachable(format!(
            "{}: {url} answered without a token: {resp}",
            c.name
        ))),
    }
}

/// `GET {api}/user` with `header: value`: who the credentials belong to.
pub fn whoami(c: &Connection, header: &str, value: &str) -> Result<String, ConnectionError> {
    let url = format!("{}/user", c.api());
    let resp: Value = agent(c)?
        .get(&url)
        .set(header, value)
        .call()
        .map_err(|e| failure(c, &url, e))?
        .into_json()
        .map_err(|e| ConnectionError::Unreachable(format!("{}: {url}: {e}", c.name)))?;
    Ok(resp["username"].as_str().unwrap_or_default().to_string())
}
