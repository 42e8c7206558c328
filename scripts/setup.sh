#!/usr/bin/env bash
# Installs what Stormdesk needs to build, run and test on Debian: system packages
# (Tauri's GTK/WebKit stack, Xvfb, Chromium, OpenSSH server, sudo and useradd for the
# `sudo: true` tests, the commands StackStorm's own packs call) and the UI's npm packages.
# Safe to run again; it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential pkg-config curl file git libssl-dev libxdo-dev libgtk-3-dev
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev
  xvfb xauth webkit2gtk-driver chromium python3 python3-venv hyperfine
  openssh-server openssh-client passwd
  # What StackStorm's own packs call on the machine they run on (and on
  # the loopback "remote" host of the corpus tests): core.local_sudo,
  # linux.rsync/traceroute/dig/lsof/netstat/vmstat/pkill, core.sendmail
  # attachments, scripts with `#!/usr/bin/env python` that import six.
  sudo rsync traceroute bind9-dnsutils lsof net-tools procps file hostname
  python-is-python3 python3-six
  # The browser tests make a CA and a server certificate for the TLS server
  # (tests/browser/remote.spec.ts).
  openssl
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v cargo >/dev/null || {
  echo "cargo is missing: install Rust with rustup (https://rustup.rs) and run this again" >&2
  exit 1
}

# uv builds the packs' Python environments and the test venvs (PyPI).
if ! command -v uv >/dev/null && ! python3 -m uv --version >/dev/null 2>&1; then
  if ! python3 -m pip install -q --disable-pip-version-check uv 2>/dev/null; then
    # Debian's python3 has no pip and refuses system-wide installs (PEP 668):
    # uv gets a venv of its own, linked onto PATH.
    tools="${XDG_DATA_HOME:-$HOME/.local/share}/stormdesk/tools"
    python3 -m venv "$tools"
    "$tools/bin/pip" install -q --disable-pip-version-check uv
    bin=/usr/local/bin
    [ -w "$bin" ] || { bin="$HOME/.local/bin"; mkdir -p "$bin"; }
    ln -sf "$tools/bin/uv" "$bin/uv"
    echo "installed uv into $tools (linked from $bin/uv)"
  fi
fi

(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build)
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
