#!/usr/bin/env bash
# Action launch overhead, three ways, each against `sh -c true` measured in the same run:
#  1. in-process engine, request -> recorded completion (cargo bench, interleaved
#     samples): runner processes serving one run after another, with and
#     without a pre-started one, and a runner process per run (pre-started):
#     the baseline of serving;
#  2. through `stormdesk serve` (the desktop app's path too): an API client's
#     POST /v1/executions until the completion arrives on /v1/stream
#     (bench/launch_serve.py);
#  3. the whole `stormdesk run examples.true` command line (hyperfine), which adds
#     process start, store open and engine start-up.
# Results: bench/out/launch-prewarm.json, launch-cold.json,
# launch-single-use.json, launch-serve.json,
# cli-launch.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
cargo build --release -p stormdesk-runner -p stormdesk
cargo bench -p stormdesk-engine --bench launch
LAUNCH_PREWARM=0 cargo bench -p stormdesk-engine --bench launch
LAUNCH_SINGLE_USE=1 cargo bench -p stormdesk-engine --bench launch
serve_home=$(mktemp -d)
STORMDESK_HOME="$serve_home" target/release/stormdesk serve >/dev/null 2>&1 &
serve_pid=$!
for _ in $(seq 100); do [ -f "$serve_home/listener.json" ] && break; sleep 0.1; done
python3 bench/launch_serve.py "$serve_home" "${LAUNCH_RUNS:-300}" || status=$?
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
rm -rf "$serve_home"
[ "${status:-0}" -eq 0 ] || exit "$status"
if command -v hyperfine >/dev/null; then
  home=$(mktemp -d)
  trap 'rm -rf "$home"' EXIT
  STORMDESK_HOME="$home" target/release/stormdesk run examples.true >/dev/null
  STORMDESK_HOME="$home" hyperfine -N --warmup 10 --runs 100 \
    --export-json bench/out/cli-launch.json \
    "target/release/stormdesk run examples.true" "sh -c true"
else
  echo "hyperfine not installed (apt-get install hyperfine): skipping the CLI comparison"
fi
