//! `stormdesk serve --tls-cert --tls-key`: a certificate made here (a CA and
//! a server certificate it signs, `rcgen`), the server driven over HTTPS by a
//! raw client (rustls trusting that CA only) and by StackStorm's own `st2`
//! CLI with `ST2_CACERT`: actions run, the event stream works, and a client
//! that does not trust the CA is refused.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use serde_json::{json, Value};

use crate::{stderr, stdout, stormdesk};

/// A CA and a server certificate for `localhost` and `127.0.0.1` signed by
/// it, as PEM files in `dir` (`ca.pem`, `cert.pem`, `key.pem`).
pub(crate) struct Certs {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca_der: Vec<u8>,
}

pub(crate) fn make_certs(dir: &Path, name: &str) -> Certs {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, format!("{name} test CA"));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.use_authority_key_identifier_extension = true;
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    let certs = Certs {
        ca: dir.join(format!("{name}-ca.pem")),
        cert: dir.join(format!("{name}-cert.pem")),
        key: dir.join(format!("{name}-key.pem")),
        ca_der: ca_cert.der().to_vec(),
    };
    std::fs::write(&certs.ca, ca_cert.pem()).unwrap();
    std::fs::write(&certs.cert, cert.pem()).unwrap();
    std::fs::write(&certs.key, key.serialize_pem()).unwrap();
    certs
}

/// An HTTPS client that trusts `ca_der` only.
pub(crate) fn https_agent(ca_der: &[u8]) -> ureq::Agent {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(ca_der.to_vec()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    ureq::AgentBuilder::new()
        .tls_config(Arc::new(config))
        .timeout(Duration::from_secs(60))
        .build()
}

/// A `stormdesk serve` over TLS on a loopback port.
pub(crate) struct TlsServer {
    child: Child,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    pub home: tempfile::TempDir,
    pub certs: Certs,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsServer {
    pub fn start(extra: &[&str]) -> TlsServer {
        TlsServer::start_on("127.0.0.1:0", extra)
    }

    pub fn start_on(listen: &str, extra: &[&str]) -> TlsServer {
        let home = tempfile::tempdir().unwrap();
        let certs = make_certs(home.path(), "server");
        let mut child = stormdesk(home.path())
            .args(["serve", "--listen", listen, "--tls-cert"])
            .arg(&certs.cert)
            .arg("--tls-key")
            .arg(&certs.key)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("https://"))
            .unwrap_or_else(|| panic!("no https URL in {line:?}"))
            .to_string();
        TlsServer {
            child,
            url,
            home,
            certs,
        }
    }

    pub fn agent(&self) -> ureq::Agent {
        https_agent(&self.certs.ca_der)
    }

    /// The local user's name and password (`config/credentials`).
    pub fn credentials(&self) -> (String, String) {
        let text = std::fs::read_to_string(self.home.path().join("config/credentials")).unwrap();
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k} = ")))
                .unwrap()
                .to_string()
        };
        (field("username"), field("password"))
    }

    /// An auth token for `user` from `POST /auth/v1/tokens` (basic auth).
    pub fn token(&self, user: &str, password: &str) -> String {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let issued: Value = self
            .agent()
            .post(&format!("{}/auth/v1/tokens", self.url))
            .set("Authorization", &format!("Basic {basic}"))
            .send_json(json!({}))
            .unwrap()
            .into_json()
            .unwrap();
        issued["token"].as_str().unwrap().to_string()
    }
}

/// Reads `data:` lines of an event stream into a channel.
fn sse_lines(reader: Box<dyn Read + Send + Sync>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if let Some(data) = line.strip_prefix("data:") {
                if tx.send(data.trim().to_string()).is_err() {
                    break;
                }
            }
        }
    });
    rx
}

#[test]
fn serve_over_tls_runs_actions_and_streams_to_a_client_that_trusts_its_ca() {
    let server = TlsServer::start(&[]);
    let agent = server.agent();
    let health: Value = agent
        .get(&format!("{}/v1/health", server.url))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(health["status"], "ok");

    let (user, password) = server.credentials();
    let token = server.token(&user, &password);

    // Subscribed first, then the run: its output arrives over the TLS stream.
    let stream = agent
        .get(&format!(
            "{}/v1/stream?events=st2.execution.output__create,st2.execution__update",
            server.url
        ))
        .set("X-Auth-Token", &token)
        .call()
        .unwrap();
    let events = sse_lines(stream.into_reader());
    let started: Value = agent
        .post(&format!("{}/v1/executions", server.url))
        .set("X-Auth-Token", &token)
        .send_json(json!({"action": "core.local", "parameters": {"cmd": "echo over tls"}}))
        .unwrap()
        .into_json()
        .unwrap();
    let id = started["id"].as_str().unwrap().to_string();
    let (mut line_seen, mut done) = (false, false);
    while !(line_seen && done) {
        let data = events
            .recv_timeout(Duration::from_secs(60))
            .expect("the stream ended before the run's output and completion");
        let ev: Value = serde_json::from_str(&data).unwrap();
        if ev["execution_id"] == id.as_str() && ev["data"] == "over tls\n" {
            line_seen = true;
        }
        if ev["id"] == id.as_str() && ev["status"] == "succeeded" {
            done = true;
        }
    }
    let record: Value = agent
        .get(&format!("{}/v1/executions/{id}", server.url))
        .set("X-Auth-Token", &token)
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(record["result"]["stdout"], "over tls");
    assert_eq!(record["context"]["user"], user.as_str());

    // A client that trusts another CA is refused at the handshake.
    let other = make_certs(server.home.path(), "other");
    let refused = https_agent(&other.ca_der)
        .get(&format!("{}/v1/health", server.url))
        .call();
    let e = refused.expect_err("a client that does not trust the server's CA");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    // Plain HTTP on the TLS port gets no API.
    let plain = ureq::get(&server.url.replace("https://", "http://"))
        .timeout(Duration::from_secs(10))
        .call();
    assert!(plain.is_err(), "plain HTTP was answered on the TLS port");
}

#[test]
fn on_every_interface_it_prints_the_name_others_use() {
    let server = TlsServer::start_on("0.0.0.0:0", &["--allow-host", "localhost"]);
    assert!(
        server.url.starts_with("https://localhost:"),
        "{}",
        server.url
    );
    let health: Value = server
        .agent()
        .get(&format!("{}/v1/health", server.url))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(health["status"], "ok");
}

#[test]
fn off_loopback_needs_tls_or_insecure_http() {
    let home = tempfile::tempdir().unwrap();
    let o = stormdesk(home.path())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let said = stderr(&o);
    assert!(
        said.contains("--tls-cert PEM --tls-key PEM") && said.contains("--insecure-http"),
        "{said}"
    );
    // A key without its certificate, and a certificate that is not one, are named.
    let o = stormdesk(home.path())
        .args(["serve", "--tls-key", "/nonexistent/key.pem"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--tls-cert"), "{}", stderr(&o));
    let bogus = home.path().join("bogus.pem");
    std::fs::write(&bogus, "hello\n").unwrap();
    let o = stormdesk(home.path())
        .args(["serve", "--listen", "0.0.0.0:0", "--tls-cert"])
        .arg(&bogus)
        .arg("--tls-key")
        .arg(&bogus)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let said = stderr(&o);
    assert!(
        said.contains("bogus.pem") && said.contains("no certificate"),
        "{said}"
    );
}

/// The `st2` CLI with `ST2_CACERT` against the TLS server.
fn st2(bin: &Path, server: &TlsServer, cacert: &Path, cli_home: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env("HOME", cli_home)
        .env("ST2_API_URL", format!("{}/v1", server.url))
        .env("ST2_AUTH_URL", format!("{}/auth/v1", server.url))
        .env("ST2_STREAM_URL", format!("{}/v1", server.url))
        .env("ST2_CACERT", cacert)
        .env_remove("ST2_CONFIG_FILE")
        .env_remove("ST2_API_KEY")
        .env_remove("ST2_AUTH_TOKEN")
        .stdin(Stdio::null());
    cmd
}

#[test]
fn the_st2_cli_works_over_tls_with_st2_cacert() {
    let Some(python) = crate::st2::venv("st2client", &["st2client==3.9.0"]) else {
        return;
    };
    let bin = python.with_file_name("st2");
    let server = TlsServer::start(&[]);
    let cli_home = tempfile::tempdir().unwrap();
    let (user, password) = server.credentials();
    let run = |cacert: &Path, token: Option<&str>, args: &[&str]| {
        let mut cmd = st2(&bin, &server, cacert, cli_home.path());
        if let Some(t) = token {
            cmd.env("ST2_AUTH_TOKEN", t);
        }
        cmd.args(args).output().unwrap()
    };

    // st2 auth over TLS.
    let o = run(
        &server.certs.ca,
        None,
        &["auth", &user, "-p", &password, "-t"],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let token = stdout(&o).trim().to_string();
    assert_eq!(token.len(), 48, "{token}");

    // st2 run waits for the result.
    let o = run(
        &server.certs.ca,
        Some(&token),
        &["run", "core.local", "cmd=echo st2 over tls", "-j"],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let done: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["result"]["stdout"], "st2 over tls");

    // st2 execution tail follows a running action over the TLS stream.
    let stop = server.home.path().join("stop");
    let cmd = format!(
        "cmd=while [ ! -e {0} ]; do echo tick; sleep 0.2; done; echo ticked",
        stop.display()
    );
    let o = run(
        &server.certs.ca,
        Some(&token),
        &["run", "-a", "core.local", &cmd],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let id = stdout(&o)
        .lines()
        .find_map(|l| l.trim().strip_prefix("st2 execution get "))
        .unwrap_or_else(|| panic!("no execution id in {}", stdout(&o)))
        .trim()
        .to_string();
    let mut tail = st2(&bin, &server, &server.certs.ca, cli_home.path())
        .env("ST2_AUTH_TOKEN", &token)
        .args(["execution", "tail", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, all) = crate::tail_past_first_tick(&mut tail, &stop);
    assert!(status.success(), "{all}");
    assert!(all.contains("ticked"), "{all}");
    assert!(
        all.contains(&format!("Execution {id} has completed (status=succeeded).")),
        "{all}"
    );

    // A CA bundle that does not hold the server's CA: the CLI refuses the server.
    let other = make_certs(server.home.path(), "other");
    let o = run(&other.ca, Some(&token), &["action", "list"]);
    let said = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        !o.status.success() && said.contains("CERTIFICATE_VERIFY_FAILED"),
        "{said}"
    );
}
