#!/usr/bin/env bash
# Runs the desktop app on its embedded defaults (the bundled example pack is loaded).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
cargo build --workspace --bins
exec cargo run -p stormdesk-desktop "$@"
