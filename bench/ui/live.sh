#!/usr/bin/env bash
# UI benchmark through the real thing: `stormdesk serve` (release build, the
# console built into it) runs a workflow of subworkflows of with-items
# `core.noop` tasks (default 10 x 100: 1,011 executions) while Debian's
# Chromium watches it in the console, fed by the console's own API fetches
# and event stream. Prints opening, event-to-screen and frame figures, each
# against a baseline measured in the same page (a bare fetch() of the same
# endpoint; a raw EventSource on /v1/stream), and writes bench/out/ui-live.txt.
# Options (bench/ui/live.mjs): --subflows N --items N --concurrency N --runs N --opens N.
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
