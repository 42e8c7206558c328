#!/usr/bin/env bash
# Every test: sets the machine up, builds the runner and the UI, then runs the
# Rust test suites (engine, runner, CLI, desktop app) with real processes and files.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${STORMDESK_SETUP_DONE:-}" ] || bash scripts/setup.sh
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
# The engine's tests start the real runner process, built here first.
cargo build --workspace --bins
cargo test --workspace --no-fail-fast
