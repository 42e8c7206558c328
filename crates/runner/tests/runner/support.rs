//! Shared test helpers: request builders, running the library and the binary,
//! process liveness, and a tiny real HTTP listener on 127.0.0.1.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{Map, Value};
use stormdesk_runner::protocol::{ActionArg, Callback, RunnerRequest, Stream};
use stormdesk_runner::{run, CancelHandle, RunOutcome};

pub const WAIT: Duration = Duration::from_secs(60);

pub fn request(runner_type: &str, runner_parameters: Value) -> RunnerRequest {
    let runner_parameters: Map<String, Value> = match runner_parameters {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => panic!("runner parameters must be an object, got {other}"),
    };
    RunnerRequest {
        execution_id: "exec-1".into(),
        runner_type: runner_type.into(),
        action_ref: "mypack.myaction".into(),
        runner_parameters,
        action_parameters: Vec::new(),
        entry_point: None,
        pack_dir: None,
        pack_config: Value::Null,
        python: None,
        callback: None,
        spool_dir: None,
        secrets: Vec::new(),
        api: None,
        max_output_bytes: None,
    }
}

pub fn named(name: &str, value: Value) -> ActionArg {
    ActionArg {
        name: name.into(),
        value,
        position: None,
    }
}

pub fn positional(name: &str, value: Value, position: u32) -> ActionArg {
    ActionArg {
        name: name.into(),
        value,
        position: Some(position),
    }
}

pub fn callback(url: &str) -> Callback {
    Callback {
        discover: None,
        url: url.into(),
        token: "secret-token".into(),
        attempts: 3,
        backoff_ms: 10,
    }
}

/// What the sink saw, per stream, concatenated.
#[derive(Debug, Default)]
pub struct Streamed {
    pub stdout: String,
    pub stderr: String,
    pub events: usize,
}

/// Runs through the library in this thread.
pub fn run_lib(req: &RunnerRequest) -> (RunOutcome, Streamed) {
    let mut streamed = Streamed::default();
    let outcome = run(
        req,
        &mut |stream, data| {
            streamed.events += 1;
            match stream {
                Stream::Stderr => streamed.stderr.push_str(data),
                _ => streamed.stdout.push_str(data),
            }
        },
        &CancelHandle::new(),
    )
    .unwrap_or_else(|e| panic!("run failed before the action ran: {e}"));
    (outcome, streamed)
}

pub fn write_file(path: &Path, content: &str, executable: bool) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, content).unwrap();
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.to_path_buf()
}

/// Alive means present in /proc and not a zombie (a zombie has exited; only
/// its parent has not collected it yet).
pub fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X"))
        }
    }
}

pub fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading pid file {}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap()
}

// ---- the runner binary ----

pub fn runner_binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stormdesk-runner"));
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Starts the binary and writes the request line; stdin stays open.
pub fn spawn_runner(req: &RunnerRequest) -> Child {
    let mut child = runner_binary().spawn().expect("starting stormdesk-runner");
    let stdin = child.stdin.as_mut().unwrap();
    let mut line = serde_json::to_vec(req).unwrap();
    line.push(b'\n');
    stdin.write_all(&line).unwrap();
    stdin.flush().unwrap();
    child
}

/// Waits for the process (closing its stdin first) or fails the test.
pub fn finish(mut child: Child) -> Output {
    drop(child.stdin.take());
    wait_output(child)
}

pub fn wait_output(child: Child) -> Output {
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(WAIT) {
        Ok(out) => out.expect("waiting for stormdesk-runner"),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("stormdesk-runner did not exit within {WAIT:?}");
        }
    }
}

pub fn final_json(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "runner stdout is not the final JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

// ---- a real HTTP/1.1 listener ----

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

pub struct Listener {
    pub url: String,
    pub requests: Receiver<Recorded>,
}

/// Answers every request with `status`, except the key API (`/v1/keys/...`),
/// which it serves from memory when `status` is 200. Each request is recorded
/// before it is answered, so once a client has its answer the request is in
/// `requests`.
pub fn start_listener(status: u16) -> Listener {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    let keys: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (tx, keys) = (tx.clone(), Arc::clone(&keys));
            thread::spawn(move || serve(conn, status, &tx, &keys));
        }
    });
    Listener { url, requests: rx }
}

fn serve(
    conn: TcpStream,
    status: u16,
    tx: &Sender<Recorded>,
    keys: &Mutex<HashMap<String, Value>>,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut length = 0;
    let mut authorization = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            return;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let recorded = Recorded {
        method,
        path,
        authorization,
        body,
    };
    let (code, reply) = if status == 200 && recorded.path.starts_with("/v1/keys/") {
        serve_key(&recorded, keys)
    } else {
        (status, "{}".to_string())
    };
    let _ = tx.send(recorded);
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = conn.flush();
}

fn serve_key(req: &Recorded, keys: &Mutex<HashMap<String, Value>>) -> (u16, String) {
    let encoded = req.path["/v1/keys/".len()..]
        .split('?')
        .next()
        .unwrap_or_default();
    let name = percent_decode(encoded);
    let mut keys = keys.lock().unwrap();
    match req.method.as_str() {
        "PUT" => {
            keys.insert(name, req.json()["value"].clone());
            (200, "{}".into())
        }
        "GET" => match keys.get(&name) {
            Some(value) => (
                200,
                serde_json::json!({"name": name, "value": value}).to_string(),
            ),
            None => (404, "{}".into()),
        },
        "DELETE" => match keys.remove(&name) {
            Some(_) => (204, String::new()),
            None => (404, "{}".into()),
        },
        _ => (405, "{}".into()),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A URL where nothing listens: bind a port, then free it.
pub fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A prerequisite the test needs: true when it is there. When it is not, the
/// test fails under `CI=true` and elsewhere is reported skipped (stderr and a
/// line in `target/test-skips.log`, which `scripts/test.sh` prints), never
/// silently passed.
pub fn prerequisite(present: bool, what: &str) -> bool {
    if present {
        return true;
    }
    let test = std::thread::current().name().unwrap_or("?").to_string();
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: {what} is missing, and CI=true: a missing prerequisite is a failure in CI"
    );
    let log = std::env::var_os("STORMDESK_SKIP_LOG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-skips.log")
        });
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
    {
        use std::io::Write;
        let _ = writeln!(f, "{} {test}: {what}", env!("CARGO_PKG_NAME"));
    }
    eprintln!("SKIPPED {test}: {what}");
    false
}
