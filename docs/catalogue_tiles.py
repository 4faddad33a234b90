"""One catalogue tile per category of the shipped default model, as a catalogue-fill job delivers
it (the best of 4 candidates by the model's classifier, one pass of the shipped x4 upscaler, an
800 px tile), on the sample's own field and cut out onto white, into docs/catalogue-tiles.jpg
(the README's picture; each tile shown at a third).

    .venv/bin/python docs/catalogue_tiles.py
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, ImageDraw

from gan.checkpoint import load_generator
from gan.sampling import sample
from gan.upscale_checkpoint import load_upscaler
from gan.upscaler import upscale
from jobs.kinds.catalogue_fill.render import render_tile
from jobs.layout.text import font
from jobs.quality import Scorer, choose_best
from jobs.seeds import sku_seeds

ROOT = Path(__file__).resolve().parents[1]
SIZE, SHOWN, CANDIDATES, LABEL, GAP = 800, 800 // 3, 4, 26, 10
BACKGROUNDS = ("sample", "#FFFFFF")


def tiles() -> dict[str, list[Image.Image]]:
    model = ROOT / "default_model"
    generator, meta = load_generator(model)
    net, _ = load_upscaler(model)
    scorer, out = Scorer(), {}
    for label, name in enumerate(meta["class_names"]):
        seeds = list(sku_seeds(f"DEMO-{name}", meta["sha256"][:12], CANDIDATES))
        candidates = sample(generator, [label] * CANDIDATES, seeds).numpy()
        choice = choose_best(scorer, str(model), candidates, name)
        chosen = upscale(net, candidates[choice.best : choice.best + 1])[0]
        out[name] = [render_tile(chosen, SIZE, bg) for bg in BACKGROUNDS]
        print(f"{name:11} candidate {choice.best}, score {choice.scores[choice.best]:.3f}")
    return out


def sheet(found: dict[str, list[Image.Image]]) -> Image.Image:
    names = list(found)
    cols = 4
    rows = -(-len(names) // cols)
    cell_w, cell_h = SHOWN * len(BACKGROUNDS) + GAP, SHOWN + LABEL
    canvas = Image.new("RGB", (cols * (cell_w + GAP) + GAP, rows * (cell_h + GAP) + GAP), "white")
    draw, label_font = ImageDraw.Draw(canvas), font("regular", 15)
    for i, name in enumerate(names):
        x, y = GAP + (i % cols) * (cell_w + GAP), GAP + (i // cols) * (cell_h + GAP)
        draw.text((x, y), f"{name}: own field | on white", font=label_font, fill="#333333")
        for j, tile in enumerate(found[name]):
            shown = tile.convert("RGB").resize((SHOWN, SHOWN), Image.Resampling.LANCZOS)
            at = (x + j * (SHOWN + GAP // 2), y + LABEL)
            canvas.paste(shown, at)
            draw.rectangle((at[0] - 1, at[1] - 1, at[0] + SHOWN, at[1] + SHOWN), outline="#BBBBBB")
    return canvas


if __name__ == "__main__":
    torch.set_num_threads(1)
    target = ROOT / "docs" / "catalogue-tiles.jpg"
    sheet(tiles()).save(target, quality=88)
    print(f"wrote {target}")
