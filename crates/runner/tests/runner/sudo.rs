//! `sudo: true`, local and remote, as a user who is not root and may run
//! anything as root through a sudoers rule the test writes (StackStorm's
//! rule for its `stanley` user: `NOPASSWD: SETENV: ALL`, since the runners
//! use `sudo -E`). Needs root to create the user; under `CI=true` a missing
//! prerequisite (root, sudo) is a failure, elsewhere a reported skip.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::sshd::Sshd;
use crate::support::{prerequisite, request, run_lib};

/// A local user made for the test, with or without a sudoers rule; both go
/// when it is dropped.
struct TestUser {
    name: String,
    uid: u32,
    rule: Option<PathBuf>,
}

/// useradd, usermod and userdel lock /etc/passwd and fail (not wait) when
/// another holds it: the tests take turns.
static ACCOUNTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl TestUser {
    fn create(tag: &str, sudoer: bool) -> TestUser {
        let _turn = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let name = format!("sd{tag}{}", std::process::id() % 100_000);
        // Left over by a run that was killed: start clean.
        let _ = Command::new("userdel")
            .args(["-r", &name])
            .stderr(Stdio::null())
            .status();
        let status = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/bash", &name])
            .status()
            .expect("useradd");
        assert!(status.success(), "useradd {name}");
        // No password, yet not locked: sshd (without PAM) refuses locked
        // accounts even with a key.
        let status = Command::new("usermod")
            .args(["-p", "*", &name])
            .status()
            .expect("usermod");
        assert!(status.success(), "usermod {name}");
        let rule = sudoer.then(|| {
            let path = PathBuf::from(format!("/etc/sudoers.d/stormdesk-test-{name}"));
            std::fs::write(&path, format!("{name} ALL=(ALL) NOPASSWD:SETENV: ALL\n")).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o440))
                .unwrap();
            path
        });
        let uid = nix::unistd::User::from_name(&name)
            .unwrap()
            .unwrap()
            .uid
            .as_raw();
        TestUser { name, uid, rule }
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        if let Some(rule) = &self.rule {
            let _ = std::fs::remove_file(rule);
        }
        let _turn = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let _ = Command::new("userdel").args(["-r", &self.name]).status();
    }
}

fn ready() -> bool {
    let root = prerequisite(
        nix::unistd::getuid().is_root(),
        "root (to create a user with a sudoers rule)",
    );
    root && prerequisite(
        Path::new("/usr/bin/sudo").exists(),
        "sudo (installed by scripts/setup.sh)",
    )
}

/// Runs the runner process as `user` with `params` (no callback: the final
/// status and result come on stdout).
fn run_as(user: &TestUser, params: Value) -> Value {
    // A copy of the runner that the user can reach and execute.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let bin = dir.path().join("stormdesk-runner");
    std::fs::copy(env!("CARGO_BIN_EXE_stormdesk-runner"), &bin).unwrap();
    let mut req = request("local-shell-cmd", params);
    req.secrets = vec!["sudo-secret-99".into()];
    let mut child = Command::new("runuser")
        .args(["-u", &user.name, "--"])
        .arg(&bin)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}", serde_json::to_string(&req).unwrap()).unwrap();
    drop(stdin);
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("the runner hung (sudo waiting for a password?)")
        })
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap_or_else(|_| {
        panic!(
            "stdout: {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn local_sudo_runs_the_command_as_root_for_a_user_who_is_not() {
    if !ready() {
        return;
    }
    let user = TestUser::create("l", true);
    let plain = run_as(&user, json!({"cmd": "id -u"}));
    assert_eq!(plain["result"]["stdout"], json!(user.uid), "{plain}");
    let sudo = run_as(&user, json!({"cmd": "id -u", "sudo": true}));
    assert_eq!(sudo["status"], "succeeded", "{sudo}");
    assert_eq!(sudo["result"]["stdout"], json!(0), "{sudo}");
    // A secret command line travels in the environment; sudo -E keeps it.
    let secret = run_as(
        &user,
        json!({"cmd": "echo sudo-secret-99 $(id -u)", "sudo": true}),
    );
    assert_eq!(secret["result"]["stdout"], "******** 0", "{secret}");
    // A user without a rule: sudo fails with its reason, and does not hang.
    let other = TestUser::create("n", false);
    let refused = run_as(&other, json!({"cmd": "id -u", "sudo": true}));
    assert_eq!(refused["status"], "failed", "{refused}");
    assert!(
        refused["result"]["stderr"]
            .as_str()
            .is_some_and(|s| s.contains("sudo")),
        "{refused}"
    );
}

#[test]
fn remote_sudo_runs_the_command_as_root_for_a_user_who_is_not() {
    if !ready() {
        return;
    }
    let user = TestUser::create("r", true);
    let other = TestUser::create("s", false);
    let sshd = Sshd::start();
    // sshd reads authorized_keys as the user logging in.
    for (path, mode) in [
        (sshd.dir.path().to_path_buf(), 0o711),
        (sshd.dir.path().join("authorized_keys"), 0o644),
    ] {
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap();
    }
    // Hosts that log in as the test users, with the test's client key.
    let mut config = std::fs::read_to_string(&sshd.config).unwrap();
    for (host, u) in [("sudoer", &user), ("plain", &other)] {
        config.push_str(&format!(
            "Host {host}\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  UserKnownHostsFile {}\n  \
             GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  IdentitiesOnly yes\n  \
             IdentityAgent none\n  IdentityFile {}\n",
            sshd.port,
            u.name,
            sshd.dir.path().join("known_hosts").display(),
            sshd.dir.path().join("id_client").display(),
        ));
    }
    std::fs::write(&sshd.config, config).unwrap();
    let remote = |host: &str, sudo: bool| {
        let mut params = json!({"cmd": "id -u", "sudo": sudo, "hosts": host});
        params["ssh_config"] = json!(sshd.config.to_str().unwrap());
        run_lib(&request("remote-shell-cmd", params)).0.result[host].clone()
    };
    let plain = remote("sudoer", false);
    assert_eq!(plain["stdout"], json!(user.uid), "{plain}");
    let root = remote("sudoer", true);
    assert_eq!(root["succeeded"], true, "{root}");
    assert_eq!(root["stdout"], json!(0), "{root}");
    // Without a rule, `sudo -n` fails at once with sudo's reason.
    let refused = remote("plain", true);
    assert_eq!(refused["failed"], true, "{refused}");
    assert!(
        refused["stderr"]
            .as_str()
            .is_some_and(|s| s.contains("sudo")),
        "{refused}"
    );
}
