#!/usr/bin/env bash
# Usage: countdown.sh [--delay=SECONDS | --delay SECONDS] COUNT
set -euo pipefail

delay=1
count=""
while [ $# -gt 0 ]; do
  case "$1" in
    --delay=*) delay="${1#--delay=}" ;;
    --delay) shift; delay="${1:-1}" ;;
    --*) ;; # ignore other named arguments
    *) count="$1" ;;
  esac
  shift
done
count="${count:-5}"

if ! [[ "$count" =~ ^[0-9]+$ ]]; then
  echo "count must be a non-negative integer, got '$count'" >&2
  exit 2
fi

for ((i = count; i > 0; i--)); do
  echo "$i..."
  sleep "$delay"
done
echo "liftoff"
