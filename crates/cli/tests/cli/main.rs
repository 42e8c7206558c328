//! The `stormdesk` binary end to end: real processes, a real store, the bundled example pack.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

mod claims;
mod console;
mod inquiry;
mod owner;
mod packs;
mod pyenv;
mod restart;
mod st2;
mod tls;
mod users;
mod verbs;

pub(crate) fn stormdesk(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stormdesk"));
    cmd.env("STORMDESK_HOME", home)
        .env_remove("STORMDESK_PACKS")
        .stdin(Stdio::null());
    cmd
}

pub(crate) fn run(home: &Path, args: &[&str]) -> Output {
    stormdesk(home).args(args).output().unwrap()
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn run_json_prints_only_the_record_and_exits_zero() {
    let home = tempfile::tempdir().unwrap();
    let o = run(
        home.path(),
        &["run", "examples.hello", "name=tester", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let e: Value = serde_json::from_str(&stdout(&o)).expect("stdout is exactly one JSON record");
    assert_eq!(e["status"], "succeeded");
    assert_eq!(e["result"]["stdout"], "Hello, tester");
    assert_eq!(e["action"]["ref"], "examples.hello");
    // The runner's reports all arrived: nothing was left to spool.
    let spooled = std::fs::read_dir(home.path().join("spool"))
        .unwrap()
        .count();
    assert_eq!(spooled, 0);

    // It was kept: get and list find it.
    let id = e["id"].as_str().unwrap();
    let got = run(home.path(), &["execution", "get", id, "--json"]);
    assert!(got.status.success());
    let got: Value = serde_json::from_str(&stdout(&got)).unwrap();
    assert_eq!(got["result"], e["result"]);
    let list = run(home.path(), &["execution", "list"]);
    assert!(stdout(&list).contains(id));
    // A completed execution's output can be tailed without an engine.
    let tail = run(home.path(), &["execution", "tail", "last"]);
    assert_eq!(stdout(&tail), "Hello, tester\n");
}

/// Output into a reader that has gone (`| head -1`) ends the command
/// quietly with 141, as a shell tool killed by SIGPIPE, not with a panic.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let home = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = stormdesk(home.path())
        .args(["action", "list"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(141), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

#[test]
fn run_streams_output_and_prints_the_result() {
    let home = tempfile::tempdir().unwrap();
    let o = run(home.path(), &["run", "examples.hello"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("Hello, world\n"), "{out}");
    assert!(out.contains("status: succeeded"), "{out}");
}

#[test]
fn a_failed_execution_exits_one() {
    let home = tempfile::tempdir().unwrap();
    let o = run(home.path(), &["run", "examples.fail", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(e["status"], "failed");
    assert_eq!(e["result"]["return_code"], 3);
}

#[test]
fn bad_input_exits_two_with_a_message_naming_it() {
    let home = tempfile::tempdir().unwrap();
    let o = run(home.path(), &["run", "examples.nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("examples.nope"), "{}", stderr(&o));
    let o = run(home.path(), &["run", "examples.countdown", "count=lots"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("count"), "{}", stderr(&o));
    let o = run(home.path(), &["run", "examples.hello", "novalue"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("name=value"), "{}", stderr(&o));
}

#[test]
fn secrets_stay_out_of_the_cli_output() {
    let home = tempfile::tempdir().unwrap();
    let secret = "correct-horse-battery";
    let o = run(
        home.path(),
        &[
            "run",
            "examples.login",
            "username=ada",
            &format!("password={secret}"),
            "--json",
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(!stdout(&o).contains(secret));
    assert!(!stderr(&o).contains(secret));
    let e: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(e["parameters"]["password"], "********");
}

#[test]
fn action_and_pack_lists_show_the_example_pack() {
    let home = tempfile::tempdir().unwrap();
    let o = run(home.path(), &["action", "list", "--json"]);
    assert!(o.status.success());
    let actions: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    let hello = actions
        .iter()
        .find(|a| a["ref"] == "examples.hello")
        .unwrap();
    assert_eq!(hello["runner_type"], "local-shell-cmd");
    // The table: every runner type starts in the same column, however long
    // the ref before it.
    let o = run(home.path(), &["action", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    let columns: std::collections::BTreeSet<usize> = actions
        .iter()
        .map(|a| {
            let (r, runner) = (
                a["ref"].as_str().unwrap(),
                a["runner_type"].as_str().unwrap(),
            );
            let line = table
                .lines()
                .find(|l| l.split_whitespace().next() == Some(r))
                .unwrap_or_else(|| panic!("{r} is listed: {table}"));
            line[r.len()..].find(runner).unwrap() + r.len()
        })
        .collect();
    assert_eq!(columns.len(), 1, "runner column aligned: {table}");
    let remote = actions
        .iter()
        .find(|a| a["ref"] == "examples.remote_uptime")
        .unwrap();
    assert_eq!(remote["supported"], true);
    let o = run(home.path(), &["pack", "list", "--json"]);
    let packs: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(packs.iter().any(|p| p["ref"] == "examples"));
}

#[test]
fn packs_flag_adds_a_directory_of_packs() {
    let home = tempfile::tempdir().unwrap();
    let packs = home.path().join("mypacks");
    let pack = packs.join("mine");
    std::fs::create_dir_all(pack.join("actions")).unwrap();
    std::fs::write(
        pack.join("pack.yaml"),
        "ref: mine\nname: mine\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(
        pack.join("actions/say.yaml"),
        "name: say\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: 'echo mine', immutable: true}\n",
    )
    .unwrap();
    let o = run(
        home.path(),
        &[
            "--packs",
            packs.to_str().unwrap(),
            "run",
            "mine.say",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let e: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(e["result"]["stdout"], "mine");
}

/// A `stormdesk serve` process (and its stdout, kept open); killed when dropped.
pub(crate) struct Server(
    Child,
    #[allow(dead_code)] BufReader<std::process::ChildStdout>,
);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn serve(home: &Path) -> Server {
    serve_with(home, &[])
}

/// `stormdesk [ARGS] serve`, e.g. with `--packs DIR`.
pub(crate) fn serve_with(home: &Path, args: &[&str]) -> Server {
    let mut child = stormdesk(home)
        .args(args)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first line announces the listener, once listener.json is written.
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    assert!(line.contains("listening on http://127.0.0.1:"), "{line}");
    Server(child, out)
}

#[test]
fn with_a_server_running_runs_go_through_it_and_tail_follows_live() {
    let home = tempfile::tempdir().unwrap();
    let _server = serve(home.path());
    // Start a run that takes a moment, without waiting for it.
    let o = run(
        home.path(),
        &[
            "run",
            "examples.countdown",
            "count=3",
            "delay=0.2",
            "--async",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let e: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let id = e["id"].as_str().unwrap().to_string();
    // Tail follows it to the end, printing its output once, in order.
    let tail = run(home.path(), &["execution", "tail", &id]);
    assert!(tail.status.success(), "{}", stderr(&tail));
    let full = run(home.path(), &["execution", "get", &id, "--json"]);
    let record: Value = serde_json::from_str(&stdout(&full)).unwrap();
    assert_eq!(record["status"], "succeeded");
    let expected = format!("{}\n", record["result"]["stdout"].as_str().unwrap());
    assert_eq!(stdout(&tail), expected);
    assert!(stderr(&tail).contains("succeeded"));
    // A waiting run through the server streams and prints the result.
    let o = run(
        home.path(),
        &["run", "examples.hello", "name=server", "--json"],
    );
    let e: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(e["result"]["stdout"], "Hello, server");
}

/// A prerequisite the test needs: true when it is there. When it is not, the
/// test fails under `CI=true` and elsewhere is reported skipped (stderr and a
/// line in `target/test-skips.log`, which `scripts/test.sh` prints), never
/// silently passed.
pub(crate) fn prerequisite(present: bool, what: &str) -> bool {
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

/// Follows an `st2 execution tail` child: reads its stdout until a line with
/// `tick`, then creates `stop` (which lets the followed workflow finish) and
/// reads to the end. The tail's exit status and every line it printed.
pub(crate) fn tail_past_first_tick(
    tail: &mut std::process::Child,
    stop: &Path,
) -> (std::process::ExitStatus, String) {
    use std::io::BufRead;
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    let reader = std::io::BufReader::new(tail.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let timeout = std::time::Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let line = lines
            .recv_timeout(timeout)
            .expect("the tail printed no tick");
        let tick = line.contains("tick");
        seen.push(line);
        if tick {
            break;
        }
    }
    std::fs::write(stop, "").unwrap();
    while let Ok(line) = lines.recv_timeout(timeout) {
        seen.push(line);
    }
    (tail.wait().unwrap(), seen.join("\n"))
}
