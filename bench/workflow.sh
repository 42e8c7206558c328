#!/usr/bin/env bash
# Workflow completion by push vs by polling (1 s and 100 ms), same run
# (see crates/engine/benches/workflow.rs). Takes about two minutes: the 1 s
# poll alone needs about 100 s for 100 tasks.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
mkdir -p bench/out
cargo build --release -p stormdesk-runner
cargo bench -p stormdesk-engine --bench workflow | tee bench/out/workflow.txt
