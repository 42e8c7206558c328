//! The runner types StackStorm defines, with their runner parameter schemas,
//! and which of them Stormdesk can run today.
//!
//! The schemas follow StackStorm's `runner.yaml` files (names, types, defaults,
//! `secret`, `immutable`), so action metadata written for StackStorm keeps its
//! meaning here: an action may override a runner parameter's default, and the
//! engine fills in the rest.

use std::sync::OnceLock;

use indexmap::IndexMap;

use super::action::ParamSpec;

/// Whether Stormdesk can run actions of a runner type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Supported,
    /// Known to StackStorm, not implemented here yet.
    NotYet,
}

/// One runner type: its canonical name, older aliases and parameter schema.
#[derive(Debug)]
pub struct RunnerType {
    pub name: &'static str,
    /// Older names StackStorm still accepts in `runner_type` (e.g. `run-local`).
    pub aliases: &'static [&'static str],
    pub support: Support,
    /// The action needs an `entry_point` (a script, a Python module, a workflow).
    pub needs_entry_point: bool,
    parameters: IndexMap<String, ParamSpec>,
}

impl RunnerType {
    pub fn is_supported(&self) -> bool {
        self.support == Support::Supported
    }

    /// Runner parameters in their defined order.
    pub fn parameters(&self) -> &IndexMap<String, ParamSpec> {
        &self.parameters
    }

    /// Why an action of this runner type cannot run, if it cannot.
    pub fn unsupported_reason(&self) -> Option<String> {
        match self.support {
            Support::Supported => None,
            Support::NotYet => Some(format!("runner type {} is not supported yet", self.name)),
        }
    }
}

// Each entry: name, aliases, support, needs entry point, runner parameter schema
// parts (YAML maps, concatenated in order).
type Def = (
    &'static str,
    &'static [&'static str],
    Support,
    bool,
    &'static [&'static str],
);

const LOCAL_COMMON: &str = r#"
cwd:
  type: string
  description: Working directory of the command.
env:
  type: object
  description: Extra environment variables (key1=val1,key2=val2 or a JSON object).
kwarg_op:
  type: string
  default: "--"
  description: Prefix of named arguments, e.g. "--" or "-".
sudo:
  type: boolean
  default: false
  description: Run the command with sudo.
sudo_password:
  type: string
  secret: true
  default: null
  description: Password for sudo when passwordless sudo is not allowed.
timeout:
  type: integer
  default: 60
  description: Seconds before the action is killed and marked as timed out.
"#;

const LOCAL_CMD: &str = r#"
cmd:
  type: string
  description: Command line run by the shell on this machine.
"#;

const SCRIPT_EXTRA: &str = r#"
content_version:
  type: string
  description: Pack revision (commit, tag or branch) to run the action from.
debug:
  type: boolean
  default: false
  description: Enable runner debug mode.
"#;

const PYTHON: &str = r#"
content_version:
  type: string
  description: Pack revision (commit, tag or branch) to run the action from.
debug:
  type: boolean
  default: false
  description: Enable runner debug mode.
env:
  type: object
  description: Extra environment variables for the Python process.
timeout:
  type: integer
  default: 600
  description: Seconds before the action is killed and marked as timed out.
log_level:
  type: string
  default: DEBUG
  enum: [AUDIT, CRITICAL, ERROR, WARNING, INFO, DEBUG]
  description: Lowest level of the action's self.logger messages that are kept.
"#;

// StackStorm's orquesta runner declares no runner parameters; the revision
// is Stormdesk's addition (a workflow and its pack's tasks run at it).
const ORQUESTA: &str = r#"
content_version:
  type: string
  description: Pack revision (commit, tag or branch) to run the workflow from.
"#;

// Only what StackStorm's http runner.yaml declares: `method`, `body`,
// `params`, `timeout` and the rest are parameters of the action (core.http
// declares them), which the runner reads from the action parameters.
const HTTP: &str = r#"
url:
  type: string
  required: true
  description: URL of the HTTP endpoint.
headers:
  type: object
  description: Request headers.
cookies:
  type: object
  description: Cookies sent with the request.
username:
  type: string
  description: User name for basic authentication.
password:
  type: string
  secret: true
  description: Password for basic authentication.
allow_redirects:
  type: boolean
  default: false
  description: Follow redirects.
verify_ssl_cert:
  type: boolean
  default: true
  description: Verify the server's TLS certificate.
http_proxy:
  type: string
  description: HTTP proxy URL.
https_proxy:
  type: string
  description: HTTPS proxy URL.
"#;

// StackStorm's remote runner.yaml; `concurrency` and `ssh_config` are
// Stormdesk's additions. `parallel` is immutable (StackStorm always ran the
// hosts in parallel whatever it said).
const REMOTE_COMMON: &str = r#"
hosts:
  type: string
  required: true
  description: Comma-separated hosts (host or host:port).
username:
  type: string
  description: SSH user name.
password:
  type: string
  secret: true
  description: Not supported (OpenSSH in batch mode cannot type it); use private_key or ssh-agent.
private_key:
  type: string
  secret: true
  description: Private key material or path.
passphrase:
  type: string
  secret: true
  description: Passphrase of the private key (given to ssh through an askpass helper).
port:
  type: integer
  description: SSH port when the host has none.
bastion_host:
  type: string
  description: Host the SSH connections go through.
parallel:
  type: boolean
  default: false
  immutable: true
  description: Kept for StackStorm compatibility; hosts always run in parallel.
concurrency:
  type: integer
  description: At most this many hosts at once (default STORMDESK_SSH_MAX_PARALLEL or 20).
ssh_config:
  type: string
  description: ssh client config file used instead of ~/.ssh/config (ssh -F).
cwd:
  type: string
  default: /tmp
  description: Working directory on the remote hosts.
env:
  type: object
  description: Extra environment variables.
kwarg_op:
  type: string
  default: "--"
  description: Prefix of named arguments.
sudo:
  type: boolean
  default: false
  description: Run the command with sudo.
sudo_password:
  type: string
  secret: true
  default: null
  description: Password for sudo.
timeout:
  type: integer
  default: 60
  description: Seconds before the action is killed.
"#;

const REMOTE_CMD_DIR: &str = r#"
dir:
  type: string
  default: /tmp
  immutable: true
  description: Remote directory scripts are copied to.
"#;

const REMOTE_SCRIPT_DIR: &str = r#"
dir:
  type: string
  default: /tmp
  description: Remote directory scripts are copied to.
"#;

// StackStorm's action_chain_runner/runner.yaml.
const CHAIN: &str = r#"
display_published:
  type: boolean
  default: true
  description: Intermediate published variables will be stored and displayed.
skip_notify:
  type: array
  default: []
  description: List of tasks to skip notifications for.
"#;

// StackStorm's inquirer_runner/runner.yaml.
const INQUIRER: &str = r#"
schema:
  type: object
  required: true
  default:
    title: response_data
    type: object
    properties:
      continue:
        type: boolean
        description: Would you like to continue the workflow?
        required: true
  description: A JSON schema that will be used to validate the response data
route:
  type: string
  default: ""
  description: An arbitrary value for allowing rules to route to proper notification channel
roles:
  type: array
  default: []
  description: A list of roles that are permitted to respond to the action (if nothing provided, all are permitted) - REQUIRES RBAC FEATURES
users:
  type: array
  default: []
  description: A list of usernames that are permitted to respond to the action (if nothing provided, all are permitted)
ttl:
  type: integer
  required: true
  default: 1440
  description: Time (in minutes) to wait before timing out the inquiry if no response is received
"#;

// StackStorm's announcement_runner/runner.yaml.
const ANNOUNCEMENT: &str = r#"
experimental:
  type: boolean
  required: true
  default: false
  description: Flag to indicate acknowledgment of using experimental runner
route:
  type: string
  default: general
  minLength: 1
  maxLength: 255
  description: The routing_key used to route the message to consumers. Might be a list of words, delimited by dots.
"#;

// StackStorm's winrm_runner/runner.yaml (the connection of all three).
const WINRM_COMMON: &str = r#"
cwd:
  type: string
  description: Working directory where the command will be executed in
env:
  type: object
  description: Environment variables which will be available to the command (e.g. key1=val1,key2=val2)
host:
  type: string
  required: true
  description: A host where the command will be run
kwarg_op:
  type: string
  default: "-"
  description: Operator to use in front of keyword args i.e. "-" or "/".
password:
  type: string
  required: true
  secret: true
  description: Password used to log in.
port:
  type: integer
  default: 5986
  description: 'WinRM port to connect on. If using port 5985 scheme must be "http"'
scheme:
  type: string
  default: https
  description: 'Scheme to use in the WinRM URL. If using scheme "http" port must be 5985'
timeout:
  type: integer
  default: 60
  description: Action timeout in seconds. Action will get killed if it doesn't finish in timeout seconds.
transport:
  type: string
  default: ntlm
  enum: [basic, certificate, credssp, kerberos, ntlm, plaintext, ssl]
  description: The type of transport that WinRM will use to communicate (pywinrm's transports).
username:
  type: string
  required: true
  description: Username used to log-in.
verify_ssl_cert:
  type: boolean
  default: true
  description: Verify the host's HTTPS certificate (Mozilla's CA bundle); false skips verification.
"#;

const WINRM_CMD: &str = r#"
cmd:
  type: string
  description: Arbitrary command to be executed on the remote host.
"#;

// The revision is Stormdesk's addition, as for the other script runners.
const WINRM_SCRIPT: &str = r#"
content_version:
  type: string
  description: Pack revision (commit, tag or branch) to run the action from.
"#;

const DEFS: &[Def] = &[
    (
        "local-shell-cmd",
        &["run-local"],
        Support::Supported,
        false,
        &[LOCAL_CMD, LOCAL_COMMON],
    ),
    (
        "local-shell-script",
        &["run-local-script"],
        Support::Supported,
        true,
        &[LOCAL_COMMON, SCRIPT_EXTRA],
    ),
    (
        "python-script",
        &["run-python"],
        Support::Supported,
        true,
        &[PYTHON],
    ),
    ("noop", &[], Support::Supported, false, &[]),
    ("orquesta", &[], Support::Supported, true, &[ORQUESTA]),
    (
        "http-request",
        &["http-runner"],
        Support::Supported,
        false,
        &[HTTP],
    ),
    (
        "remote-shell-cmd",
        &["run-remote"],
        Support::Supported,
        false,
        &[LOCAL_CMD, REMOTE_COMMON, REMOTE_CMD_DIR],
    ),
    (
        "remote-shell-script",
        &["run-remote-script"],
        Support::Supported,
        true,
        &[REMOTE_COMMON, REMOTE_SCRIPT_DIR, SCRIPT_EXTRA],
    ),
    ("action-chain", &[], Support::Supported, true, &[CHAIN]),
    ("inquirer", &[], Support::Supported, false, &[INQUIRER]),
    (
        "announcement",
        &[],
        Support::Supported,
        false,
        &[ANNOUNCEMENT],
    ),
    (
        "winrm-cmd",
        &[],
        Support::Supported,
        false,
        &[WINRM_CMD, WINRM_COMMON],
    ),
    (
        "winrm-ps-cmd",
        &[],
        Support::Supported,
        false,
        &[WINRM_CMD, WINRM_COMMON],
    ),
    (
        "winrm-ps-script",
        &[],
        Support::Supported,
        true,
        &[WINRM_COMMON, WINRM_SCRIPT],
    ),
];

fn build() -> Vec<RunnerType> {
    DEFS.iter()
        .map(|&(name, aliases, support, needs_entry_point, parts)| {
            let mut parameters = IndexMap::new();
            for part in parts {
                let specs: IndexMap<String, ParamSpec> = serde_yaml::from_str(part)
                    .unwrap_or_else(|e| panic!("built-in schema of runner {name} is invalid: {e}"));
                parameters.extend(specs);
            }
            RunnerType {
                name,
                aliases,
                support,
                needs_entry_point,
                parameters,
            }
        })
        .collect()
}

/// Every runner type known, supported or not.
pub fn runner_types() -> &'static [RunnerType] {
    static TYPES: OnceLock<Vec<RunnerType>> = OnceLock::new();
    TYPES.get_or_init(build)
}

/// Looks a runner type up by its name or one of its aliases.
pub fn runner_type(name: &str) -> Option<&'static RunnerType> {
    runner_types()
        .iter()
        .find(|r| r.name == name || r.aliases.contains(&name))
}

/// Names of the runner types this build can run.
pub fn supported_runner_types() -> Vec<&'static str> {
    runner_types()
        .iter()
        .filter(|r| r.is_supported())
        .map(|r| r.name)
        .collect()
}

/// Why an action with this `runner_type` cannot run, or `None` when it can.
pub fn unsupported_reason(runner_type: &str) -> Option<String> {
    match self::runner_type(runner_type) {
        Some(r) => r.unsupported_reason(),
        None => Some(format!(
            "unknown runner type '{runner_type}'; known runner types: {}",
            runner_types()
                .iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn builtin_schemas_parse() {
        assert!(runner_types().len() >= 8);
    }

    #[test]
    fn local_shell_cmd_schema() {
        let r = runner_type("local-shell-cmd").unwrap();
        assert!(r.is_supported());
        let p = r.parameters();
        assert_eq!(p.get_index(0).unwrap().0, "cmd");
        assert_eq!(p["timeout"].default, Some(json!(60)));
        assert_eq!(p["timeout"].type_.as_deref(), Some("integer"));
        assert_eq!(p["kwarg_op"].default, Some(json!("--")));
        assert_eq!(p["sudo"].default, Some(json!(false)));
        assert!(p["sudo_password"].secret);
        assert!(!p.contains_key("content_version"));
    }

    #[test]
    fn script_and_python_schemas() {
        let s = runner_type("local-shell-script").unwrap();
        assert!(!s.parameters().contains_key("cmd"));
        assert!(s.parameters().contains_key("content_version"));
        assert!(s.needs_entry_point);
        let py = runner_type("python-script").unwrap();
        assert_eq!(py.parameters()["timeout"].default, Some(json!(600)));
        assert_eq!(py.parameters()["log_level"].default, Some(json!("DEBUG")));
        assert!(py.parameters().contains_key("content_version"));
        let wf = runner_type("orquesta").unwrap();
        assert!(wf.parameters().contains_key("content_version"));
    }

    #[test]
    fn aliases_and_support() {
        assert_eq!(runner_type("run-local").unwrap().name, "local-shell-cmd");
        assert_eq!(runner_type("run-python").unwrap().name, "python-script");
        assert_eq!(runner_type("http-runner").unwrap().name, "http-request");
        assert_eq!(runner_type("run-remote").unwrap().name, "remote-shell-cmd");
        assert!(unsupported_reason("action-chain").is_none());
        assert!(unsupported_reason("inquirer").is_none());
        assert!(unsupported_reason("announcement").is_none());
        assert!(unsupported_reason("noop").is_none());
        assert!(unsupported_reason("orquesta").is_none());
        assert!(unsupported_reason("http-request").is_none());
        assert!(unsupported_reason("remote-shell-script").is_none());
        let unknown = unsupported_reason("telepathy").unwrap();
        assert!(
            unknown.contains("unknown runner type 'telepathy'"),
            "{unknown}"
        );
        assert_eq!(
            supported_runner_types(),
            vec![
                "local-shell-cmd",
                "local-shell-script",
                "python-script",
                "noop",
                "orquesta",
                "http-request",
                "remote-shell-cmd",
                "remote-shell-script",
                "action-chain",
                "inquirer",
                "announcement",
                "winrm-cmd",
                "winrm-ps-cmd",
                "winrm-ps-script"
            ]
        );
    }

    #[test]
    fn winrm_schemas_follow_stackstorm() {
        for name in ["winrm-cmd", "winrm-ps-cmd", "winrm-ps-script"] {
            let r = runner_type(name).unwrap();
            assert!(r.is_supported(), "{name}");
            let p = r.parameters();
            for required in ["host", "username", "password"] {
                assert!(p[required].required, "{name}.{required}");
            }
            assert!(p["password"].secret);
            assert_eq!(p["port"].default, Some(json!(5986)));
            assert_eq!(p["scheme"].default, Some(json!("https")));
            assert_eq!(p["transport"].default, Some(json!("ntlm")));
            assert_eq!(p["verify_ssl_cert"].default, Some(json!(true)));
            assert_eq!(p["kwarg_op"].default, Some(json!("-")));
            assert_eq!(p["timeout"].default, Some(json!(60)));
            assert_eq!(p.contains_key("cmd"), name != "winrm-ps-script");
            assert_eq!(r.needs_entry_point, name == "winrm-ps-script");
        }
    }

    #[test]
    fn http_schema() {
        let p = runner_type("http-request").unwrap().parameters();
        assert!(p["url"].required);
        assert!(p["password"].secret);
        assert_eq!(p["allow_redirects"].default, Some(json!(false)));
        assert_eq!(p["verify_ssl_cert"].default, Some(json!(true)));
        // Action parameters in StackStorm (core.http declares them).
        for name in ["method", "body", "params", "timeout"] {
            assert!(!p.contains_key(name), "{name}");
        }
    }

    #[test]
    fn remote_schemas() {
        let cmd = runner_type("remote-shell-cmd").unwrap();
        assert!(!cmd.needs_entry_point);
        let p = cmd.parameters();
        assert_eq!(p.get_index(0).unwrap().0, "cmd");
        assert!(p["hosts"].required);
        for secret in ["password", "private_key", "passphrase", "sudo_password"] {
            assert!(p[secret].secret, "{secret}");
        }
        assert_eq!(p["parallel"].default, Some(json!(false)));
        assert!(p["parallel"].immutable);
        assert!(p["dir"].immutable);
        assert_eq!(p["sudo_password"].default, Some(serde_json::Value::Null));
        assert_eq!(p["timeout"].default, Some(json!(60)));
        assert_eq!(p["cwd"].default, Some(json!("/tmp")));
        let script = runner_type("remote-shell-script").unwrap();
        assert!(script.needs_entry_point);
        assert!(!script.parameters().contains_key("cmd"));
        assert_eq!(script.parameters()["dir"].default, Some(json!("/tmp")));
        assert!(!script.parameters()["dir"].immutable);
        assert_eq!(script.parameters()["kwarg_op"].default, Some(json!("--")));
    }
}
