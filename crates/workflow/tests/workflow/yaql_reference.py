"""Reference side of the YAQL differential test (yaql_diff.rs).

Reads {"ctx": {...}, "result": ..., "cases": [text, ...]} on stdin and
evaluates every case with Orquesta's YAQL evaluator
(orquesta.expressions.yql.YAQLEvaluator, over the yaql library), the way a
workflow field is evaluated. Prints a JSON list with, per case, either
{"ok": value} or {"error": "ExceptionClass", "message": "..."}.

With "time": N in the request, evaluates the whole table N times and prints
{"median_us_per_case": ...} in thread CPU time (benches/yaql.rs).
With {"parse": [expression, ...]} instead, only parses each expression
with Orquesta's yaql engine and prints {"ok": null} or {"error": class}.

Sets come out as {"$set": [items sorted by their JSON]} because Python's set
order is not deterministic; datetimes and timedeltas as str().
"""

import collections
import collections.abc
import datetime
import json
import re
import sys

# orquesta 1.2 uses collections.Mapping, which Python 3.10 removed.
collections.Mapping = collections.abc.Mapping

from orquesta.expressions import yql  # noqa: E402


def plain(value):
    if isinstance(value, (set, frozenset)):
        items = [plain(v) for v in value]
        return {"$set": sorted(items, key=lambda v: json.dumps(v, sort_keys=True))}
    if isinstance(value, collections.abc.Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (datetime.datetime, datetime.timedelta)):
        return str(value)
    return value


def error_class(text, exc):
    message = str(exc)
    if not isinstance(exc, yql.YaqlEvaluationException):
        return type(exc).__name__, message
    if message.startswith("Unable to resolve key "):
        return "KeyError", message
    for expr in re.findall("<%.*?%>", text):
        prefix = "Unable to evaluate expression '%s'. " % expr
        if message.startswith(prefix):
            rest = message[len(prefix):]
            return rest.split(":", 1)[0], message
    return "YaqlEvaluationException", message


def parse_only(expressions):
    out = []
    for expr in expressions:
        try:
            yql.YAQLEvaluator._engine(expr)
            out.append({"ok": None})
        except Exception as exc:  # the class is the data
            out.append({"error": type(exc).__name__, "message": str(exc)})
    return out


def timing(data, cases, rounds):
    import time

    per_case = []
    for _ in range(rounds):
        start = time.thread_time()
        for text in cases:
            try:
                yql.YAQLEvaluator.evaluate(text, data)
            except Exception:  # errors cost time too; the value is not needed
                pass
        per_case.append((time.thread_time() - start) * 1e6 / len(cases))
    per_case.sort()
    return {"median_us_per_case": per_case[len(per_case) // 2]}


def main():
    request = json.load(sys.stdin)
    if "time" in request:
        data = dict(request["ctx"])
        data["__current_task"] = {"id": "task1", "route": 0, "result": request["result"]}
        json.dump(timing(data, request["cases"], request["time"]), sys.stdout)
        return
    if "parse" in request:
        json.dump(parse_only(request["parse"]), sys.stdout)
        return
    data = dict(request["ctx"])
    data["__current_task"] = {"id": "task1", "route": 0, "result": request["result"]}
    out = []
    for text in request["cases"]:
        try:
            value = yql.YAQLEvaluator.evaluate(text, data)
            encoded = json.dumps(plain(value), allow_nan=False)
            out.append({"ok": json.loads(encoded)})
        except Exception as exc:  # every failure is data for the comparison
            cls, message = error_class(text, exc)
            out.append({"error": cls, "message": message})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
