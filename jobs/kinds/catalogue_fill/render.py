"""kind "catalogue_fill": one catalogue tile per SKU, the best of K seeded candidates.

Seeds derive from the SKU and the model version, so the same SKU on the same model always gets the
same candidates, the same choice and the same bytes. Each candidate gets a quality score
(``jobs.quality``); the best is upscaled into a square tile of the requested size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from gan.imaging import border_median
from jobs.encode import CONTENT_TYPES, encode, to_pil
from jobs.kinds.base import Claim, Output, RenderDeps, Unit
from jobs.kinds.catalogue_fill.rows import catalogue_key
from jobs.quality import Scorer
from jobs.seeds import sku_seeds

MARGIN = 0.1  # of the tile side, on every edge: the product is centred inside the rest


def render_tile(pixels: np.ndarray, size: int) -> Image.Image:
    """The sample scaled (Lanczos, aspect kept, never stretched) to fit inside the margins of a size
    x size tile whose background is the sample's own border colour, so the product sits on one plain
    field."""
    image = to_pil(pixels)
    median = tuple(int(v) for v in border_median(pixels))  # truncated, as the tiles always were
    fill = median[0] if image.mode == "L" else median
    margin = round(size * MARGIN)
    inner = size - 2 * margin
    fitted = ImageOps.pad(image, (inner, inner), Image.Resampling.LANCZOS, color=fill)
    return ImageOps.expand(fitted, border=margin, fill=fill)


@dataclass(frozen=True)
class Tile:
    data: bytes  # the encoded tile
    width: int
    height: int
    best: int  # which candidate was kept
    scores: list[float]  # every candidate's quality score
    method: str  # how they were scored (jobs.quality)


def best_tile(
    scorer: Scorer, model_uri: str, pixels: np.ndarray, category: str, size: int, fmt: str
) -> Tile:
    """Score K candidates, keep the best (ties: the first), render and encode its tile."""
    scores, method = scorer.score(model_uri, pixels, category)
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    tile = render_tile(pixels[best], size)
    return Tile(encode(tile, fmt), tile.width, tile.height, best, scores, method)


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
            )
            for i, (sku, label, model_class) in enumerate(p["skus"])
        ]

    def render(self, unit: Unit, pixels: np.ndarray) -> list[Output]:
        claim, fmt, sku = unit.claim, unit.claim.spec["format"], unit.params["sku"]
        tile = best_tile(
            self.scorer, claim.model_uri, pixels, unit.params["category"], claim.spec["size"], fmt
        )
        seed, score = unit.seeds[tile.best], round(tile.scores[tile.best], 6)
        metadata = {
            "job": claim.job_id,
            "sku": sku,
            "model": claim.model_name,
            "version": claim.model_version,
            "seed": str(seed),
            "score": f"{score:.6f}",
            "score-method": tile.method,
            "category": unit.params["category"],
            "synthetic": "true",
        }
        attrs = {
            "sku": sku,
            "score": score,
            "score_method": tile.method,
            "candidate": tile.best,
            "candidate_scores": [round(s, 6) for s in tile.scores],
            "synthetic": True,
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
