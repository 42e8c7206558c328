//! What StackStorm's own packs (`core`, `linux`, `examples`, unmodified, in
//! `../shared/st2-packs`) run against in the corpus tests (`st2_packs.rs`,
//! `st2_workflows.rs`): one engine loading them as they are (StackStorm's
//! `core` and `examples` take the place of the bundled ones), a real sshd on
//! 127.0.0.1 that is the remote actions' `localhost`, a real HTTP listener
//! on 127.0.0.1 for `core.http`, and scratch files.
//!
//! Prerequisites (the packs, sshd, sudo, the commands some actions call) are
//! checked up front: missing, a test fails under `CI=true` with what to
//! install, and elsewhere reports a skip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::extract::{Query, Request};
use axum::routing::{any, get};
use serde_json::{json, Map, Value};
use stormdesk_engine::{Engine, EngineOptions, Execution, RunRequest};

use regex::Regex;
use stormdesk_engine::Status;

use crate::common::{pyenv_options, runner_bin};
use crate::sshd::Sshd;

/// How long one StackStorm action or workflow may take, building its
/// pack's Python environment included (a cold download cache in CI).
pub const CASE_WAIT: Duration = Duration::from_secs(300);

/// How many cases of one corpus test run at once.
pub const AT_ONCE: usize = 6;

/// True under CI (`CI=true`), where a missing prerequisite is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A prerequisite of a test: present, true; missing, a panic under CI and a
/// reported skip (false) elsewhere.
pub fn prerequisite(present: bool, what: &str, fix: &str) -> bool {
    if present {
        return true;
    }
    let msg = format!("{what} is missing: {fix} (scripts/setup.sh installs it)");
    if in_ci() {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    false
}

/// Whether `program` is on `PATH`.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// StackStorm's packs: `STORMDESK_ST2_PACKS`, else `../shared/st2-packs`
/// beside the repository. Missing, the test fails, unless
/// `STORMDESK_ST2_PACKS_OPTIONAL=1`, when it reports a skip (as the pack
/// loading unit test does).
pub fn packs_root() -> Option<PathBuf> {
    let dir = std::env::var_os("STORMDESK_ST2_PACKS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/st2-packs"));
    if dir.join("core/pack.yaml").is_file() {
        return Some(dir);
    }
    let msg = format!(
        "StackStorm's packs are not at {}: set STORMDESK_ST2_PACKS to the directory holding core/, linux/ and examples/",
        dir.display()
    );
    if std::env::var_os("STORMDESK_ST2_PACKS_OPTIONAL").is_some_and(|v| v == "1") {
        eprintln!("SKIPPED: {msg}");
        return None;
    }
    panic!("{msg}");
}

/// Every action StackStorm's packs define, by ref: its runner type and
/// whether Stormdesk runs that runner.
pub fn pack_actions(engine: &Engine) -> BTreeMap<String, (String, bool)> {
    engine
        .actions()
        .into_iter()
        .filter(|a| ["core", "linux", "examples"].contains(&a.pack.as_str()))
        .map(|a| (a.ref_, (a.runner_type, a.supported)))
        .collect()
}

/// The engine and what the actions reach.
pub struct St2 {
    pub engine: Engine,
    /// The engine's home; also holds scratch files of the cases.
    pub home: tempfile::TempDir,
    /// The loopback sshd the remote actions' `localhost` reaches, when
    /// sshd is installed.
    pub sshd: Option<Sshd>,
    /// The ssh client config that makes `localhost` the loopback sshd.
    pub ssh_config: PathBuf,
    /// `http://127.0.0.1:<port>` of the test's HTTP listener.
    pub http: String,
    /// The loopback address of the test's DNS server (port 53), when it
    /// could bind one.
    pub dns: Option<String>,
}

impl St2 {
    /// Starts the engine on StackStorm's packs (and the listeners), or
    /// `None` when the packs are missing and optional.
    pub async fn start() -> Option<St2> {
        let root = packs_root()?;
        let home = tempfile::tempdir().unwrap();
        let http = serve_http().await;
        let ssh_config = home.path().join("ssh_config");
        let sshd = prerequisite(
            Path::new("/usr/sbin/sshd").exists() && on_path("ssh"),
            "OpenSSH (sshd and ssh)",
            "apt-get install openssh-server openssh-client",
        )
        .then(Sshd::start);
        // The remote actions name `localhost`: the runner's ssh reads this
        // config (`STORMDESK_SSH_CONFIG`), set in the runner's environment
        // by a wrapper so nothing else in the test process sees it.
        let mut runner = runner_bin();
        if let Some(s) = &sshd {
            std::fs::write(&ssh_config, localhost_config(s)).unwrap();
            let wrapper = home.path().join("runner.sh");
            std::fs::write(
                &wrapper,
                format!(
                    "#!/bin/sh\nSTORMDESK_SSH_CONFIG='{}'\nexport STORMDESK_SSH_CONFIG\nexec '{}' \"$@\"\n",
                    ssh_config.display(),
                    runner.display()
                ),
            )
            .unwrap();
            make_executable(&wrapper);
            runner = wrapper;
        }
        let engine = Engine::start(EngineOptions {
            home: Some(home.path().join("data")),
            pack_dirs: vec![root.clone()],
            runner_bin: Some(runner),
            callback_attempts: Some(2),
            pyenv: pyenv_options(),
            ..Default::default()
        })
        .await
        .unwrap();
        Some(St2 {
            engine,
            home,
            sshd,
            ssh_config,
            http,
            dns: serve_dns(),
        })
    }

    /// A scratch path under the home.
    pub fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    /// Runs `action` with `parameters` and waits for it to complete.
    pub async fn run(&self, action: &str, parameters: Value) -> Result<Execution, String> {
        let started = self
            .engine
            .run(RunRequest::new(action, object(parameters)))
            .await
            .map_err(|e| format!("{action}: refused: {e}"))?;
        self.finish(&started.id).await
    }

    /// Waits for execution `id` to complete.
    pub async fn finish(&self, id: &str) -> Result<Execution, String> {
        tokio::time::timeout(CASE_WAIT, self.engine.wait(id))
            .await
            .map_err(|_| format!("{id}: not done within {CASE_WAIT:?}"))?
            .map_err(|e| format!("{id}: {e}"))
    }
}

/// A JSON object's map (an empty one for anything else).
pub fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

pub fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `localhost` (and `localhost2`, another name for the same server) as the
/// loopback sshd, with its host key known and its client key.
fn localhost_config(s: &Sshd) -> String {
    let mut text = String::new();
    for alias in ["localhost", "localhost2"] {
        text.push_str(&format!(
            "Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {key}\n  \
             IdentitiesOnly yes\n  IdentityAgent none\n  UserKnownHostsFile {known}\n  \
             GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n",
            port = s.port,
            user = s.user,
            key = s.key.display(),
            known = s.dir.path().join("known_hosts").display(),
        ));
    }
    text
}

/// A real HTTP server on 127.0.0.1 for `core.http` and the examples that
/// fetch pages: `/json` (a JSON document), `/echo` (the request back, as
/// JSON), `/page` (HTML with repository links), anything else 404.
async fn serve_http() -> String {
    async fn echo(
        Query(query): Query<BTreeMap<String, String>>,
        req: Request,
    ) -> axum::Json<Value> {
        let method = req.method().to_string();
        let headers: Map<String, Value> = req
            .headers()
            .iter()
            .filter(|(k, _)| k.as_str().starts_with("x-") || *k == "content-type")
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
            .collect();
        let body = axum::body::to_bytes(req.into_body(), 1 << 20)
            .await
            .unwrap();
        axum::Json(json!({
            "method": method,
            "query": query,
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        }))
    }
    let app = axum::Router::new()
        .route(
            "/json",
            get(|| async { axum::Json(json!({"message": "hello", "items": [1, 2]})) }),
        )
        .route("/echo", any(echo))
        .route(
            "/page",
            get(|| async {
                axum::response::Html(
                    "<html><body>\n<h3><a href=\"/StackStorm-Exchange/stackstorm-aws\">aws</a></h3>\n\
                     <h3><a href=\"/StackStorm-Exchange/stackstorm-csv\">csv</a></h3>\n</body></html>\n",
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

/// The name the test's DNS server knows, and its address.
pub const DNS_NAME: &str = "corpus.stormdesk.test";
pub const DNS_ANSWER: [u8; 4] = [127, 0, 0, 42];

/// A real DNS server on port 53 of a loopback address (`dig` has no option
/// for another port), answering `A` queries for [`DNS_NAME`] with
/// [`DNS_ANSWER`] and anything else with NXDOMAIN. `None` when no address
/// could be bound (port 53 needs root).
fn serve_dns() -> Option<String> {
    let (socket, addr) = (1..=20u8).find_map(|i| {
        let addr = format!("127.53.{}.1", i);
        std::net::UdpSocket::bind((addr.as_str(), 53))
            .ok()
            .map(|s| (s, addr))
    })?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            if let Some(answer) = dns_answer(&buf[..n]) {
                let _ = socket.send_to(&answer, peer);
            }
        }
    });
    Some(addr)
}

/// The response to one query (RFC 1035, section 4.1): the question echoed,
/// one `A` record when it asks for [`DNS_NAME`].
fn dns_answer(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    // The question: labels up to the zero length, then type and class.
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question = query.get(12..at + 4)?;
    let known = labels.join(".") == DNS_NAME && qtype == 1;
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&query[0..2]);
    // Response, recursion desired and available; NXDOMAIN when unknown.
    let rd = query[2] & 0x01;
    out.push(0x84 | rd);
    out.push(if known || labels.join(".") == DNS_NAME {
        0x80
    } else {
        0x83
    });
    out.extend_from_slice(&[0, 1, 0, u8::from(known), 0, 0, 0, 0]);
    out.extend_from_slice(question);
    if known {
        out.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        out.extend_from_slice(&DNS_ANSWER);
    }
    Some(out)
}

/// A check of a completed execution.
pub enum Check {
    /// The value at a JSON pointer into the result equals this.
    Eq(&'static str, Value),
    /// The string at a JSON pointer into the result matches this regex.
    Re(&'static str, &'static str),
    /// A file the action wrote matches this regex.
    File(String, &'static str),
    /// The string at a JSON pointer into the result is this prefix followed
    /// by the execution's id.
    EqId(&'static str, String),
}

/// Whether `execution` has `status` and passes every check; the first
/// difference, with the whole result, otherwise.
pub fn check(execution: &Execution, status: Status, checks: &[Check]) -> Result<(), String> {
    if execution.status != status {
        return Err(format!(
            "status {:?}, StackStorm's is {status:?}; result {}",
            execution.status, execution.result
        ));
    }
    for c in checks {
        match c {
            Check::Eq(ptr, want) => {
                let got = execution.result.pointer(ptr);
                if got != Some(want) {
                    return Err(format!(
                        "result{ptr} is {}, StackStorm's is {want}; result {}",
                        got.map(Value::to_string).unwrap_or("missing".into()),
                        execution.result
                    ));
                }
            }
            Check::Re(ptr, re) => {
                // Numbers (stdout parsed as JSON) are matched as written.
                let got = execution.result.pointer(ptr).and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                });
                if !got
                    .as_deref()
                    .is_some_and(|s| Regex::new(re).unwrap().is_match(s))
                {
                    return Err(format!(
                        "result{ptr} is {got:?}, StackStorm's matches /{re}/; result {}",
                        execution.result
                    ));
                }
            }
            Check::EqId(ptr, prefix) => {
                let want = format!("{prefix}{}", execution.id);
                let got = execution.result.pointer(ptr).and_then(Value::as_str);
                if got != Some(want.as_str()) {
                    return Err(format!(
                        "result{ptr} is {got:?}, StackStorm's is {want:?}; result {}",
                        execution.result
                    ));
                }
            }
            Check::File(path, re) => {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                if !Regex::new(re).unwrap().is_match(&text) {
                    return Err(format!(
                        "{path} holds {text:?}, StackStorm's matches /{re}/"
                    ));
                }
            }
        }
    }
    Ok(())
}
