#!/usr/bin/env bash
# Conductor benchmark: stormdesk-workflow against StackStorm's orquesta.
#
# Runs crates/workflow/benches/conductor.rs and bench/orquesta_conductor.py
# over the same shapes (sequential chain, fan-out into join: all, with-items)
# and sizes, then prints a table of microseconds per task, the speed-up and
# whether the cost per task stays flat as N grows. Results go to
# bench/out/conductor.txt (raw logs beside it).
#
# Environment: CONDUCTOR_BENCH_N overrides the sizes (default 10,100,1000);
# ORQUESTA_BENCH_SECONDS is the time budget per orquesta configuration
# (default 3, at least one run). The orquesta venv is the differential
# tests' (scripts/pyvenv.sh): orquesta 1.2.0 with the networkx 1.11 it pins,
# run on current Python through the shims in bench/orquesta_conductor.py.
set -euo pipefail

cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"
python=$(bash scripts/pyvenv.sh orquesta-1.2.0 orquesta==1.2.0 networkx==1.11 \
    yaql==3.1.0 Jinja2==2.11.3 MarkupSafe==2.0.1 setuptools==84.2.1)

export CONDUCTOR_BENCH_JSON=1
echo "== stormdesk-workflow (cargo bench) ==" >&2
cargo bench -p stormdesk-workflow --bench conductor 2>/dev/null | tee "$out/conductor-rust.log" >&2
echo "== orquesta ==" >&2
"$python" bench/orquesta_conductor.py | tee "$out/conductor-orquesta.log" >&2

"$python" - "$out/conductor-rust.log" "$out/conductor-orquesta.log" <<'PY' | tee "$out/conductor.txt"
import json
import sys

def load(path):
    rows = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            rows[(r["shape"], r["n"])] = r
    return rows

ours, theirs = load(sys.argv[1]), load(sys.argv[2])
shapes = ["sequential", "fanout", "items"]
sizes = sorted({n for (_, n) in ours})
print("%-10s %6s %14s %16s %12s" % ("shape", "N", "ours us/task", "orquesta us/task", "orq/ours"))
for shape in shapes:
    for n in sizes:
        o = ours.get((shape, n))
        t = theirs.get((shape, n))
        ou = o["us_per_task"] if o else float("nan")
        tu = t["us_per_task"] if t else float("nan")
        print("%-10s %6d %14.3f %16.1f %11.0fx" % (shape, n, ou, tu, tu / ou))
print()
print("growth of the cost per task from N=%d to N=%d (1.0 = perfectly linear total time):" % (sizes[0], sizes[-1]))
for shape in shapes:
    def growth(rows):
        a, b = rows.get((shape, sizes[0])), rows.get((shape, sizes[-1]))
        return b["us_per_task"] / a["us_per_task"] if a and b else float("nan")
    g_ours, g_theirs = growth(ours), growth(theirs)
    verdict = "linear" if g_ours <= 2.0 else "SUPERLINEAR"
    print("%-10s ours x%.2f (%s)   orquesta x%.1f" % (shape, g_ours, verdict, g_theirs))
PY
