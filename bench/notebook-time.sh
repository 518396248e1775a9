#!/bin/bash
# Full-mode tutorial notebook timing (FSAM_LAB_SMOKE unset): registers the kernel of the repository at ROOT
# into a temporary Jupyter prefix, executes each notebook with nbconvert, and prints wall / user / sys time
# of the whole run and the execution time of every code cell (from the cell metadata that
# --ExecutePreprocessor.record_timing=True records).
# usage: bench/notebook-time.sh [--root DIR] [--out DIR] NOTEBOOK.ipynb...   (names relative to ROOT/notebooks)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=$(cd "$2" && pwd); shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--root DIR] [--out DIR] NOTEBOOK.ipynb..." >&2; exit 2; }
D=$(mktemp -d /tmp/nbtime.XXXXXX)
OUT=${OUT:-$D/out}
mkdir -p "$OUT"
export JUPYTER_DATA_DIR=$D/data JUPYTER_CONFIG_DIR=$D/config JUPYTER_RUNTIME_DIR=$D/runtime JUPYTER_PLATFORM_DIRS=0
unset FSAM_LAB_SMOKE
node "$ROOT/bin/fsam-lab.js" install --prefix "$D/prefix" >/dev/null || exit 1
export JUPYTER_PATH=$D/prefix/share/jupyter
status=0
for nb in "$@"; do
  /usr/bin/time -f "%e s wall, %U s user, %S s sys" -o "$D/$nb.time" \
    jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=3000 --ExecutePreprocessor.record_timing=True \
      --output-dir "$OUT" "$ROOT/notebooks/$nb" > "$D/$nb.log" 2>&1
  rc=$?
  [ $rc -eq 0 ] || { status=1; tail -20 "$D/$nb.log"; }
  echo "$nb rc=$rc $(cat "$D/$nb.time" | tail -1)"
  python3 - "$OUT/$nb" <<'PY'
import json, sys
from datetime import datetime
def t(s): return datetime.fromisoformat(s.replace("Z", "+00:00"))
try:
    nb = json.load(open(sys.argv[1]))
except OSError:
    sys.exit(0)
for i, c in enumerate(nb["cells"]):
    e = c.get("metadata", {}).get("execution", {})
    if c["cell_type"] == "code" and "iopub.execute_input" in e and "shell.execute_reply" in e:
        first = "".join(c["source"]).strip().splitlines()[0][:70]
        print(f"  cell {i:2d} {(t(e['shell.execute_reply']) - t(e['iopub.execute_input'])).total_seconds():8.1f} s  {first}")
PY
done
rm -rf "$D/prefix" "$D/data" "$D/config" "$D/runtime"
exit $status
