"""Small helpers from StackStorm's `st2common.util.misc`."""

import collections.abc
import os

__all__ = [
    "prefix_dict_keys",
    "compare_path_file_name",
    "get_field_name_from_mongoengine_error",
    "sanitize_output",
    "strip_shell_chars",
    "rstrip_last_char",
    "lowercase_value",
    "get_normalized_file_path",
    "deep_update",
]


def prefix_dict_keys(dictionary, prefix="_"):
    return {"%s%s" % (prefix, key): value for key, value in dictionary.items()}


def compare_path_file_name(file_path_a, file_path_b):
    return os.path.basename(file_path_a) < os.path.basename(file_path_b)


def get_field_name_from_mongoengine_error(exc):
    """The field name in a validation message ("... field "name" ..."), else the message."""
    msg = str(exc)
    marker = 'field "'
    start = msg.find(marker)
    if start == -1:
        return msg
    end = msg.find('"', start + len(marker))
    return msg[start + len(marker):end] if end != -1 else msg


def sanitize_output(input_str, uses_pty=False):
    """Strips one trailing newline; under a pty, `\\r\\n` line ends become `\\n`."""
    output = strip_shell_chars(input_str)
    if uses_pty and output:
        output = output.replace("\r\n", "\n")
    return output


def strip_shell_chars(input_str):
    """Strips one trailing `\\n`, then one trailing `\\r`."""
    stripped = rstrip_last_char(input_str, "\n")
    return rstrip_last_char(stripped, "\r")


def rstrip_last_char(input_str, char_to_strip):
    if not input_str or not char_to_strip:
        return input_str
    if input_str.endswith(char_to_strip):
        return input_str[: -len(char_to_strip)]
    return input_str


def lowercase_value(value):
    """Strings lowercased, also inside lists and in dict keys and values."""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, (list, tuple)):
        return [str(item).lower() for item in value]
    if isinstance(value, dict):
        return {str(k).lower(): str(v).lower() for k, v in value.items()}
    raise ValueError("Unsupported value type: %s" % type(value))


def get_normalized_file_path(file_path):
    """A `.pyc` path as the `.py` it was compiled from."""
    if file_path.endswith(".pyc"):
        return file_path[:-1]
    return file_path


def deep_update(d, u):
    """Merges mapping `u` into `d` recursively (no recursion: an explicit stack)."""
    stack = [(d, u)]
    while stack:
        target, source = stack.pop()
        for key, value in source.items():
            if isinstance(value, collections.abc.Mapping):
                if not isinstance(target.get(key), collections.abc.MutableMapping):
                    target[key] = {}
                stack.append((target[key], value))
            else:
                target[key] = value
    return d
