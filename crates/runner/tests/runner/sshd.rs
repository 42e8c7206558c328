//! A real OpenSSH server on 127.0.0.1 for the remote runner tests, with
//! generated host and client keys, and an ssh client config whose aliases
//! point at it:
//!
//! - `web1`, `web2`, `web3`: the server, right host key, right client key;
//! - `down`: a closed port on 127.0.0.1;
//! - `badkey`: the server with a client key it does not accept;
//! - `mismatch`: the server with a known_hosts holding another host key;
//! - `keyless`: the server with no client key at all (the action must give
//!   `private_key`).
//!
//! Runs as whoever runs the tests (root in CI, where `/run/sshd`, the
//! privilege separation directory, is created if missing).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use tempfile::TempDir;

const SSHD: &str = "/usr/sbin/sshd";

pub struct Sshd {
    pub dir: TempDir,
    pub port: u16,
    /// The client config with the aliases above.
    pub config: PathBuf,
    /// The accepted client key.
    pub key: PathBuf,
    /// The login name the server accepts (the engine's tests, which share
    /// this file, write it into ssh client configs).
    #[allow(dead_code)]
    pub user: String,
    child: Child,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "stormdesk-test",
            "-f",
        ])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("ssh-keygen (OpenSSH client) must be installed for the remote runner tests");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

fn public_key(path: &Path) -> String {
    std::fs::read_to_string(path.with_extension("pub"))
        .unwrap()
        .trim()
        .to_string()
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub fn current_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .expect("the current user has no passwd entry")
}

impl Sshd {
    pub fn start() -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install openssh-server to run the remote runner tests"
        );
        if nix::unistd::getuid().is_root() {
            // sshd refuses to start as root without its privilege separation dir.
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for name in ["host_key", "other_host_key", "id_client", "id_bad"] {
            keygen(&d.join(name));
        }
        std::fs::write(
            d.join("authorized_keys"),
            public_key(&d.join("id_client")) + "\n",
        )
        .unwrap();

        // Bound, then freed, so sshd can take it; a race with another
        // process is possible but harmless (startup would fail loudly).
        let port = free_port();
        let closed = free_port();
        let sshd_config = d.join("sshd_config");
        std::fs::write(
            &sshd_config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {pid}\n\
                 AuthorizedKeysFile {auth}\nStrictModes no\nPubkeyAuthentication yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 PermitRootLogin yes\nMaxStartups 200\nMaxSessions 200\nLogLevel INFO\n",
                host_key = d.join("host_key").display(),
                pid = d.join("sshd.pid").display(),
                auth = d.join("authorized_keys").display(),
            ),
        )
        .unwrap();
        let host_pub = public_key(&d.join("host_key"));
        let other_pub = public_key(&d.join("other_host_key"));
        let strip_comment = |k: &str| k.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {}\n", strip_comment(&host_pub)),
        )
        .unwrap();
        std::fs::write(
            d.join("known_hosts_wrong"),
            format!("[127.0.0.1]:{port} {}\n", strip_comment(&other_pub)),
        )
        .unwrap();

        let user = current_user();
        let common = |known: &str| {
            format!(
                "  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  UserKnownHostsFile {}\n  \
                 GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  \
                 IdentitiesOnly yes\n  IdentityAgent none\n",
                d.join(known).display()
            )
        };
        let config = d.join("ssh_config");
        std::fs::write(
            &config,
            format!(
                "Host web1 web2 web3\n{ok}  IdentityFile {client}\n\
                 Host badkey\n{ok}  IdentityFile {bad}\n\
                 Host mismatch\n{wrong}  IdentityFile {client}\n\
                 Host keyless\n{ok}  IdentityFile none\n\
                 Host down\n  HostName 127.0.0.1\n  Port {closed}\n  IdentityAgent none\n",
                ok = common("known_hosts"),
                wrong = common("known_hosts_wrong"),
                client = d.join("id_client").display(),
                bad = d.join("id_bad").display(),
            ),
        )
        .unwrap();

        let mut child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&sshd_config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting sshd");
        // Readiness: sshd logs "Server listening on ..." once it accepts.
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        thread::spawn(move || {
            let mut tx = Some(tx);
            let mut seen = String::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(t) = &tx {
                    seen.push_str(&line);
                    seen.push('\n');
                    if line.contains("Server listening on") {
                        let _ = t.send(Ok(()));
                        tx = None;
                    }
                }
            }
            if let Some(t) = tx {
                let _ = t.send(Err(seen));
            }
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Ok(())) => {}
            Ok(Err(log)) => panic!("sshd exited before listening:\n{log}"),
            Err(_) => panic!("sshd did not listen within 20 s"),
        }
        Sshd {
            key: d.join("id_client"),
            dir,
            port,
            config,
            user,
            child,
        }
    }
}
