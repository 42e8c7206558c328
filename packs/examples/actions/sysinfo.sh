#!/usr/bin/env bash
# Prints one JSON object; Stormdesk parses stdout that is JSON.
set -eu

json_string() {
  # Escape backslashes and double quotes; drop control characters.
  printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

host="$(uname -n)"
kernel="$(uname -sr)"
arch="$(uname -m)"
cpus="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)"
uptime_s=0
if [ -r /proc/uptime ]; then
  uptime_s="$(cut -d. -f1 /proc/uptime)"
fi

printf '{"hostname": %s, "kernel": %s, "arch": %s, "cpus": %s, "uptime_seconds": %s, "user": %s}\n' \
  "$(json_string "$host")" "$(json_string "$kernel")" "$(json_string "$arch")" \
  "$cpus" "$uptime_s" "$(json_string "$(id -un 2>/dev/null || echo unknown)")"
