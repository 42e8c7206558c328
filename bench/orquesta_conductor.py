#!/usr/bin/env python3
"""Orquesta baseline for crates/workflow/benches/conductor.rs.

Drives StackStorm's orquesta WorkflowConductor to completion for the same
three shapes and sizes (sequential chain, fan-out into a `join: all`,
with-items), the way orquesta's own unit tests do: request RUNNING, then
loop over get_next_tasks() and report each action RUNNING then SUCCEEDED.
Prints the median CPU time per task in microseconds; with
CONDUCTOR_BENCH_JSON=1 also one JSON object per line.
"""

import collections
import collections.abc
import fractions
import json
import math
import os
import statistics
import sys
import time
import warnings
from importlib import metadata

# orquesta 1.2.0 (the newest on PyPI) and the networkx 1.11 it pins predate
# Python 3.9/3.10: restore what those removed before importing them, and
# rewrite the one inline-parameter pattern Python 3.11 refuses (the same
# shims as crates/workflow/tests/differential/orquesta_driver.py).
for _name in ("MutableSequence", "MutableMapping", "Mapping", "Sequence", "Iterable",
              "Set", "Hashable", "Callable"):
    setattr(collections, _name, getattr(collections.abc, _name))
fractions.gcd = math.gcd
warnings.filterwarnings("ignore", category=SyntaxWarning)

from orquesta.utils import parameters as _params  # noqa: E402

_params.REGEX_INLINE_PARAMS = _params.REGEX_INLINE_PARAMS.replace(
    "(?i)true", "(?i:true)").replace("(?i)false", "(?i:false)")

from orquesta import conducting, events, statuses  # noqa: E402
from orquesta.specs import native as native_specs  # noqa: E402

ORQUESTA_VERSION = metadata.version("orquesta")


def sequential(n):
    lines = ["version: 1.0", "tasks:"]
    for i in range(n):
        lines += [
            "  task%d:" % i,
            "    action: core.echo",
            "    input:",
            "      message: task%d" % i,
        ]
        if i + 1 < n:
            lines += [
                "    next:",
                "      - when: <% succeeded() %>",
                "        do: task%d" % (i + 1),
            ]
    return "\n".join(lines) + "\n"


def fan_out(n):
    names = ["t%d" % i for i in range(n)]
    lines = [
        "version: 1.0",
        "tasks:",
        "  start:",
        "    action: core.echo",
        "    next:",
        "      - when: <% succeeded() %>",
        "        do: [%s]" % ", ".join(names),
    ]
    for name in names:
        lines += [
            "  %s:" % name,
            "    action: core.echo",
            "    input:",
            "      message: %s" % name,
            "    next:",
            "      - when: <% succeeded() %>",
            "        do: join",
        ]
    lines += ["  join:", "    join: all", "    action: core.echo"]
    return "\n".join(lines) + "\n"


def items(_n):
    return (
        "version: 1.0\ninput:\n  - xs\ntasks:\n  task1:\n    with: <% ctx(xs) %>\n"
        "    action: core.echo\n    input:\n      message: <% item() %>\n"
    )


def drive(spec, inputs):
    """Run one workflow to completion; return the number of action executions."""
    conductor = conducting.WorkflowConductor(spec, inputs=inputs)
    conductor.request_workflow_status(statuses.RUNNING)
    result = {"stdout": "ok"}
    accumulated = {}
    count = 0
    while conductor.get_workflow_status() not in statuses.COMPLETED_STATUSES:
        next_tasks = conductor.get_next_tasks()
        if not next_tasks:
            break
        for task in next_tasks:
            task_id, route = task["id"], task["route"]
            for action in task["actions"]:
                count += 1
                item_id = action.get("item_id")
                if item_id is None:
                    conductor.update_task_state(
                        task_id, route, events.ActionExecutionEvent(statuses.RUNNING)
                    )
                    conductor.update_task_state(
                        task_id,
                        route,
                        events.ActionExecutionEvent(statuses.SUCCEEDED, result=result),
                    )
                else:
                    acc = accumulated.setdefault((task_id, route), [None] * task["items_count"])
                    acc[item_id] = result
                    conductor.update_task_state(
                        task_id,
                        route,
                        events.TaskItemActionExecutionEvent(item_id, statuses.RUNNING),
                    )
                    conductor.update_task_state(
                        task_id,
                        route,
                        events.TaskItemActionExecutionEvent(
                            item_id, statuses.SUCCEEDED, result=result, accumulated_result=acc
                        ),
                    )
    status = conductor.get_workflow_status()
    if status != statuses.SUCCEEDED:
        raise SystemExit("workflow ended %s: %s" % (status, conductor.errors))
    return count


def main():
    emit_json = os.environ.get("CONDUCTOR_BENCH_JSON") == "1"
    sizes = [int(n) for n in os.environ.get("CONDUCTOR_BENCH_N", "10,100,1000").split(",")]
    # Same budget idea as the Rust bench, scaled down: orquesta is slow.
    budget = float(os.environ.get("ORQUESTA_BENCH_SECONDS", "3"))
    print("orquesta %s, python %s" % (ORQUESTA_VERSION, sys.version.split()[0]), file=sys.stderr)
    for shape, build in (("sequential", sequential), ("fanout", fan_out), ("items", items)):
        for n in sizes:
            spec = native_specs.WorkflowSpec(build(n))
            inputs = {"xs": list(range(n))} if shape == "items" else {}
            samples = []
            started = time.perf_counter()
            tasks = 0
            # At least one run; more while within the budget (a single run
            # at N=1000 takes minutes because orquesta's cost per task grows
            # with the workflow size).
            while not samples or (len(samples) < 50 and time.perf_counter() - started < budget):
                # CPU time of this thread, like the Rust bench, so that other
                # load on the machine does not count.
                t = time.thread_time()
                tasks = drive(spec, inputs)
                samples.append((time.thread_time() - t) * 1e6 / tasks)
            median = statistics.median(samples)
            print(
                "%-10s n=%-5d tasks=%-5d runs=%-4d median %.3f us/task"
                % (shape, n, tasks, len(samples), median)
            )
            if emit_json:
                print(
                    json.dumps(
                        {
                            "impl": "orquesta",
                            "version": ORQUESTA_VERSION,
                            "shape": shape,
                            "n": n,
                            "tasks": tasks,
                            "runs": len(samples),
                            "us_per_task": median,
                        }
                    )
                )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
