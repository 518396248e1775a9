#!/usr/bin/env bash
# FSAM Lab GPU kit: the one command to run on the GPU machine (see README.md in this folder).
# Runs the launcher with the first python3 it finds; the launcher finds a python3 with torch itself.
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1; then exec "$py" -u "$dir/launch.py" "$@"; fi
done
echo "FSAM Lab GPU kit: no python3 found" >&2
exit 127
