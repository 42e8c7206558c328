//! The POSIX shell line each ssh session runs on the remote host.
//!
//! Why a wrapper: a command run over ssh without a terminal keeps running
//! when the client is killed (nothing signals it), so a timeout or cancel
//! would leave it behind. The wrapper starts the action in the background and
//! watches the session's stdin, which the runner keeps open for as long as it
//! wants the action to live: when the ssh client goes away, sshd closes that
//! stdin, and the watcher kills the session's process group (sshd makes every
//! session its own group) and removes the copied script. When the action ends
//! by itself, the watcher is stopped and the script removed.
//!
//! Protocol on the session's stdin: the script bytes (exactly `len`, scripts
//! only), then the sudo password line (only with `sudo_password`), then
//! nothing until the runner is done.
//!
//! The first line on stderr is [`MARKER`]: a session that exits 255 without it
//! never got to run anything, so the 255 is ssh's own failure (connection,
//! authentication, host key), not the action's exit code.

use crate::args::shell_quote;

/// First line the wrapper writes to stderr; stripped from output and results.
pub(crate) const MARKER: &str = "__stormdesk_remote_session__";

/// What runs on the host.
pub(crate) enum Action<'a> {
    /// A command line, run by the remote shell.
    Cmd(&'a str),
    /// A script copied to `path` (`len` bytes on stdin), run with `args`.
    Script {
        path: &'a str,
        len: usize,
        args: &'a [String],
    },
}

pub(crate) struct Wrapper<'a> {
    pub action: Action<'a>,
    pub cwd: Option<&'a str>,
    pub env: &'a [(String, String)],
    pub sudo: bool,
    /// The sudo password arrives on stdin, never on the command line.
    pub sudo_password: bool,
}

impl Wrapper<'_> {
    /// The command line handed to ssh.
    pub fn command_line(&self) -> String {
        let mut lines: Vec<String> = vec![format!("printf '%s\\n' {MARKER} >&2")];
        let script = match &self.action {
            Action::Script { path, len, .. } => {
                let f = shell_quote(path.as_bytes());
                lines.push(format!("__f={f}"));
                lines.push(format!(
                    "(umask 077; head -c {len} >\"$__f\") && chmod 700 \"$__f\" || {{ echo \
                     \"stormdesk: could not copy the script to $__f on $(hostname)\" >&2; \
                     rm -f \"$__f\"; exit 255; }}"
                ));
                true
            }
            Action::Cmd(_) => false,
        };
        if self.sudo && self.sudo_password {
            lines.push("IFS= read -r __sp || __sp=".into());
        }
        lines.push("exec 3<&0 </dev/null".into());
        lines.push(format!("( {} ) &", self.job()));
        lines.push("__c=$!".into());
        let cleanup = if script { "rm -f \"$__f\"; " } else { "" };
        lines.push(format!(
            "( while read -r __l <&3; do :; done; {cleanup}kill -TERM 0 ) >/dev/null 2>&1 &"
        ));
        lines.push("__w=$!".into());
        lines.push("exec 3<&-".into());
        lines.push("wait \"$__c\"".into());
        lines.push("__rc=$?".into());
        lines.push("kill \"$__w\" 2>/dev/null".into());
        if script {
            lines.push("rm -f \"$__f\"".into());
        }
        lines.push("exit \"$__rc\"".into());
        lines.join("\n")
    }

    /// `cd CWD && export ... && ACTION`, run in the background subshell.
    fn job(&self) -> String {
        let mut parts = Vec::new();
        if let Some(cwd) = self.cwd {
            parts.push(format!("cd {}", shell_quote(cwd.as_bytes())));
        }
        if !self.env.is_empty() {
            let assignments: Vec<String> = self
                .env
                .iter()
                .map(|(k, v)| format!("{k}={}", shell_quote(v.as_bytes())))
                .collect();
            parts.push(format!("export {}", assignments.join(" ")));
        }
        // sudo -E keeps the exported environment (as far as sudoers allows);
        // -n fails at once instead of waiting for a password nobody types.
        let sudo = if self.sudo_password {
            "printf '%s\\n' \"$__sp\" | sudo -S -p '' -E --"
        } else {
            "exec sudo -n -E --"
        };
        let action = match &self.action {
            Action::Cmd(cmd) if self.sudo => {
                format!("{sudo} bash -c {}", shell_quote(cmd.as_bytes()))
            }
            Action::Cmd(cmd) => format!("eval {}", shell_quote(cmd.as_bytes())),
            Action::Script { args, .. } => {
                let mut line = if self.sudo {
                    format!("{sudo} \"$__f\"")
                } else {
                    "exec \"$__f\"".to_string()
                };
                for a in args.iter() {
                    line.push(' ');
                    line.push_str(&shell_quote(a.as_bytes()));
                }
                line
            }
        };
        parts.push(action);
        parts.join(" && ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_is_quoted_and_guarded() {
        let env = vec![("A".to_string(), "it's".to_string())];
        let w = Wrapper {
            action: Action::Cmd("echo $A; exit 3"),
            cwd: Some("/tmp/x y"),
            env: &env,
            sudo: false,
            sudo_password: false,
        };
        let line = w.command_line();
        assert!(line.starts_with("printf '%s\\n' __stormdesk_remote_session__ >&2\n"));
        assert!(
            line.contains(r"( cd '/tmp/x y' && export A='it'\''s' && eval 'echo $A; exit 3' ) &")
        );
        assert!(line.contains("kill -TERM 0"));
        assert!(!line.contains("__f"));
    }

    #[test]
    fn script_is_copied_run_and_removed() {
        let args = vec!["--x=1".to_string(), "a b".to_string()];
        let w = Wrapper {
            action: Action::Script {
                path: "/tmp/s.sh",
                len: 42,
                args: &args,
            },
            cwd: None,
            env: &[],
            sudo: true,
            sudo_password: true,
        };
        let line = w.command_line();
        assert!(line.contains("head -c 42 >\"$__f\""));
        assert!(line.contains("IFS= read -r __sp"));
        assert!(line.contains("sudo -S -p '' -E -- \"$__f\" --x=1 'a b'"));
        assert!(line.ends_with("rm -f \"$__f\"\nexit \"$__rc\""));
    }
}
