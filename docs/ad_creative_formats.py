"""Render one ad-creative variant in every named format with the shipped default model into
docs/ad-creative-formats.png (the README's picture), as a job draws it (the best of 4 candidates
by the model's classifier, one pass of the shipped x4 upscaler), and print the render + encode
time per creative.

    .venv/bin/python docs/ad_creative_formats.py
"""

from __future__ import annotations

import time
from pathlib import Path

from PIL import Image, ImageDraw

from gan.checkpoint import load_generator
from gan.sampling import sample
from gan.upscale_checkpoint import load_upscaler
from gan.upscaler import upscale
from jobs.encode import encode
from jobs.layout.compose import Brand, layout, render
from jobs.layout.formats import FORMATS
from jobs.layout.text import font
from jobs.quality import Scorer, choose_best
from jobs.seeds import image_seed

ROOT = Path(__file__).resolve().parents[1]
COPY = {
    "headline": "Walk further this winter",
    "subline": "Water-resistant leather, warm lining, grippy soles",
    "cta": "Shop the boots",
    "badge": "-30%",
}
BRAND = Brand.from_hex(
    background="#F4EFE6", text="#1D2A3A", accent="#B5391F", accent_text="#FFFFFF"
)
CATEGORY, SEED, CANDIDATES = "shoe", 7, 4
# Sheet rows: (format, scale); the large formats at a third, the small ones at full size.
ROWS = [
    [("story", 1 / 3), ("portrait", 1 / 3), ("square", 1 / 3), ("skyscraper", 1)],
    [("landscape", 1 / 3), ("medium-rectangle", 1), ("leaderboard", 1)],
]
GAP, LABEL = 24, 28


def example_logo() -> Image.Image:
    """A made-up brand mark (a job's logo comes from the bucket)."""
    logo = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    draw = ImageDraw.Draw(logo)
    draw.ellipse((0, 0, 100, 100), fill=BRAND.accent + (255,))
    draw.text((115, 20), "ACME", font=font("black", 60), fill=BRAND.text + (255,))
    return logo


def creatives() -> dict[str, Image.Image]:
    model = ROOT / "default_model"
    generator, meta = load_generator(model)
    seeds = [image_seed(SEED, c, 0) for c in range(CANDIDATES)]  # variant 0's candidates
    candidates = sample(generator, [meta["class_names"].index(CATEGORY)] * CANDIDATES, seeds)
    choice = choose_best(Scorer(), str(model), candidates.numpy(), CATEGORY)
    print(f"candidate {choice.best} of {CANDIDATES} ({choice.method}: {choice.scores})")
    net, _ = load_upscaler(model)
    pixels = upscale(net, candidates.numpy()[choice.best : choice.best + 1])[0]
    logo, out = example_logo(), {}
    for name, fmt in FORMATS.items():
        start = time.perf_counter()
        out[name] = render(layout(fmt, COPY, logo=True), pixels, BRAND, logo)
        rendered = time.perf_counter()
        times = {f: _timed(encode, out[name], f) for f in ("jpeg", "png", "webp")}
        print(
            f"{name:17} {fmt.width}x{fmt.height}: "
            f"layout+render {1000 * (rendered - start):6.1f} ms, encode "
            + ", ".join(f"{f} {ms:6.1f} ms" for f, ms in times.items())
        )
    return out


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return 1000 * (time.perf_counter() - start)


def sheet(images: dict[str, Image.Image]) -> Image.Image:
    tiles = [
        [
            (
                n,
                images[n].resize(
                    (round(images[n].width * s), round(images[n].height * s)),
                    Image.Resampling.LANCZOS,
                ),
                s,
            )
            for n, s in row
        ]
        for row in ROWS
    ]
    width = max(sum(t.width for _, t, _ in row) + GAP * (len(row) + 1) for row in tiles)
    heights = [max(t.height for _, t, _ in row) + LABEL for row in tiles]
    canvas = Image.new("RGB", (width, sum(heights) + GAP * (len(tiles) + 1)), "white")
    draw, label_font, y = ImageDraw.Draw(canvas), font("regular", 15), GAP
    for row, height in zip(tiles, heights):
        x = GAP
        for name, tile, scale in row:
            fmt = FORMATS[name]
            shown = "" if scale == 1 else f", shown at {scale:.0%}"
            draw.text(
                (x, y), f"{name} {fmt.width}x{fmt.height}{shown}", font=label_font, fill="#333333"
            )
            canvas.paste(tile, (x, y + LABEL))
            draw.rectangle(
                (x - 1, y + LABEL - 1, x + tile.width, y + LABEL + tile.height), outline="#BBBBBB"
            )
            x += tile.width + GAP
        y += height + GAP
    return canvas


if __name__ == "__main__":
    target = ROOT / "docs" / "ad-creative-formats.png"
    sheet(creatives()).save(target, optimize=True)
    print(f"wrote {target}")
