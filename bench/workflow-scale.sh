#!/usr/bin/env bash
# Workflows at scale (issue 16): a sequential chain and a with-items task
# (concurrency 8) of 100, 1,000 and 10,000 `true` tasks, run by the engine on
# a release build, each against N bare `sh -c true` launches in a shell loop
# in the same run (crates/engine/benches/scale.rs). Then push vs poll
# completion again (crates/engine/benches/workflow.rs) unless SCALE_SKIP_POLL=1.
#
# Environment: SCALE_N (default 100,1000,10000), SCALE_SHAPES (chain,items).
# Figures: bench/out/workflow-scale.txt and .json. Takes about 10 minutes on
# 2 cores (the push vs poll part alone about two).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
mkdir -p bench/out
cargo build --release -p stormdesk-runner
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee bench/out/workflow-scale.txt
SCALE_JSON="$PWD/bench/out/workflow-scale.json" \
  cargo bench -p stormdesk-engine --bench scale | tee -a bench/out/workflow-scale.txt
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a bench/out/workflow-scale.txt
if [ "${SCALE_SKIP_POLL:-0}" != 1 ]; then
  cargo bench -p stormdesk-engine --bench workflow | tee bench/out/workflow.txt
fi
