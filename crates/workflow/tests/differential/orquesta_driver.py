#!/usr/bin/env python3
"""Reference side of the differential tests: runs each case through
StackStorm's Orquesta (PyPI orquesta 1.2.0 with the networkx 1.11 it pins,
on current Python with the shims below) driven the way StackStorm's
workflow engine drives it (st2common/services/workflows.py:
request_next_tasks, request_task_execution, update_task_execution,
handle_action_execution_completion, request_rerun, pause, resume, cancel),
with StackStorm's `st2kv` and `task` functions over an in-memory datastore
and task execution records.

Reads a JSON list of cases on stdin, writes a JSON list of outcomes on
stdout. A case: {name, workflow (YAML text), input, context, kv, results
(rules picking the status and result of each action execution, and
optionally a `hold`, pending or paused, reported before the completion),
steps
(pause/resume/cancel/rerun after N results)}. An outcome: the inspection
errors, or the trace of action executions (the request and the result fed
back, in order), the steps applied, and the final status, output, errors,
StackStorm result, routes and task sequence.
"""

import collections
import collections.abc
import copy
import fractions
import json
import math
import sys
import warnings

# orquesta 1.2.0 and its networkx 1.11 predate Python 3.9/3.10, which
# removed these aliases; restore them before importing either.
for _name in ("MutableSequence", "MutableMapping", "Mapping", "Sequence", "Iterable",
              "Set", "Hashable", "Callable"):
    setattr(collections, _name, getattr(collections.abc, _name))
fractions.gcd = math.gcd
warnings.filterwarnings("ignore", category=SyntaxWarning)

# StackStorm's functions must be in the catalog before the evaluators load it.
from orquesta import exceptions as orquesta_exc  # noqa: E402
from orquesta.expressions.functions import base as func_base  # noqa: E402
from orquesta.expressions.functions import workflow as workflow_functions  # noqa: E402

# The datastore and the task execution records of the case being run.
KV = {}
RECORDS = {}


def st2kv_(context, key, **kwargs):
    """StackStorm's st2kv (st2common/expressions/functions/datastore.py)."""
    if not isinstance(key, str):
        raise TypeError("Given key is not typeof string.")
    decrypt = kwargs.get("decrypt", False)
    if not isinstance(decrypt, bool):
        raise TypeError("Decrypt parameter is not typeof bool.")
    if key in KV:
        return KV[key]
    if "default" in kwargs:
        return kwargs.get("default")
    raise orquesta_exc.ExpressionEvaluationException(
        'The key "%s" does not exist in the StackStorm datastore.' % key
    )


def task_(context, task_id=None, route=None):
    """StackStorm's task() (orquesta_functions/runtime.py) over RECORDS."""
    try:
        current_task = workflow_functions._get_current_task(context)
    except Exception:
        current_task = {}
    if task_id is None:
        task_id = current_task["id"]
    if route is None:
        route = current_task.get("route", 0)
    try:
        workflow_state = context["__state"] or {}
    except KeyError:
        workflow_state = {}
    pointers = workflow_state.get("tasks") or {}
    idx = pointers.get(constants.TASK_STATE_ROUTE_FORMAT % (task_id, str(route)))
    record = None
    if idx is None:
        if route > 0:
            current_route_details = workflow_state["routes"][route]
            for i, prev in enumerate(reversed(workflow_state["routes"][:route])):
                if len(set(prev) - set(current_route_details)) == 0:
                    return task_(context, task_id=task_id, route=route - i - 1)
    else:
        entry = (workflow_state.get("sequence") or [])[idx]
        route = entry["route"]
        st2 = context["__vars"]["st2"]
        record = RECORDS.get((task_id, route))
        wf_ex_id = st2["workflow_execution_id"]
    if not record:
        raise orquesta_exc.ExpressionEvaluationException(
            'Unable to find task execution for "%s".' % task_id
        )
    return {
        "task_execution_id": None,
        "workflow_execution_id": wf_ex_id,
        "task_name": task_id,
        "task_id": task_id,
        "route": route,
        "result": record["result"],
        "status": record["status"],
        "start_timestamp": None,
        "end_timestamp": None,
    }


# Register StackStorm's functions before the evaluators load the catalog.
_catalog = func_base.load()
_catalog["st2kv"] = st2kv_
_catalog["task"] = task_

# orquesta 1.2.0's inline-parameter pattern puts `(?i)` flags mid-pattern,
# which Python 3.11 refuses; the scoped form `(?i:...)` means the same.
from orquesta.utils import parameters as _params  # noqa: E402

_params.REGEX_INLINE_PARAMS = _params.REGEX_INLINE_PARAMS.replace(
    "(?i)true", "(?i:true)").replace("(?i)false", "(?i:false)")

from orquesta import conducting, constants, events, requests, statuses  # noqa: E402
from orquesta.specs import native as native_specs  # noqa: E402

COMPLETED = statuses.COMPLETED_STATUSES


def default_result(action, params):
    """What StackStorm's core actions return when they succeed."""
    shell = {"failed": False, "succeeded": True, "return_code": 0, "stderr": ""}
    if action == "core.echo":
        return dict(shell, stdout=str(params.get("message", "")))
    if action in ("core.local", "core.local_sudo", "core.remote", "core.remote_sudo"):
        return dict(shell, stdout="")
    if action == "core.noop":
        return {"failed": False, "succeeded": True, "return_code": 0}
    return None


def inspect_task_contents(spec):
    """The part of StackStorm's inspect_task_contents that needs no
    database: action references are `pack.action`, and every action of the
    examples pack's workflows is registered only under such a name."""
    errors = []
    for name, task in spec.tasks.items():
        action = getattr(task, "action", None)
        if not action or "<%" in action or "{{" in action:
            continue
        if "." not in action:
            message = 'The action reference "%s" is not formatted correctly.' % action
        elif any(c.isspace() for c in action):
            message = 'The action "%s" is not registered in the database.' % action
        else:
            continue
        errors.append({"message": message, "spec_path": "tasks.%s.action" % name})
    return errors


class Run:
    def __init__(self, case):
        self.case = case
        self.spec = native_specs.WorkflowSpec(case["workflow"])
        self.conductor = None
        self.queue = []
        self.trace = []
        self.seen = collections.Counter()

    # -- StackStorm's task execution records ------------------------------------

    def request_task_execution(self, task):
        key = (task["id"], task["route"])
        itemized = task["spec"].has_items()
        record = RECORDS.get(key)
        if itemized and record and record["itemized"] and record["status"] == "running" \
                and task.get("items_count"):
            return record
        record = {"itemized": itemized, "status": "running",
                  "result": {"items": [None] * task["items_count"]} if itemized else {}}
        RECORDS[key] = record
        return record

    def update_task_execution(self, key, status, result, item=None):
        record = RECORDS[key]
        items = record["result"].get("items") if isinstance(record["result"], dict) else None
        if not record["itemized"] or not items:
            record["status"] = status
            record["result"] = result if result else record["result"]
            return
        items[item] = {"status": status, "result": result}
        item_statuses = [i.get("status") if i else "null" for i in items]
        if all(s in COMPLETED for s in item_statuses):
            record["status"] = "succeeded" if all(s == "succeeded" for s in item_statuses) \
                else "failed"

    # -- the workflow engine ----------------------------------------------------------

    def update_execution_records(self):
        if self.conductor.get_workflow_status() in COMPLETED:
            self.conductor.render_workflow_output()

    def attempt(self, task_id, route):
        entry = self.conductor.get_task_state_entry(task_id, route)
        return (entry or {}).get("retry", {}).get("tally", 0)

    def request_next_tasks(self):
        c = self.conductor
        if c.get_workflow_status() in (statuses.REQUESTED, statuses.SCHEDULED):
            c.request_workflow_status(statuses.RUNNING)
        next_tasks = c.get_next_tasks()
        while next_tasks:
            for task in next_tasks:
                if task["spec"].has_items() and task.get("items_count") == 0:
                    c.update_task_state(task["id"], task["route"],
                                        events.ActionExecutionEvent(statuses.RUNNING))
                for action in task["actions"]:
                    if action.get("item_id") is None:
                        event = events.ActionExecutionEvent(statuses.RUNNING)
                    else:
                        event = events.TaskItemActionExecutionEvent(action["item_id"],
                                                                    statuses.RUNNING)
                    c.update_task_state(task["id"], task["route"], event)
            self.update_execution_records()
            for task in next_tasks:
                self.request_task_execution(task)
                key = (task["id"], task["route"])
                if task["spec"].action is None:
                    self.update_task_execution(key, statuses.SUCCEEDED, None)
                    c.update_task_state(task["id"], task["route"],
                                        events.ActionExecutionEvent(statuses.SUCCEEDED))
                    continue
                if task["spec"].has_items() and task.get("items_count") == 0:
                    self.update_task_execution(key, statuses.SUCCEEDED, None)
                    c.update_task_state(task["id"], task["route"],
                                        events.ActionExecutionEvent(statuses.SUCCEEDED))
                    continue
                attempt = self.attempt(task["id"], task["route"])
                for action in task["actions"]:
                    item = action.get("item_id")
                    self.queue.append({
                        "task": task["id"], "route": task["route"], "item": item,
                        "action": action["action"], "input": action["input"],
                        "delay": self.delay(task, action, item is not None),
                        "attempt": attempt,
                    })
            next_tasks = c.get_next_tasks()
        self.update_execution_records()

    @staticmethod
    def delay(task, action, itemized):
        """StackStorm's eval_action_execution_delay."""
        delay = task.get("delay")
        concurrency = task.get("concurrency")
        if delay and not itemized:
            return delay
        if delay and itemized and not concurrency:
            return delay
        if delay and itemized and action["item_id"] < concurrency:
            return delay
        return None

    def pick(self, req):
        key = (req["task"], req["route"], req["item"])
        nth = self.seen[key]
        self.seen[key] += 1
        for rule in self.case.get("results", []):
            if rule.get("task") != req["task"]:
                continue
            if "route" in rule and rule["route"] != req["route"]:
                continue
            if "item" in rule and rule["item"] != req["item"]:
                continue
            if "nth" in rule and rule["nth"] != nth:
                continue
            return (rule.get("status", "succeeded"), copy.deepcopy(rule.get("result")),
                    rule.get("hold"))
        return "succeeded", default_result(req["action"], req["input"] or {}), None

    def hold(self, req, hold):
        """An action execution reports `pending` (an Inquiry) or `paused` (a
        child workflow) before it completes: StackStorm's
        handle_action_execution_pending / handle_action_execution_pause."""
        key = (req["task"], req["route"])
        self.update_task_execution(key, hold, None, req["item"])
        if req["item"] is None:
            event = events.ActionExecutionEvent(hold)
        else:
            record = RECORDS[key]
            accumulated = [i.get("result") if i else None for i in record["result"]["items"]]
            event = events.TaskItemActionExecutionEvent(
                req["item"], hold, accumulated_result=accumulated)
        self.conductor.update_task_state(req["task"], req["route"], event)
        self.update_execution_records()

    def respond(self, req, hold):
        """What happens before a held execution reports its completion: an
        Inquiry's answer resumes the paused workflow first
        (st2common/services/inquiry.py respond); a paused child workflow that
        resumes sets its task and the workflow running
        (handle_action_execution_resume)."""
        c = self.conductor
        if hold == "pending":
            if c.get_workflow_status() in (statuses.PAUSING, statuses.PAUSED):
                self.step({"action": "resume"})
            return
        RECORDS[(req["task"], req["route"])]["status"] = statuses.RUNNING
        c.request_workflow_status(statuses.RUNNING)
        if req["item"] is None:
            event = events.ActionExecutionEvent(statuses.RUNNING)
        else:
            event = events.TaskItemActionExecutionEvent(req["item"], statuses.RUNNING)
        c.update_task_state(req["task"], req["route"], event)
        self.update_execution_records()

    def feed(self, req, status, result):
        key = (req["task"], req["route"])
        self.update_task_execution(key, status, result, req["item"])
        if req["item"] is None:
            event = events.ActionExecutionEvent(status, result=result)
        else:
            record = RECORDS[key]
            accumulated = [i.get("result") if i else None for i in record["result"]["items"]]
            event = events.TaskItemActionExecutionEvent(
                req["item"], status, result=result, accumulated_result=accumulated)
        self.conductor.update_task_state(req["task"], req["route"], event)
        self.update_execution_records()
        self.request_next_tasks()
        self.update_execution_records()

    def step(self, step):
        c = self.conductor
        action = step["action"]
        if action == "pause":
            c.request_workflow_status(statuses.PAUSED)
        elif action == "resume":
            c.request_workflow_status(statuses.RESUMING)
            self.request_next_tasks()
        elif action == "cancel":
            c.request_workflow_status(statuses.CANCELED)
        elif action == "rerun":
            tasks = step.get("tasks") or []
            reset = step.get("reset") or []
            task_requests = None
            if tasks:
                task_requests = []
                missing = []
                for name in tasks:
                    entries = c.workflow_state.get_tasks(task_id=name)
                    if not entries:
                        missing.append(name)
                    for _, entry in entries:
                        task_requests.append(requests.TaskRerunRequest(
                            name, entry["route"], reset_items=name in reset))
                if missing:
                    raise Exception("Unable to rerun workflow because one or more tasks "
                                    "is not found: %s" % ",".join(missing))
            c.request_workflow_rerun(task_requests=task_requests)
            self.request_next_tasks()
        self.update_execution_records()

    def run(self):
        KV.clear()
        KV.update(self.case.get("kv") or {})
        RECORDS.clear()
        out = {"name": self.case["name"]}
        inspection = self.spec.inspect(app_ctx=self.case.get("context") or None)
        errors = [
            {"message": e["message"], "spec_path": e.get("spec_path")}
            for category in inspection.values() for e in category
        ] + inspect_task_contents(self.spec)
        if errors:
            out["inspection"] = errors
            return out
        self.conductor = conducting.WorkflowConductor(
            self.spec, context=copy.deepcopy(self.case.get("context") or {}),
            inputs=copy.deepcopy(self.case.get("input") or {}))
        steps = sorted(self.case.get("steps") or [], key=lambda s: s["after"])
        applied = []
        try:
            # StackStorm's workflows.request: a workflow already completed when
            # its conductor is made (input or vars failed to render) is not
            # requested, so its output is never rendered.
            if self.conductor.get_workflow_status() not in COMPLETED:
                self.conductor.request_workflow_status(statuses.RUNNING)
                self.request_next_tasks()
                self.update_execution_records()
            limit = self.case.get("max_requests", 500)
            while True:
                while steps and steps[0]["after"] <= len(self.trace):
                    step = steps.pop(0)
                    try:
                        self.step(step)
                        applied.append({"after": len(self.trace), "action": step["action"],
                                        "error": None})
                    except Exception as e:  # a refused step is part of the outcome
                        applied.append({"after": len(self.trace), "action": step["action"],
                                        "error": "%s: %s" % (type(e).__name__, e)})
                if not self.queue or len(self.trace) >= limit:
                    break
                req = self.queue.pop(0)
                held = req.pop("held", None)
                if held:
                    status, result = req.pop("answer")
                    self.trace.append(dict(req, status=status, result=result, held=held))
                    if held == "pending" and status == "timeout":
                        # An Inquiry whose ttl expired: StackStorm's garbage
                        # collector times it out first, then resumes the
                        # workflow (st2common/garbage_collection/inquiries.py).
                        self.feed(req, status, result)
                        self.respond(req, held)
                    else:
                        self.respond(req, held)
                        self.feed(req, status, result)
                    continue
                status, result, hold = self.pick(req)
                if hold:
                    self.hold(req, hold)
                    self.trace.append(dict(req, phase="hold", status=hold,
                                           workflow_status=self.conductor.get_workflow_status()))
                    self.queue.append(dict(req, held=hold, answer=(status, result)))
                    continue
                self.trace.append(dict(req, status=status, result=result))
                self.feed(req, status, result)
        except Exception as e:
            out["crash"] = "%s: %s" % (type(e).__name__, e)
        c = self.conductor
        status = c.get_workflow_status()
        output = c.get_workflow_output()
        result = {"output": output or None}
        if status in statuses.ABENDED_STATUSES:
            result["errors"] = copy.deepcopy(c.errors)
        out.update({
            "trace": self.trace,
            "steps": applied,
            "pending": self.queue,
            "status": status,
            "output": output,
            "errors": c.errors,
            "result": result,
            "routes": c.workflow_state.routes,
            "sequence": [[e["id"], e["route"], e.get("status", "null")]
                         for e in c.workflow_state.sequence],
        })
        return out


def main():
    cases = json.load(sys.stdin)
    outcomes = []
    for case in cases:
        try:
            outcomes.append(Run(case).run())
        except Exception as e:
            outcomes.append({"name": case.get("name"), "crash": "%s: %s" % (type(e).__name__, e)})
    json.dump(outcomes, sys.stdout, default=str)


if __name__ == "__main__":
    main()
