//! The system OpenSSH client: its command line, key and passphrase plumbing,
//! and plain-words explanations of its failures.
//!
//! The user's `~/.ssh/config`, agent and `known_hosts` apply as in a terminal.
//! Stormdesk only adds what a non-interactive run needs: `BatchMode=yes` (or
//! an askpass helper when a passphrase is given), `ConnectTimeout`, no
//! terminal (`-T`) and `LogLevel=ERROR` (so warnings do not pollute stderr).

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use crate::args::shell_quote;
use crate::params::Params;
use crate::protocol::RunnerRequest;
use crate::scratch::{private_dir, ScratchFile};
use crate::RunError;

/// The ssh program; tests and unusual installs may point it elsewhere.
pub const SSH_PROGRAM_ENV: &str = "STORMDESK_SSH";
/// An ssh config file used instead of `~/.ssh/config` (`ssh -F`), unless the
/// action sets the runner parameter `ssh_config`.
pub const SSH_CONFIG_ENV: &str = "STORMDESK_SSH_CONFIG";
/// Seconds ssh may take to connect (default 10, never more than `timeout`).
pub const CONNECT_TIMEOUT_ENV: &str = "STORMDESK_SSH_CONNECT_TIMEOUT";
const DEFAULT_CONNECT_TIMEOUT: u64 = 10;
/// Where the askpass helper finds the passphrase (only in ssh's environment).
const ASKPASS_SECRET_ENV: &str = "STORMDESK_SSH_ASKPASS_SECRET";
/// StackStorm's test for key material rather than a path.
const KEY_MATERIAL_HEADER: &str = "private key-----";

/// One host from `hosts`: `name`, `name:port` or `[v6]:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Host {
    /// As written in `hosts`; the key of its result.
    pub label: String,
    pub name: String,
    pub port: Option<u16>,
}

impl Host {
    pub fn parse(label: &str) -> Option<Host> {
        let label = label.trim();
        if label.is_empty() {
            return None;
        }
        let (name, port) = if let Some(rest) = label.strip_prefix('[') {
            match rest.split_once(']') {
                Some((name, tail)) => (name, tail.strip_prefix(':')),
                None => (label, None),
            }
        } else {
            match label.split_once(':') {
                // More than one colon: a bare IPv6 address.
                Some((name, port)) if !port.contains(':') => (name, Some(port)),
                _ => (label, None),
            }
        };
        let port = match port {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        };
        Some(Host {
            label: label.to_string(),
            name: name.to_string(),
            port,
        })
    }
}

/// Everything every ssh invocation of one run shares. Owns the temporary
/// key and askpass files, removed when it is dropped.
pub(crate) struct Ssh {
    pub program: OsString,
    /// Options before the destination, for every host.
    args: Vec<OsString>,
    config: Option<String>,
    default_port: Option<u16>,
    /// Added to ssh's environment (askpass).
    pub env: Vec<(String, String)>,
    _key: Option<ScratchFile>,
    _askpass: Option<ScratchFile>,
}

impl Ssh {
    pub fn from_params(
        req: &RunnerRequest,
        params: &Params<'_>,
        timeout_secs: Option<f64>,
    ) -> Result<Ssh, RunError> {
        if params.string("password")?.is_some_and(|p| !p.is_empty()) {
            return Err(RunError::UnsupportedRunnerParameter {
                action_ref: req.action_ref.clone(),
                name: "password",
                reason: "the remote runners use the system OpenSSH client in batch mode, which \
                         cannot type a password; use key authentication instead: give \
                         `private_key` (key material or the path of a key file), load the key \
                         into ssh-agent, or set IdentityFile in ~/.ssh/config",
            });
        }
        let program = std::env::var_os(SSH_PROGRAM_ENV).unwrap_or_else(|| "ssh".into());
        let config = params
            .string("ssh_config")?
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or_else(|| std::env::var(SSH_CONFIG_ENV).ok().filter(|s| !s.is_empty()));
        let default_port = match params.get("port") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p > 0)
                    .ok_or_else(|| params.invalid("port", "a TCP port number", v))?,
            ),
        };

        let mut common: Vec<OsString> = Vec::new();
        if let Some(config) = &config {
            common.push("-F".into());
            common.push(config.into());
        }
        let connect_timeout = std::env::var(CONNECT_TIMEOUT_ENV)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let connect_timeout = match timeout_secs {
            Some(t) => connect_timeout.min(t.ceil().max(1.0) as u64),
            None => connect_timeout,
        };
        common.push("-o".into());
        common.push(format!("ConnectTimeout={connect_timeout}").into());
        common.push("-o".into());
        common.push("LogLevel=ERROR".into());
        if let Some(user) = params.string("username")?.filter(|u| !u.is_empty()) {
            common.push("-l".into());
            common.push(user.into());
        }

        let mut key_file = None;
        if let Some(key) = params
            .string("private_key")?
            .filter(|k| !k.trim().is_empty())
        {
            let path = if key.to_ascii_lowercase().contains(KEY_MATERIAL_HEADER) {
                let file = write_key_material(key)?;
                let path = file.path.clone();
                key_file = Some(file);
                path
            } else {
                let path = expand_tilde(key.trim());
                if !path.is_file() {
                    return Err(RunError::InvalidRunnerParameter {
                        action_ref: req.action_ref.clone(),
                        name: "private_key",
                        expected: "private key material (-----BEGIN ... PRIVATE KEY-----) or the \
                                   path of an existing key file on this machine",
                        got: format!("`{}`, which is not a file", path.display()),
                    });
                }
                path
            };
            common.push("-i".into());
            common.push(path.into_os_string());
            common.push("-o".into());
            common.push("IdentitiesOnly=yes".into());
        }

        let mut env = Vec::new();
        let mut askpass = None;
        match params.string("passphrase")?.filter(|p| !p.is_empty()) {
            Some(passphrase) => {
                // OpenSSH reads a passphrase only from a terminal or an
                // askpass program; the helper prints it from its environment,
                // so it never appears on a command line or on disk.
                let script = format!("#!/bin/sh\nprintf '%s\\n' \"${ASKPASS_SECRET_ENV}\"\n");
                let file = scratch_file("askpass", script.as_bytes(), 0o700)?;
                env.push(("SSH_ASKPASS".into(), file.path.display().to_string()));
                env.push(("SSH_ASKPASS_REQUIRE".into(), "force".into()));
                if std::env::var_os("DISPLAY").is_none() {
                    // OpenSSH before 8.4 uses askpass only with a DISPLAY.
                    env.push(("DISPLAY".into(), ":0".into()));
                }
                env.push((ASKPASS_SECRET_ENV.into(), passphrase.to_string()));
                askpass = Some(file);
                for opt in [
                    "BatchMode=no",
                    "PasswordAuthentication=no",
                    "KbdInteractiveAuthentication=no",
                ] {
                    common.push("-o".into());
                    common.push(opt.into());
                }
            }
            None => {
                common.push("-o".into());
                common.push("BatchMode=yes".into());
            }
        }

        let mut args = common.clone();
        if let Some(bastion) = params.string("bastion_host")?.filter(|b| !b.is_empty()) {
            // StackStorm connects to the bastion with the same parameters as
            // to the host; -J would drop -i and -l, a ProxyCommand keeps them.
            let bastion = Host::parse(bastion).ok_or_else(|| {
                params.invalid("bastion_host", "host or host:port", &bastion.into())
            })?;
            let mut proxy: Vec<String> = vec![shell_quote(program.as_encoded_bytes())];
            proxy.extend(common.iter().map(|a| shell_quote(a.as_encoded_bytes())));
            if let Some(port) = bastion.port {
                proxy.push(format!("-p {port}"));
            }
            proxy.push("-W %h:%p".into());
            proxy.push(shell_quote(bastion.name.as_bytes()));
            args.push("-o".into());
            args.push(format!("ProxyCommand={}", proxy.join(" ")).into());
        }
        args.push("-T".into());
        Ok(Ssh {
            program,
            args,
            config,
            default_port,
            env,
            _key: key_file,
            _askpass: askpass,
        })
    }

    /// The arguments for one session on `host` running `command_line`.
    pub fn argv(&self, host: &Host, command_line: &str) -> Vec<OsString> {
        let mut argv = self.args.clone();
        if let Some(port) = host.port.or(self.default_port) {
            argv.push("-p".into());
            argv.push(port.to_string().into());
        }
        argv.push("--".into());
        argv.push(host.name.clone().into());
        argv.push(command_line.into());
        argv
    }

    /// `hostname:port` as ssh resolves `host` (config aliases included), for
    /// error messages; `None` if ssh cannot tell.
    pub fn resolved_address(&self, host: &Host) -> Option<String> {
        let mut cmd = Command::new(&self.program);
        if let Some(config) = &self.config {
            cmd.arg("-F").arg(config);
        }
        if let Some(port) = host.port.or(self.default_port) {
            cmd.arg("-p").arg(port.to_string());
        }
        let out = cmd.arg("-G").arg("--").arg(&host.name).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
                .map(str::to_string)
        };
        Some(format!("{}:{}", field("hostname")?, field("port")?))
    }
}

fn expand_tilde(path: &str) -> std::path::PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => path.into(),
    }
}

fn scratch_file(prefix: &str, content: &[u8], mode: u32) -> Result<ScratchFile, RunError> {
    let dir = private_dir().map_err(|(path, source)| RunError::RemoteScratch { path, source })?;
    ScratchFile::create(&dir, prefix, content, mode).map_err(|source| RunError::RemoteScratch {
        path: dir.join(prefix),
        source,
    })
}

/// Key material goes to a 0600 file for `ssh -i`, removed after the run.
fn write_key_material(key: &str) -> Result<ScratchFile, RunError> {
    // OpenSSH rejects a key without the final newline, and one pasted with
    // Windows line ends.
    let mut text = key.trim().replace("\r\n", "\n");
    text.push('\n');
    scratch_file("key", text.as_bytes(), 0o600)
}

/// What went wrong when ssh itself failed (exit 255 before the session ran),
/// in words that say what to do.
pub(crate) fn explain_failure(host: &Host, address: Option<&str>, stderr: &str) -> String {
    let at = match address {
        Some(a) if a != host.label => format!("{} ({a})", host.label),
        _ => host.label.clone(),
    };
    let detail = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("@@@") && !l.starts_with("IT IS POSSIBLE"))
        .unwrap_or("ssh exited with code 255 and printed nothing")
        .to_string();
    let has = |s: &str| stderr.contains(s);
    if has("REMOTE HOST IDENTIFICATION HAS CHANGED") || has("has changed and you have requested") {
        let offending = stderr
            .lines()
            .find(|l| l.contains("Offending") || l.contains("Host key for"))
            .map(str::trim)
            .unwrap_or(&detail);
        format!(
            "host key for {at} does not match known_hosts: {offending}; if the host was \
             reinstalled, check its new fingerprint and replace the old entry (ssh-keygen -R), \
             otherwise this may be an attack"
        )
    } else if has("Host key verification failed")
        || has("No ED25519 host key is known")
        || has("host key is known for")
    {
        format!(
            "host key for {at} is not in known_hosts and batch mode cannot ask: verify its \
             fingerprint and add it (ssh-keyscan, or one interactive ssh), or set \
             `StrictHostKeyChecking accept-new` for it in the ssh config ({detail})"
        )
    } else if has("incorrect passphrase") || has("bad passphrase") {
        format!("the passphrase of the private key for {at} is wrong ({detail})")
    } else if has("Load key")
        || has("invalid format")
        || has("UNPROTECTED PRIVATE KEY FILE")
        || has("error in libcrypto")
    {
        format!(
            "the private key for {at} cannot be used ({detail}); check `private_key` (a valid \
             OpenSSH/PEM key, file mode 0600)"
        )
    } else if has("Permission denied") || has("Too many authentication failures") {
        format!(
            "authentication to {at} failed ({detail}): check `username` and `private_key`, that \
             the public key is in the remote authorized_keys, and your ssh-agent"
        )
    } else if has("Connection refused") {
        format!(
            "could not connect to {at}: connection refused; check the host and port and that \
             sshd runs there"
        )
    } else if has("timed out") || has("Connection timed out") {
        format!(
            "connecting to {at} timed out ({detail}); check that the host is up and reachable \
             from this machine"
        )
    } else if has("Could not resolve hostname") || has("Name or service not known") {
        format!("host name {at} cannot be resolved ({detail}); check `hosts` and the ssh config")
    } else if has("No route to host") || has("Network is unreachable") {
        format!("{at} is unreachable from this machine ({detail})")
    } else {
        format!("ssh to {at} failed before the command ran: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_with_and_without_ports() {
        let h = Host::parse(" web1:2222 ").unwrap();
        assert_eq!((h.name.as_str(), h.port), ("web1", Some(2222)));
        assert_eq!(h.label, "web1:2222");
        assert_eq!(Host::parse("web1").unwrap().port, None);
        let v6 = Host::parse("[::1]:22").unwrap();
        assert_eq!((v6.name.as_str(), v6.port), ("::1", Some(22)));
        assert_eq!(Host::parse("fe80::1").unwrap().name, "fe80::1");
        assert!(Host::parse("web1:port").is_none());
        assert!(Host::parse(" ").is_none());
    }

    #[test]
    fn failures_are_explained() {
        let h = Host::parse("web3").unwrap();
        let m = explain_failure(
            &h,
            Some("127.0.0.1:2222"),
            "@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
             Offending ED25519 key in /k:1\nHost key verification failed.\n",
        );
        assert!(
            m.starts_with("host key for web3 (127.0.0.1:2222) does not match known_hosts"),
            "{m}"
        );
        let m = explain_failure(
            &h,
            None,
            "ssh: connect to host 127.0.0.1 port 9: Connection refused\n",
        );
        assert!(m.contains("connection refused"), "{m}");
        let m = explain_failure(&h, None, "me@127.0.0.1: Permission denied (publickey).\n");
        assert!(m.starts_with("authentication to web3 failed"), "{m}");
    }
}
