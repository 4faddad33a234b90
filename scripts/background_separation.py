"""Can a sample's background be separated well enough to put the product on white or on a brand
colour? Measured on real photos and on a generator's samples with the matte the ad layout uses
(jobs.layout.product: the border median is the background, opacity grows with the difference).

Per image: `border_plain` (share of border pixels within ALPHA_LOW of the border median: is the
background one colour?), `foreground` (share of pixels more than half opaque, after the layout
drops the matte's specks: jobs.layout.product.product_mask), `specks` (share of the opaque pixels
dropped as specks) and `separable` (border_plain >= 0.9 and 5% <= foreground <= 90%). Writes
OUT.json and OUT.png (rows: image, matte, on white, on a brand colour).

    python scripts/background_separation.py --data ../shared/data/products-rgb --split test \\
        [--model RUN_OR_CHECKPOINT] --out docs/background-separation
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan.checkpoint import load_generator
from gan.imaging import border_median
from gan.sampling import sample
from gan.splits import load_splits
from jobs.layout.product import ALPHA_LOW, _alpha, _difference, product_mask

BRAND = (24, 70, 140)


def measure(px: np.ndarray) -> dict:
    bg = border_median(px)
    diff = _difference(px, bg)
    border = np.concatenate([diff[0], diff[-1], diff[:, 0], diff[:, -1]])
    whole = _alpha(diff)
    keep = product_mask(px, bg)
    alpha = whole * keep
    plain = float((border < ALPHA_LOW).mean())
    fg = float((alpha > 0.5).mean())
    return {
        "border_plain": plain,
        "foreground": fg,
        "specks": float(((whole > 0.5) & ~keep).sum()) / max(float((whole > 0.5).sum()), 1.0),
        "separable": plain >= 0.9 and 0.05 <= fg <= 0.9,
        "alpha": alpha,
    }


def composite(px: np.ndarray, alpha: np.ndarray, colour) -> np.ndarray:
    a = alpha[..., None]
    return (px * a + np.array(colour, dtype=np.float32) * (1 - a)).round().astype(np.uint8)


def summary(rows: list[dict]) -> dict:
    return {
        "images": len(rows),
        "separable_share": round(float(np.mean([r["separable"] for r in rows])), 3),
        "border_plain_median": round(float(np.median([r["border_plain"] for r in rows])), 3),
        "foreground_median": round(float(np.median([r["foreground"] for r in rows])), 3),
        "specks_mean": round(float(np.mean([r["specks"] for r in rows])), 3),
        "with_specks_share": round(float(np.mean([r["specks"] > 0 for r in rows])), 3),
    }


def strip(images: list[np.ndarray], rows: list[dict], scale: int = 2) -> Image.Image:
    tiles = []
    for px, r in zip(images, rows):
        matte = np.repeat((r["alpha"] * 255).astype(np.uint8)[..., None], 3, axis=-1)
        col = [
            px,
            matte,
            composite(px, r["alpha"], (255, 255, 255)),
            composite(px, r["alpha"], BRAND),
        ]
        tiles.append(np.concatenate(col, axis=0))
    img = Image.fromarray(np.concatenate(tiles, axis=1))
    return img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/products-rgb")
    ap.add_argument("--split", choices=["val", "test"], default="test")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--model", default=None)
    ap.add_argument("--per-class", type=int, default=20)
    ap.add_argument("--out", default="docs/background-separation")
    a = ap.parse_args()
    splits = load_splits(a.data, a.size, 3)
    real = splits.held_out(a.split)
    real_px = [img.permute(1, 2, 0).numpy() for img in real.images]
    result: dict = {"data": a.data, "split": a.split, "size": a.size}
    real_rows = [measure(px) for px in real_px]
    result["real"] = summary(real_rows)
    figure_sets = [(real_px[:: max(1, len(real_px) // 12)][:12], None)]
    if a.model:
        g, meta = load_generator(a.model)
        labels = [k for k in range(len(meta["class_names"])) for _ in range(a.per_class)]
        imgs = sample(g, labels, [20_000_000 + i for i in range(len(labels))]).numpy()
        gen_px = list(imgs if imgs.shape[-1] == 3 else np.repeat(imgs, 3, axis=-1))
        result["generated"] = {"model": str(a.model), **summary([measure(px) for px in gen_px])}
        figure_sets.append((gen_px[:: a.per_class][:12], None))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    panels = [strip(px, [measure(p) for p in px]) for px, _ in figure_sets]
    canvas = Image.new(
        "RGB", (max(p.width for p in panels), sum(p.height + 8 for p in panels)), "white"
    )
    y = 0
    for p in panels:
        canvas.paste(p, (0, y))
        y += p.height + 8
    canvas.save(out.with_suffix(".png"))
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
