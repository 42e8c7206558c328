//! `python-script`: unmodified StackStorm actions through the wrapper.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use stormdesk_runner::protocol::{RunnerRequest, RunnerStatus};

use crate::support::{callback, named, request, run_lib, start_listener, write_file};

/// A pack with `actions/<name>.py` holding `source`, plus `lib/` and a helper
/// module next to the action.
struct Pack {
    dir: tempfile::TempDir,
}

impl Pack {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        write_file(
            &dir.path().join("lib/packlib.py"),
            "def shout(s):\n    return s.upper() + '!'\n",
            false,
        );
        write_file(
            &dir.path().join("actions/local_module.py"),
            "GREETING = 'hello from local_module'\n",
            false,
        );
        Self { dir }
    }

    fn action(&self, name: &str, source: &str) -> PathBuf {
        write_file(
            &self.path().join(format!("actions/{name}.py")),
            source,
            false,
        )
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn request(&self, name: &str, source: &str, params: Value) -> RunnerRequest {
        let mut req = request("python-script", params);
        req.entry_point = Some(self.action(name, source));
        req.pack_dir = Some(self.path().to_path_buf());
        req
    }
}

#[test]
fn modern_import_path_with_config_print_and_tuple_status() {
    let pack = Pack::new();
    let mut req = pack.request(
        "modern",
        "from st2common.runners.base_action import Action\n\
         \n\
         class Modern(Action):\n\
         \x20   def run(self, name, count=1):\n\
         \x20       print('printed ' + name)\n\
         \x20       return (True, {'name': name, 'count': count, 'config': self.config})\n",
        json!({}),
    );
    req.action_parameters = vec![named("name", json!("x")), named("count", json!(3))];
    req.pack_config = json!({"api_key": "k", "nested": {"a": 1}});
    let (outcome, streamed) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );
    assert_eq!(
        outcome.result,
        json!({
            "result": {"name": "x", "count": 3, "config": {"api_key": "k", "nested": {"a": 1}}},
            "stdout": "printed x\n",
            "stderr": "",
            "exit_code": 0
        })
    );
    assert_eq!(streamed.stdout, "printed x\n");
}

#[test]
fn legacy_import_path_and_plain_return_value() {
    let pack = Pack::new();
    let req = pack.request(
        "legacy",
        "from st2actions.runners.pythonrunner import Action\n\
         from st2common.runners.base_action import Action as Modern\n\
         \n\
         class Legacy(Action):\n\
         \x20   def run(self):\n\
         \x20       return ['same class', Action is Modern, self.config]\n",
        json!({}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );
    assert_eq!(outcome.result["result"], json!(["same class", true, {}]));
}

#[test]
fn imports_from_the_action_directory_and_pack_lib() {
    let pack = Pack::new();
    let req = pack.request(
        "imports",
        "import local_module\n\
         from packlib import shout\n\
         from st2common.runners.base_action import Action\n\
         \n\
         class Imports(Action):\n\
         \x20   def run(self):\n\
         \x20       return [local_module.GREETING, shout('lib')]\n",
        json!({}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );
    assert_eq!(
        outcome.result["result"],
        json!(["hello from local_module", "LIB!"])
    );
}

#[test]
fn false_status_is_failed_with_the_data_as_result() {
    let pack = Pack::new();
    let req = pack.request(
        "fails",
        "from st2common.runners.base_action import Action\n\
         class Fails(Action):\n\
         \x20   def run(self):\n\
         \x20       return (False, {'reason': 'nope'})\n",
        json!({}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Failed);
    assert_eq!(outcome.result["result"], json!({"reason": "nope"}));
    assert_eq!(outcome.result["exit_code"], 0);
}

#[test]
fn exception_is_failed_with_traceback_on_stderr() {
    let pack = Pack::new();
    let req = pack.request(
        "raises",
        "from st2common.runners.base_action import Action\n\
         class Raises(Action):\n\
         \x20   def run(self):\n\
         \x20       raise ValueError('broken on purpose')\n",
        json!({}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Failed);
    let stderr = outcome.result["stderr"].as_str().unwrap();
    assert!(
        stderr.contains("Traceback (most recent call last)"),
        "{stderr}"
    );
    assert!(stderr.contains("ValueError: broken on purpose"), "{stderr}");
    assert_eq!(outcome.result["exit_code"], 1);
    // StackStorm's result when the action produced none.
    assert_eq!(outcome.result["result"], "None");
}

#[test]
fn non_boolean_status_is_rejected() {
    let pack = Pack::new();
    let req = pack.request(
        "badstatus",
        "from st2common.runners.base_action import Action\n\
         class BadStatus(Action):\n\
         \x20   def run(self):\n\
         \x20       return ('yes', 1)\n",
        json!({}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Failed);
    assert_eq!(outcome.result["exit_code"], 220);
    assert!(outcome.result["error"]
        .as_str()
        .unwrap()
        .contains("must either be True or False"));
}

#[test]
fn logger_writes_to_stderr_at_the_log_level() {
    let pack = Pack::new();
    let source = "from st2common.runners.base_action import Action\n\
                  class Logs(Action):\n\
                  \x20   def run(self):\n\
                  \x20       self.logger.info('info line')\n\
                  \x20       self.logger.error('error line')\n";
    let (outcome, _) = run_lib(&pack.request("logs", source, json!({})));
    let stderr = outcome.result["stderr"].as_str().unwrap();
    assert!(
        stderr.contains("actions.python.Logs: INFO     info line"),
        "{stderr}"
    );
    assert!(
        stderr.contains("actions.python.Logs: ERROR    error line"),
        "{stderr}"
    );
    assert_eq!(outcome.result["result"], Value::Null);

    let (outcome, _) = run_lib(&pack.request("logs", source, json!({"log_level": "ERROR"})));
    let stderr = outcome.result["stderr"].as_str().unwrap();
    assert!(!stderr.contains("info line"), "{stderr}");
    assert!(stderr.contains("error line"), "{stderr}");
}

#[test]
fn env_parameter_and_stackstorm_variables_are_visible() {
    let pack = Pack::new();
    let req = pack.request(
        "env",
        "import os\n\
         from st2common.runners.base_action import Action\n\
         class Env(Action):\n\
         \x20   def run(self):\n\
         \x20       return [os.environ.get(k) for k in ('MY_VAR', 'ST2_ACTION_PACK_NAME', 'ST2_ACTION_EXECUTION_ID')]\n",
        json!({"env": {"MY_VAR": "mine"}}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.result["result"],
        json!(["mine", "mypack", "exec-1"])
    );
}

#[test]
fn fifty_megabyte_parameter_travels_on_stdin() {
    let pack = Pack::new();
    let mut req = pack.request(
        "big",
        "from st2common.runners.base_action import Action\n\
         class Big(Action):\n\
         \x20   def run(self, blob):\n\
         \x20       return len(blob)\n",
        json!({}),
    );
    let size = 50 * 1024 * 1024;
    req.action_parameters = vec![named("blob", Value::String("x".repeat(size)))];
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result["stderr"]
    );
    assert_eq!(outcome.result["result"], json!(size));
}

#[test]
fn timeout_is_status_timeout() {
    let pack = Pack::new();
    let req = pack.request(
        "slow",
        "import time\n\
         from st2common.runners.base_action import Action\n\
         class Slow(Action):\n\
         \x20   def run(self):\n\
         \x20       time.sleep(60)\n",
        json!({"timeout": 1}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(outcome.status, RunnerStatus::Timeout);
    assert_eq!(outcome.result["exit_code"], -9);
    assert_eq!(outcome.result["result"], "None");
    assert_eq!(
        outcome.result["error"],
        "Action failed to complete in 1 seconds"
    );
}

const KV_ACTION: &str = "from st2common.runners.base_action import Action\n\
    class Kv(Action):\n\
    \x20   def run(self):\n\
    \x20       self.action_service.set_value('counter', '7')\n\
    \x20       return [self.action_service.get_value('counter'),\n\
    \x20               self.action_service.get_value('absent'),\n\
    \x20               self.action_service.delete_value('counter')]\n";

#[test]
fn action_service_uses_the_listener_key_api() {
    let pack = Pack::new();
    let listener = start_listener(200);
    let mut req = pack.request("kv", KV_ACTION, json!({}));
    req.callback = Some(callback(&listener.url));
    req.api = Some(stormdesk_runner::protocol::ApiAccess {
        url: format!("{}/v1", listener.url),
        token: "secret-token".into(),
    });
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );
    assert_eq!(outcome.result["result"], json!(["7", null, true]));

    let seen: Vec<_> = listener.requests.try_iter().collect();
    let put = seen.iter().find(|r| r.method == "PUT").expect("no PUT");
    assert!(
        put.path.starts_with("/v1/keys/mypack.Kv%3Acounter"),
        "{}",
        put.path
    );
    assert_eq!(put.json()["value"], "7");
    assert!(seen
        .iter()
        .all(|r| r.authorization.as_deref() == Some("Bearer secret-token")));
}

#[test]
fn action_service_without_listener_fails_clearly() {
    let pack = Pack::new();
    let (outcome, _) = run_lib(&pack.request("kv", KV_ACTION, json!({})));
    assert_eq!(outcome.status, RunnerStatus::Failed);
    let stderr = outcome.result["stderr"].as_str().unwrap();
    assert!(
        stderr.contains("The datastore is not available"),
        "{stderr}"
    );
}

/// The `st2common` modules packs import besides `Action`, and what their
/// helpers return (StackStorm's behaviour, from its source).
const ST2COMMON_ACTION: &str = r#"import datetime

from st2actions.runners.pythonrunner import Action as LegacyAction
from st2common import log as logging
from st2common.constants.action import LIVEACTION_COMPLETED_STATES, LIVEACTION_STATUS_SUCCEEDED
from st2common.constants.keyvalue import DATASTORE_KEY_SEPARATOR, FULL_SYSTEM_SCOPE, SYSTEM_SCOPE
from st2common.exceptions import StackStormBaseException, StackStormPluginException
from st2common.exceptions.action import InvalidActionParameterException
from st2common.exceptions.actionrunner import ActionRunnerException
from st2common.exceptions.apivalidation import ValueValidationException
from st2common.exceptions.connection import ConnectionErrorException
from st2common.exceptions.content import ParseException
from st2common.exceptions.db import StackStormDBObjectNotFoundError
from st2common.exceptions.keyvalue import InvalidScopeException
from st2common.exceptions.param import ParamException
from st2common.exceptions.ssh import InvalidCredentialsException
from st2common.runners.base_action import Action
from st2common.runners.utils import get_logger_for_python_runner_action
from st2common.services.datastore import ActionDatastoreService
from st2common.util import date as date_utils
from st2common.util import isotime, jsonify, misc
from st2common.util.shell import quote_unix


class Shim(Action):
    def run(self):
        dt = datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
        return {
            "legacy_is_action": LegacyAction is Action,
            "statuses": [LIVEACTION_STATUS_SUCCEEDED, len(LIVEACTION_COMPLETED_STATES)],
            "scopes": [SYSTEM_SCOPE, FULL_SYSTEM_SCOPE, DATASTORE_KEY_SEPARATOR],
            "hierarchy": [
                issubclass(ActionRunnerException, StackStormPluginException),
                issubclass(StackStormPluginException, StackStormBaseException),
                issubclass(ParamException, StackStormBaseException),
                issubclass(InvalidActionParameterException, StackStormBaseException),
                issubclass(ValueValidationException, StackStormBaseException),
                issubclass(StackStormDBObjectNotFoundError, StackStormBaseException),
                issubclass(InvalidScopeException, StackStormBaseException),
                issubclass(ParseException, ValueError),
                issubclass(ConnectionErrorException, Exception),
                issubclass(InvalidCredentialsException, Exception),
            ],
            "quote": quote_unix("a b'c"),
            "iso": [isotime.format(dt), isotime.format(dt, usec=False, offset=False)],
            "parsed": isotime.parse("2020-01-02T03:04:05Z").isoformat(),
            "not_iso": isotime.validate("yesterday", raise_exception=False),
            "utc": date_utils.convert_to_utc(datetime.datetime(2020, 1, 2)).isoformat(),
            "json": [jsonify.try_loads('{"a": 1}'), jsonify.try_loads("not json"),
                     jsonify.get_json_type_for_python_value([1])],
            "strip": misc.strip_shell_chars("out\r\n"),
            "merged": misc.deep_update({"a": {"b": 1}}, {"a": {"c": 2}, "d": 3}),
            "logger": [logging.getLogger("pack.x").name, hasattr(logging.getLogger("y"), "audit"),
                       self.logger.name,
                       get_logger_for_python_runner_action("Shim") is self.logger],
            "datastore_prefix": ActionDatastoreService(self.logger, "p", "C")._get_full_key_name("k", True),
        }
"#;

#[test]
fn st2common_modules_packs_import_behave_as_stackstorm() {
    let pack = Pack::new();
    let (outcome, _) = run_lib(&pack.request("shim", ST2COMMON_ACTION, json!({})));
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );
    assert_eq!(
        outcome.result["result"],
        json!({
            "legacy_is_action": true,
            "statuses": ["succeeded", 5],
            "scopes": ["system", "st2kv.system", ":"],
            "hierarchy": [true, true, true, true, true, true, true, true, true, true],
            "quote": "'a b'\"'\"'c'",
            "iso": ["2020-01-02T03:04:05.000000+00:00", "2020-01-02T03:04:05Z"],
            "parsed": "2020-01-02T03:04:05+00:00",
            "not_iso": false,
            "utc": "2020-01-02T00:00:00+00:00",
            "json": [{"a": 1}, "not json", "array"],
            "strip": "out",
            "merged": {"a": {"b": 1, "c": 2}, "d": 3},
            "logger": ["st2.pack.x", true, "st2.actions.python.Shim", true],
            "datastore_prefix": "p.C:k",
        })
    );
}

#[test]
fn pack_lib_and_actions_lib_reach_the_action_and_its_subprocesses() {
    let pack = Pack::new();
    write_file(
        &pack.path().join("actions/lib/helpers.py"),
        "WHERE = 'actions/lib'\n",
        false,
    );
    let req = pack.request(
        "paths",
        "import os, subprocess, sys\n\
         import helpers\n\
         from packlib import shout\n\
         from st2common.runners.base_action import Action\n\
         \n\
         class Paths(Action):\n\
         \x20   def run(self):\n\
         \x20       child = subprocess.check_output([sys.executable, '-c',\n\
         \x20           'import helpers, packlib, st2common.util.shell; print(helpers.WHERE)'])\n\
         \x20       return [helpers.WHERE, shout('x'), child.decode().strip(),\n\
         \x20               os.environ['PYTHONPATH'].split(os.pathsep)[:2]]\n",
        json!({"env": {"PYTHONPATH": "/ignored"}}),
    );
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.status,
        RunnerStatus::Succeeded,
        "{}",
        outcome.result
    );
    let lib = pack.path().join("lib").display().to_string();
    let actions_lib = pack.path().join("actions/lib").display().to_string();
    assert_eq!(
        outcome.result["result"],
        json!(["actions/lib", "X!", "actions/lib", [lib, actions_lib]])
    );
}

#[test]
fn the_requests_interpreter_runs_the_action_with_its_bin_first_on_path() {
    let pack = Pack::new();
    // An environment-like layout: `<env>/bin/python` linking to the real
    // executable of the machine's python3 (not a launcher such as a shim).
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import os, sys; print(os.path.realpath(sys.executable))",
        ])
        .output()
        .expect("python3 on PATH");
    let real = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let env = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(env.path().join("bin")).unwrap();
    let python = env.path().join("bin/python");
    std::os::unix::fs::symlink(real, &python).unwrap();
    let mut req = pack.request(
        "interp",
        "import os, sys\n\
         from st2common.runners.base_action import Action\n\
         class Interp(Action):\n\
         \x20   def run(self):\n\
         \x20       return [sys.executable, os.environ['PATH'].split(os.pathsep)[0]]\n",
        json!({}),
    );
    req.python = Some(python.clone());
    let (outcome, _) = run_lib(&req);
    assert_eq!(
        outcome.result["result"],
        json!([
            python.display().to_string(),
            env.path().join("bin").display().to_string()
        ]),
        "{}",
        outcome.result
    );
}
