#!/usr/bin/env bash
# Desktop test of the real Tauri window: builds the UI and the app (UI
# embedded: the default `custom-protocol` feature), installs tauri-driver if
# missing, and drives the window through tauri-driver -> WebKitWebDriver under
# Xvfb. Screenshots land in target/e2e/desktop/. `--loaded` runs it with
# every CPU busy (one `yes` per core, stopped afterwards): a test that fails
# only then has found a race.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
command -v WebKitWebDriver >/dev/null || { echo "WebKitWebDriver missing: apt-get install webkit2gtk-driver (scripts/setup.sh)" >&2; exit 1; }
export PATH="$HOME/.cargo/bin:$PATH"
if ! tauri-driver --help >/dev/null 2>&1; then
  cargo install --locked tauri-driver --version 2.1.0
fi
[ -d ui/node_modules ] || (cd ui && npm ci --no-audit --no-fund --loglevel=error)
(cd ui && npm run build >/dev/null)
# Same cargo invocation as scripts/test.sh, so nothing is rebuilt with other features.
cargo build --workspace --bins
export TAURI_DRIVER="$(command -v tauri-driver)"
load=()
if [ "${1:-}" = "--loaded" ]; then
  for _ in $(seq "$(nproc)"); do
    yes >/dev/null &
    load+=("$!")
  done
  trap 'kill "${load[@]}" 2>/dev/null || true' EXIT
fi
xvfb-run -a -s "-screen 0 1280x800x24" node tests/desktop/desktop.mjs
