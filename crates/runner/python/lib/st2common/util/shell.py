"""Shell helpers packs use from StackStorm's `st2common.util.shell`."""

import os
import shlex
import subprocess
from subprocess import list2cmdline

__all__ = ["run_command", "kill_process", "quote_unix", "quote_windows"]


def run_command(cmd, stdin=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE, shell=False,
                cwd=None, env=None):
    """Runs `cmd` to completion; returns `(exit_code, stdout, stderr)` with text output."""
    if not isinstance(cmd, (list, tuple, str)):
        raise TypeError("Command must be a type of list, tuple, or string, not '%s'." % type(cmd))
    if not env:
        env = os.environ.copy()
    process = subprocess.Popen(args=cmd, stdin=stdin, stdout=stdout, stderr=stderr, env=env,
                               cwd=cwd, shell=shell)
    out, err = process.communicate()
    decode = (lambda b: b.decode() if isinstance(b, bytes) else b)
    return (process.returncode, decode(out), decode(err))


def kill_process(process):
    """Sends SIGTERM to the session of `process` (StackStorm uses `sudo pkill -TERM -s`)."""
    kill_command = shlex.split("sudo pkill -TERM -s %s" % (process.pid))
    return subprocess.call(kill_command, timeout=100)


def quote_unix(value):
    """`value` quoted as one token of a POSIX shell command line."""
    return shlex.quote(value)


def quote_windows(value):
    """`value` quoted as one token of a Windows command line (MS C runtime rules)."""
    return list2cmdline([value])
