"""Reference renderer for stormdesk-jinja's differential tests (test code).

Reads the case table (JSON lines) named on the command line and prints, as
one JSON list, each case's output or error class, rendered by Jinja2 the
way StackStorm sets it up:

- parameter mode mirrors st2common/st2common/util/jinja.py
  (get_jinja_environment: SandboxedEnvironment, StrictUndefined or
  Undefined, trim_blocks, lstrip_blocks, the `in` test, get_filters());
- orquesta mode mirrors orquesta/expressions/jinja.py (Environment with
  StrictUndefined, trim/lstrip blocks; every function registered as a filter
  and put in the context) with the functions of
  contrib/runners/orquesta_runner/setup.py.

The filter functions below are small stand-ins written for this test from
what StackStorm's source shows; each calls the same library with the same
arguments as the st2 function named in its comment.
"""
import datetime
import json
import re
import sys

import jinja2
import jinja2.sandbox
import jsonpath_rw
import orjson
import semver
import yaml

try:
    from yaml import CSafeDumper as SafeDumper
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeDumper, SafeLoader

NONE_MAGIC_VALUE = "%*****__%NONE%__*****%"


# st2common/expressions/functions/data.py
def from_json_string(value):
    return orjson.loads(str(value))


def from_yaml_string(value):
    return yaml.load(str(value), Loader=SafeLoader)


def to_json_string(value, indent=None, sort_keys=False, separators=(",", ": ")):
    options = {}
    if indent is not None:
        options["indent"] = indent
    if sort_keys is not None:
        options["sort_keys"] = sort_keys
    if separators is not None:
        options["separators"] = separators
    return json.dumps(value, **options)


def to_yaml_string(value, indent=None, allow_unicode=True):
    options = {"default_flow_style": False}
    if indent is not None:
        options["indent"] = indent
    if allow_unicode is not None:
        options["allow_unicode"] = allow_unicode
    return yaml.dump(value, Dumper=SafeDumper, **options)


def json_escape(value):
    return json.dumps(value).strip('"')


def jsonpath_query(value, query):
    found = [m.value for m in jsonpath_rw.parse(query).find(value)]
    return found if found else None


def to_complex(value):
    return json.dumps(value)


def use_none(value):
    return NONE_MAGIC_VALUE if value is None else value


# st2common/expressions/functions/regex.py
def _text(value):
    return value if isinstance(value, str) else str(value)


def _flags(ignorecase):
    return re.I if ignorecase else 0


def regex_match(value, pattern, ignorecase=False):
    return bool(re.match(pattern, _text(value), _flags(ignorecase)))


def regex_replace(value, pattern, replacement, ignorecase=False):
    return re.compile(pattern, _flags(ignorecase)).sub(replacement, _text(value))


def regex_search(value, pattern, ignorecase=False):
    return bool(re.search(pattern, _text(value), _flags(ignorecase)))


def regex_substring(value, pattern, result_index=0, ignorecase=False):
    return re.findall(pattern, _text(value), _flags(ignorecase))[result_index]


# st2common/expressions/functions/time.py
def to_human_time_from_seconds(seconds):
    assert isinstance(seconds, int) or isinstance(seconds, float)
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return "%s\u03bcs" % seconds
    if isinstance(seconds, float):
        seconds = int(round(seconds))
    date = datetime.datetime(1, 1, 1) + datetime.timedelta(seconds=seconds)
    parts = [date.year - 1, date.day - 1, date.hour, date.minute, date.second]
    first = next((i for i, x in enumerate(parts) if x), None)
    if first is None:
        return "0s"
    parts = parts[first:]
    units = ["y", "d", "h", "m", "s"][5 - len(parts):]
    return "".join("%s%s" % (p, u) for p, u in zip(parts, units))


# st2common/expressions/functions/version.py
def version_compare(value, pattern):
    return semver.Version.parse(value).compare(pattern)


def version_more_than(value, pattern):
    return version_compare(value, pattern) == 1


def version_less_than(value, pattern):
    return version_compare(value, pattern) == -1


def version_equal(value, pattern):
    return version_compare(value, pattern) == 0


def version_match(value, pattern):
    return semver.Version.parse(value).match(pattern)


def version_bump_major(value):
    return str(semver.Version.parse(value).bump_major())


def version_bump_minor(value):
    return str(semver.Version.parse(value).bump_minor())


def version_bump_patch(value):
    return str(semver.Version.parse(value).bump_patch())


def version_strip_patch(value):
    v = semver.Version.parse(value)
    return "%s.%s" % (v.major, v.minor)


# st2common/expressions/functions/path.py
def basename(path):
    import os.path

    return os.path.basename(path)


def dirname(path):
    import os.path

    return os.path.dirname(path)


ST2_FILTERS = {
    "from_json_string": from_json_string,
    "from_yaml_string": from_yaml_string,
    "json_escape": json_escape,
    "jsonpath_query": jsonpath_query,
    "to_complex": to_complex,
    "to_json_string": to_json_string,
    "to_yaml_string": to_yaml_string,
    "regex_match": regex_match,
    "regex_replace": regex_replace,
    "regex_search": regex_search,
    "regex_substring": regex_substring,
    "to_human_time_from_seconds": to_human_time_from_seconds,
    "version_compare": version_compare,
    "version_more_than": version_more_than,
    "version_less_than": version_less_than,
    "version_equal": version_equal,
    "version_match": version_match,
    "version_bump_major": version_bump_major,
    "version_bump_minor": version_bump_minor,
    "version_bump_patch": version_bump_patch,
    "version_strip_patch": version_strip_patch,
    "use_none": use_none,
    "basename": basename,
    "dirname": dirname,
}

ORQUESTA_FUNCTIONS = dict(ST2_FILTERS)
del ORQUESTA_FUNCTIONS["to_complex"]
ORQUESTA_FUNCTIONS.update(
    {
        "json_dump": to_json_string,
        "json_parse": from_json_string,
        "yaml_dump": to_yaml_string,
        "yaml_parse": from_yaml_string,
    }
)


def st2_environment(allow_undefined):
    undefined = jinja2.Undefined if allow_undefined else jinja2.StrictUndefined
    env = jinja2.sandbox.SandboxedEnvironment(
        undefined=undefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(ST2_FILTERS)
    env.tests["in"] = lambda item, list: item in list
    return env


def orquesta_environment():
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(ORQUESTA_FUNCTIONS)
    return env


def classify(e):
    if isinstance(e, jinja2.exceptions.UndefinedError):
        return "undefined"
    if isinstance(e, jinja2.exceptions.TemplateAssertionError):
        msg = str(e).lower()
        if "no filter named" in msg:
            return "unknown_filter"
        if "no test named" in msg:
            return "unknown_test"
        return "syntax"
    if isinstance(e, jinja2.exceptions.TemplateSyntaxError):
        return "syntax"
    return "runtime"


def main():
    envs = {
        ("st2", False): st2_environment(False),
        ("st2", True): st2_environment(True),
        ("orquesta", False): orquesta_environment(),
    }
    out = []
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("//"):
                continue
            case = json.loads(line)
            mode = case.get("mode", "st2")
            env = envs[(mode, bool(case.get("undef")))]
            ctx = dict(case.get("v", {}))
            if mode == "orquesta":
                ctx.update(ORQUESTA_FUNCTIONS)
            try:
                out.append({"ok": env.from_string(case["t"]).render(ctx)})
            except Exception as e:  # noqa: BLE001 - the class is the result
                out.append({"error": classify(e), "exc": type(e).__name__, "msg": str(e)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
