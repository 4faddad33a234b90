#!/usr/bin/env bash
# Issue 12 on a lent GPU: train the RGB FastGAN at SIZE px on products-rgb, the classic DCGAN for
# the same training time on the same device, and score both (val for the snapshot pick, test for
# the report). Two steps, so that the device minutes go to training:
#
#   scripts/gpu_train_rgb.sh prepare [SIZE]   # here, on the CPU: photos shrunk to SIZE (long
#                                             # side) into .device/products-rgb-SIZE (< 64 MiB,
#                                             # excluded from git, carried to the device)
#   scripts/gpu_train_rgb.sh run [SIZE] [MINUTES] [cuda|cpu]   # there: train, bench, evaluate
#
# Device call: run(command="scripts/gpu_train_rgb.sh run 128 5 cuda", carry=[".device"]).
# Everything lands in $OUT (else bench_out/gpu-rgb): generator.{json,safetensors} of the pick,
# bench_gan.json, eval-test.json, select.json, samples.png, train.log. Dry run on the CPU:
#   scripts/gpu_train_rgb.sh prepare 64 && MINUTES=0.3 scripts/gpu_train_rgb.sh run 64 0.3 cpu
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
STEP="${1:?usage: $0 prepare|run [SIZE] [MINUTES] [DEVICE]}"
SIZE="${2:-128}"
DATA=".device/products-rgb-$SIZE"

if [ "$STEP" = prepare ]; then
  SRC="${SRC:-$ROOT/../shared/data/products-rgb}"
  grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
  "$PY" - "$SRC" "$DATA" "$SIZE" <<'PY'
import shutil, sys
from pathlib import Path
from PIL import Image
src, dst, size = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
dst.mkdir(parents=True, exist_ok=True)
shutil.copy(src / "splits.csv", dst / "splits.csv")
n = 0
for p in sorted(src.glob("*/*.jpg")):
    out = dst / p.relative_to(src)
    out.parent.mkdir(exist_ok=True)
    with Image.open(p) as im:
        im = im.convert("RGB")
        im.thumbnail((size, size), Image.Resampling.LANCZOS)  # long side <= size, never up
        im.save(out, quality=92)
    n += 1
total = sum(f.stat().st_size for f in dst.rglob("*") if f.is_file())
print(f"{n} photos -> {dst} ({total / 2**20:.1f} MiB)")
PY
  exit 0
fi

[ "$STEP" = run ] || { echo "usage: $0 prepare|run ..." >&2; exit 2; }
MINUTES="${3:-5}"
DEVICE="${4:-cuda}"
OUT_DIR="${OUT:-$ROOT/bench_out/gpu-rgb}"
RUNS="$(mktemp -d)"
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1
[ -f "$DATA/splits.csv" ] || { echo "$DATA missing: run '$0 prepare $SIZE' first" >&2; exit 3; }
"$PY" -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"
# FastGAN at SIZE: the arch's recipe, widths doubled on a GPU (the recipe is CPU-sized).
WIDTHS=(--g-width 24 --d-width 16)
[ "$DEVICE" = cuda ] && WIDTHS=(--g-width 48 --d-width 32 --batch-size 64)
"$PY" -m gan train --data "$DATA" --arch fastgan --image-size "$SIZE" --device "$DEVICE" \
  --max-minutes "$MINUTES" --keep-snapshots --sample-every 500 "${WIDTHS[@]}" \
  --out "$RUNS/fastgan" 2>&1 | tr '\r' '\n' | grep -v "img/s" | tee "$OUT_DIR/train.log" || true
cp "$RUNS/fastgan/samples.png" "$OUT_DIR/samples.png"
# The pick on validation (every extractor), then the classic recipe for the same training time.
"$PY" scripts/select_snapshot.py --data "$DATA" --runs "$RUNS/fastgan" --per-class 50 \
  --out "$OUT_DIR/select.json"
PICK="$("$PY" -c "import json,sys; r=json.load(open(sys.argv[1]))['runs']; print(next(iter(r.values()))['pick'])" "$OUT_DIR/select.json")"
cp "$PICK"/generator.* "$OUT_DIR/"
"$PY" -m gan bench-gan --model "$PICK" --data "$DATA" --device "$DEVICE" --split test \
  --per-class 100 --out "$RUNS/bench" --json > "$OUT_DIR/bench_gan.json"
cp "$RUNS/bench/bench_gan.png" "$OUT_DIR/" 2>/dev/null || true
"$PY" -m gan evaluate --model "$PICK" --data "$DATA" --split test --per-class 100 --no-write \
  --json > "$OUT_DIR/eval-test.json"
echo "done: $OUT_DIR"
