#!/usr/bin/env bash
# `assetgen bench` on a GPU machine (PyTorch + CUDA, no PostgreSQL/Redis): embedded defaults only
# (SQLite database, SQLite broker, local-folder bucket) in a fresh temporary ASSETGEN_HOME.
#
#   scripts/gpu_bench.sh [cuda|cpu]      # default cuda; cpu runs the same steps on the CPU
#
# Steps (each bounded by `timeout`, all together well under 5 minutes on an H100-class machine):
#   1. the whole benchmark on the shipped 32 px model          -> OUT/bench-<device>-32px.json
#   2. generator + bare loop on an untrained 64 px RGB model     -> OUT/bench-<device>-64px.json
# OUT is $OUT when set (the device runner's output folder), else bench_out/gpu.
# Environment: PYTHON (interpreter; default .venv/bin/python, else python3), QUICK=1 (tiny counts),
# STEP_TIMEOUT (seconds per step, default 200).
set -euo pipefail

DEVICE="${1:-cuda}"
case "$DEVICE" in cuda|cpu) ;; *) echo "usage: $0 [cuda|cpu]" >&2; exit 2 ;; esac
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3; fi
OUT_DIR="${OUT:-$ROOT/bench_out/gpu}"
STEP_TIMEOUT="${STEP_TIMEOUT:-200}"
QUICK_FLAG=()
[ "${QUICK:-0}" = 1 ] && QUICK_FLAG=(--quick)
mkdir -p "$OUT_DIR"

# The project must import (torch, celery, sqlalchemy ...); say what to do if it does not.
if ! "$PY" -c "import jobs.cli.main, torch" 2>"$OUT_DIR/import-error.txt"; then
  echo "cannot import the project with $PY (see $OUT_DIR/import-error.txt): run \`$PY -m pip install -e .\`" >&2
  exit 3
fi
"$PY" - "$DEVICE" <<'PY'
import sys, torch
if sys.argv[1] == "cuda" and not torch.cuda.is_available():
    sys.exit("CUDA requested but torch.cuda.is_available() is False (use: scripts/gpu_bench.sh cpu)")
print(f"torch {torch.__version__}, device {torch.cuda.get_device_name() if sys.argv[1] == 'cuda' else 'cpu'}",
      file=sys.stderr)
PY

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# Embedded defaults: every server setting unset, a fresh home.
for var in $(env | grep -o '^ASSETGEN_[A-Z0-9_]*' || true); do unset "$var"; done
export ASSETGEN_HOME="$WORK/home" ASSETGEN_DEVICE="$DEVICE"

echo "== 1/2: assetgen bench --device $DEVICE (32 px default model)" >&2
timeout "$STEP_TIMEOUT" "$PY" -m jobs.cli.main bench --device "$DEVICE" --json "${QUICK_FLAG[@]}" \
  --out "$WORK/out32" > "$OUT_DIR/bench-$DEVICE-32px.json"
cp "$WORK/out32/scaling.png" "$OUT_DIR/bench-$DEVICE-32px-scaling.png" 2>/dev/null || true

echo "== 2/2: generator and bare loop, 64 px RGB (untrained: speed only)" >&2
"$PY" -c "from gan import FASHION_MNIST_CLASSES as C, init_generator_checkpoint as init; \
init('$WORK/model64', C, 64, 3, seed=0)"
ASSETGEN_DEFAULT_MODEL="$WORK/model64" ASSETGEN_HOME="$WORK/home64" timeout "$STEP_TIMEOUT" \
  "$PY" -m jobs.cli.main bench --device "$DEVICE" --json "${QUICK_FLAG[@]}" --phases generator,bare_loop \
  --out "$WORK/out64" > "$OUT_DIR/bench-$DEVICE-64px.json"

"$PY" - "$OUT_DIR" "$DEVICE" <<'PY'
import json, sys
out, device = sys.argv[1], sys.argv[2]
for px in (32, 64):
    r = json.load(open(f"{out}/bench-{device}-{px}px.json"))
    card = r["host"].get("gpu") or r["host"]["cpu"]
    print(f"{px} px on {card}: generator_ips {r.get('generator_ips')} (batch {r['generator']['best_batch_size']}), "
          f"bare_loop_ips {r.get('bare_loop_ips')}, pipeline_ips {r.get('pipeline_ips')}, "
          f"checks ok {r['checks']['all_ok']}")
PY
echo "reports in $OUT_DIR" >&2
