#!/usr/bin/env bash
# Runs the fuzz targets (proptest, the `fuzz::` tests of each crate) for as
# long as asked, round after round with new random inputs:
#
#   bash scripts/fuzz.sh [SECONDS] [NAME-FILTER]     # default 600 s, every target
#   STORMDESK_FUZZ_CASES=50000 bash scripts/fuzz.sh 3600 fuzz_yaql
#
# Targets: workflow YAML and YAQL/Jinja expressions (stormdesk-workflow),
# Jinja templates (stormdesk-jinja), pack/action metadata, parameter
# coercion and runner reports (stormdesk-engine), the runner protocol and
# process (stormdesk-runner). A failure stops the run; proptest keeps the
# failing input in the crate's `proptest-regressions/`, and every later test
# run replays it first: commit that file with the fix, and the crash is a
# test. `scripts/test.sh` runs each target briefly (their default cases).
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-600}"
filter="${2:-fuzz::}"
export STORMDESK_FUZZ_CASES="${STORMDESK_FUZZ_CASES:-20000}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
cargo build --workspace --bins
targets=(stormdesk-workflow:workflow stormdesk-jinja:jinja stormdesk-engine:engine stormdesk-runner:runner)
for t in "${targets[@]}"; do
  cargo test -p "${t%%:*}" --test "${t##*:}" --no-run
done
end=$((SECONDS + duration))
round=0
while ((SECONDS < end)); do
  round=$((round + 1))
  echo "fuzz round $round (${STORMDESK_FUZZ_CASES} cases per target, $((end - SECONDS)) s left)"
  for t in "${targets[@]}"; do
    ((SECONDS < end)) || break
    cargo test -q -p "${t%%:*}" --test "${t##*:}" -- "$filter"
  done
done
echo "fuzzing: $round rounds, no failure"
