//! Fixtures: a temporary home and a test pack written by the test.

use std::path::{Path, PathBuf};
use std::time::Duration;

use stormdesk_engine::{BusEvent, Engine, EngineOptions, Event, Execution, Status};
use tokio::sync::broadcast;

pub const WAIT: Duration = Duration::from_secs(30);

pub fn runner_bin() -> PathBuf {
    let bin = stormdesk_engine::default_runner_bin();
    assert!(
        bin.is_file(),
        "the runner binary is missing at {}: run `cargo build -p stormdesk-runner` first",
        bin.display()
    );
    bin
}

/// Python environments of test engines: built from Debian's bare
/// interpreter when there is one (`STORMDESK_TEST_PYTHON` overrides), so no
/// result depends on what the machine's own `python3` has installed, with
/// downloads cached for every test in `target/pyenv-cache`.
pub fn pyenv_options() -> stormdesk_engine::pyenv::PyEnvOptions {
    let bare = Path::new("/usr/bin/python3");
    stormdesk_engine::pyenv::PyEnvOptions {
        python: std::env::var_os("STORMDESK_TEST_PYTHON")
            .map(PathBuf::from)
            .or_else(|| bare.is_file().then(|| bare.to_path_buf())),
        cache_dir: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv-cache")),
        ..Default::default()
    }
}

pub struct Fixture {
    pub home: tempfile::TempDir,
    pub packs: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
        let home = tempfile::tempdir().unwrap();
        let packs = home.path().join("test-packs");
        write_test_pack(&packs.join("t"));
        Fixture { home, packs }
    }

    pub fn options(&self) -> EngineOptions {
        EngineOptions {
            home: Some(self.home.path().to_path_buf()),
            pack_dirs: vec![self.packs.clone()],
            runner_bin: Some(runner_bin()),
            callback_attempts: Some(2),
            pyenv: pyenv_options(),
            ..Default::default()
        }
    }

    pub async fn engine(&self) -> Engine {
        Engine::start(self.options()).await.unwrap()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn write_test_pack(dir: &Path) {
    write(
        &dir.join("pack.yaml"),
        "ref: t\nname: t\ndescription: engine test pack\nversion: 0.1.0\n",
    );
    let actions = dir.join("actions");
    write(
        &actions.join("echo.yaml"),
        r#"name: echo
runner_type: local-shell-cmd
description: echo a message
parameters:
  msg: {type: string, required: true}
  cmd: {immutable: true, default: 'echo "{{msg}}"'}
"#,
    );
    write(
        &actions.join("gate.yaml"),
        r#"name: gate
runner_type: local-shell-cmd
parameters:
  fifo: {type: string, required: true}
  cmd: {immutable: true, default: 'echo waiting; read line < {{fifo}}; echo "done-$line"'}
"#,
    );
    write(
        &actions.join("tree.yaml"),
        r#"name: tree
runner_type: local-shell-cmd
parameters:
  pidfile: {type: string, required: true}
  cmd: {immutable: true, default: 'sleep 300 & echo $! > {{pidfile}}; echo $$ >> {{pidfile}}; echo started; sleep 300'}
"#,
    );
    write(
        &actions.join("secret_gate.yaml"),
        r#"name: secret_gate
runner_type: local-shell-cmd
parameters:
  fifo: {type: string, required: true}
  token: {type: string, required: true, secret: true}
  cmd: {immutable: true, default: 'echo "using {{token}}"; read line < {{fifo}}; echo "done {{token}}"'}
"#,
    );
    write(
        &actions.join("token_gate.yaml"),
        r#"name: token_gate
runner_type: local-shell-cmd
description: keeps its API token in a file, then waits on a fifo
parameters:
  file: {type: string, required: true}
  fifo: {type: string, required: true}
  cmd: {immutable: true, default: 'printf "%s %s" "$ST2_ACTION_API_URL" "$ST2_ACTION_AUTH_TOKEN" > {{file}}; read line < {{fifo}}; echo "done-$line"'}
"#,
    );
    write(
        &actions.join("slow.yaml"),
        r#"name: slow
runner_type: local-shell-cmd
parameters:
  cmd: {immutable: true, default: 'sleep 30'}
  timeout: {default: 1}
"#,
    );
    write(
        &actions.join("secret.yaml"),
        r#"name: secret
runner_type: local-shell-cmd
parameters:
  token: {type: string, required: true, secret: true}
  cmd: {immutable: true, default: 'echo "token is {{token}}"; echo "err {{token}}" >&2'}
"#,
    );
    write(
        &actions.join("types.yaml"),
        r#"name: types
runner_type: local-shell-cmd
parameters:
  count: {type: integer, required: true}
  ratio: {type: number, default: 0.5}
  flag: {type: boolean, default: false}
  color: {type: string, enum: [red, green], default: red}
  tags: {type: array}
  cmd: {immutable: true, default: 'echo {{count}} {{ratio}} {{flag}} {{color}}'}
"#,
    );
    write(
        &actions.join("big.yaml"),
        r#"name: big
runner_type: python-script
entry_point: big.py
parameters:
  data: {type: string, required: true}
"#,
    );
    write(
        &actions.join("big.py"),
        r#"from st2common.runners.base_action import Action


class Big(Action):
    def run(self, data):
        return {"length": len(data), "head": data[:3]}
"#,
    );
}

/// Waits for an event matching `f`, with a timeout.
pub async fn wait_for(
    rx: &mut broadcast::Receiver<BusEvent>,
    mut f: impl FnMut(&Event) -> bool,
) -> Event {
    tokio::time::timeout(WAIT, async {
        loop {
            let ev = rx.recv().await.expect("event bus closed");
            if f(&ev.event) {
                return ev.event;
            }
        }
    })
    .await
    .expect("timed out waiting for an event")
}

pub async fn wait_status(rx: &mut broadcast::Receiver<BusEvent>, id: &str, status: Status) {
    wait_for(rx, |e| {
        matches!(e, Event::Execution { execution, .. } if execution.id == id && execution.status == status)
    })
    .await;
}

pub async fn finished(engine: &Engine, id: &str) -> Execution {
    tokio::time::timeout(WAIT, engine.wait(id))
        .await
        .expect("timed out waiting for the execution")
        .unwrap()
}

/// A run of the test pack's `t.gate`: it prints `waiting`, then waits for a
/// line written to `fifo`.
pub fn gate(fifo: &Path) -> stormdesk_engine::RunRequest {
    stormdesk_engine::RunRequest {
        action: "t.gate".into(),
        parameters: params(&[("fifo", serde_json::json!(fifo.display().to_string()))]),
        ..Default::default()
    }
}

pub fn params(pairs: &[(&str, serde_json::Value)]) -> serde_json::Map<String, serde_json::Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// True when the process is gone (or a zombie nobody has reaped yet).
pub fn pid_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
    }
}

pub fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A prerequisite the test needs: true when it is there. When it is not, the
/// test fails under `CI=true` (CI has everything) and elsewhere is reported
/// skipped: a line in `target/test-skips.log` (which `scripts/test.sh` prints
/// at the end) and on stderr, never silently passed.
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
        .map(PathBuf::from)
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

/// Root (to mount, make users, ...), or a reported skip ([`prerequisite`]).
pub fn root_or_skip(what: &str) -> bool {
    prerequisite(
        nix::unistd::Uid::effective().is_root(),
        &format!("root ({what})"),
    )
}

/// Every byte of the store's files (database and WAL), as text.
pub fn store_bytes(fx: &Fixture) -> String {
    let mut all = Vec::new();
    for name in ["stormdesk.db", "stormdesk.db-wal"] {
        if let Ok(b) = std::fs::read(fx.path(name)) {
            all.extend(b);
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}
