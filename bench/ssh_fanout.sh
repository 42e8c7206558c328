#!/usr/bin/env bash
# `true` on 50 hosts over ssh, three ways, measured in the same run against
# the same loopback sshd (50 aliases in one generated ssh config):
#   a) stormdesk-runner, remote-shell-cmd, concurrency $CONCURRENCY;
#   b) a plain sequential loop: for h in ...; do ssh $h true; done;
#   c) xargs -P $CONCURRENCY ssh {} true.
# Every way opens a fresh connection per host (no ControlMaster), like for like.
# Every timed run fails (and so the benchmark) when a host fails: the runner's
# status must be succeeded (it is failed when any host fails), the loop stops
# at a failing ssh, and xargs exits non-zero.
# Results: bench/out/ssh_fanout.txt (summary) and bench/out/ssh_fanout.json (hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
HOSTS_N=${HOSTS_N:-50}
CONCURRENCY=${CONCURRENCY:-20}
RUNS=${RUNS:-10}
command -v hyperfine >/dev/null || { echo "install hyperfine" >&2; exit 1; }

cargo build --release -p stormdesk-runner
runner="${CARGO_TARGET_DIR:-target}/release/stormdesk-runner"

work=$(mktemp -d)
cleanup() {
  [ -f "$work/sshd.pid" ] && kill "$(cat "$work/sshd.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
bench/ssh/sshd.sh "$work" "$HOSTS_N"
config="$work/ssh_config"
hosts=$(cat "$work/hosts")

python3 - "$work/request.json" "$hosts" "$config" "$CONCURRENCY" <<'PY'
import json, sys
path, hosts, config, concurrency = sys.argv[1:]
req = {
    "execution_id": "bench-ssh-fanout",
    "runner_type": "remote-shell-cmd",
    "action_ref": "bench.fanout",
    "runner_parameters": {
        "hosts": hosts, "cmd": "true", "ssh_config": config,
        "concurrency": int(concurrency), "timeout": 120,
    },
}
open(path, "w").write(json.dumps(req) + "\n")
PY

# One checked run of each before timing: all hosts must succeed.
"$runner" <"$work/request.json" 2>/dev/null | python3 -c '
import json, sys
out = json.loads(sys.stdin.read())
ok = [h for h, r in out["result"].items() if r.get("succeeded")]
assert out["status"] == "succeeded", out
print(f"runner check: {len(ok)} hosts succeeded")'
for h in ${hosts//,/ }; do ssh -F "$config" "$h" true; done
printf '%s\n' ${hosts//,/ } | xargs -P "$CONCURRENCY" -I{} ssh -F "$config" {} true

mkdir -p bench/out
hyperfine --warmup 2 --runs "$RUNS" --export-json bench/out/ssh_fanout.json \
  -n "stormdesk remote-shell-cmd (concurrency $CONCURRENCY)" \
  "$runner <$work/request.json 2>/dev/null | grep -q '\"status\": *\"succeeded\"'" \
  -n "sequential ssh loop" \
  "for h in ${hosts//,/ }; do ssh -F $config \$h true || exit 1; done" \
  -n "xargs -P $CONCURRENCY ssh" \
  "printf '%s\n' ${hosts//,/ } | xargs -P $CONCURRENCY -I{} ssh -F $config {} true"

python3 - bench/out/ssh_fanout.json "$HOSTS_N" "$CONCURRENCY" "$(nproc)" <<'PY' | tee bench/out/ssh_fanout.txt
import json, sys
path, n, conc, cpus = sys.argv[1:]
res = json.load(open(path))["results"]
med = [r["median"] for r in res]
print(f"ssh fan-out: `true` on {n} host aliases (one loopback sshd), "
      f"concurrency {conc}, {cpus} CPUs, fresh connection per host")
for r in res:
    print(f"  {r['command']:<45} median {r['median']*1000:8.1f} ms  "
          f"(min {r['min']*1000:.1f}, max {r['max']*1000:.1f})")
print(f"  ours / sequential loop: {med[0]/med[1]:.2f}")
print(f"  ours / xargs -P {conc}:   {med[0]/med[2]:.2f}")
PY
