"""Stormdesk's WinRM driver: one command or PowerShell script on one Windows
host through pywinrm, the way StackStorm's winrm runner does it
(contrib/runners/winrm_runner/winrm_runner/winrm_base.py).

The runner starts it as `python -I -u -c <this file>` and writes the job as
one JSON document on stdin (the password travels only there). The outcome goes
to the job's `result_file` as JSON:

    {"stdout": str, "stderr": str, "return_code": int, "timeout": bool}
    {"error": str, "error_type": str}     when the host could not be used

While the command runs, each piece of its stdout (and, for `cmd` jobs, its
stderr) is written to this process's stdout / stderr as it arrives, so the
console shows it live. Nothing else is ever printed.

What is StackStorm's here: the shell options (working directory, environment,
codepage 65001), the receive loop with its own timeout (the partial output and
return code -1 when it runs out), `powershell -encodedcommand` with the script
in base64 UTF-16LE, `& {script} params` for script parameters, the switch to
an uploaded temporary script when the command line would exceed 8191
characters, the CLIXML clean-up of PowerShell's stderr, and how parameters
become PowerShell literals (`_param_to_ps`, `create_ps_params_string`).
"""

import base64
import json
import re
import signal
import sys
import time
import warnings

# StackStorm's constants (winrm_base.py).
WINRM_TIMEOUT_EXIT_CODE = -1
WINRM_MAX_CMD_LENGTH = 8191
WINRM_UPLOAD_CHUNK_SIZE_BYTES = 2048
WINRM_DEFAULT_TMP_DIR_PS = "[System.IO.Path]::GetTempPath()"
UTF8_CODEPAGE = 65001

PS_ESCAPE_SEQUENCES = {
    "\n": "`n",
    "\r": "`r",
    "\t": "`t",
    "\a": "`a",
    "\b": "`b",
    "\f": "`f",
    "\v": "`v",
    '"': '`"',
    "'": "`'",
    "`": "``",
    "\0": "`0",
    "$": "`$",
}
_PS_ESCAPE_RE = re.compile(
    "|".join(re.escape(s) for s in sorted(PS_ESCAPE_SEQUENCES, key=len, reverse=True))
)


class Canceled(Exception):
    """SIGTERM from the runner: the run was canceled."""


class ScriptStepFailed(Exception):
    """A helper step of a long script (temporary directory, upload) failed."""


def ps_escape(text):
    return _PS_ESCAPE_RE.sub(lambda m: PS_ESCAPE_SEQUENCES[m.group(0)], text)


def param_to_ps(value):
    """A JSON value as a PowerShell literal, as StackStorm's `_param_to_ps`."""
    if value is None:
        return "$null"
    if isinstance(value, str):
        return '"' + ps_escape(value) + '"'
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, list):
        return "@(" + ", ".join(param_to_ps(v) for v in value) + ")"
    if isinstance(value, dict):
        return "@{" + "; ".join(param_to_ps(k) + " = " + param_to_ps(v) for k, v in value.items()) + "}"
    return str(value)


def ps_params_string(positional, named):
    """StackStorm's `create_ps_params_string`: `-name value` pairs, a space,
    then the positional values; `positional` are already strings (StackStorm
    serialises positional arguments first), `named` is a list of
    [kwarg_op + name, value] in order."""
    text = ""
    if named:
        text += " ".join(name + " " + param_to_ps(value) for name, value in named)
        text += " "
    if positional:
        text += " ".join(param_to_ps(value) for value in positional)
    return text


def encode_ps(script):
    return base64.b64encode(script.encode("utf_16_le")).decode("ascii")


def ps_command(encoded):
    return "powershell -encodedcommand {0}".format(encoded)


class Driver(object):
    def __init__(self, job, session):
        self.job = job
        self.session = session
        self.timeout = job["timeout"]
        self.env = job.get("env") or {}
        self.cwd = job.get("cwd") or None

    # -- one command in one shell ------------------------------------------

    def receive(self, shell_id, command_id, stream):
        """StackStorm's `_winrm_get_command_output`: Receive until Done, or
        until `timeout` seconds have passed (then return code -1)."""
        protocol = self.session.protocol
        from winrm.exceptions import WinRMOperationTimeoutError

        stdout, stderr = [], []
        return_code = 0
        done = False
        start = time.time()
        while not done:
            if self.timeout and time.time() - start > self.timeout:
                return b"".join(stdout), b"".join(stderr), WINRM_TIMEOUT_EXIT_CODE, True
            try:
                out, err, return_code, done = protocol.get_command_output_raw(shell_id, command_id)
            except WinRMOperationTimeoutError:
                continue
            stdout.append(out)
            stderr.append(err)
            if stream:
                emit(sys.stdout, out)
                if stream == "both":
                    emit(sys.stderr, err)
        return b"".join(stdout), b"".join(stderr), return_code, False

    def run_cmd(self, command, stream=None):
        """StackStorm's `_winrm_run_cmd`: a shell with the job's working
        directory and environment in the UTF-8 codepage, the command, its
        output, then Signal terminate and Delete."""
        protocol = self.session.protocol
        shell_id = protocol.open_shell(working_directory=self.cwd, env_vars=self.env, codepage=UTF8_CODEPAGE)
        command_id = None
        try:
            command_id = protocol.run_command(shell_id, command, ())
            stdout, stderr, code, timed_out = self.receive(shell_id, command_id, stream)
        except Canceled:
            self.close_quietly(shell_id, command_id)
            raise
        protocol.cleanup_command(shell_id, command_id)
        protocol.close_shell(shell_id)
        return {"stdout": stdout, "stderr": stderr, "return_code": code, "timeout": timed_out}

    def close_quietly(self, shell_id, command_id):
        # Best effort within the runner's grace period: the host would
        # otherwise keep the command running until its shell times out.
        protocol = self.session.protocol
        protocol.transport.read_timeout_sec = 2
        try:
            if command_id:
                protocol.cleanup_command(shell_id, command_id)
            protocol.close_shell(shell_id)
        except BaseException:
            pass

    # -- PowerShell ------------------------------------------------------------

    def run_ps_encoded(self, encoded, stream=None):
        """StackStorm's `_winrm_run_ps`: `powershell -encodedcommand`, its
        stderr cleaned of CLIXML."""
        response = self.run_cmd(ps_command(encoded), stream)
        if len(response["stderr"]):
            response["stderr"] = self.session._clean_error_msg(response["stderr"])
        return response

    def run_ps(self, script, params, stream="stdout"):
        """StackStorm's `run_ps`: `& {script} params` in one command when it
        fits the command line, else through an uploaded temporary script."""
        powershell = "& {%s} %s" % (script, params) if params else script
        encoded = encode_ps(powershell)
        if len(ps_command(encoded)) <= WINRM_MAX_CMD_LENGTH:
            return self.run_ps_encoded(encoded, stream)
        return self.run_ps_script(script, params, stream)

    def run_ps_or_raise(self, script, what):
        response = self.run_ps_encoded(encode_ps(script))
        if response["return_code"] != 0 or response["timeout"]:
            raise ScriptStepFailed(
                "{}:\nstdout = {}\n\nstderr = {}".format(
                    what, text(response["stdout"]), text(response["stderr"])
                )
            )
        return text(response["stdout"])

    def run_ps_script(self, script, params, stream):
        """StackStorm's `_run_ps_script`: a temporary directory on the host,
        the script uploaded into it in 2048-character chunks, run with its
        parameters, and the directory removed."""
        tmp_dir = None
        try:
            tmp_dir = self.run_ps_or_raise(
                "$parent = {parent}\n"
                "$name = [System.IO.Path]::GetRandomFileName()\n"
                "$path = Join-Path $parent $name\n"
                "New-Item -ItemType Directory -Path $path | Out-Null\n"
                "$path".format(parent=WINRM_DEFAULT_TMP_DIR_PS),
                "Unable to make temporary directory for powershell script",
            ).strip()
            tmp_script = tmp_dir + "\\script.ps1"
            for i in range(0, len(script), WINRM_UPLOAD_CHUNK_SIZE_BYTES):
                chunk = script[i : i + WINRM_UPLOAD_CHUNK_SIZE_BYTES].encode("utf-8")
                self.run_ps_or_raise(
                    '$filePath = "{dst}"\n'
                    '$s = @"\n{data}\n"@\n'
                    "$data = [System.Convert]::FromBase64String($s)\n"
                    "Add-Content -value $data -encoding byte -path $filePath\n".format(
                        dst=tmp_script, data=base64.b64encode(chunk).decode("utf-8")
                    ),
                    "Failed to upload chunk of powershell script",
                )
            command = tmp_script + (" " + params if params else "")
            return self.run_ps_encoded(encode_ps(command), stream)
        finally:
            if tmp_dir:
                self.run_ps_or_raise(
                    'Remove-Item -Force -Recurse -Path "{}"'.format(tmp_dir),
                    "Unable to remove temporary directory for powershell script",
                )


def text(data):
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return data


def emit(stream, data):
    if data:
        stream.buffer.write(data)
        stream.buffer.flush()


def describe(exc, job):
    """A message that names the host and says what to do."""
    host, url, user = job["host"], job["url"], job["username"]
    try:
        import requests
        from winrm import exceptions as wx
    except ImportError:
        return "{}: {}".format(type(exc).__name__, exc)
    where = "WinRM on {} ({})".format(host, url)
    if isinstance(exc, wx.InvalidCredentialsError):
        return (
            "{} rejected the credentials of user '{}' with transport '{}' ({}); check the "
            "username and password, and that the host accepts this transport".format(
                where, user, job["transport"], exc
            )
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return (
            "TLS with {} failed ({}); for a self-signed certificate set verify_ssl_cert: "
            "false".format(where, exc)
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return "{} did not answer within {} seconds ({})".format(where, job["read_timeout"], exc)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return (
            "could not connect to {}: {}; check host, port and scheme (WinRM listens on 5985 "
            "for http and 5986 for https)".format(where, exc)
        )
    if isinstance(exc, wx.WSManFaultError):
        return "{} answered with a WS-Management fault: {} (fault code {})".format(
            where, exc.reason, exc.wsman_fault_code
        )
    if isinstance(exc, wx.WinRMTransportError):
        return "{} answered HTTP {}: {}".format(where, exc.code, exc.message)
    if isinstance(exc, ScriptStepFailed):
        return "{}: {}".format(where, exc)
    return "{}: {}: {}".format(where, type(exc).__name__, exc)


def on_sigterm(signum, frame):
    raise Canceled()


def main():
    job = json.loads(sys.stdin.read())
    warnings.simplefilter("ignore")
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        import winrm
    except ImportError as e:
        outcome = {
            "error": "pywinrm is not installed for {} ({}); the engine runs WinRM actions in "
            "its base Python environment, which has it: outside the engine, point "
            "STORMDESK_PYTHON at a Python with pywinrm==0.5.0".format(sys.executable, e),
            "error_type": "ImportError",
        }
    else:
        try:
            session = winrm.Session(
                job["url"],
                auth=(job["username"], job["password"]),
                transport=job["transport"],
                server_cert_validation=job["server_cert_validation"],
                operation_timeout_sec=job["timeout"],
                read_timeout_sec=job["read_timeout"],
            )
            driver = Driver(job, session)
            if job["kind"] == "cmd":
                outcome = driver.run_cmd(job["command"], stream="both")
            else:
                params = ps_params_string(job.get("positional") or [], job.get("named") or [])
                outcome = driver.run_ps(job["script"], params)
            outcome["stdout"] = text(outcome["stdout"])
            outcome["stderr"] = text(outcome["stderr"])
        except Canceled:
            outcome = {"error": "canceled", "error_type": "Canceled"}
        except Exception as e:
            outcome = {"error": describe(e, job), "error_type": type(e).__name__}
    with open(job["result_file"], "w") as f:
        json.dump(outcome, f)


main()
