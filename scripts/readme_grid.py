"""Write the README's sample grid (docs/gan_samples.png) from a model: one row per class labelled
with its name, 8 samples each (column j from the fixed seed gan.plots.GRID_SEED_BASE + j), every
tile enlarged 2x with nearest-neighbour (gan.plots.grid_image), so the pixels are the model's.

    python scripts/readme_grid.py [MODEL] [--out docs/gan_samples.png]

MODEL: `default` (the default), a built-in name (e.g. fashion-mnist-32) or a checkpoint folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gan.checkpoint import load_generator
from gan.cli_common import resolve_model
from gan.plots import class_grid, save_palette_png

ROOT = Path(__file__).resolve().parents[1]
PER_CLASS, SCALE = 8, 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", default="default")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "gan_samples.png")
    args = ap.parse_args()
    generator, meta = load_generator(resolve_model(args.model))
    grid = class_grid(generator, meta["class_names"], per_class=PER_CLASS, scale=SCALE)
    save_palette_png(grid, args.out)  # keeps the README's picture about 0.4 MB
    print(f"wrote {args.out} ({grid.width}x{grid.height}, {len(meta['class_names'])} classes)")


if __name__ == "__main__":
    main()
