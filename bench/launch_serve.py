"""Launch overhead through `stormdesk serve`, as an API client sees it.

Run by bench/launch.sh: `python3 bench/launch_serve.py HOME RUNS` while a
release `stormdesk serve` runs with STORMDESK_HOME=HOME (prewarm on, as in
the desktop app). Each sample is `POST /v1/executions` of `examples.true`
until its completion arrives on the event stream (`/v1/stream`, opened
once), interleaved with a bare `sh -c true` spawned and waited for by this
same process. Prints medians and writes bench/out/launch-serve.json.
"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import time

home, runs = sys.argv[1], int(sys.argv[2])
listener = json.load(open(os.path.join(home, "listener.json")))
host, port = listener["url"].removeprefix("http://").split(":")
token = open(os.path.join(home, "config", "token")).read().strip()
auth = {"Authorization": f"Bearer {token}"}

stream = http.client.HTTPConnection(host, int(port))
stream.request("GET", "/v1/stream?events=st2.execution__update", headers=auth)
events = stream.getresponse()
api = http.client.HTTPConnection(host, int(port))


def completed(execution_id):
    """Reads the stream until execution_id's final update."""
    while True:
        line = events.readline()
        if not line:
            raise SystemExit("the event stream ended")
        if not line.startswith(b"data:"):
            continue
        ev = json.loads(line[5:])
        if ev.get("id") == execution_id and ev.get("status") in (
            "succeeded", "failed", "timeout", "canceled", "abandoned"):
            assert ev["status"] == "succeeded", ev
            return


def run_once():
    start = time.perf_counter()
    api.request("POST", "/v1/executions", body=json.dumps({"action": "examples.true"}),
                headers={**auth, "Content-Type": "application/json"})
    resp = api.getresponse()
    body = json.loads(resp.read())
    assert resp.status in (200, 201), body
    completed(body["id"])
    return time.perf_counter() - start


def bare_once():
    start = time.perf_counter()
    subprocess.run(["sh", "-c", "true"], check=True)
    return time.perf_counter() - start


for _ in range(20):
    run_once()
    bare_once()
engine, bare = [], []
for _ in range(runs):
    engine.append(run_once())
    time.sleep(0.005)  # let the next pre-started runner come up before the baseline
    bare.append(bare_once())
em, bm = statistics.median(engine) * 1000, statistics.median(bare) * 1000
print(f"launch through stormdesk serve ({runs} runs, interleaved, prewarm on)")
print(f"  POST /v1/executions -> completion on /v1/stream: median {em:.3f} ms")
print(f"  bare sh -c true spawn+wait (same client):        median {bm:.3f} ms")
print(f"  ratio: {em / bm:.2f}x")
os.makedirs("bench/out", exist_ok=True)
json.dump({"runs": runs, "serve_median_ms": em, "bare_median_ms": bm, "ratio": em / bm},
          open("bench/out/launch-serve.json", "w"), indent=2)
