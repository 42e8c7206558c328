"""JSON helpers from StackStorm's `st2common.util.jsonify`."""

import json

__all__ = [
    "json_encode",
    "json_decode",
    "json_loads",
    "try_loads",
    "load_file",
    "get_json_type_for_python_value",
]


class GenericJSON(json.JSONEncoder):
    """Encodes objects with a `__json__()` method through it."""

    def default(self, obj):  # pylint: disable=method-hidden
        to_json = getattr(obj, "__json__", None)
        if callable(to_json):
            return to_json()
        return json.JSONEncoder.default(self, obj)


def json_encode(obj, indent=4, sort_keys=False):
    return json.dumps(obj, cls=GenericJSON, indent=indent, sort_keys=sort_keys)


def json_decode(data):
    return json.loads(data)


def load_file(path):
    with open(path, "r") as fd:
        return json.load(fd)


def json_loads(obj, keys=None):
    """Parses the values of `keys` (default: all) of `obj` as JSON where they are JSON."""
    if not obj:
        return None
    for key in list(keys or obj.keys()):
        try:
            obj[key] = json.loads(obj[key])
        except Exception:
            pass
    return obj


def try_loads(s):
    """`s` parsed as JSON when it is a non-empty JSON string, else `s` unchanged."""
    try:
        return json.loads(s) if s and isinstance(s, str) else s
    except Exception:
        return s


def get_json_type_for_python_value(value):
    """The JSON schema type name of a Python value."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    if value is None:
        return "null"
    raise ValueError('Unknown type for value "%s"' % (value,))
