"""PNG outputs: labelled sample grids (Pillow) and a loss curve (matplotlib)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gan.sampling import sample

GRID_SEED_BASE = 1_000_000  # fixed seeds of the sample grid: column j uses seed BASE + j


def save_palette_png(img: Image.Image, path) -> None:
    """Save a picture for the docs as a 256-colour PNG (Floyd-Steinberg dithered): a 13-class
    RGB grid or figure is about a third of its full-colour size."""
    img.convert("RGB").quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)


def grid_image(
    images: np.ndarray, rows: int, cols: int, labels=None, scale=1, pad=2
) -> Image.Image:
    """uint8 (rows*cols, H, W, C) -> one RGB image, optional row labels on the left."""
    n, h, w, c = images.shape
    margin = 78 if labels else 0
    canvas = Image.new(
        "RGB", (margin + cols * (w * scale + pad) + pad, rows * (h * scale + pad) + pad), "white"
    )
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    for i in range(min(n, rows * cols)):
        r, col = divmod(i, cols)
        arr = images[i][:, :, 0] if c == 1 else images[i]
        tile = (
            Image.fromarray(arr)
            .convert("RGB")
            .resize((w * scale, h * scale), Image.Resampling.NEAREST)
        )
        canvas.paste(tile, (margin + pad + col * (w * scale + pad), pad + r * (h * scale + pad)))
    for r, text in enumerate(labels or []):
        draw.text(
            (4, pad + r * (h * scale + pad) + h * scale // 2 - 6),
            str(text)[:12],
            fill="black",
            font=font,
        )
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


def pyplot():
    """matplotlib's pyplot, drawing to files only. matplotlib is heavy to import and only the
    charts need it: imported on first use, not with gan."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def loss_plot(
    metrics_path: Path, out_png: Path, keys=("loss_d", "loss_g"), size=(640, 360)
) -> None:
    """Line chart of the logged losses against the step (size in pixels)."""
    plt = pyplot()
    rows = [r for r in read_metrics(metrics_path) if all(k in r for k in keys)]
    dpi = 100
    fig, ax = plt.subplots(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    try:
        if len(rows) >= 2:
            steps = [r["step"] for r in rows]
            for key in keys:
                ax.plot(steps, [r[key] for r in rows], label=key, linewidth=1.5)
            ax.legend(loc="best")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.grid(True, color="#e4e4e4")
        fig.tight_layout()
        out_png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_png)
    finally:
        plt.close(fig)
