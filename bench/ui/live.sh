#!/usr/bin/env bash
# UI benchmark through the real thing, at scale: `stormdesk serve` (release
# build, the console built into it) runs a workflow of N `true` tasks
# (with-items, concurrency 8; N defaults to 10,000) while Debian's Chromium
# opens it in the console and follows it to the end, fed by the console's
# own API fetches and event stream. Prints the time to show the tree, the
# longest main-thread task and frame gaps while it follows, event-to-screen
# latency and the requests made, each against a baseline measured in the
# same run (opening a 10-task run; the idle page; a bare fetch() of the same
# endpoint; a raw EventSource on /v1/stream), and writes bench/out/ui-live.txt.
# Usage: bench/ui/live.sh [N] [--concurrency N] [--runs N] [--opens N]
# [--open-after-ms N] [--baseline N] (bench/ui/live.mjs).
# Needs /usr/bin/chromium (scripts/setup.sh). A benchmark, not a test: not in CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
[ -d ui/node_modules ] || (cd ui && npm ci --no-audit --no-fund --loglevel=error)
[ -d tests/browser/node_modules ] || (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
# Release builds embed ui/dist (docs/console.md): (re)build it first when
# the UI's sources are newer (a rebuild alone would relink the binary).
if [ ! -f ui/dist/index.html ] || [ -n "$(find ui/src ui/index.html ui/package.json -newer ui/dist/index.html -print -quit)" ]; then
  (cd ui && npm run build --silent >/dev/null)
fi
cargo build --release -p stormdesk -p stormdesk-runner --bins
node bench/ui/live.mjs "$@"
