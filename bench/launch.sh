#!/usr/bin/env bash
# Action launch overhead, two ways, each against `sh -c true` measured in the same run:
#  1. in-process engine, request -> recorded completion (cargo bench, interleaved samples);
#  2. the whole `stormdesk run examples.true` command line (hyperfine), which adds
#     process start, store open and engine start-up.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
cargo build --release -p stormdesk-runner -p stormdesk
cargo bench -p stormdesk-engine --bench launch
LAUNCH_PREWARM=0 cargo bench -p stormdesk-engine --bench launch
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
