"""kind "catalogue_fill": one catalogue tile per SKU, the best of K seeded candidates.

Seeds derive from the SKU and the model version, so the same SKU on the same model always gets the
same candidates, the same choice and the same bytes. Each candidate gets a quality score
(``jobs.quality``); the best is kept (``choose``), upscaled by the worker's upscale stage where the
job's plan says so (only the chosen one), and resized into a square tile of the requested size: on
the sample's own border colour, or cut out of its background onto the spec's ``background``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageOps

from gan.imaging import border_median
from jobs.encode import CONTENT_TYPES, encode, to_pil
from jobs.kinds.base import (
    Claim,
    Output,
    RenderDeps,
    Unit,
    upscale_of,
    upscaler_attrs,
    upscaler_metadata,
)
from jobs.kinds.catalogue_fill.rows import catalogue_key
from jobs.layout.colour import parse_hex
from jobs.layout.formats import Box
from jobs.layout.product import place
from jobs.quality import Choice, Scorer, choice_attrs, choice_metadata, choose_best
from jobs.seeds import sku_seeds

MARGIN = 0.1  # of the tile side, on every edge: the product is centred inside the rest
INK = (26, 26, 26)  # a one-channel sample cut out onto a colour is toned from this towards it


def margin_of(size: int) -> int:
    return round(size * MARGIN)


def tile_enlargement(size: int, native: int) -> float:
    """How many times a native x native sample is enlarged to fill a size px tile's inner square
    (what upscale: auto decides on)."""
    return (size - 2 * margin_of(size)) / native


def render_tile(pixels: np.ndarray, size: int, background: str = "sample") -> Image.Image:
    """The sample scaled (Lanczos, aspect kept, never stretched) to fit inside the margins of a size
    x size tile. background "sample": the tile is the sample's own border colour, so the product
    sits on one plain field; "#RRGGBB": the product is cut out of its background (the ad layout's
    matte, jobs.layout.product) onto that colour. An upscaled sample takes the same path, from its
    larger size."""
    margin = margin_of(size)
    if background != "sample":
        colour = parse_hex(background)
        tile = Image.new("RGB", (size, size), colour)
        place(tile, pixels, Box(margin, margin, size - 2 * margin, size - 2 * margin), INK, colour)
        return tile
    image = to_pil(pixels)
    median = tuple(int(v) for v in border_median(pixels))  # truncated, as the tiles always were
    fill = median[0] if image.mode == "L" else median
    inner = size - 2 * margin
    fitted = ImageOps.pad(image, (inner, inner), Image.Resampling.LANCZOS, color=fill)
    return ImageOps.expand(fitted, border=margin, fill=fill)


@dataclass(frozen=True)
class Tile:
    data: bytes  # the encoded tile
    width: int
    height: int


def encode_tile(pixels: np.ndarray, size: int, fmt: str, background: str = "sample") -> Tile:
    """The chosen sample (native or upscaled, uint8 HWC) as an encoded tile."""
    tile = render_tile(pixels, size, background)
    return Tile(encode(tile, fmt), tile.width, tile.height)


class CatalogueFill:
    def __init__(self, scorer: Scorer):
        self.scorer = scorer

    def units(self, claim: Claim) -> list[Unit]:
        p, k, fmt = claim.params, claim.spec["candidates"], claim.spec["format"]
        return [
            Unit(
                claim,
                p["start"] + i,
                label,
                sku_seeds(sku, claim.model_version, k),
                frozenset({catalogue_key(sku, fmt)}),
                {"sku": sku, "category": model_class},
                upscale=upscale_of(claim),
            )
            for i, (sku, label, model_class) in enumerate(p["skus"])
        ]

    def choose(self, unit: Unit, pixels: np.ndarray) -> tuple[Unit, np.ndarray]:
        """The best of the K candidates (only it is upscaled); the unit carries the choice."""
        choice = choose_best(self.scorer, unit.claim.model_uri, pixels, unit.params["category"])
        chosen = replace(unit, params={**unit.params, "choice": choice})
        return chosen, pixels[choice.best : choice.best + 1]

    def render(self, unit: Unit, pixels: np.ndarray) -> list[Output]:
        """pixels: the K candidates, or (after ``choose``) the chosen one, maybe upscaled."""
        if "choice" not in unit.params:
            unit, pixels = self.choose(unit, pixels)
        claim, fmt, sku = unit.claim, unit.claim.spec["format"], unit.params["sku"]
        choice: Choice = unit.params["choice"]
        background = claim.spec.get("background", "sample")  # jobs planned before it: "sample"
        tile = encode_tile(pixels[0], claim.spec["size"], fmt, background)
        seed = unit.seeds[choice.best]
        metadata = {
            "job": claim.job_id,
            "sku": sku,
            "model": claim.model_name,
            "version": claim.model_version,
            "seed": str(seed),
            **choice_metadata(choice),
            "category": unit.params["category"],
            "synthetic": "true",
            **upscaler_metadata(unit),
        }
        attrs = {
            "sku": sku,
            **choice_attrs(choice),
            "synthetic": True,
            **upscaler_attrs(unit),
        }
        (key,) = unit.keys
        return [
            Output(
                key,
                tile.data,
                CONTENT_TYPES[fmt],
                metadata,
                tile.width,
                tile.height,
                seed,
                unit.params["category"],
                attrs,
            )
        ]


def create_renderer(deps: RenderDeps) -> CatalogueFill:
    return CatalogueFill(Scorer(deps.fetch))
