#!/usr/bin/env bash
# Makes (once) a Python virtualenv with the given PyPI requirements and prints
# the path of its python. Used by the differential tests (reference yaql,
# Jinja2, orquesta, st2client) and the benchmarks.
#
#   scripts/pyvenv.sh NAME REQUIREMENT...      e.g. scripts/pyvenv.sh yaql yaql==3.0.0
#
# The venv lives in $STORMDESK_TEST_VENVS/NAME (default: target/test-venvs/NAME
# in the repository) and is rebuilt when the requirement list changes. Built
# with uv when it is installed (scripts/setup.sh installs it), else with
# `python3 -m venv` and pip. A lock keeps concurrent test processes from
# building the same venv twice.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
name="${1:?usage: pyvenv.sh NAME REQUIREMENT...}"
shift
base="${STORMDESK_TEST_VENVS:-$root/target/test-venvs}"
dir="$base/$name"
mkdir -p "$base"
stamp="$(printf '%s\n' "$@" | sha256sum | cut -c1-16)"
exec 9>"$base/.$name.lock"
flock 9
if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$dir/bin/python"
  exit 0
fi
rm -rf "$dir"
python="${STORMDESK_TEST_PYTHON:-python3}"
uv=()
if command -v uv >/dev/null 2>&1; then
  uv=(uv)
elif python3 -m uv --version >/dev/null 2>&1; then
  uv=(python3 -m uv)
fi
if ((${#uv[@]})); then
  "${uv[@]}" venv -q --python "$python" "$dir" >&2
  if (($#)); then "${uv[@]}" pip install -q --python "$dir/bin/python" "$@" >&2; fi
else
  "$python" -m venv "$dir" >&2
  if (($#)); then "$dir/bin/pip" install -q --disable-pip-version-check "$@" >&2; fi
fi
echo "$stamp" >"$dir/.stamp"
echo "$dir/bin/python"
