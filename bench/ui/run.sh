#!/usr/bin/env bash
# UI benchmark: builds bench/ui (the real tree component, synthetic workflow
# of 10,000 tasks, live events at 1,000/s) and runs it in Chromium.
# Prints time to show, frame times, event-to-screen latency, and a same-run
# baseline (a plain 10,000-row list). `bench/ui/run.sh page=output[&lines=N]`
# measures the output view instead: a loud run's log (200,000 lines) against
# writing its last lines into one <pre> (bench/ui/output.ts).
# Needs /usr/bin/chromium (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -d ui/node_modules ] || (cd ui && npm ci --no-audit --no-fund --loglevel=error)
[ -d tests/browser/node_modules ] || (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
ui/node_modules/.bin/vite build bench/ui --outDir "$PWD/target/bench-ui" --emptyOutDir --base ./ --logLevel warn
mkdir -p bench/out
out=bench/out/ui.txt
case "${1:-}" in page=output*) out=bench/out/ui-output.txt ;; esac
node bench/ui/run.mjs "${1:-}" | tee "$out"
