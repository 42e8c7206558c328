"""Stormdesk's wrapper for StackStorm Python actions (the `python-script` runner).

Started by stormdesk-runner as `python3 -u wrapper.py`. It reads one JSON document
from stdin:

    {"entry_point": "/abs/path/action.py", "pack": "mypack", "config": {...},
     "parameters": {...}, "log_level": "DEBUG", "result_file": "/private/tmp/result.json"}

then loads the action class, calls `run(**parameters)` and writes
`{"status": true|false|null, "result": ...}` to `result_file`. The action's own
stdout and stderr are left alone: the result never travels on them.

StackStorm itself is not needed: `lib/` beside this file holds the `st2common`
modules packs import (`st2common.runners.base_action.Action`, the older
`st2actions.runners.pythonrunner.Action`, exceptions, constants, util helpers, the
datastore service). The interpreter is the pack's Python environment (its
requirements over the base layer with st2client, six, PyYAML and requests). An
exception escaping the action ends this process with a traceback on stderr and
exit code 1, as in StackStorm.
"""

import datetime
import importlib.util
import inspect
import json
import os
import sys


def _set_up_sys_path(entry_point):
    """The runner sets PYTHONPATH to the pack's `lib/`, its `actions/lib/` and the
    StackStorm modules beside this file (`lib/`), as StackStorm puts the pack's
    paths on PYTHONPATH. This script's own directory goes, so `wrapper` never
    shadows an action's module; the action's directory is appended, as
    StackStorm does when it loads the action."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    shim = os.path.join(here, "lib")
    if shim not in sys.path:
        sys.path.append(shim)
    action_dir = os.path.dirname(os.path.realpath(entry_point))
    if action_dir not in sys.path:
        sys.path.append(action_dir)


def _st2_names():
    """Imported after the import path is set up: they live in `lib/`."""
    from st2common.runners.base_action import Action
    from st2common.runners.utils import get_logger_for_python_runner_action
    from st2common.services.datastore import ActionDatastoreService

    return Action, get_logger_for_python_runner_action, ActionDatastoreService


# StackStorm's PYTHON_RUNNER_INVALID_ACTION_STATUS_EXIT_CODE.
INVALID_STATUS_EXIT_CODE = 220
INVALID_STATUS_ERROR_MESSAGE = (
    "If this is an existing action which returns a tuple with two items, it needs to be "
    "updated to either:\n\n"
    "1. Return a list instead of a tuple\n"
    "2. Return a tuple where a first items is a status flag - (True, ('item1', 'item2'))\n"
)
_DEFAULT_LOG_LEVEL = "debug"


class ActionService(object):
    """`self.action_service`: the datastore methods of StackStorm's action service,
    delegating to an `ActionDatastoreService` made on first use."""

    def __init__(self, action_wrapper):
        self._action_wrapper = action_wrapper
        self._datastore_service = None

    @property
    def datastore_service(self):
        if self._datastore_service is None:
            _, get_logger, datastore_cls = _st2_names()
            w = self._action_wrapper
            logger = get_logger(action_name=w._class_name, log_level=w._log_level)
            self._datastore_service = datastore_cls(
                logger=logger, pack_name=w._pack, class_name=w._class_name
            )
        return self._datastore_service

    def get_user_info(self):
        return self.datastore_service.get_user_info()

    def list_values(self, local=True, prefix=None, limit=None, offset=None):
        return self.datastore_service.list_values(
            local=local, prefix=prefix, limit=limit, offset=offset
        )

    def get_value(self, name, local=True, scope="system", decrypt=False):
        return self.datastore_service.get_value(
            name=name, local=local, scope=scope, decrypt=decrypt
        )

    def set_value(self, name, value, ttl=None, local=True, scope="system", encrypt=False):
        return self.datastore_service.set_value(
            name=name, value=value, ttl=ttl, local=local, scope=scope, encrypt=encrypt
        )

    def delete_value(self, name, local=True, scope="system"):
        return self.datastore_service.delete_value(name=name, local=local, scope=scope)


def _load_action_class(entry_point):
    module_name = os.path.splitext(os.path.basename(entry_point))[0]
    spec = importlib.util.spec_from_file_location(module_name, entry_point)
    if spec is None or spec.loader is None:
        raise ImportError('Cannot load action module from file "%s"' % entry_point)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)

    classes = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__ and _implements_run(cls)
    ]
    # Prefer real Action subclasses; StackStorm also accepts any class of the
    # module that implements run(), first by name.
    action_base = _st2_names()[0]
    preferred = [c for c in classes if issubclass(c, action_base)] or classes
    if not preferred:
        raise Exception(
            'File "%s" has no action class (a class with a run() method, usually derived '
            "from st2common.runners.base_action.Action)." % entry_point
        )
    return preferred[0]


def _implements_run(cls):
    run = getattr(cls, "run", None)
    return callable(run) and not getattr(run, "__isabstractmethod__", False)


def _instantiate(action_cls, config, action_service):
    try:
        return action_cls(config=config, action_service=action_service)
    except TypeError as e:
        # Actions written before action_service existed take only config.
        if "action_service" not in str(e):
            raise
        instance = action_cls(config=config)
        instance.action_service = action_service
        return instance


def _json_default(value):
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


def _encode_result(status, result):
    try:
        return json.dumps({"status": status, "result": result}, default=_json_default,
                          allow_nan=False)
    except (TypeError, ValueError):
        # StackStorm's fallback for a result that is not plain data.
        return json.dumps({"status": status, "result": str(result)})


class PythonActionWrapper(object):
    def __init__(self, request):
        self._entry_point = request["entry_point"]
        self._pack = request.get("pack") or "unknown"
        self._config = request.get("config") or {}
        self._parameters = request.get("parameters") or {}
        self._log_level = request.get("log_level") or _DEFAULT_LOG_LEVEL
        self._result_file = request["result_file"]
        self._class_name = None

    def run(self):
        _set_up_sys_path(self._entry_point)
        action_cls = _load_action_class(self._entry_point)
        self._class_name = action_cls.__name__
        action = _instantiate(action_cls, self._config, ActionService(self))

        output = action.run(**self._parameters)

        if isinstance(output, tuple) and len(output) == 2:
            status, result = output
        else:
            status, result = None, output
        if status is not None and not isinstance(status, bool):
            sys.stderr.write(
                "Status returned from the action run() method must either be True or False, "
                "got: %s\n" % (status,)
            )
            sys.stderr.write(INVALID_STATUS_ERROR_MESSAGE)
            sys.stderr.flush()
            sys.exit(INVALID_STATUS_EXIT_CODE)

        encoded = _encode_result(status, result)
        with open(self._result_file, "w", encoding="utf-8") as f:
            f.write(encoded)


def main():
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    # The action gets no stdin, as in StackStorm.
    sys.stdin = open(os.devnull)
    PythonActionWrapper(request).run()


if __name__ == "__main__":
    main()
