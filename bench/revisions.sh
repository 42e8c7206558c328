#!/usr/bin/env bash
# Runs at a git revision vs `git worktree add --detach` of the same tag,
# measured in the same run (see crates/engine/benches/revisions.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
mkdir -p bench/out
cargo build --release -p stormdesk-runner
cargo bench -p stormdesk-engine --bench revisions | tee bench/out/revisions.txt
