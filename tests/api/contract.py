"""The contract test: every response of a live `stormdesk serve` is validated
against Stormdesk's OpenAPI document (docs/openapi.yaml, StackStorm's schema
names and fields) with openapi-core from PyPI, and every event of its stream
against the schemas the document names for it.

Run by `crates/cli/tests/cli/st2.rs`:

    python contract.py <openapi.yaml> <url> <user> <password> <fifo>

The server has the `st2t` test pack installed. Prints one JSON line last:
`{"validated": <responses and events checked>, "failures": [...]}`; exits 1
when anything failed.
"""

import json
import os
import subprocess
import sys
import tempfile

import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_schema_validator import OAS30Validator

SPEC_PATH, URL, USER, PASSWORD, FIFO = sys.argv[1:6]
SPEC = OpenAPI.from_file_path(SPEC_PATH)
with open(SPEC_PATH) as f:
    COMPONENTS = yaml.safe_load(f)["components"]

validated = 0
failures = []
session = requests.Session()


def check(response, expect):
    """Validates one response against the document; `expect` is its status."""
    global validated
    label = "%s %s -> %s" % (response.request.method, response.request.url, response.status_code)
    if response.status_code != expect:
        failures.append("%s: expected %s: %s" % (label, expect, response.text[:500]))
        return response
    try:
        SPEC.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))
        validated += 1
    except Exception as e:  # noqa: BLE001 - every failure is reported
        detail = getattr(e, "__cause__", None) or e
        failures.append("%s: %s: %s" % (label, type(e).__name__, detail))
    return response


def call(method, path, expect=200, **kwargs):
    return check(session.request(method, URL + path, **kwargs), expect)


def check_event(name, data):
    global validated
    schema_name = {
        "st2.execution__create": "Execution",
        "st2.execution__update": "Execution",
        "st2.execution.output__create": "ActionExecutionOutput",
        "st2.liveaction__create": "LiveAction",
        "st2.liveaction__update": "LiveAction",
    }.get(name)
    if schema_name is None:
        failures.append("stream: unknown event %r" % name)
        return
    schema = {"$ref": "#/components/schemas/" + schema_name, "components": COMPONENTS}
    errors = list(OAS30Validator(schema).iter_errors(data))
    if errors:
        failures.append("stream %s: %s" % (name, "; ".join(e.message for e in errors[:3])))
    else:
        validated += 1


def follow(execution_id):
    """Reads the stream until `execution_id` completes, checking every event."""
    response = session.get(
        URL + "/v1/stream",
        params={"end_execution_id": execution_id, "end_event": "st2.execution__update"},
        stream=True,
        timeout=120,
    )
    # Subscribed; it may have completed already.
    current = session.get(URL + "/v1/executions/" + execution_id).json()
    if current["status"] in ("succeeded", "failed", "timeout", "canceled", "abandoned"):
        response.close()
        return current
    name = None
    for raw in response.iter_lines(decode_unicode=True):
        if raw.startswith("event:"):
            name = raw[len("event:"):].strip()
        elif raw.startswith("data:"):
            data = json.loads(raw[len("data:"):].strip())
            check_event(name, data)
    response.close()
    return session.get(URL + "/v1/executions/" + execution_id).json()


def wait_for(execution_id, status, action=None):
    """Blocks until `execution_id` (or a child running `action`) is in `status`."""
    response = session.get(URL + "/v1/stream", params={"events": "st2.execution__update"}, stream=True, timeout=120)
    if action:
        now = session.get(URL + "/v1/executions", params={"action": action, "status": status}).json()
        done = bool(now)
    else:
        done = session.get(URL + "/v1/executions/" + execution_id).json()["status"] == status
    if not done:
        for raw in response.iter_lines(decode_unicode=True):
            if not raw.startswith("data:"):
                continue
            data = json.loads(raw[len("data:"):].strip())
            matches = data["action"]["ref"] == action if action else data["id"] == execution_id
            if matches and data["status"] == status:
                break
    response.close()


def git_pack(root):
    """A git pack `cpack` with a tag, for the install and revision endpoints."""
    repo = os.path.join(root, "cpack")
    os.makedirs(os.path.join(repo, "actions"))
    with open(os.path.join(repo, "pack.yaml"), "w") as f:
        f.write("ref: cpack\nname: cpack\ndescription: contract test pack\nversion: 0.1.0\n")
    with open(os.path.join(repo, "actions", "hi.yaml"), "w") as f:
        f.write("name: hi\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: 'echo hi', immutable: true}\n")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "one"], ["tag", "v0.1.0"]):
        subprocess.run(["git"] + args, cwd=repo, env=env, check=True)
    return repo


def main():
    # Auth: no credentials, wrong password, a token.
    call("GET", "/v1/actions", 401)
    call("POST", "/auth/v1/tokens", 401, auth=(USER, "wrong"))
    token = call("POST", "/auth/v1/tokens", 201, auth=(USER, PASSWORD), json={"ttl": 3600}).json()["token"]
    session.headers["X-Auth-Token"] = token
    call("POST", "/auth/v1/tokens/validate", json={"token": token})
    call("GET", "/v1")
    call("GET", "/v1/user")

    key = call("POST", "/v1/apikeys", 201, json={"metadata": {"used_by": "contract"}}).json()
    call("GET", "/v1/apikeys")
    call("GET", "/v1/apikeys/" + key["id"])
    call("PUT", "/v1/apikeys/" + key["id"], json={"enabled": False})
    call("DELETE", "/v1/apikeys/" + key["id"], 204)
    call("GET", "/v1/apikeys/" + key["id"], 404)

    # The catalogue.
    call("GET", "/v1/actions")
    call("GET", "/v1/actions", params={"pack": "st2t", "include_attributes": "ref,name,runner_type"})
    action = call("GET", "/v1/actions/st2t.echo").json()
    call("GET", "/v1/actions/" + action["id"])
    call("GET", "/v1/actions/nope.nope", 404)
    call("GET", "/v1/actions/views/overview", params={"pack": "st2t"})
    call("GET", "/v1/actions/views/overview/st2t.echo")
    call("GET", "/v1/actions/views/parameters/st2t.echo")
    call("GET", "/v1/actions/views/entry_point/st2t.kv")
    call("GET", "/v1/runnertypes")
    call("GET", "/v1/runnertypes", params={"name": "python-script"})
    call("GET", "/v1/runnertypes/orquesta")
    call("GET", "/v1/packs")
    call("GET", "/v1/packs/st2t")
    call("GET", "/v1/packs/nope", 404)

    # Packs from git: StackStorm's install (an execution), and Stormdesk's routes.
    with tempfile.TemporaryDirectory() as root:
        repo = git_pack(root)
        install = call("POST", "/v1/packs/install", 202, json={"packs": [repo]}).json()
        installed = follow(install["execution_id"])
        if installed["status"] != "succeeded":
            failures.append("packs.install: %s" % json.dumps(installed.get("result")))
        call("GET", "/v1/executions/" + install["execution_id"])
        call("GET", "/v1/packs/cpack/revisions")
        call("POST", "/v1/packs/cpack/update")
        call("POST", "/v1/packs", json={"source": repo, "ref": "v0.1.0", "force": True})
        call("POST", "/v1/packs/reload")
        call("POST", "/v1/packs/register", json={"packs": ["st2t"], "types": ["action"]})
        call("POST", "/v1/packs/register", 400, json={"packs": ["nosuch"]})
        uninstall = call("POST", "/v1/packs/uninstall", 202, json={"packs": ["cpack"]}).json()
        removed = follow(uninstall["execution_id"])
        if removed["status"] != "succeeded":
            failures.append("packs.uninstall: %s" % json.dumps(removed.get("result")))

    # Executions: run, follow the stream to the end, read back every way.
    run = call("POST", "/v1/executions", 201, json={"action": "st2t.echo", "parameters": {"msg": "contract"}}).json()
    follow(run["id"])
    eid = run["id"]
    call("GET", "/v1/executions/" + eid)
    call("GET", "/v1/executions/" + eid, params={"include_attributes": "action.ref,status,result"})
    call("GET", "/v1/executions/" + eid, params={"exclude_attributes": "result"})
    call("GET", "/v1/executions/" + eid + "/output")
    call("GET", "/v1/executions/" + eid + "/output", params={"output_type": "stdout"})
    call("GET", "/v1/executions/" + eid + "/output", params={"format": "json"})
    call("GET", "/v1/executions/" + eid + "/result")
    call("GET", "/v1/executions/" + eid + "/attribute/status")
    call("GET", "/v1/executions", params={"limit": 5})
    call("GET", "/v1/executions", params={"action": "st2t.echo", "status": "succeeded", "parent": "null", "user": USER})
    call("GET", "/v1/executions", params={"include_attributes": "id,status,result", "sort_asc": "True"})
    call("GET", "/v1/executions", params={"timestamp_gt": run["start_timestamp"], "offset": 1})
    call("GET", "/v1/executions/000000000000000000000000", 404)
    call("POST", "/v1/executions", 400, json={"action": "st2t.echo", "parameters": {}})
    call("POST", "/v1/executions", 404, json={"action": "st2t.nope"})
    rerun = call("POST", "/v1/executions/" + eid + "/re_run", 201, json={"parameters": {"msg": "again"}}).json()
    follow(rerun["id"])
    call("DELETE", "/v1/executions/" + eid)  # completed: 200 with a faultstring
    call("PUT", "/v1/executions/" + eid, 400, json={"status": "succeeded"})

    # A workflow: pause while its gate waits, resume, read its tree.
    flow = call("POST", "/v1/executions", 201, json={"action": "st2t.flow", "parameters": {"fifo": FIFO}}).json()
    wait_for(None, "running", action="st2t.gate")
    call("PUT", "/v1/executions/" + flow["id"], json={"status": "pausing"})
    with open(FIFO, "w") as f:
        f.write("open\n")
    wait_for(flow["id"], "paused")
    call("PUT", "/v1/executions/" + flow["id"], json={"status": "resuming"})
    follow(flow["id"])
    call("GET", "/v1/executions/" + flow["id"] + "/children")
    call("GET", "/v1/executions/" + flow["id"] + "/children", params={"depth": 1})
    call("GET", "/v1/executions/" + flow["id"] + "/graph")
    call("GET", "/v1/executions", params={"parent": flow["id"]})

    # Inquiries: a workflow asks; a wrong answer is refused, a right one
    # lets it finish; an answered Inquiry is no longer open.
    asked = call("POST", "/v1/executions", 201, json={"action": "st2t.asks"}).json()
    wait_for(asked["id"], "paused")
    inquiries = call("GET", "/v1/inquiries").json()
    call("GET", "/v1/inquiries", params={"limit": 1})
    iid = inquiries[0]["id"] if inquiries else "missing"
    call("GET", "/v1/inquiries/" + iid)
    call("PUT", "/v1/inquiries/" + iid, 400, json={"id": iid, "response": {"approved": "yes"}})
    call("PUT", "/v1/inquiries/" + iid, json={"id": iid, "response": {"approved": True}})
    follow(asked["id"])
    call("GET", "/v1/inquiries/" + iid, 400)
    call("GET", "/v1/inquiries/000000000000000000000000", 404)

    # Cancel a running action.
    gate = call("POST", "/v1/executions", 201, json={"action": "st2t.gate", "parameters": {"fifo": FIFO}}).json()
    wait_for(gate["id"], "running")
    call("DELETE", "/v1/executions/" + gate["id"])
    follow(gate["id"])

    # The datastore.
    call("PUT", "/v1/keys/contract", json={"name": "contract", "value": "v", "ttl": 600})
    call("PUT", "/v1/keys/secret", json={"name": "secret", "value": "s", "secret": True})
    call("PUT", "/v1/keys/mine", params={"scope": "user"}, json={"name": "mine", "value": "m", "scope": "user"})
    call("GET", "/v1/keys/contract")
    call("GET", "/v1/keys/secret", params={"decrypt": "true"})
    call("GET", "/v1/keys/mine", params={"scope": "user"})
    call("GET", "/v1/keys", params={"scope": "all"})
    call("GET", "/v1/keys", params={"prefix": "con", "limit": 1})
    call("DELETE", "/v1/keys/contract", 204)
    call("GET", "/v1/keys/contract", 404)
    call("PUT", "/v1/keys/bad", 400, json={"value": 5})

    print(json.dumps({"validated": validated, "failures": failures}))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
