"""Drives a running `stormdesk serve` with StackStorm's own Python client.

Run by the Rust test `crates/cli/tests/cli/st2.rs` with the python of a venv
holding `st2client` from PyPI:

    python client_check.py <console url> <token>

It uses the client as StackStorm users' scripts do and prints one JSON
document with what it saw; the Rust test asserts on it. Any exception fails.
"""

import json
import queue
import sys
import threading

from st2client.client import Client
from st2client.models import Execution, KeyValuePair


def main():
    url, token = sys.argv[1], sys.argv[2]
    client = Client(
        base_url=url,
        api_url=url + "/v1",
        auth_url=url + "/auth/v1",
        stream_url=url + "/v1",
        token=token,
    )
    seen = {}
    seen["actions"] = sorted(a.ref for a in client.actions.get_all(pack="st2t"))
    action = client.actions.get_by_ref_or_id("st2t.echo")
    seen["action"] = {"ref": action.ref, "runner_type": action.runner_type}
    runner = client.managers["RunnerType"].get_by_name("local-shell-cmd")
    seen["runner_parameters"] = sorted(runner.runner_parameters)
    seen["packs"] = sorted(p.ref for p in client.packs.get_all())
    seen["user"] = client.get_user_info()["username"]

    # Follow the stream while one runs. The stream shows only what happens
    # after it connects, so probe runs go first until one is seen.
    events = queue.Queue()

    def read():
        for event in client.managers["Stream"].listen(
            ["st2.execution__update", "st2.execution.output__create"]
        ):
            events.put(event)

    threading.Thread(target=read, daemon=True).start()
    for _ in range(20):
        client.executions.create(Execution(action="st2t.echo", parameters={"msg": "probe"}))
        try:
            events.get(timeout=3)
            break
        except queue.Empty:
            continue
    else:
        raise RuntimeError("the stream delivered nothing")
    started = client.executions.create(
        Execution(action="st2t.echo", parameters={"msg": "from st2client"})
    )
    seen["stream"] = []
    while True:
        event = events.get(timeout=60)
        if event.get("id") == started.id or event.get("execution_id") == started.id:
            seen["stream"].append(event.get("status") or event.get("data"))
            if event.get("status") in ("succeeded", "failed", "timeout", "canceled"):
                break
    done = client.executions.get_by_id(started.id)
    seen["execution"] = {
        "status": done.status,
        "action": done.action["ref"],
        "stdout": done.result["stdout"],
        "user": done.context["user"],
    }
    seen["output"] = client.executions.get_output(started.id)
    listed, total = client.executions.query_with_count(limit=1, action="st2t.echo")
    seen["listed"] = {"ids": [e.id for e in listed], "total": total}
    again = client.executions.re_run(started.id, parameters={"msg": "re-run"})
    seen["re_run"] = {"action": again.action["ref"], "msg": again.parameters["msg"]}

    client.keys.update(KeyValuePair(name="client_key", value="v1", scope="system"))
    client.keys.update(KeyValuePair(name="client_secret", value="s3", secret=True))
    got = client.keys.get_by_name("client_key")
    secret = client.keys.get_by_name(name="client_secret", decrypt=True)
    seen["keys"] = {
        "value": got.value,
        "scope": got.scope,
        "secret": secret.value,
        "listed": sorted(k.name for k in client.keys.get_all(prefix="client_")),
    }
    client.keys.delete(got)
    seen["deleted"] = client.keys.get_by_name("client_key") == []
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
