#!/usr/bin/env bash
# Python environments per revision: the first run of an action whose
# environment is new vs `uv venv` + `uv pip install -r` of the same
# requirements, and what reusing an environment adds to a run, measured in the
# same run (see crates/engine/benches/pyenv.rs). Needs uv and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
mkdir -p bench/out
cargo build --release -p stormdesk-runner
cargo bench -p stormdesk-engine --bench pyenv | tee bench/out/pyenv.txt
