"""PNG outputs drawn with Pillow: labelled sample grids and a loss curve."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gan.sampling import sample

GRID_SEED_BASE = 1_000_000  # fixed seeds of the sample grid: column j uses seed BASE + j


def grid_image(images: np.ndarray, rows: int, cols: int, labels=None, scale=1, pad=2) -> Image.Image:
    """uint8 (rows*cols, H, W, C) -> one RGB image, optional row labels on the left."""
    n, h, w, c = images.shape
    margin = 78 if labels else 0
    canvas = Image.new("RGB", (margin + cols * (w * scale + pad) + pad, rows * (h * scale + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for i in range(min(n, rows * cols)):
        r, col = divmod(i, cols)
        arr = images[i][:, :, 0] if c == 1 else images[i]
        tile = Image.fromarray(arr).convert("RGB").resize((w * scale, h * scale), Image.Resampling.NEAREST)
        canvas.paste(tile, (margin + pad + col * (w * scale + pad), pad + r * (h * scale + pad)))
    for r, text in enumerate(labels or []):
        draw.text((4, pad + r * (h * scale + pad) + h * scale // 2 - 6), str(text)[:12], fill="black", font=font)
    return canvas


def class_grid(generator, class_names, per_class=10, scale=1, truncation=None) -> Image.Image:
    """One row per class, column j always from seed GRID_SEED_BASE + j."""
    labels = [k for k in range(len(class_names)) for _ in range(per_class)]
    seeds = [GRID_SEED_BASE + j for _ in class_names for j in range(per_class)]
    imgs = sample(generator, labels, seeds, truncation=truncation).numpy()
    return grid_image(imgs, len(class_names), per_class, list(class_names), scale)


def read_metrics(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def loss_plot(metrics_path: Path, out_png: Path, keys=("loss_d", "loss_g"), size=(640, 360)) -> None:
    """Line chart of the logged losses against the step."""
    rows = [r for r in read_metrics(metrics_path) if all(k in r for k in keys)]
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = 50, 20, size[0] - 10, size[1] - 30
    draw.rectangle((left, top, right, bottom), outline="black")
    if len(rows) >= 2:
        steps = np.array([r["step"] for r in rows], dtype=float)
        vals = np.array([[r[k] for k in keys] for r in rows], dtype=float)
        lo, hi = float(vals.min()), float(vals.max())
        hi = hi if hi > lo else lo + 1.0
        sx = (right - left) / max(steps.max() - steps.min(), 1.0)
        sy = (bottom - top) / (hi - lo)
        fills = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e")
        for j, key in enumerate(keys):
            pts = [(left + (s - steps.min()) * sx, bottom - (v - lo) * sy) for s, v in zip(steps, vals[:, j])]
            draw.line(pts, fill=fills[j % 4], width=2)
            draw.text((left + 10 + 90 * j, top + 5), key, fill=fills[j % 4])
        draw.text((4, top), f"{hi:.2f}", fill="black")
        draw.text((4, bottom - 10), f"{lo:.2f}", fill="black")
        draw.text((left, bottom + 8), f"step {int(steps.min())}", fill="black")
        draw.text((right - 90, bottom + 8), f"step {int(steps.max())}", fill="black")
    out_png.parent.mkdir(parents=True, exist_ok=True)
    img.save(out_png)
