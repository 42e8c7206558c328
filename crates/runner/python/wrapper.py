"""Stormdesk's wrapper for StackStorm Python actions (the `python-script` runner).

Started by stormdesk-runner as `python3 -u wrapper.py`. It reads one JSON document
from stdin:

    {"entry_point": "/abs/path/action.py", "pack": "mypack", "pack_dir": "/abs/pack",
     "config": {...}, "parameters": {...}, "log_level": "DEBUG",
     "result_file": "/private/tmp/result.json"}

then loads the action class, calls `run(**parameters)` and writes
`{"status": true|false|null, "result": ...}` to `result_file`. The action's own
stdout and stderr are left alone: the result never travels on them.

StackStorm itself is not needed: the modules `st2common.runners.base_action` and
`st2actions.runners.pythonrunner` are provided here, both with the same `Action`.
An exception escaping the action ends this process with a traceback on stderr and
exit code 1, as in StackStorm.
"""

import abc
import datetime
import importlib.util
import inspect
import json
import logging
import os
import sys
import types
import urllib.error
import urllib.parse
import urllib.request

# StackStorm's PYTHON_RUNNER_INVALID_ACTION_STATUS_EXIT_CODE.
INVALID_STATUS_EXIT_CODE = 220
INVALID_STATUS_ERROR_MESSAGE = (
    "If this is an existing action which returns a tuple with two items, it needs to be "
    "updated to either:\n\n"
    "1. Return a list instead of a tuple\n"
    "2. Return a tuple where a first items is a status flag - (True, ('item1', 'item2'))\n"
)
SYSTEM_SCOPE = "system"
# StackStorm's separator between the "pack.Class" prefix and a local key name.
DATASTORE_KEY_SEPARATOR = ":"
# StackStorm's AUDIT log level sits above CRITICAL.
AUDIT = logging.CRITICAL + 10
logging.addLevelName(AUDIT, "AUDIT")

_DEFAULT_LOG_LEVEL = "debug"
_LOGGERS = {}


def get_logger_for_python_runner_action(action_name, log_level=_DEFAULT_LOG_LEVEL):
    """A logger writing to stderr, named and formatted as StackStorm's action loggers."""
    logger_name = "actions.python.%s" % (action_name)
    if logger_name in _LOGGERS:
        return _LOGGERS[logger_name]
    level_name = str(log_level or _DEFAULT_LOG_LEVEL).upper()
    level = AUDIT if level_name == "AUDIT" else getattr(logging, level_name, logging.DEBUG)
    logger = logging.getLogger(logger_name)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(level)
    console.setFormatter(logging.Formatter("%(name)-12s: %(levelname)-8s %(message)s"))
    logger.addHandler(console)
    logger.setLevel(level)
    logger.propagate = False
    _LOGGERS[logger_name] = logger
    return logger


class Action(metaclass=abc.ABCMeta):
    """Base class of StackStorm Python actions."""

    description = None

    def __init__(self, config=None, action_service=None):
        self.config = config or {}
        self.action_service = action_service
        wrapper = getattr(action_service, "_action_wrapper", None)
        log_level = getattr(wrapper, "_log_level", _DEFAULT_LOG_LEVEL)
        self.logger = get_logger_for_python_runner_action(
            action_name=self.__class__.__name__, log_level=log_level
        )

    @abc.abstractmethod
    def run(self, **kwargs):
        raise NotImplementedError()


Action.__module__ = "st2common.runners.base_action"


class DatastoreUnavailableError(RuntimeError):
    pass


class ActionService(object):
    """Datastore access for the action, through the engine's listener.

    The listener speaks StackStorm's key API under ST2_ACTION_API_URL with the
    per-execution token in ST2_ACTION_AUTH_TOKEN: GET/PUT/DELETE {api}/keys/{name}
    and GET {api}/keys?prefix=..., with `scope` (and `decrypt`) as query parameters.
    """

    def __init__(self, action_wrapper):
        self._action_wrapper = action_wrapper

    def get_user_info(self):
        return self._request("GET", "/user")

    def list_values(self, local=True, prefix=None, limit=None, offset=None):
        if local:
            prefix = self._local_prefix() + (prefix or "")
        query = {"prefix": prefix, "limit": limit, "offset": offset}
        return self._request("GET", "/keys", query=query) or []

    def get_value(self, name, local=True, scope=SYSTEM_SCOPE, decrypt=False):
        name = self._key_name(name, local)
        query = {"scope": scope, "decrypt": "true" if decrypt else None}
        item = self._request("GET", "/keys/" + _quote(name), query=query, missing=None)
        if item is None:
            return None
        return item.get("value") if isinstance(item, dict) else item

    def set_value(self, name, value, ttl=None, local=True, scope=SYSTEM_SCOPE, encrypt=False):
        name = self._key_name(name, local)
        body = {"name": name, "value": value, "scope": scope}
        if ttl:
            body["ttl"] = ttl
        if encrypt:
            body["secret"] = True
        self._request("PUT", "/keys/" + _quote(name), query={"scope": scope}, body=body)
        return True

    def delete_value(self, name, local=True, scope=SYSTEM_SCOPE):
        name = self._key_name(name, local)
        missing = object()
        found = self._request(
            "DELETE", "/keys/" + _quote(name), query={"scope": scope}, missing=missing
        )
        return found is not missing

    def _local_prefix(self):
        w = self._action_wrapper
        return "%s.%s%s" % (w._pack, w._class_name, DATASTORE_KEY_SEPARATOR)

    def _key_name(self, name, local):
        return self._local_prefix() + name if local else name

    def _request(self, method, path, query=None, body=None, missing=None):
        api_url = os.environ.get("ST2_ACTION_API_URL")
        token = os.environ.get("ST2_ACTION_AUTH_TOKEN")
        if not api_url or not token:
            raise DatastoreUnavailableError(
                "The datastore is not available to this action: it was run without the "
                "Stormdesk engine's callback listener (ST2_ACTION_API_URL/ST2_ACTION_AUTH_TOKEN "
                "are not set). Run it through the engine to use self.action_service."
            )
        url = api_url.rstrip("/") + path
        query = {k: v for k, v in (query or {}).items() if v is not None}
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None
        headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return missing
            detail = e.read().decode("utf-8", "replace").strip()
            raise RuntimeError(
                "Datastore request %s %s failed with HTTP %s: %s" % (method, path, e.code, detail)
            )
        if not payload:
            return None
        return json.loads(payload.decode("utf-8"))


def _quote(name):
    return urllib.parse.quote(name, safe="")


def _install_st2_modules():
    """Makes both StackStorm import paths of `Action` importable."""

    def module(name, package=False, **attrs):
        m = types.ModuleType(name)
        if package:
            m.__path__ = []
        for key, value in attrs.items():
            setattr(m, key, value)
        sys.modules[name] = m
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, m)
        return m

    module("st2common", package=True)
    module("st2common.runners", package=True)
    module(
        "st2common.runners.base_action",
        Action=Action,
        __all__=["Action"],
    )
    module(
        "st2common.runners.utils",
        get_logger_for_python_runner_action=get_logger_for_python_runner_action,
    )
    module("st2actions", package=True)
    module("st2actions.runners", package=True)
    module("st2actions.runners.pythonrunner", Action=Action, __all__=["Action"])


def _set_up_sys_path(entry_point, pack_dir):
    # The wrapper's own directory would shadow nothing useful and could shadow
    # the action's modules.
    wrapper_dir = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != wrapper_dir]
    if pack_dir:
        lib_dir = os.path.join(pack_dir, "lib")
        if os.path.isdir(lib_dir):
            # Like the pack's common libs on PYTHONPATH in StackStorm.
            sys.path.insert(0, lib_dir)
    # StackStorm appends the action's directory when it loads the action.
    action_dir = os.path.dirname(os.path.realpath(entry_point))
    if action_dir not in sys.path:
        sys.path.append(action_dir)


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
    preferred = [c for c in classes if issubclass(c, Action)] or classes
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
        self._pack_dir = request.get("pack_dir")
        self._config = request.get("config") or {}
        self._parameters = request.get("parameters") or {}
        self._log_level = request.get("log_level") or _DEFAULT_LOG_LEVEL
        self._result_file = request["result_file"]
        self._class_name = None

    def run(self):
        _set_up_sys_path(self._entry_point, self._pack_dir)
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
    _install_st2_modules()
    PythonActionWrapper(request).run()


if __name__ == "__main__":
    main()
